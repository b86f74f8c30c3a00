/**
 * Event-driven 2-D convolution kernels for spike input: each set bit of an
 * image [C, H, W] (packed along W, one row per (c, y)) scatters its kernel
 * column into the outputs it reaches. Outputs and weights are kept
 * channels-last ([OH, OW, O] and [C, kh, kw, O]) so the innermost loop adds
 * one contiguous run of O values.
 *
 * Order: for a fixed output, input bits are visited in (c, y, x) order, which
 * is the (c, ki, kj) order of im2col + gemm (for a fixed output position, y
 * and x grow with ki and kj). Two families, as gemm's (gemm.ts): when the
 * source rows (wT or gT) and the accumulator / output are all float32, each
 * element does acc = f32(acc + term) from +0 (or its current value); else it
 * accumulates in float64 (a float64 accumulator, or rounded once on the
 * store). Skipped zero terms would add ±0 to an accumulator that starts at +0
 * and can never become -0, so nothing changes: the forward equals the dense
 * conv (gemm in the same family) bit for bit, and the weight gradient equals
 * it too (the dense conv's weight gradient accumulates in its data's family
 * over the batch, and so do the ops here: they pass an accW of that dtype).
 *
 * The `...Reference` kernels scatter one (bit, tap) at a time. The fast ones
 * first sort the (bit, tap) pairs into buckets (per output position for the
 * forward, per weight row for the weight gradient), in the same visiting
 * order, and then sum each bucket's rows four per pass into one accumulator
 * row: the same additions in the same order, fewer loads and stores.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { ctz32 } from "../../tensor/bits.js";
import type { ConvGeom } from "../conv/conv.js";
import { transpose, transposedCopy } from "../transpose/transpose.js";
import { float32Family } from "../gemm/gemm.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { heapPtr } from "../../wasm/runtime.js";
import {
  align16, builtSourceBytes, dstBytes, dstDone, dstPtr, panelsOr, PANEL_ENTRY, SPIKE_SUM_MIN_OUT, spikeSumRun, spikeSumScratch, stageBytes, usePanels,
} from "../spike-sum/wasm.js";
import { heapF32, heapF64, heapI32, inHeap } from "../../tensor/heap.js";
import { unitRange, type UnitRanges } from "../../parallel/claims.js";
import { fillBucketsWasm, type Weights } from "./wasm.js";

const fr = Math.fround;

/**
 * Calls visit(wo, ao) for every kernel tap (ki, kj) that maps input (ci, y, x)
 * onto an output (oy sh - ph + ki dh = y, likewise for x), in tap order:
 * wo = ((ci kh + ki) kw + kj) o indexes a [C, KH, KW, O] row, ao = (oy OW +
 * ox) o an [OH, OW, O] one.
 */
function eachTap(ci: number, y: number, x: number, g: ConvGeom, o: number, visit: (wo: number, ao: number) => void): void {
  const { kh, kw, sh, sw, ph, pw, dh, dw, oh, ow } = g;
  for (let ki = 0; ki < kh; ki++) {
    const ty = y + ph - ki * dh;
    if (ty < 0 || ty % sh !== 0) continue;
    const oy = ty / sh;
    if (oy >= oh) continue;
    for (let kj = 0; kj < kw; kj++) {
      const tx = x + pw - kj * dw;
      if (tx < 0 || tx % sw !== 0) continue;
      const ox = tx / sw;
      if (ox >= ow) continue;
      visit(((ci * kh + ki) * kw + kj) * o, (oy * ow + ox) * o);
    }
  }
}

/** {@link eachTap} for every set bit (c, y, x) of one image at word offset `sOff`, in bit then tap order. */
function eachSpikeTap(s: Uint32Array, sOff: number, wpr: number, c: number, g: ConvGeom, o: number, visit: (wo: number, ao: number) => void): void {
  for (let ci = 0; ci < c; ci++) {
    for (let y = 0; y < g.h; y++) {
      const ro = sOff + (ci * g.h + y) * wpr;
      for (let q = 0; q < wpr; q++) {
        let bits = s[ro + q]!;
        while (bits !== 0) {
          eachTap(ci, y, (q << 5) + ctz32(bits), g, o, visit);
          bits &= bits - 1;
        }
      }
    }
  }
}

/**
 * {@link eachTap} for every nonzero value v = x[c, y, x] of one counts image
 * [C, H, W] at element offset `xOff`, in (c, y, x) then tap order: visit(v, wo, ao).
 */
function eachCountTap(x: FloatArray, xOff: number, c: number, g: ConvGeom, o: number, visit: (v: number, wo: number, ao: number) => void): void {
  for (let ci = 0; ci < c; ci++) {
    for (let y = 0; y < g.h; y++) {
      for (let xx = 0; xx < g.w; xx++) {
        const v = x[xOff + (ci * g.h + y) * g.w + xx]!;
        if (v !== 0) eachTap(ci, y, xx, g, o, (wo, ao) => visit(v, wo, ao));
      }
    }
  }
}

/**
 * acc[oy, ox, :] += wT[c, ki, kj, :] for every set bit (c, y, x) of one image
 * at word offset `sOff` and every kernel tap (ki, kj) that maps it onto an
 * output (see eachTap). acc is [OH, OW, O]: float32 (float32 adds, with
 * a float32 wT) or float64.
 */
export function spikeConvScatterReference(
  s: Uint32Array, sOff: number, wpr: number, c: number, g: ConvGeom,
  wT: FloatArray, o: number, acc: FloatArray,
): void {
  eachSpikeTap(s, sOff, wpr, c, g, o, (wo, ao) => {
    for (let j = 0; j < o; j++) acc[ao + j] += wT[wo + j]!;
  });
}

/**
 * The weight gradient of {@link spikeConvScatter}, sparse over the spikes:
 * accW[c, ki, kj, :] += gT[oy, ox, :] for the same (bit, tap, output) triples.
 * gT is one image's output gradient channels-last [OH, OW, O]; accW float64
 * (or float32, float32 adds, with a float32 gT).
 */
