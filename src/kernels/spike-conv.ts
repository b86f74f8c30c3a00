/**
 * Event-driven 2-D convolution kernels for spike input: each set bit of an
 * image [C, H, W] (packed along W, one row per (c, y)) scatters its kernel
 * column into the outputs it reaches. Outputs and weights are kept
 * channels-last ([OH, OW, O] and [C, kh, kw, O]) so the innermost loop adds
 * one contiguous run of O values.
 *
 * Order: for a fixed output, input bits are visited in (c, y, x) order, which
 * is the (c, ki, kj) order of im2col + gemm; with float64 accumulators these
 * kernels equal the dense conv bit for bit.
 *
 * The `...Reference` kernels scatter one (bit, tap) at a time. The fast ones
 * first sort the (bit, tap) pairs into buckets (per output position for the
 * forward, per weight row for the weight gradient), in the same visiting
 * order, and then sum each bucket's rows four per pass into one accumulator
 * row: the same float64 additions in the same order, fewer loads and stores.
 */
import type { FloatArray } from "../tensor/tensor.js";
import { ctz32 } from "./bits.js";
import type { ConvGeom } from "./conv.js";

/**
 * acc[oy, ox, :] += wT[c, ki, kj, :] for every set bit (c, y, x) of one image
 * at word offset `sOff` and every kernel tap (ki, kj) that maps it onto an
 * output (oy sh - ph + ki dh = y, likewise for x). acc is [OH, OW, O] float64.
 */
export function spikeConvScatterReference(
  s: Uint32Array, sOff: number, wpr: number, c: number, g: ConvGeom,
  wT: FloatArray, o: number, acc: Float64Array,
): void {
  const { h, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow } = g;
  for (let ci = 0; ci < c; ci++) {
    for (let y = 0; y < h; y++) {
      const ro = sOff + (ci * h + y) * wpr;
      for (let q = 0; q < wpr; q++) {
        let bits = s[ro + q]!;
        while (bits !== 0) {
          const x = (q << 5) + ctz32(bits);
          bits &= bits - 1;
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
              const wo = ((ci * kh + ki) * kw + kj) * o;
              const ao = (oy * ow + ox) * o;
              for (let j = 0; j < o; j++) acc[ao + j] += wT[wo + j]!;
            }
          }
        }
      }
    }
  }
}

/**
 * The weight gradient of {@link spikeConvScatter}, sparse over the spikes:
 * accW[c, ki, kj, :] += gT[oy, ox, :] for the same (bit, tap, output) triples.
 * gT is one image's output gradient channels-last [OH, OW, O]; accW float64.
 */
export function spikeConvWeightGradReference(
  s: Uint32Array, sOff: number, wpr: number, c: number, g: ConvGeom,
  gT: FloatArray, o: number, accW: Float64Array,
): void {
  const { h, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow } = g;
  for (let ci = 0; ci < c; ci++) {
    for (let y = 0; y < h; y++) {
      const ro = sOff + (ci * h + y) * wpr;
      for (let q = 0; q < wpr; q++) {
        let bits = s[ro + q]!;
        while (bits !== 0) {
          const x = (q << 5) + ctz32(bits);
          bits &= bits - 1;
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
              const wo = ((ci * kh + ki) * kw + kj) * o;
              const go = (oy * ow + ox) * o;
              for (let j = 0; j < o; j++) accW[wo + j] += gT[go + j]!;
            }
          }
        }
      }
    }
  }
}

// Grow-only scratch (no allocation per call): bucket lengths and entries.
let bucketCnt = new Int32Array(0);
let bucketIdx = new Int32Array(0);
function buckets(nb: number, cap: number): void {
  if (bucketCnt.length < nb) bucketCnt = new Int32Array(nb);
  bucketCnt.fill(0, 0, nb);
  if (bucketIdx.length < nb * cap) bucketIdx = new Int32Array(nb * cap);
}

/**
 * Sorts the (bit, tap) pairs of one image into buckets. byOutput: bucket
 * `pos = oy OW + ox` gets the weight-row offset `p O` (p = (c kh + ki) kw + kj);
 * else bucket `p` gets the output-row offset `pos O`. Bits are visited in
 * (c, y, x) order, so every bucket lists its entries in the order the
 * reference kernels add them. Returns the capacity of one bucket.
 */
