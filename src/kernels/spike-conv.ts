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
 */
import type { FloatArray } from "../tensor/tensor.js";
import { ctz32 } from "./bits.js";
import type { ConvGeom } from "./conv.js";

/**
 * acc[oy, ox, :] += wT[c, ki, kj, :] for every set bit (c, y, x) of one image
 * at word offset `sOff` and every kernel tap (ki, kj) that maps it onto an
 * output (oy sh - ph + ki dh = y, likewise for x). acc is [OH, OW, O] float64.
 */
export function spikeConvScatter(
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
export function spikeConvWeightGrad(
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
