/**
 * The input gradient of a 3x3, stride-1, pad-1 convolution by Winograd's
 * minimal filtering (Lavin & Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2016): gx = the correlation of the padded gy with the flipped,
 * channel-swapped kernel, computed per output tile of m x m pixels as
 *
 *   dX[c][y][x] = sum_o sum_{a,b} F[c][o][a][b] gyPad[o][y + a][x + b],
 *   F[c][o][a][b] = W[o][c][2 - a][2 - b],  gyPad[o][r][s] = gy[o][r - 1][s - 1] (0 outside)
 *
 * For output tile (ty, tx) (rows m ty .. m ty + m - 1, columns likewise) and
 * d = gyPad[o][m ty .. m ty + m + 1][m tx .. m tx + m + 1]:
 *   U = G F G^T (per c, o), V = B^T d B (per o, tile), M = sum_o U V (one gemm
 *   per element e of the (m + 2) x (m + 2) transforms), tile = A^T M A.
 *
 * Two variants, picked by shape only (so the bits never depend on the thread
 * count): F(2x2, 3x3) (./f23.ts, 2.25x fewer multiplications than direct) and
 * F(4x4, 3x3) (./f43.ts, 4x fewer, larger transforms and a few times the
 * rounding). Float32 only (the caller checks); every transform operation a
 * float32 operation in its variant's order, the gemms gemm's float32 family
 * (each M element a float32 sum over o in order). The WASM twins of the input
 * and output transforms do the same operations lane by lane, so both backends
 * give the same bits; tests/kernels/winograd.test.ts checks that for both
 * variants, and the result against the direct (im2col) input gradient. Tile
 * columns are laid out per tile row padded to a multiple of 4 (twr), so the
 * lanes never straddle rows; the padded tiles' results are dropped.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { BitspikeError } from "../../tensor/errors.js";
import { heapF32, inHeap, Scratch } from "../../tensor/heap.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { gemm } from "../gemm/gemm.js";
import { copyStrided } from "../copy/copy.js";
import type { ConvDims } from "../conv/ranges.js";
import { input23Js, output23Js, weights23 } from "./f23.js";
import { input23Wasm, output23Wasm } from "./f23-wasm.js";
import { input43Js, output43Js, weights43 } from "./f43.js";
import { input43Wasm, output43Wasm } from "./f43-wasm.js";

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

export function winogradTiles(h: number, w: number, m: number): WinogradTiles {
  const th = Math.ceil(h / m), tw = Math.ceil(w / m);
  return { th, tw, twr: Math.ceil(tw / 4) * 4 };
}

/** One Winograd variant: its tile size and transforms (the TypeScript references and their WASM twins). */
export interface WinogradVariant {
  name: "F(2x2, 3x3)" | "F(4x4, 3x3)";
  /** Output tile side; the transforms are (m + 2) x (m + 2). */
  m: number;
  /** U's entries for input channels ci0..ci1-1. */
  weights(w: FloatArray, wOff: number, o: number, c: number, u: FloatArray, ci0: number, ci1: number): void;
  inputJs(gy: FloatArray, gyOff: number, o: number, h: number, w: number, t: WinogradTiles, v: FloatArray, n: number, ms: number, col0: number): void;
  outputJs(m: FloatArray, c: number, n: number, ms: number, col0: number, t: WinogradTiles, h: number, w: number, gx: FloatArray, gxOff: number): void;
  inputWasm(pad: number, o: number, hp: number, wp: number, th: number, twr: number, v: number, n: number, ms: number, col0: number): void;
  outputWasm(m: number, c: number, n: number, ms: number, col0: number, th: number, twr: number, out: number, wq: number): void;
}

export const F23: WinogradVariant = {
  name: "F(2x2, 3x3)", m: 2, weights: weights23, inputJs: input23Js, outputJs: output23Js, inputWasm: input23Wasm, outputWasm: output23Wasm,
};
export const F43: WinogradVariant = {
  name: "F(4x4, 3x3)", m: 4, weights: weights43, inputJs: input43Js, outputJs: output43Js, inputWasm: input43Wasm, outputWasm: output43Wasm,
};

/** Elements of a variant's transformed tile: the number of U, V and M matrices. */
export function tileElems(v: WinogradVariant): number {
  return (v.m + 2) * (v.m + 2);
}

/**
 * The variant of a convolution that fits ({@link winogradFits}): F(4x4, 3x3) for images of at least
 * 24 x 24, else F(2x2, 3x3). Measured, one thread (bench/winograd.bench.ts, F(2x2) / F(4x4) ms, the stem
 * shapes at T 4): 16 -> 32 at 28 x 28 (64 images) 10.5-11.5 / 8.6-8.7, 32 -> 64 at 28 x 28 32.4 / 25.2,
 * 48 -> 96 at 32 x 32 38.7 / 29.2, 96 -> 192 at 32 x 32 137.4 / 110.2; but 192 -> 384 at 16 x 16
 * 131-140 / 148-163, and 8 x 8 or 7 x 7 images 2x slower (tile rows padded to four tiles of 4 x 4 are
 * mostly padding there).
 */