export function spikeConvWeightGradReference(
  s: Uint32Array, sOff: number, wpr: number, c: number, g: ConvGeom,
  gT: FloatArray, o: number, accW: FloatArray,
): void {
  eachSpikeTap(s, sOff, wpr, c, g, o, (wo, go) => {
    for (let j = 0; j < o; j++) accW[wo + j] += gT[go + j]!;
  });
}

/**
 * The counts twin of {@link spikeConvScatterReference}: acc[oy, ox, :] +=
 * v wT[c, ki, kj, :] for every nonzero v = x[c, y, x] of one image [C, H, W]
 * at `xOff`, in (c, y, x) then tap order. Float32 family when x, wT and acc
 * are float32 (acc = f32(acc + f32(v w))), else float64 adds into a float64 acc.
 */
export function countsConvScatterReference(
  x: FloatArray, xOff: number, c: number, g: ConvGeom, wT: FloatArray, o: number, acc: FloatArray,
): void {
  countsTapsReference(x, xOff, c, g, o, wT, acc, true);
}

/**
 * The counts twin of {@link spikeConvWeightGradReference}: accW[c, ki, kj, :]
 * += v gT[oy, ox, :] for the same (value, tap, output) triples as
 * {@link countsConvScatterReference}, in the same family rule.
 */
export function countsConvWeightGradReference(
  x: FloatArray, xOff: number, c: number, g: ConvGeom, gT: FloatArray, o: number, accW: FloatArray,
): void {
  countsTapsReference(x, xOff, c, g, o, gT, accW, false);
}

/** dst row += v src row for every (value, tap): by output (src rows at wo, dst at ao) or by weight row (the reverse). */
function countsTapsReference(
  x: FloatArray, xOff: number, c: number, g: ConvGeom, o: number, src: FloatArray, dst: FloatArray, byOutput: boolean,
): void {
  const f32 = float32Family(x, src, dst);
  eachCountTap(x, xOff, c, g, o, (v, wo, ao) => {
    const [so, d] = byOutput ? [wo, ao] : [ao, wo];
    if (f32) for (let j = 0; j < o; j++) dst[d + j] = fr(dst[d + j]! + fr(v * src[so + j]!));
    else for (let j = 0; j < o; j++) dst[d + j] += v * src[so + j]!;
  });
}

/** The family of a sum from `src` rows into `dst`: float32 when both are; else dst must be float64. */
function family32(src: FloatArray, dst: FloatArray): boolean {
  if (float32Family(src, dst)) return true;
  if (!(dst instanceof Float64Array)) throw new Error("spike conv: a float32 accumulator needs float32 source rows (else pass a float64 one)");
  return false;
}

// Grow-only scratch (no allocation per call): bucket lengths, entries and (counts) their values.
let bucketCnt = new Int32Array(0);
let bucketIdx = new Int32Array(0);
let bucketVal = new Float64Array(0);
function buckets(nb: number, cap: number): void {
  if (bucketCnt.length < nb) bucketCnt = new Int32Array(nb);
  if (bucketIdx.length < nb * cap) bucketIdx = new Int32Array(nb * cap);
}
function bucketVals(n: number): Float64Array {
  if (bucketVal.length < n) bucketVal = new Float64Array(n);
  return bucketVal;
}

/**
 * A counts image for the bucket fill: its values x [C, H, W] from element
 * `off` (the fill's words are their nonzeros), and the table `val` that gets
 * each bucket entry's value at the entry's slot.
 */
export interface CountsImage {
  x: FloatArray;
  off: number;
  val: FloatArray;
}

/** Bucket count and capacity of {@link fillBuckets} for these arguments. */
function bucketShape(c: number, g: ConvGeom, byOutput: boolean, c0: number, c1: number): { nb: number; cap: number } {
  const ohw = g.oh * g.ow;
  return byOutput ? { nb: ohw, cap: c * g.kh * g.kw } : { nb: (c1 - c0) * g.kh * g.kw, cap: ohw };
}

/** Stride 1, dilation 1 (every Spikformer stem conv) and the words in the heap: the WASM twin fills the buckets. */
function fillsInWasm(s: Uint32Array, g: ConvGeom): boolean {
  return inHeap(s) && g.sh === 1 && g.sw === 1 && g.dh === 1 && g.dw === 1;
}

/**
 * Output rows y0..y0+rows-1 of a convolution as a convolution of their own: the geometry whose output
 * is those rows (the padding shifted by y0 output rows, so it may be negative), and the input rows
 * yLo..yHi-1 that reach them (what a fill of the band needs to read). A bucket fill by output over g with
 * those rows fills the band's buckets (row oy - y0 of it for output row oy) with the entries, in the
 * order, that the whole image's fill gives that row: the same sums.
 */
export function outputBand(g: ConvGeom, y0: number, rows: number): { g: ConvGeom; yLo: number; yHi: number } {
  const first = y0 * g.sh - g.ph, last = (y0 + rows - 1) * g.sh - g.ph + (g.kh - 1) * g.dh;
  return { g: { ...g, oh: rows, ph: g.ph - y0 * g.sh }, yLo: Math.max(0, first), yHi: Math.min(g.h, last + 1) };
}

/**
 * Sorts the (bit, tap) pairs of one image into buckets. byOutput: bucket
 * `pos = oy OW + ox` gets the weight-row offset `p O` (p = (c kh + ki) kw + kj);
 * else bucket `p` gets the output-row offset `pos O`. Bits are visited in
 * (c, y, x) order, so every bucket lists its entries in the order the
 * reference kernels add them. Returns the capacity of one bucket. With
 * `counts`, `s` holds the nonzeros of a counts image and each entry's value
 * goes to counts.val at the entry's slot (the weighted sums' table). Input rows
 * yLo..yHi-1 are read (all by default; a band of output rows needs fewer, see {@link outputBand}).
 */
