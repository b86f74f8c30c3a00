/**
 * The pieces of work a thread runs: a block of gemm rows, a range of images
 * of a convolution (forward or input gradient), or a block of rows of a
 * convolution weight gradient. The same functions run on the calling thread
 * and in the workers, so each output element is computed by exactly the code
 * (and in exactly the order) of the single-thread path in src/ops/conv.ts and
 * src/kernels/gemm/gemm.ts: results do not depend on the thread count.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { heapF32, heapF64, Scratch } from "../../tensor/heap.js";
import { gemm } from "../gemm/gemm.js";
import { col2im, im2col, type ConvGeom } from "./conv.js";
import { winogradDataRange, winogradFits, winogradImagesPerGemm } from "../winograd/winograd.js";
import { unitRange, type UnitRanges } from "../../parallel/claims.js";

/** A convolution as the tasks see it: x [N, cIn, h, w], weight [o, cIn/groups, kh, kw]. */
export interface ConvDims {
  n: number;
  cIn: number;
  o: number;
  groups: number;
  g: ConvGeom;
}

/** Slots 0..16 of a conv task's arguments hold the dims; task-specific arguments follow. */
export const CONV_DIM_ARGS = 17;

/** Writes dims into args[0..16]. */
export function encodeConv(d: ConvDims, args: Float64Array): void {
  const g = d.g;
  args[0] = d.n; args[1] = d.cIn; args[2] = d.o; args[3] = d.groups;
  args[4] = g.h; args[5] = g.w; args[6] = g.kh; args[7] = g.kw; args[8] = g.sh; args[9] = g.sw;
  args[10] = g.ph; args[11] = g.pw; args[12] = g.dh; args[13] = g.dw; args[14] = g.oh; args[15] = g.ow;
  args[16] = 0;
}

/** Reads dims back from args[0..16] (integers). */
export function decodeConv(a: ArrayLike<number>): ConvDims {
  return {
    n: a[0]!, cIn: a[1]!, o: a[2]!, groups: a[3]!,
    g: { h: a[4]!, w: a[5]!, kh: a[6]!, kw: a[7]!, sh: a[8]!, sw: a[9]!, ph: a[10]!, pw: a[11]!, dh: a[12]!, dw: a[13]!, oh: a[14]!, ow: a[15]! },
  };
}

/** True when a 1x1 kernel without stride or padding lets the input serve as its own column matrix. */
export function isDirect(g: ConvGeom): boolean {
  return g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0;
}

// Per-thread column scratch in the heap (so the gemm and col2im kernels use it in place), grown on demand.
const colScratch = new Scratch();

/** Column scratch of at least n elements with x's element type (valid until the next call in this thread). */
function colsLike(x: FloatArray, n: number): FloatArray {
  const f64 = x instanceof Float64Array;
  const off = colScratch.take(n * (f64 ? 8 : 4));
  return f64 ? heapF64().subarray(off / 8, off / 8 + n) : heapF32().subarray(off / 4, off / 4 + n);
}

/**
 * Forward convolution of images i0..i1-1: y[i] = W * columns(x[i]) per group,
 * as in src/ops/conv.ts. Offsets locate image 0 (they may point before the
 * array when only a range of images is staged).
 */
export function convForwardRange(
  d: ConvDims, x: FloatArray, xOff: number, w: FloatArray, wOff: number, y: FloatArray, yOff: number,
  i0: number, i1: number, tick: () => void,
): void {
  const { cIn, o, groups, g } = d;
  const cg = cIn / groups, og = o / groups;
  const kk = cg * g.kh * g.kw, ohw = g.oh * g.ow, plane = g.h * g.w;
  const direct = isDirect(g);
  const cols = direct ? null : colsLike(x, kk * ohw);
  for (let i = i0; i < i1; i++) {
    for (let gi = 0; gi < groups; gi++) {
      let cm: FloatArray = x;
      let co = xOff + i * cIn * plane + gi * cg * plane;
      if (cols !== null) {
        im2col(x, xOff + i * cIn * plane, gi * cg, cg, g, cols, 0);
        cm = cols;
        co = 0;
      }
      gemm(w, wOff + gi * og * kk, false, cm, co, false, y, yOff + (i * o + gi * og) * ohw, og, ohw, kk, false);
    }
    tick();
  }
}

/**
 * Input gradient of images i0..i1-1 into gx: zeroes those images, then per
 * group Wᵀ gy followed by col2im, as in src/ops/conv.ts; a float32 3x3
 * stride-1 pad-1 convolution goes by Winograd F(4x4, 3x3) instead
 * (src/kernels/winograd/, chosen by shape and dtype only). `images`: the
 * ranges a thread claims instead (each image whole on one thread).
 */