export function winogradVariant(d: ConvDims): WinogradVariant {
  return d.g.h >= 24 && d.g.w >= 24 ? F43 : F23;
}

/** Values of U (the transformed weight) for this convolution's variant. */
export function winogradWeightsLength(d: ConvDims, v: WinogradVariant = winogradVariant(d)): number {
  return tileElems(v) * d.cIn * d.o;
}

/** U for all input channels ([tile elements][c][o]); see {@link winogradWeightsRange}. */
export function winogradWeights(d: ConvDims, w: FloatArray, wOff: number, u: FloatArray, v: WinogradVariant = winogradVariant(d)): void {
  v.weights(w, wOff, d.o, d.cIn, u, 0, d.cIn);
}

/**
 * U's entries of input channels ci0..ci1-1 only (the rest of u untouched): the threads of one input
 * gradient split the weight transform instead of each doing all of it.
 */
export function winogradWeightsRange(
  d: ConvDims, w: FloatArray, wOff: number, u: FloatArray, ci0: number, ci1: number, v: WinogradVariant = winogradVariant(d),
): void {
  v.weights(w, wOff, d.o, d.cIn, u, ci0, ci1);
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
 * between its threads), else this call transforms it. `variant`: the shape's
 * (tests pass either).
 */
export function winogradDataRange(
  d: ConvDims, gy: FloatArray, gyOff: number, w: FloatArray, wOff: number, gx: FloatArray, gxOff: number, i0: number, i1: number,
  tick: () => void, uDone: Float32Array | null = null, variant: WinogradVariant = winogradVariant(d),
): void {
  if (i1 <= i0) return;
  const { cIn: c, o, g } = d;
  const { h, w: wd } = g;
  const mt = variant.m, E = tileElems(variant);
  const t = winogradTiles(h, wd, mt);
  const nc = imagesPerChunk(t, i1 - i0);
  const nMax = nc * t.th * t.twr;
  const wasm = wasmKernelsEnabled() && inHeap(gy) && inHeap(gx);
  // Padded planes: rows m ty .. m ty + m + 1 of every tile row, and the columns the WASM input reads from m tx.
  const hp = mt * t.th + 2, wp = mt * t.twr + 4, wq = mt * t.twr;
  // Scratch (floats): U [E c o], V [E o n], M [E c n], the padded gradient planes and the output tiles of one image.
  // Matrix strides of V and M padded by 16 values: a multiple of 4 KiB would put the E stores (or loads) of
  // one tile in few L1 sets.
  const msV = o * nMax + 16, msM = c * nMax + 16;
  const uLen = winogradWeightsLength(d, variant);
  if (uDone !== null && uDone.length < uLen) {
    throw new BitspikeError("winogradDataRange", `a transformed weight needs ${uLen} values, got ${uDone.length}`);
  }
  const sizes = [uDone === null ? uLen : 0, E * msV, E * msM, wasm ? o * hp * wp : 0, wasm ? c * mt * t.th * wq : 0];
  const base = scratch.take(sizes.reduce((a, b) => a + Math.ceil(b / 16) * 16, 0) * 4) / 4;
  const views: Float32Array[] = [];
  let at = base;
  for (const s of sizes) {
    views.push(heapF32().subarray(at, at + s));
    at += Math.ceil(s / 16) * 16;
  }
  const [uMine, v, m, pad, out] = views as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  const u = uDone ?? uMine;
  if (uDone === null) winogradWeights(d, w, wOff, u, variant);
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
        variant.inputWasm(pad.byteOffset, o, hp, wp, t.th, t.twr, v.byteOffset, n, msV, col0);
      } else {
        variant.inputJs(gy, src, o, h, wd, t, v, n, msV, col0);
      }
    }
    for (let e = 0; e < E; e++) gemm(u, e * c * o, false, v, e * msV, false, m, e * msM, c, n, o, false);
    for (let j = 0; j < k; j++) {
      const col0 = j * t.th * t.twr;
      const dst = gxOff + (i + j) * c * plane;
      if (wasm) {
        variant.outputWasm(m.byteOffset, c, n, msM, col0, t.th, t.twr, out.byteOffset, wq);
        copyStrided(out, 0, [mt * t.th * wq, wq, 1], gx, dst, [plane, wd, 1], [c, h, wd]);
      } else {
        variant.outputJs(m, c, n, msM, col0, t, h, wd, gx, dst);
      }
      tick();
    }
  }
}