export function fillBuckets(
  s: Uint32Array, sOff: number, wpr: number, c: number, g: ConvGeom, o: number, byOutput: boolean, c0 = 0, c1 = c,
  cnt?: Int32Array, idx?: Int32Array, counts: CountsImage | null = null, yLo = 0, yHi = g.h,
): number {
  const { h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow } = g;
  const val = counts === null ? null : counts.val;
  // By weight row, only channels c0..c1-1 are visited; their rows p are bucketed from pb = c0 kh kw on.
  const pb = byOutput ? 0 : c0 * kh * kw;
  const { nb, cap } = bucketShape(c, g, byOutput, c0, c1);
  if (cnt === undefined || idx === undefined) {
    // Into the JS scratch; the WASM callers pass views of the kernel's heap scratch instead.
    buckets(nb, cap);
    cnt = bucketCnt;
    idx = bucketIdx;
  }
  cnt.fill(0, 0, nb);
  for (let ci = c0; ci < c1; ci++) {
    for (let y = yLo; y < yHi; y++) {
      const ro = sOff + (ci * h + y) * wpr;
      for (let q = 0; q < wpr; q++) {
        let bits = s[ro + q]!;
        while (bits !== 0) {
          const x = (q << 5) + (31 - Math.clz32(bits & -bits));
          bits &= bits - 1;
          const v = counts === null ? 0 : counts.x[counts.off + (ci * h + y) * w + x]!;
          if (sh === 1 && sw === 1) {
            // Stride 1: the taps that land inside the output are one range per axis.
            const ty = y + ph, tx = x + pw;
            const kiHi = Math.min(kh - 1, Math.floor(ty / dh));
            const kjLo = tx >= ow ? Math.ceil((tx - ow + 1) / dw) : 0;
            const kjHi = Math.min(kw - 1, Math.floor(tx / dw));
            for (let ki = ty >= oh ? Math.ceil((ty - oh + 1) / dh) : 0; ki <= kiHi; ki++) {
              const rowPos = (ty - ki * dh) * ow + tx;
              const pRow = (ci * kh + ki) * kw;
              for (let kj = kjLo; kj <= kjHi; kj++) {
                const pos = rowPos - kj * dw;
                const p = pRow + kj;
                const t = byOutput ? pos * cap + cnt[pos]!++ : (p - pb) * cap + cnt[p - pb]!++;
                idx[t] = byOutput ? p * o : pos * o;
                if (val !== null) val[t] = v;
              }
            }
            continue;
          }
          for (let ki = 0; ki < kh; ki++) {
            let oy = y + ph - ki * dh;
            if (oy < 0) break; // oy only falls as ki grows
            if (sh !== 1) {
              if (oy % sh !== 0) continue;
              oy = oy / sh;
            }
            if (oy >= oh) continue;
            const pRow = (ci * kh + ki) * kw;
            for (let kj = 0; kj < kw; kj++) {
              let ox = x + pw - kj * dw;
              if (ox < 0) break;
              if (sw !== 1) {
                if (ox % sw !== 0) continue;
                ox = ox / sw;
              }
              if (ox >= ow) continue;
              const pos = oy * ow + ox;
              const p = pRow + kj;
              const t = byOutput ? pos * cap + cnt[pos]!++ : (p - pb) * cap + cnt[p - pb]!++;
              idx[t] = byOutput ? p * o : pos * o;
              if (val !== null) val[t] = v;
            }
          }
        }
      }
    }
  }
  return cap;
}

/**
 * dst[r, :] += sum of src rows at the offsets in bucket r, in bucket order,
 * for every bucket r < nb (rows of length o from dstOff; bucket r is
 * idx[r cap ..], cnt[r] entries). Float32 family when src and dst are both
 * float32 (each add rounded to float32), else dst must be float64 (float64
 * adds). Eight / four rows per pass: ((d + a) + b) + ... is the same sequence
 * of additions. With `val` (one value per idx slot) each term is
 * val[slot] src[row] instead (rounded to float32 in the float32 family, which
 * then needs float32 values): the counts kernels' weighted sum. The
 * plain-TypeScript reference of the WASM twin (src/kernels/spike-sum/wasm.ts),
 * whatever the backend.
 */
export function sumBucketsJs(
  nb: number, cap: number, cnt: Int32Array, idx: Int32Array, src: FloatArray, o: number, dst: FloatArray, dstOff = 0,
  val: FloatArray | null = null,
): void {
  const f32 = family32(src, dst);
  if (val !== null) {
    weightedSumBucketsJs(nb, cap, cnt, idx, val, src, o, dst, dstOff, f32);
    return;
  }
  for (let r = 0; r < nb; r++) {
    const n = cnt[r]!;
    if (n === 0) continue;
    const d = dstOff + r * o;
    const b = r * cap;
    let t = 0;
    if (f32) {
      // dst is float32: each store rounds the last sum of the pass.
      for (; t + 4 <= n; t += 4) {
        const w0 = idx[b + t]!, w1 = idx[b + t + 1]!, w2 = idx[b + t + 2]!, w3 = idx[b + t + 3]!;
        for (let j = 0; j < o; j++) dst[d + j] = fr(fr(fr(dst[d + j]! + src[w0 + j]!) + src[w1 + j]!) + src[w2 + j]!) + src[w3 + j]!;
      }
    }
    for (; t + 8 <= n; t += 8) {
      const w0 = idx[b + t]!, w1 = idx[b + t + 1]!, w2 = idx[b + t + 2]!, w3 = idx[b + t + 3]!;
      const w4 = idx[b + t + 4]!, w5 = idx[b + t + 5]!, w6 = idx[b + t + 6]!, w7 = idx[b + t + 7]!;
      for (let j = 0; j < o; j++) {
        dst[d + j] = dst[d + j]! + src[w0 + j]! + src[w1 + j]! + src[w2 + j]! + src[w3 + j]! + src[w4 + j]! + src[w5 + j]! + src[w6 + j]! + src[w7 + j]!;
      }
    }
    for (; t + 4 <= n; t += 4) {
      const w0 = idx[b + t]!, w1 = idx[b + t + 1]!, w2 = idx[b + t + 2]!, w3 = idx[b + t + 3]!;
      for (let j = 0; j < o; j++) dst[d + j] = dst[d + j]! + src[w0 + j]! + src[w1 + j]! + src[w2 + j]! + src[w3 + j]!;
    }
    for (; t < n; t++) {
      const w0 = idx[b + t]!;
      for (let j = 0; j < o; j++) dst[d + j] += src[w0 + j]!;
    }
  }
}

