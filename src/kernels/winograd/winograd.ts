/**
 * The input gradient of a 3x3, stride-1, pad-1 convolution by Winograd's
 * minimal filtering F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016): 16 multiplications per 2x2 output
 * tile instead of 36, so the dense work of the backward (gx = the correlation
 * of the padded gy with the flipped, channel-swapped kernel) falls 2.25x. The
 * price is a few additions per tile in transforms before and after 16 gemms.
 *
 *   dX[c][y][x] = sum_o sum_{a,b} F[c][o][a][b] gyPad[o][y + a][x + b],
 *   F[c][o][a][b] = W[o][c][2 - a][2 - b],  gyPad[o][r][s] = gy[o][r - 1][s - 1] (0 outside)
 *
 * For output tile (ty, tx) (rows 2 ty, 2 ty + 1, columns likewise) and
 * d = gyPad[o][2 ty .. 2 ty + 3][2 tx .. 2 tx + 3]:
 *   U = G F G^T (per c, o), V = B^T d B (per o, tile), M = sum_o U V (16 gemms,
 *   one per element e = 4 xi + nu of the 4x4 transforms), tile = A^T M A.
 *
 * Float32 only (the caller checks), every operation a float32 operation in the
 * order written here; the gemms are gemm's float32 family (each M element a
 * float32 sum over o in order). The WASM twins of the two transforms
 * (./wasm.ts) do the same operations lane by lane, so both backends give the
 * same bits; tests/kernels/winograd.test.ts checks that, and the result
 * against the direct (im2col) input gradient. Tile columns are laid out per
 * tile row padded to a multiple of 4 (twr), so the lanes never straddle rows;
 * the padded tiles' results are dropped.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { BitspikeError } from "../../tensor/errors.js";
import { heapF32, inHeap, Scratch } from "../../tensor/heap.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { gemm } from "../gemm/gemm.js";
import { copyStrided } from "../copy/copy.js";
import type { ConvDims } from "../conv/ranges.js";
import { winogradInputWasmCall, winogradOutputWasmCall } from "./wasm.js";

const fr = Math.fround;

/**
 * True when the input gradient of this convolution takes the Winograd path:
 * float32 data, groups 1, a 3x3 kernel with stride 1, padding 1 and
 * dilation 1 (output size = input size), enough channels for the 16 gemms to
 * pay for the transforms (both at least 16: at 8 the two were within noise,
 * 0.6-1.3x; at 16 and up Winograd 1.0-2.7x, 1.6-2.7x from 32 channels;
 * bench/winograd.bench.ts), and an image big enough to matter
 * (c o h w >= 2^16, about a millisecond a batch below that): tiny convolutions
 * keep the direct path, whose rounding is the plain sum's. A function of the
 * shape only, so the choice (and the bits) never depend on the thread count.
 */
export function winogradFits(d: ConvDims, f32: boolean): boolean {
  const { g } = d;
  return f32 && d.groups === 1 && g.kh === 3 && g.kw === 3 && g.sh === 1 && g.sw === 1 && g.ph === 1 && g.pw === 1 &&
    g.dh === 1 && g.dw === 1 && g.oh === g.h && g.ow === g.w && d.cIn >= 16 && d.o >= 16 && d.cIn * d.o * g.h * g.w >= 65536;
}

/** Tile counts: th tile rows, tw tiles a row, twr = tw rounded up to 4 (the layout's row length). */
export interface WinogradTiles {
  th: number;
  tw: number;
  twr: number;
}

export function winogradTiles(h: number, w: number): WinogradTiles {
  const th = Math.ceil(h / 2), tw = Math.ceil(w / 2);
  return { th, tw, twr: Math.ceil(tw / 4) * 4 };
}

/**
 * U[e][ci][oi] (matrices [c, o], e = 4 xi + nu) = (G F G^T)[xi][nu] of the
 * flipped kernel F = W[oi][ci] rotated by 180 degrees; w [o, c, 3, 3] from wOff.
 * G's rows: f0, (f0 + f1 + f2) / 2, (f0 - f1 + f2) / 2, f2.
 */
export function winogradWeights(w: FloatArray, wOff: number, o: number, c: number, u: FloatArray): void {
  winogradWeightsRange(w, wOff, o, c, u, 0, c);
}

/** Values of U for c input and o output channels. */
export function winogradWeightsLength(c: number, o: number): number {
  return 16 * c * o;
}

/**
 * The U entries of input channels ci0..ci1-1 only ({@link winogradWeights}; the rest of u untouched):
 * the threads of one input gradient split the transform instead of each doing all of it.
 */
