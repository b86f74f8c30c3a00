/**
 * Masked batch-norm kernels (SparK's sparse BN): x is seen as [N, C, S] and a
 * position mask [N, S] (1 = visible) selects which values enter the per-channel
 * statistics; masked positions produce 0 and receive 0 gradient. Float64
 * accumulators, fixed (source) order, two passes for the variance.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { affineValue } from "./norm.js";

/** Number of visible positions of a mask (per channel count of the statistics). */
export function maskCount(mask: Uint8Array): number {
  let k = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) k++;
  return k;
}

/** Per-channel mean and biased variance of the visible values of x [N, C, S]; count = visible positions. */
export function maskedChannelMeanVar(
  x: FloatArray, mask: Uint8Array, n: number, c: number, s: number, count: number, mean: Float64Array, varB: Float64Array,
): void {
  for (let ch = 0; ch < c; ch++) {
    let t = 0;
    for (let i = 0; i < n; i++) {
      const o = (i * c + ch) * s;
      const mo = i * s;
      for (let q = 0; q < s; q++) if (mask[mo + q] !== 0) t += x[o + q]!;
    }
    const m = t / count;
    let v = 0;
    for (let i = 0; i < n; i++) {
      const o = (i * c + ch) * s;
      const mo = i * s;
      for (let q = 0; q < s; q++) {
        if (mask[mo + q] === 0) continue;
        const d = x[o + q]! - m;
        v += d * d;
      }
    }
    mean[ch] = m;
    varB[ch] = v / count;
  }
}

/** out = x * scale[c] + shift[c] ({@link affineValue}) at visible positions, 0 at masked ones. */
export function maskedChannelAffine(
  x: FloatArray, mask: Uint8Array, out: FloatArray, n: number, c: number, s: number, scale: Float64Array, shift: Float64Array,
): void {
  const f32 = out instanceof Float32Array;
  for (let i = 0; i < n; i++) {
    const mo = i * s;
    for (let ch = 0; ch < c; ch++) {
      const a = scale[ch]!;
      const b = shift[ch]!;
      const o = (i * c + ch) * s;
      for (let q = 0; q < s; q++) out[o + q] = mask[mo + q] !== 0 ? affineValue(x[o + q]!, a, b, f32) : 0;
    }
  }
}

/** Over visible positions: sumG[c] = Σ g, sumGX[c] = Σ g x̂ with x̂ = (x - mean) invStd. */
export function maskedChannelGradSums(
  g: FloatArray, x: FloatArray, mask: Uint8Array, n: number, c: number, s: number,
  mean: Float64Array, invStd: Float64Array, sumG: Float64Array, sumGX: Float64Array,
): void {
  for (let ch = 0; ch < c; ch++) {
    const m = mean[ch]!;
    let tg = 0;
    let tgx = 0;
    for (let i = 0; i < n; i++) {
      const o = (i * c + ch) * s;
      const mo = i * s;
      for (let q = 0; q < s; q++) {
        if (mask[mo + q] === 0) continue;
        const gv = g[o + q]!;
        tg += gv;
        tgx += gv * (x[o + q]! - m);
      }
    }
    sumG[ch] = tg;
    sumGX[ch] = tgx * invStd[ch]!;
  }
}

/** dx = k[c] (g - a[c] - x̂ b[c]) at visible positions, 0 at masked ones. */
export function maskedChannelGradInput(
  g: FloatArray, x: FloatArray, mask: Uint8Array, dx: FloatArray, n: number, c: number, s: number,
  mean: Float64Array, invStd: Float64Array, k: Float64Array, a: Float64Array, b: Float64Array,
): void {
  for (let i = 0; i < n; i++) {
    const mo = i * s;
    for (let ch = 0; ch < c; ch++) {
      const m = mean[ch]!, is = invStd[ch]!, kc = k[ch]!, ac = a[ch]!, bc = b[ch]!;
      const o = (i * c + ch) * s;
      for (let q = 0; q < s; q++) dx[o + q] = mask[mo + q] !== 0 ? kc * (g[o + q]! - ac - (x[o + q]! - m) * is * bc) : 0;
    }
  }
}