/** {@link sumBucketsJs} with values: dst[r, :] += val[slot] src[idx[slot], :] over bucket r's slots in order. */
function weightedSumBucketsJs(
  nb: number, cap: number, cnt: Int32Array, idx: Int32Array, val: FloatArray, src: FloatArray, o: number, dst: FloatArray, dstOff: number, f32: boolean,
): void {
  for (let r = 0; r < nb; r++) {
    const n = cnt[r]!;
    const d = dstOff + r * o;
    const b = r * cap;
    let t = 0;
    if (f32) {
      // dst is float32: each store rounds the last sum of the pass; the products are rounded by fr.
      for (; t + 4 <= n; t += 4) {
        const w0 = idx[b + t]!, w1 = idx[b + t + 1]!, w2 = idx[b + t + 2]!, w3 = idx[b + t + 3]!;
        const v0 = val[b + t]!, v1 = val[b + t + 1]!, v2 = val[b + t + 2]!, v3 = val[b + t + 3]!;
        for (let j = 0; j < o; j++) {
          dst[d + j] = fr(fr(fr(dst[d + j]! + fr(v0 * src[w0 + j]!)) + fr(v1 * src[w1 + j]!)) + fr(v2 * src[w2 + j]!)) + fr(v3 * src[w3 + j]!);
        }
      }
      for (; t < n; t++) {
        const w0 = idx[b + t]!, v0 = val[b + t]!;
        for (let j = 0; j < o; j++) dst[d + j] = dst[d + j]! + fr(v0 * src[w0 + j]!);
      }
      continue;
    }
    for (; t + 4 <= n; t += 4) {
      const w0 = idx[b + t]!, w1 = idx[b + t + 1]!, w2 = idx[b + t + 2]!, w3 = idx[b + t + 3]!;
      const v0 = val[b + t]!, v1 = val[b + t + 1]!, v2 = val[b + t + 2]!, v3 = val[b + t + 3]!;
      for (let j = 0; j < o; j++) dst[d + j] = dst[d + j]! + v0 * src[w0 + j]! + v1 * src[w1 + j]! + v2 * src[w2 + j]! + v3 * src[w3 + j]!;
    }
    for (; t < n; t++) {
      const w0 = idx[b + t]!, v0 = val[b + t]!;
      for (let j = 0; j < o; j++) dst[d + j] += v0 * src[w0 + j]!;
    }
  }
}

/**
 * acc[oy, ox, :] += wT[c, ki, kj, :] for every set bit (c, y, x) of one image
 * at word offset `sOff` and every kernel tap (ki, kj) that maps it onto an
 * output (oy sh - ph + ki dh = y, likewise for x). acc is [OH, OW, O], float64
 * or (with a float32 wT, float32 family) float32.
 * Bit-equal to {@link spikeConvScatterReference}.
 */
export function spikeConvScatter(
  s: Uint32Array, sOff: number, wpr: number, c: number, g: ConvGeom,
  wT: FloatArray, o: number, acc: FloatArray,
): void {
  const cap = fillBuckets(s, sOff, wpr, c, g, o, true);
  sumBucketsJs(g.oh * g.ow, cap, bucketCnt, bucketIdx, wT, o, acc);
}

/**
 * The weight gradient of {@link spikeConvScatter}, sparse over the spikes:
 * accW[c, ki, kj, :] += gT[oy, ox, :] for the same (bit, tap, output) triples.
 * gT is one image's output gradient channels-last [OH, OW, O]; accW float64
 * or (with a float32 gT, float32 family) float32.
 * Bit-equal to {@link spikeConvWeightGradReference}.
 */
export function spikeConvWeightGrad(
  s: Uint32Array, sOff: number, wpr: number, c: number, g: ConvGeom,
  gT: FloatArray, o: number, accW: FloatArray,
): void {
  const cap = fillBuckets(s, sOff, wpr, c, g, o, false);
  sumBucketsJs(c * g.kh * g.kw, cap, bucketCnt, bucketIdx, gT, o, accW);
}

/**
 * {@link spikeConvWeightGrad} restricted to input channels c0..c1-1: only the
 * accW rows of those channels (p = (ci kh + ki) kw + kj, a contiguous block)
 * are touched, each with the same additions in the same order as in the
 * whole call, so disjoint channel ranges (on any threads) give its bits.
 */
export function spikeConvWeightGradChannels(
  s: Uint32Array, sOff: number, wpr: number, c: number, c0: number, c1: number, g: ConvGeom,
  gT: FloatArray, o: number, accW: FloatArray,
): void {
  if (c1 <= c0) return;
  const cap = fillBuckets(s, sOff, wpr, c, g, o, false, c0, c1);
  const khw = g.kh * g.kw;
  sumBucketsJs((c1 - c0) * khw, cap, bucketCnt, bucketIdx, gT, o, accW, c0 * khw * o);
}

/**
 * The counts twin of {@link spikeConvScatter}: acc[oy, ox, :] += v wT[c, ki, kj, :]
 * for every nonzero v = x[c, y, x] of one image [C, H, W] at `xOff`, whose
 * nonzeros are the set bits of `s` at `sOff` (wpr words a row). Float32 family
 * when x, wT and acc are float32, else acc must be float64. Bit-equal to
 * {@link countsConvScatterReference}.
 */