function fillBuckets(s: Uint32Array, sOff: number, wpr: number, c: number, g: ConvGeom, o: number, byOutput: boolean, c0 = 0, c1 = c): number {
  const { h, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow } = g;
  const kk = c * kh * kw;
  const ohw = oh * ow;
  const cap = byOutput ? kk : ohw;
  // By weight row, only channels c0..c1-1 are visited; their rows p are bucketed from pb = c0 kh kw on.
  const pb = byOutput ? 0 : c0 * kh * kw;
  buckets(byOutput ? ohw : (c1 - c0) * kh * kw, cap);
  const cnt = bucketCnt;
  const idx = bucketIdx;
  for (let ci = c0; ci < c1; ci++) {
    for (let y = 0; y < h; y++) {
      const ro = sOff + (ci * h + y) * wpr;
      for (let q = 0; q < wpr; q++) {
        let bits = s[ro + q]!;
        while (bits !== 0) {
          const x = (q << 5) + (31 - Math.clz32(bits & -bits));
          bits &= bits - 1;
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
                if (byOutput) idx[pos * cap + cnt[pos]!++] = p * o;
                else idx[(p - pb) * cap + cnt[p - pb]!++] = pos * o;
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
              if (byOutput) idx[pos * cap + cnt[pos]!++] = p * o;
              else idx[(p - pb) * cap + cnt[p - pb]!++] = pos * o;
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
 * for every bucket r < nb (rows of length o, dst float64 from 0). Four rows
 * per pass: ((d + a) + b) + ... is the same sequence of additions.
 */
function sumBuckets(nb: number, cap: number, src: FloatArray, o: number, dst: Float64Array, dstOff = 0): void {
  const cnt = bucketCnt;
  const idx = bucketIdx;
  for (let r = 0; r < nb; r++) {
    const n = cnt[r]!;
    if (n === 0) continue;
    const d = dstOff + r * o;
    const b = r * cap;
    let t = 0;
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

/**
 * acc[oy, ox, :] += wT[c, ki, kj, :] for every set bit (c, y, x) of one image
 * at word offset `sOff` and every kernel tap (ki, kj) that maps it onto an
 * output (oy sh - ph + ki dh = y, likewise for x). acc is [OH, OW, O] float64.
 * Bit-equal to {@link spikeConvScatterReference}.
 */
export function spikeConvScatter(
  s: Uint32Array, sOff: number, wpr: number, c: number, g: ConvGeom,
  wT: FloatArray, o: number, acc: Float64Array,
): void {
  const cap = fillBuckets(s, sOff, wpr, c, g, o, true);
  sumBuckets(g.oh * g.ow, cap, wT, o, acc);
}

/**
 * The weight gradient of {@link spikeConvScatter}, sparse over the spikes:
 * accW[c, ki, kj, :] += gT[oy, ox, :] for the same (bit, tap, output) triples.
 * gT is one image's output gradient channels-last [OH, OW, O]; accW float64.
 * Bit-equal to {@link spikeConvWeightGradReference}.
 */
export function spikeConvWeightGrad(
  s: Uint32Array, sOff: number, wpr: number, c: number, g: ConvGeom,
  gT: FloatArray, o: number, accW: Float64Array,
): void {
  const cap = fillBuckets(s, sOff, wpr, c, g, o, false);
  sumBuckets(c * g.kh * g.kw, cap, gT, o, accW);
}

/**
 * {@link spikeConvWeightGrad} restricted to input channels c0..c1-1: only the
 * accW rows of those channels (p = (ci kh + ki) kw + kj, a contiguous block)
 * are touched, each with the same additions in the same order as in the
 * whole call, so disjoint channel ranges (on any threads) give its bits.
 */
export function spikeConvWeightGradChannels(
  s: Uint32Array, sOff: number, wpr: number, c: number, c0: number, c1: number, g: ConvGeom,
  gT: FloatArray, o: number, accW: Float64Array,
): void {
  if (c1 <= c0) return;
  const cap = fillBuckets(s, sOff, wpr, c, g, o, false, c0, c1);
  const khw = g.kh * g.kw;
  sumBuckets((c1 - c0) * khw, cap, gT, o, accW, c0 * khw * o);
}

let rowBuf = new Float64Array(0);

/**
 * One image's forward straight into the channels-first output:
 * out[outOff + j OH OW + pos] = Σ wT rows of the bucket of pos (float64 from 0,
 * rounded once on the store). Equals {@link spikeConvScatter} into a zeroed
 * accumulator followed by a transpose, without the [OH, OW, O] buffer.
 */
export function spikeConvForwardImage(
  s: Uint32Array, sOff: number, wpr: number, c: number, g: ConvGeom,
  wT: FloatArray, o: number, out: FloatArray, outOff: number,
): void {
  const cap = fillBuckets(s, sOff, wpr, c, g, o, true);
  const ohw = g.oh * g.ow;
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