export function convDataRange(
  d: ConvDims, gy: FloatArray, gyOff: number, w: FloatArray, wOff: number, gx: FloatArray, gxOff: number,
  i0: number, i1: number, tick: () => void, images: UnitRanges = unitRange(i0, i1),
): void {
  if (dataByWinograd(d, gy, w, gx)) {
    winogradDataRange(d, gy, gyOff, w, wOff, gx, gxOff, i0, i1, tick, images);
  } else {
    images((r0, r1) => convDataDirectRange(d, gy, gyOff, w, wOff, gx, gxOff, r0, r1, tick));
  }
}

/** True when {@link convDataRange} takes these operands by Winograd (float32 data, a shape winogradFits). */
function dataByWinograd(d: ConvDims, gy: FloatArray, w: FloatArray, gx: FloatArray): boolean {
  return winogradFits(d, gy instanceof Float32Array && w instanceof Float32Array && gx instanceof Float32Array);
}

/** The fewest images {@link convDataRange} should take at once: one Winograd gemm's (fewer run it thinner), else 1. */
export function dataImagesPerChunk(d: ConvDims, gy: FloatArray, w: FloatArray, gx: FloatArray): number {
  return dataByWinograd(d, gy, w, gx) ? winogradImagesPerGemm(d) : 1;
}

/** {@link convDataRange} by im2col's transpose whatever the shape: Wᵀ gy per image and group, then col2im. */
export function convDataDirectRange(
  d: ConvDims, gy: FloatArray, gyOff: number, w: FloatArray, wOff: number, gx: FloatArray, gxOff: number,
  i0: number, i1: number, tick: () => void,
): void {
  const { cIn, o, groups, g } = d;
  const cg = cIn / groups, og = o / groups;
  const kk = cg * g.kh * g.kw, ohw = g.oh * g.ow, plane = g.h * g.w;
  const dcols = isDirect(g) ? null : colsLike(gx, kk * ohw);
  gx.fill(0, gxOff + i0 * cIn * plane, gxOff + i1 * cIn * plane);
  for (let i = i0; i < i1; i++) {
    for (let gi = 0; gi < groups; gi++) {
      const yo = gyOff + (i * o + gi * og) * ohw;
      const xo = gxOff + i * cIn * plane;
      if (dcols === null) {
        gemm(w, wOff + gi * og * kk, true, gy, yo, false, gx, xo + gi * cg * plane, kk, ohw, og, false);
      } else {
        gemm(w, wOff + gi * og * kk, true, gy, yo, false, dcols, 0, kk, ohw, og, false);
        col2im(dcols, 0, gi * cg, cg, g, gx, xo);
      }
    }
    tick();
  }
}

/**
 * Rows r0..r1-1 of the weight-gradient accumulator acc [o, kk] (gemm's float32
 * family when gy, x and acc are float32, else float64): for
 * every image in order and every group, acc += gy[i] columns(x[i])ᵀ. Each
 * element sees the same additions in the same order as the whole-matrix loop
 * of src/ops/conv.ts (images outer, then positions), whatever the row split.
 */
export function convWeightRange(
  d: ConvDims, gy: FloatArray, gyOff: number, x: FloatArray, xOff: number, acc: FloatArray, accOff: number,
  r0: number, r1: number, tick: () => void,
): void {
  const { n, cIn, o, groups, g } = d;
  const cg = cIn / groups, og = o / groups;
  const kk = cg * g.kh * g.kw, ohw = g.oh * g.ow, plane = g.h * g.w;
  const cols = isDirect(g) ? null : colsLike(x, kk * ohw);
  const gLo = Math.floor(r0 / og), gHi = Math.ceil(r1 / og);
  for (let i = 0; i < n; i++) {
    for (let gi = gLo; gi < gHi; gi++) {
      const lo = Math.max(r0, gi * og), hi = Math.min(r1, (gi + 1) * og);
      if (lo >= hi) continue;
      let cm: FloatArray = x;
      let co = xOff + i * cIn * plane + gi * cg * plane;
      if (cols !== null) {
        im2col(x, xOff + i * cIn * plane, gi * cg, cg, g, cols, 0);
        cm = cols;
        co = 0;
      }
      gemm(gy, gyOff + (i * o + lo) * ohw, false, cm, co, true, acc, accOff + lo * kk, hi - lo, kk, ohw, true);
    }
    tick();
  }
}