export function countsConvScatter(
  s: Uint32Array, sOff: number, wpr: number, c: number, g: ConvGeom,
  x: FloatArray, xOff: number, wT: FloatArray, o: number, acc: FloatArray,
): void {
  const { nb, cap } = bucketShape(c, g, true, 0, c);
  const counts = { x, off: xOff, val: bucketVals(nb * cap) };
  fillBuckets(s, sOff, wpr, c, g, o, true, 0, c, undefined, undefined, counts);
  countsFamily(x, wT, acc);
  sumBucketsJs(nb, cap, bucketCnt, bucketIdx, wT, o, acc, 0, counts.val);
}

/**
 * The counts twin of {@link spikeConvWeightGradChannels}: accW rows of input
 * channels c0..c1-1 += v gT[oy, ox, :] for the nonzeros v = x[c, y, x] of
 * one image (the set bits of `s`), in the order of
 * {@link countsConvWeightGradReference}, whose bits it gives on those rows.
 */
export function countsConvWeightGradChannels(
  s: Uint32Array, sOff: number, wpr: number, c: number, c0: number, c1: number, g: ConvGeom,
  x: FloatArray, xOff: number, gT: FloatArray, o: number, accW: FloatArray,
): void {
  if (c1 <= c0) return;
  const { nb, cap } = bucketShape(c, g, false, c0, c1);
  const counts = { x, off: xOff, val: bucketVals(nb * cap) };
  fillBuckets(s, sOff, wpr, c, g, o, false, c0, c1, undefined, undefined, counts);
  countsFamily(x, gT, accW);
  sumBucketsJs(nb, cap, bucketCnt, bucketIdx, gT, o, accW, c0 * g.kh * g.kw * o, counts.val);
}

/**
 * The family of a counts sum: float32 when the values, the source rows and
 * the destination are all float32; else the destination must be float64.
 */
function countsFamily(x: FloatArray, src: FloatArray, dst: FloatArray): boolean {
  if (float32Family(x, src, dst)) return true;
  if (!(dst instanceof Float64Array)) throw new Error("counts conv: a float32 accumulator needs float32 counts and source rows (else pass a float64 one)");
  return false;
}

let accJs32 = new Float32Array(0);
let accJs64 = new Float64Array(0);

/**
 * One counts image's forward into the channels-first output: the weighted
 * buckets summed from +0 into a channels-last accumulator of the family's
 * type, then transposed into out at `outOff` (a float64 sum rounded once).
 */
export function countsConvForwardImage(
  s: Uint32Array, sOff: number, wpr: number, c: number, g: ConvGeom,
  x: FloatArray, xOff: number, wT: FloatArray, o: number, out: FloatArray, outOff: number,
): void {
  const ohw = g.oh * g.ow;
  let acc: FloatArray;
  if (float32Family(x, wT, out)) acc = accJs32.length >= ohw * o ? accJs32 : (accJs32 = new Float32Array(ohw * o));
  else acc = accJs64.length >= ohw * o ? accJs64 : (accJs64 = new Float64Array(ohw * o));
  acc.fill(0, 0, ohw * o);
  countsConvScatter(s, sOff, wpr, c, g, x, xOff, wT, o, acc);
  transpose(acc, 0, ohw, o, out, outOff);
}

let rowBuf = new Float64Array(0);

let rowBuf32 = new Float32Array(0);

/**
 * One image's forward straight into the channels-first output:
 * out[outOff + j OH OW + pos] = Σ wT rows of the bucket of pos, from +0: in
 * float32 when wT and out are both float32, else in float64 rounded once on
 * the store. Equals {@link spikeConvScatter} into a zeroed accumulator of
 * out's family followed by a transpose, without the [OH, OW, O] buffer.
 */
export function spikeConvForwardImage(
  s: Uint32Array, sOff: number, wpr: number, c: number, g: ConvGeom,
  wT: FloatArray, o: number, out: FloatArray, outOff: number,
): void {
  const cap = fillBuckets(s, sOff, wpr, c, g, o, true);
  const ohw = g.oh * g.ow;
  if (float32Family(wT, out)) {
    if (rowBuf32.length < o) rowBuf32 = new Float32Array(o);
    const row = rowBuf32;
    const cnt = bucketCnt;
    const idx = bucketIdx;
    for (let pos = 0; pos < ohw; pos++) {
      const n = cnt[pos]!;
      const b = pos * cap;
      row.fill(0, 0, o);
      // row is float32: each store rounds the last sum of the pass.
      let t = 0;
      for (; t + 4 <= n; t += 4) {
        const w0 = idx[b + t]!, w1 = idx[b + t + 1]!, w2 = idx[b + t + 2]!, w3 = idx[b + t + 3]!;
        for (let j = 0; j < o; j++) row[j] = fr(fr(fr(row[j]! + wT[w0 + j]!) + wT[w1 + j]!) + wT[w2 + j]!) + wT[w3 + j]!;
      }
      for (; t < n; t++) {
        const w0 = idx[b + t]!;
        for (let j = 0; j < o; j++) row[j] = row[j]! + wT[w0 + j]!;
      }
      for (let j = 0, d = outOff + pos; j < o; j++, d += ohw) out[d] = row[j]!;
    }
    return;
  }
  if (rowBuf.length < o) rowBuf = new Float64Array(o);
  const row = rowBuf;
  const cnt = bucketCnt;
  const idx = bucketIdx;
  for (let pos = 0; pos < ohw; pos++) {
    const n = cnt[pos]!;
    const b = pos * cap;
    let t = 0;
    if (n >= 8) {
      const w0 = idx[b]!, w1 = idx[b + 1]!, w2 = idx[b + 2]!, w3 = idx[b + 3]!;
      const w4 = idx[b + 4]!, w5 = idx[b + 5]!, w6 = idx[b + 6]!, w7 = idx[b + 7]!;
      // The accumulator starts at 0: the first pass adds to a literal 0 instead of a zeroed row.
      for (let j = 0; j < o; j++) row[j] = 0 + wT[w0 + j]! + wT[w1 + j]! + wT[w2 + j]! + wT[w3 + j]! + wT[w4 + j]! + wT[w5 + j]! + wT[w6 + j]! + wT[w7 + j]!;
      t = 8;
    } else {
      row.fill(0, 0, o);
    }
    for (; t + 8 <= n; t += 8) {
      const w0 = idx[b + t]!, w1 = idx[b + t + 1]!, w2 = idx[b + t + 2]!, w3 = idx[b + t + 3]!;
      const w4 = idx[b + t + 4]!, w5 = idx[b + t + 5]!, w6 = idx[b + t + 6]!, w7 = idx[b + t + 7]!;
      for (let j = 0; j < o; j++) {
        row[j] = row[j]! + wT[w0 + j]! + wT[w1 + j]! + wT[w2 + j]! + wT[w3 + j]! + wT[w4 + j]! + wT[w5 + j]! + wT[w6 + j]! + wT[w7 + j]!;
      }
    }
    for (; t + 4 <= n; t += 4) {
      const w0 = idx[b + t]!, w1 = idx[b + t + 1]!, w2 = idx[b + t + 2]!, w3 = idx[b + t + 3]!;
      for (let j = 0; j < o; j++) row[j] = row[j]! + wT[w0 + j]! + wT[w1 + j]! + wT[w2 + j]! + wT[w3 + j]!;
    }
    for (; t < n; t++) {
      const w0 = idx[b + t]!;
      for (let j = 0; j < o; j++) row[j] += wT[w0 + j]!;
    }
    for (let j = 0, d = outOff + pos; j < o; j++, d += ohw) out[d] = row[j]!;
  }
}

