/**
 * Winograd F(4x4, 3x3) transforms, plain TypeScript (the reference of ./f43-wasm.ts): 36 multiplications
 * per 4x4 output tile (4x fewer than direct), 6x6 transforms by the programs of ./transforms.ts (rows
 * first, then columns). The variant for the large images with enough channels (see winogradVariant in
 * ./winograd.ts); its rounding is a few times F(2x2, 3x3)'s (the constants reach 5 and 8).
 */
import type { FloatArray } from "../../tensor/tensor.js";
import type { WinogradTiles } from "./winograd.js";
import { INPUT, OUTPUT, transform2d, WEIGHT } from "./transforms.js";

/**
 * U[e][ci][oi] (matrices [c, o], e = 6 xi + nu) = (G F G^T)[xi][nu] of the flipped kernel
 * F = W[oi][ci] rotated by 180 degrees, input channels ci0..ci1-1; w [o, c, 3, 3] from wOff.
 */
export function weights43(w: FloatArray, wOff: number, o: number, c: number, u: FloatArray, ci0: number, ci1: number): void {
  const co = c * o;
  const f = new Float64Array(9), tmp = new Float64Array(18);
  // Input channels outer: consecutive pairs write consecutive U entries, and the 9 weights read per pair
  // share their lines with the next channel's (o lines stay in cache).
  for (let ci = ci0; ci < ci1; ci++) {
    for (let oi = 0; oi < o; oi++) {
      const k = wOff + (oi * c + ci) * 9;
      for (let i = 0; i < 9; i++) f[i] = w[k + 8 - i]!; // F = W rotated by 180 degrees
      // U[6 xi + nu] at (ci o + oi) + (6 xi + nu) co
      transform2d(WEIGHT, f, 0, 3, u, ci * o + oi, 6 * co, co, tmp);
    }
  }
}

/**
 * The input transform, plain TypeScript: V[e][oi][col0 + ty twr + tx] for one
 * image's gradient gy [o, h, w] at gyOff, every ty < th, tx < twr (V's rows of
 * n values, matrix e at value e ms).
 */
export function input43Js(
  gy: FloatArray, gyOff: number, o: number, h: number, w: number, t: WinogradTiles, v: FloatArray, n: number, ms: number, col0: number,
): void {
  const d = new Float64Array(36), tmp = new Float64Array(36);
  const at = (oi: number, r: number, s: number): number => (r >= 1 && r <= h && s >= 1 && s <= w ? gy[gyOff + (oi * h + r - 1) * w + s - 1]! : 0);
  for (let oi = 0; oi < o; oi++) {
    for (let ty = 0; ty < t.th; ty++) {
      for (let tx = 0; tx < t.twr; tx++) {
        for (let r = 0; r < 6; r++) for (let s = 0; s < 6; s++) d[6 * r + s] = at(oi, 4 * ty + r, 4 * tx + s);
        transform2d(INPUT, d, 0, 6, v, oi * n + col0 + ty * t.twr + tx, 6 * ms, ms, tmp);
      }
    }
  }
}

/**
 * The output transform, plain TypeScript: the 4x4 tile A^T M A of every tile
 * (ty < th, tx < tw) of one image, from M[e][ci][col0 + ty twr + tx] (rows of
 * n values, matrix e at value e ms), into gx [c, h, w] at gxOff, cropped to h, w.
 */
export function output43Js(
  m: FloatArray, c: number, n: number, ms: number, col0: number, t: WinogradTiles, h: number, w: number, gx: FloatArray, gxOff: number,
): void {
  const x = new Float64Array(36), y = new Float64Array(16), tmp = new Float64Array(24);
  for (let ci = 0; ci < c; ci++) {
    for (let ty = 0; ty < t.th; ty++) {
      for (let tx = 0; tx < t.tw; tx++) {
        const col = col0 + ty * t.twr + tx;
        for (let e = 0; e < 36; e++) x[e] = m[e * ms + ci * n + col]!;
        transform2d(OUTPUT, x, 0, 6, y, 0, 4, 1, tmp);
        for (let i = 0; i < 4; i++) {
          const yy = 4 * ty + i;
          if (yy >= h) break;
          for (let j = 0; j < 4 && 4 * tx + j < w; j++) gx[gxOff + (ci * h + yy) * w + 4 * tx + j] = y[4 * i + j]!;
        }
      }
    }
  }
}