export function winogradWeightsRange(w: FloatArray, wOff: number, o: number, c: number, u: FloatArray, ci0: number, ci1: number): void {
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
export function winogradInputJs(
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
export function winogradOutputJs(
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

// Per-thread working memory in the heap (the gemms and the WASM transforms use it in place).
const scratch = new Scratch();

/** Columns of one gemm: whole images of tiles, at least about 256 (thin gemms run below the kernel's rate). */
function imagesPerChunk(t: WinogradTiles, images: number): number {
  return Math.max(1, Math.min(images, Math.ceil(256 / (t.th * t.twr))));
}

/**
 * The input gradient of images i0..i1-1 (see the file comment; winogradFits
 * must hold): gx [N, cIn, h, w] from gy [N, o, h, w] and w [o, cIn, 3, 3], at
 * their offsets. Every gx element of those images is written. The transforms
 * run as WASM twins where the kernel backend enables them and the arrays are
 * in the heap, else in TypeScript: the same bits. `uDone`: w's U already
 * transformed ({@link winogradWeights}; the threaded caller splits that
 * between its threads), else this call transforms it.
 */
export function winogradDataRange(
  d: ConvDims, gy: FloatArray, gyOff: number, w: FloatArray, wOff: number, gx: FloatArray, gxOff: number, i0: number, i1: number,
  tick: () => void, uDone: Float32Array | null = null,
): void {
  if (i1 <= i0) return;
  const { cIn: c, o, g } = d;
  const { h, w: wd } = g;
  const t = winogradTiles(h, wd);
  const nc = imagesPerChunk(t, i1 - i0);
  const nMax = nc * t.th * t.twr;
  const wasm = wasmKernelsEnabled() && inHeap(gy) && inHeap(gx);
  const hp = 2 * t.th + 2, wp = 2 * t.twr + 4, wq = 2 * t.twr;
  // Scratch (floats): U [16 c o], V [16 o n], M [16 c n], the padded gradient planes and the output tiles of one image.
  // Matrix strides of V and M padded by 16 values: a multiple of 4 KiB would put the 16 stores (or loads) of
  // one tile in one L1 set.
  const msV = o * nMax + 16, msM = c * nMax + 16;
  if (uDone !== null && uDone.length < winogradWeightsLength(c, o)) {
    throw new BitspikeError("winogradDataRange", `a transformed weight needs ${winogradWeightsLength(c, o)} values, got ${uDone.length}`);
  }
  const sizes = [uDone === null ? winogradWeightsLength(c, o) : 0, 16 * msV, 16 * msM, wasm ? o * hp * wp : 0, wasm ? c * 2 * t.th * wq : 0];
  const base = scratch.take(sizes.reduce((a, b) => a + Math.ceil(b / 16) * 16, 0) * 4) / 4;
  const views: Float32Array[] = [];
  let at = base;
  for (const s of sizes) {
    views.push(heapF32().subarray(at, at + s));
    at += Math.ceil(s / 16) * 16;
  }
  const [uMine, v, m, pad, out] = views as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  const u = uDone ?? uMine;
  if (uDone === null) winogradWeights(w, wOff, o, c, u);
  if (wasm) pad.fill(0); // the border; the copies below write only the interior
  const plane = h * wd;
  for (let i = i0; i < i1; i += nc) {
    const k = Math.min(nc, i1 - i);
    const n = k * t.th * t.twr; // this chunk's columns (the row stride of V and M)
    for (let j = 0; j < k; j++) {
      const col0 = j * t.th * t.twr;
      const src = gyOff + (i + j) * o * plane;
      if (wasm) {
        copyStrided(gy, src, [plane, wd, 1], pad, wp + 1, [hp * wp, wp, 1], [o, h, wd]);
        winogradInputWasmCall(pad.byteOffset, o, hp, wp, t.th, t.twr, v.byteOffset, n, msV, col0);
      } else {
        winogradInputJs(gy, src, o, h, wd, t, v, n, msV, col0);
      }
    }
    for (let e = 0; e < 16; e++) gemm(u, e * c * o, false, v, e * msV, false, m, e * msM, c, n, o, false);
    for (let j = 0; j < k; j++) {
      const col0 = j * t.th * t.twr;
      const dst = gxOff + (i + j) * c * plane;
      if (wasm) {
        winogradOutputWasmCall(m.byteOffset, c, n, msM, col0, t.th, t.twr, out.byteOffset, wq);
        copyStrided(out, 0, [2 * t.th * wq, wq, 1], gx, dst, [plane, wd, 1], [c, h, wd]);
      } else {
        winogradOutputJs(m, c, n, msM, col0, t, h, wd, gx, dst);
      }
      tick();
    }
  }
}