// ---------------------------------------------------------------------------
// WebAssembly SIMD twins (src/kernels/spike-sum/wasm.ts). Same buckets, same
// additions in the same family and order: bit-identical to the JS loops above.
// Weights, gradients and accumulators in the heap are used in place; the
// bucket tables are filled straight into the kernel's scratch, and so are the
// rows whose layout the sum cannot use as they are (the forward's channels-last
// accumulator, a channels-first gradient's transpose).

/**
 * {@link sumBucketsJs} run by the WASM SIMD twin (same family): src and the
 * dst rows in place (staged when foreign), the buckets copied into scratch.
 * Bit-equal to sumBucketsJs; for tests and one-off calls. Throws where
 * WebAssembly SIMD is unavailable.
 */
export function sumBucketsWasm(
  nb: number, cap: number, cnt: Int32Array, idx: Int32Array, src: FloatArray, o: number, dst: FloatArray, dstOff = 0,
): void {
  if (nb === 0 || o === 0) return;
  const f32 = src instanceof Float32Array;
  const fam32 = family32(src, dst);
  const srcS = 0;
  const dstS = stageBytes(src, src.length);
  const cntS = dstS + dstBytes(dst, nb * o, fam32);
  const idxS = cntS + align16(nb * 4);
  const base = spikeSumScratch(idxS + nb * cap * 4);
  const srcB = heapPtr(src, 0, src.length, base + srcS, true);
  const dstB = dstPtr(dst, dstOff, nb * o, fam32, base + dstS, true);
  const i32 = heapI32();
  i32.set(cnt.subarray(0, nb), (base + cntS) / 4);
  i32.set(idx.subarray(0, nb * cap), (base + idxS) / 4);
  spikeSumRun(f32, false, nb, cap, srcB, o, dstB, base + cntS, base + idxS, 0, false, fam32);
  dstDone(dst, dstOff, nb * o, fam32, dstB);
}

/**
 * out [N, o, OH, OW] (channels-first) for images i0..i1-1 of `s` (image i at
 * word i imgWords), or for the ranges `images` hands out (a thread's claims, the
 * weight packed once for all of them): one {@link spikeConvForwardImage} each, or, when the
 * kernel backend enables WASM, the same buckets summed by the SIMD twin
 * (wT read in place). Same bits. With `counts` [N, C, H, W] (whose nonzeros
 * are the bits of `s`), the counts convolution: one
 * {@link countsConvForwardImage} each, or the weighted buckets by the SIMD twin.
 */
export function spikeConvForwardRange(
  s: Uint32Array, wpr: number, c: number, g: ConvGeom, wT: FloatArray, o: number, out: FloatArray, imgWords: number, i0: number, i1: number,
  counts: FloatArray | null = null, outIn = false, images: UnitRanges = unitRange(i0, i1),
): void {
  const ohw = g.oh * g.ow;
  const xImg = c * g.h * g.w;
  if (wasmKernelsEnabled() && o * ohw >= SPIKE_SUM_MIN_OUT) {
    forwardWasm(s, wpr, c, g, wT, o, out, imgWords, images, counts, outIn);
    return;
  }
  // The weight as the conv stores it, [O, C kh kw]: the JS loops read it transposed (once, whatever the ranges).
  let wt: FloatArray | null = null;
  images((u0, u1) => {
    wt ??= outIn ? transposedCopy(wT, 0, o, c * g.kh * g.kw) : wT;
    if (counts !== null) for (let i = u0; i < u1; i++) countsConvForwardImage(s, i * imgWords, wpr, c, g, counts, i * xImg, wt, o, out, i * o * ohw);
    else for (let i = u0; i < u1; i++) spikeConvForwardImage(s, i * imgWords, wpr, c, g, wt, o, out, i * o * ohw);
  });
}

/**
 * What the WASM bucket fill of a counts image can read: counts in the heap
 * whose type is the sum's family (float32 values for the float32 family);
 * else the JS fill writes the values into the heap table.
 */
function wasmWeights(counts: FloatArray | null, fam32: boolean): Weights {
  if (counts === null || !inHeap(counts) || (counts instanceof Float32Array) !== fam32) return null;
  return fam32 ? "f32" : "f64";
}

