/**
 * Winograd F(2x2, 3x3) transforms, plain TypeScript (the reference of ./f23-wasm.ts): 16 multiplications
 * per 2x2 output tile (2.25x fewer than direct), 4x4 transforms of a few additions each. The variant for
 * the smaller images and channel counts (see winogradVariant in ./winograd.ts). Every operation a
 * float32 operation in the order written here.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import type { WinogradTiles } from "./winograd.js";

const fr = Math.fround;

/**
 * U[e][ci][oi] (matrices [c, o], e = 4 xi + nu) = (G F G^T)[xi][nu] of the flipped kernel
 * F = W[oi][ci] rotated by 180 degrees, input channels ci0..ci1-1; w [o, c, 3, 3] from wOff.
 * G's rows: f0, (f0 + f1 + f2) / 2, (f0 - f1 + f2) / 2, f2.
 */
export function weights23(w: FloatArray, wOff: number, o: number, c: number, u: FloatArray, ci0: number, ci1: number): void {
  const co = c * o;
  // Input channels outer: consecutive pairs write consecutive U entries (one line feeds 16 pairs), and the
  // 9 weights read per pair share their lines with the next channel's (o lines stay in cache).
  for (let ci = ci0; ci < ci1; ci++) {
    for (let oi = 0; oi < o; oi++) {
      const k = wOff + (oi * c + ci) * 9;
      const w0 = w[k]!, w1 = w[k + 1]!, w2 = w[k + 2]!, w3 = w[k + 3]!, w4 = w[k + 4]!;
      const w5 = w[k + 5]!, w6 = w[k + 6]!, w7 = w[k + 7]!, w8 = w[k + 8]!;
      const at = ci * o + oi; // U[e][ci][oi], e = 4 xi + nu
      // Rows xi of G F (F[a][b] = W[2 - a][2 - b]: F row 0 is W row 2 reversed, F row 2 is W row 0 reversed),
      // each then transformed by G^T into U[4 xi .. 4 xi + 3].
      gtRow(u, at, co, w8, w7, w6);
      gtRow(u, at + 4 * co, co, fr(fr(fr(w8 + w5) + w2) * 0.5), fr(fr(fr(w7 + w4) + w1) * 0.5), fr(fr(fr(w6 + w3) + w0) * 0.5));
      gtRow(u, at + 8 * co, co, fr(fr(fr(w8 - w5) + w2) * 0.5), fr(fr(fr(w7 - w4) + w1) * 0.5), fr(fr(fr(w6 - w3) + w0) * 0.5));
      gtRow(u, at + 12 * co, co, w2, w1, w0);
    }
  }
}

/** U[at + nu co] for nu = 0..3: the row (x0, x1, x2) times G^T. */
function gtRow(u: FloatArray, at: number, co: number, x0: number, x1: number, x2: number): void {
  u[at] = x0;
  u[at + co] = fr(fr(fr(x0 + x1) + x2) * 0.5);
  u[at + 2 * co] = fr(fr(fr(x0 - x1) + x2) * 0.5);
  u[at + 3 * co] = x2;
}

/** (B^T x)[k] for x = [x0, x1, x2, x3]: x0 - x2, x1 + x2, x2 - x1, x1 - x3. */
function bt(k: number, x0: number, x1: number, x2: number, x3: number): number {
  return k === 0 ? fr(x0 - x2) : k === 1 ? fr(x1 + x2) : k === 2 ? fr(x2 - x1) : fr(x1 - x3);
}

/**
 * The input transform, plain TypeScript: V[e][oi][col0 + ty twr + tx] for one
 * image's gradient gy [o, h, w] at gyOff, every ty < th, tx < twr (V's rows of
 * n values, matrix e at value e ms).
 */
export function input23Js(
  gy: FloatArray, gyOff: number, o: number, h: number, w: number, t: WinogradTiles, v: FloatArray, n: number, ms: number, col0: number,
): void {
  const d = new Float64Array(16), tt = new Float64Array(4);
  const at = (oi: number, r: number, s: number): number => (r >= 1 && r <= h && s >= 1 && s <= w ? gy[gyOff + (oi * h + r - 1) * w + s - 1]! : 0);
  for (let oi = 0; oi < o; oi++) {
    for (let ty = 0; ty < t.th; ty++) {
      for (let tx = 0; tx < t.twr; tx++) {
        for (let r = 0; r < 4; r++) for (let s = 0; s < 4; s++) d[4 * r + s] = at(oi, 2 * ty + r, 2 * tx + s);
        const col = col0 + ty * t.twr + tx;
        for (let xi = 0; xi < 4; xi++) {
          for (let s = 0; s < 4; s++) tt[s] = bt(xi, d[s]!, d[4 + s]!, d[8 + s]!, d[12 + s]!);
          for (let nu = 0; nu < 4; nu++) v[(4 * xi + nu) * ms + oi * n + col] = bt(nu, tt[0]!, tt[1]!, tt[2]!, tt[3]!);
        }
      }
    }
  }
}

/**
 * The output transform, plain TypeScript: the 2x2 tile A^T M A of every tile
 * (ty < th, tx < tw) of one image, from M[e][ci][col0 + ty twr + tx] (rows of
 * n values, matrix e at value e ms), into gx [c, h, w] at gxOff, cropped to h, w.
 * A^T's rows: m0 + m1 + m2, m1 - m2 - m3.
 */
export function output23Js(
  m: FloatArray, c: number, n: number, ms: number, col0: number, t: WinogradTiles, h: number, w: number, gx: FloatArray, gxOff: number,
): void {
  const r = new Float64Array(4);
  for (let ci = 0; ci < c; ci++) {
    for (let ty = 0; ty < t.th; ty++) {
      for (let tx = 0; tx < t.tw; tx++) {
        const col = col0 + ty * t.twr + tx;
        const at = (xi: number, nu: number): number => m[(4 * xi + nu) * ms + ci * n + col]!;
        for (let i = 0; i < 2; i++) {
          for (let nu = 0; nu < 4; nu++) r[nu] = i === 0 ? fr(fr(at(0, nu) + at(1, nu)) + at(2, nu)) : fr(fr(at(1, nu) - at(2, nu)) - at(3, nu));
          const y = 2 * ty + i;
          if (y >= h) continue;
          const row = gxOff + (ci * h + y) * w + 2 * tx;
          gx[row] = fr(fr(r[0]! + r[1]!) + r[2]!);
          if (2 * tx + 1 < w) gx[row + 1] = fr(fr(r[1]! - r[2]!) - r[3]!);
        }
      }
    }
  }
}