function forwardWasm(
  s: Uint32Array, wpr: number, c: number, g: ConvGeom, wT: FloatArray, o: number, out: FloatArray, imgWords: number, images: UnitRanges,
  counts: FloatArray | null, outIn: boolean,
): void {
  const ohw = g.oh * g.ow;
  // The accumulator is channels-last [OH OW, o] (the sum's row layout), out channels-first: it stays in scratch.
  const sums = forwardSums(s, wpr, c, g, wT, o, out, imgWords, counts, outIn, 1, 0);
  images((u0, u1) => {
    for (let i = u0; i < u1; i++) {
      const acc = sums.sum(i, 0, u1 - u0);
      // Channels-first store by the transpose family (float64 sums rounded once, as spikeConvForwardImage's last loop).
      transpose(sums.fam32 ? heapF32() : heapF64(), acc / sums.es, ohw, o, out, i * o * ohw);
    }
  });
}

/** The image-by-image sums of a WASM forward on one thread (see {@link forwardSums}). */
export interface ForwardSums {
  /** Float32 sums (the float32 family), else float64. */
  fam32: boolean;
  /** Bytes an accumulator element takes (4 or 8). */
  es: number;
  /**
   * Sums output rows y0..y0+rows-1 of image i (all by default) into accumulator `slot` ([rows OW, o],
   * channels-last; slot k starts k rows OW o elements after slot 0) and returns its heap byte offset.
   * `rangeImages`: the images the thread's range will sum (at the first call it decides the panels).
   */
  sum(i: number, slot: number, rangeImages: number, y0?: number, rows?: number): number;
  /** Heap byte offset of the caller's `extraBytes` of scratch (16-byte aligned; after the first sum). */
  extra(): number;
}

/**
 * A thread's WASM forward sums: its bucket tables, wT's panels (see usePanels: wT's rows for one output
 * position are scattered over all of it) and `slots` channels-last accumulators [OH OW, o] in its
 * bucket-sum scratch, plus `extraBytes` for the caller, set up at the first image summed. The family is
 * that of wT, `counts` and `out` (the array the sums end in), as gemm's.
 */
export function forwardSums(
  s: Uint32Array, wpr: number, c: number, g: ConvGeom, wT: FloatArray, o: number, out: FloatArray, imgWords: number,
  counts: FloatArray | null, outIn: boolean, slots: number, extraBytes: number,
): ForwardSums {
  const ohw = g.oh * g.ow;
  const { nb, cap } = bucketShape(c, g, true, 0, c);
  const kk = c * g.kh * g.kw;
  const f32 = wT instanceof Float32Array;
  const fam32 = counts === null ? float32Family(wT, out) : float32Family(counts, wT, out);
  const es = fam32 ? 4 : 8;
  const xImg = c * g.h * g.w;
  const wS = 0;
  const accS = stageBytes(wT, kk * o);
  const accBytes = ohw * o * es; // consecutive, no padding: a fused caller reads the slots as one [slots, OH OW, o] array
  const extraS = align16(accS + slots * accBytes);
  const cntS = align16(extraS + extraBytes);
  const idxS = align16(cntS + nb * 4);
  const valS = align16(idxS + nb * cap * 4); // counts: a value (of the family's type) per idx slot
  const wasmFill = fillsInWasm(s, g) && (counts === null || wasmWeights(counts, fam32) !== null);
  const weights = wasmWeights(counts, fam32);
  const prepare = (firstImages: number) => {
    const panels = usePanels(fam32, firstImages * ohw, kk * o);
    const panelS = align16(counts === null ? valS : valS + nb * cap * es);
    const base = spikeSumScratch(panelS + builtSourceBytes(panels, outIn, kk, o, wT.BYTES_PER_ELEMENT));
    const wB = panelsOr(panels, heapPtr(wT, 0, kk * o, base + wS, true), kk, o, base + panelS, outIn, !f32);
    const entry = panels ? PANEL_ENTRY : o; // entries: element offsets of wT's rows, or (panels) the row numbers times PANEL_ENTRY
    return { panels, base, wB, entry };
  };
  let t: ReturnType<typeof prepare> | null = null;
  return {
    fam32, es,
    sum(i, slot, rangeImages, y0 = 0, rows = g.oh) {
      t ??= prepare(rangeImages);
      const { panels, base, wB, entry } = t;
      const band = outputBand(g, y0, rows);
      const bg = band.g, bnb = rows * g.ow;
      const acc = base + accS + slot * bnb * o * es;
      if (wasmFill) {
        fillBucketsWasm(
          true, s.byteOffset + i * imgWords * 4, wpr, 0, c, g.h, g.kh, g.kw, bg.ph, g.pw, rows, g.ow, entry, cap, bnb, base + cntS, base + idxS,
          weights, counts === null ? 0 : counts.byteOffset + i * xImg * es, g.w, base + valS, band.yLo, band.yHi,
        );
      } else {
        const i32 = heapI32();
        const cnt = i32.subarray((base + cntS) / 4, (base + cntS) / 4 + bnb);
        const idx = i32.subarray((base + idxS) / 4, (base + idxS) / 4 + bnb * cap);
        const vals = fam32 ? heapF32() : heapF64();
        const val = counts === null ? null : vals.subarray((base + valS) / es, (base + valS) / es + bnb * cap);
        fillBuckets(s, i * imgWords, wpr, c, bg, entry, true, 0, c, cnt, idx, counts === null ? null : { x: counts, off: i * xImg, val: val! }, band.yLo, band.yHi);
      }
      spikeSumRun(f32, counts !== null, bnb, cap, wB, o, acc, base + cntS, base + idxS, base + valS, true, fam32, panels ? kk : 0);
      return acc;
    },
    extra() {
      if (t === null) throw new Error("forwardSums: internal: extra() before the first sum");
      return t.base + extraS;
    },
  };
}

/**
 * accW rows of input channels c0..c1-1 += the weight gradient of images 0..n-1
 * in batch order: {@link spikeConvWeightGradChannels} per image, where image
 * i's channels-last gradient [OH OW, o] is gy's slice i (`channelsFirst`
 * false) or the transpose of gy's [o, OH OW] slice i (true). When the kernel
 * backend enables WASM, the SIMD twin sums the buckets into the accW block
 * in place (gy too, when channels-last). Same bits either way. With `counts`
 * [N, C, H, W] (whose nonzeros are the bits of `s`): the counts convolution's
 * weight gradient, {@link countsConvWeightGradChannels} per image or the
 * weighted buckets by the SIMD twin.
 */
export function spikeConvWeightRange(
  s: Uint32Array, imgWords: number, n: number, wpr: number, c: number, c0: number, c1: number, g: ConvGeom,
  gy: FloatArray, channelsFirst: boolean, o: number, accW: FloatArray, counts: FloatArray | null = null,
): void {
  if (c1 <= c0 || n === 0) return;
  const ohw = g.oh * g.ow;
  const img = ohw * o;
  if (wasmKernelsEnabled() && img >= SPIKE_SUM_MIN_OUT) {
    weightWasm(s, imgWords, n, wpr, c, c0, c1, g, gy, channelsFirst, o, accW, counts);
    return;
  }
  const xImg = c * g.h * g.w;
  let gT: FloatArray;
  if (!channelsFirst) gT = gy;
  else if (gy instanceof Float64Array) gT = gTJs64.length >= img ? gTJs64 : (gTJs64 = new Float64Array(img));
  else gT = gTJs32.length >= img ? gTJs32 : (gTJs32 = new Float32Array(img));
  for (let i = 0; i < n; i++) {
    if (channelsFirst) transpose(gy, i * img, o, ohw, gT, 0);
    const gi = channelsFirst ? gT : gy.subarray(i * img, (i + 1) * img);
    if (counts === null) spikeConvWeightGradChannels(s, i * imgWords, wpr, c, c0, c1, g, gi, o, accW);
    else countsConvWeightGradChannels(s, i * imgWords, wpr, c, c0, c1, g, counts, i * xImg, gi, o, accW);
  }
}
let gTJs32 = new Float32Array(0);
let gTJs64 = new Float64Array(0);

function weightWasm(
  s: Uint32Array, imgWords: number, n: number, wpr: number, c: number, c0: number, c1: number, g: ConvGeom,
  gy: FloatArray, channelsFirst: boolean, o: number, accW: FloatArray, counts: FloatArray | null,
): void {
  const ohw = g.oh * g.ow;
  const img = ohw * o;
  const khw = g.kh * g.kw;
  const { nb, cap } = bucketShape(c, g, false, c0, c1);
  const f32 = gy instanceof Float32Array;
  const fam32 = counts === null ? family32(gy, accW) : countsFamily(counts, gy, accW);
  const es = fam32 ? 4 : 8;
  const xImg = c * g.h * g.w;
  const rows = (c1 - c0) * khw * o;
  const a0 = c0 * khw * o;
  // One image's channels-last gradient: gy's slice itself, or its transpose in scratch (channels-first gy, or a foreign one staged);
  // with panels (see usePanels) its panels, packed from gy's slice as it is (a foreign one staged first). A CIFAR b8
  // step's three stem convs with panels, one thread: their sums 106 -> 92 ms, the packing 6 ms (two runs); the RPE
  // conv (64 positions) and MNIST's stem (25k-50k values an image) stay below the threshold, where panels ran slower.
  const panels = usePanels(fam32, nb, img);
  const accS = 0;
  const gS = dstBytes(accW, rows, fam32);
  const cntS = gS + (channelsFirst && !panels ? align16(img * (f32 ? 4 : 8)) : stageBytes(gy, img));
  const idxS = align16(cntS + nb * 4);
  const valS = align16(idxS + nb * cap * 4); // counts: a value (of the family's type) per idx slot
  const panelS = align16(counts === null ? valS : valS + nb * cap * es);
  const base = spikeSumScratch(panelS + builtSourceBytes(panels, false, ohw, o, 4));
  const accB = dstPtr(accW, a0, rows, fam32, base + accS, true);
  const i32 = heapI32();
  const cnt = i32.subarray((base + cntS) / 4, (base + cntS) / 4 + nb);
  const idx = i32.subarray((base + idxS) / 4, (base + idxS) / 4 + nb * cap);
  const gv = f32 ? heapF32().subarray((base + gS) / 4, (base + gS) / 4 + img) : heapF64().subarray((base + gS) / 8, (base + gS) / 8 + img);
  const weights = wasmWeights(counts, fam32);
  const wasmFill = fillsInWasm(s, g) && (counts === null || weights !== null);
  const val = counts === null ? null : (fam32 ? heapF32() : heapF64()).subarray((base + valS) / es, (base + valS) / es + nb * cap);
  const entry = panels ? PANEL_ENTRY : o; // entries: element offsets of the gradient's rows, or (panels) the output positions times PANEL_ENTRY
  for (let i = 0; i < n; i++) {
    let gB = base + gS;
    if (panels) gB = panelsOr(true, heapPtr(gy, i * img, img, gB, true), ohw, o, base + panelS, channelsFirst);
    else if (channelsFirst) transpose(gy, i * img, o, ohw, gv, 0);
    else gB = heapPtr(gy, i * img, img, gB, true);
    if (wasmFill) {
      fillBucketsWasm(
        false, s.byteOffset + i * imgWords * 4, wpr, c0, c1, g.h, g.kh, g.kw, g.ph, g.pw, g.oh, g.ow, entry, cap, nb, base + cntS, base + idxS,
        weights, counts === null ? 0 : counts.byteOffset + i * xImg * es, g.w, base + valS,
      );
    } else {
      fillBuckets(s, i * imgWords, wpr, c, g, entry, false, c0, c1, cnt, idx, counts === null ? null : { x: counts, off: i * xImg, val: val! });
    }
    spikeSumRun(f32, counts !== null, nb, cap, gB, o, accB, base + cntS, base + idxS, base + valS, false, fam32, panels ? ohw : 0);
  }
  dstDone(accW, a0, rows, fam32, accB);
}
