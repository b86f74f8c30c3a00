/**
 * Cross-entropy of logits [B, C] against class indices or soft targets, with
 * PyTorch's label smoothing: t' = (1 - ls) t + ls / C. Per row, with
 * logp = log-softmax(z): loss = -sum_c t'_c logp_c.
 */
import type { FloatArray } from "../tensor/tensor.js";

/**
 * Fills logp [B, C] and loss [B]. `cls` (class per row) or `soft` ([B, C]
 * targets) gives t; indices are trusted (the op checks the range).
 */
export function crossEntropyForward(
  z: FloatArray, b: number, c: number, cls: Int32Array | null, soft: FloatArray | null, ls: number,
  logp: Float64Array, loss: Float64Array,
): void {
  const u = ls / c;
  for (let r = 0; r < b; r++) {
    const o = r * c;
    let m = -Infinity;
    for (let j = 0; j < c; j++) {
      const v = z[o + j]!;
      if (v > m || v !== v) m = v;
    }
    if (m === -Infinity) m = 0;
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(z[o + j]! - m);
    const lse = m + Math.log(s);
    let all = 0;
    let dot = 0;
    for (let j = 0; j < c; j++) {
      const lp = z[o + j]! - lse;
      logp[o + j] = lp;
      all += lp;
      if (soft !== null) dot += soft[o + j]! * lp;
    }
    if (cls !== null) dot = logp[o + cls[r]!]!;
    loss[r] = -((1 - ls) * dot + u * all);
  }
}

/**
 * dz[r, j] = w[r] (p_j sum_c t'_c - t'_j) with p = softmax(z) = exp(logp),
 * the gradient for targets that need not sum to one; w[r] = dL/dloss[r].
 */
export function crossEntropyGradLogits(
  logp: Float64Array, b: number, c: number, cls: Int32Array | null, soft: FloatArray | null, ls: number,
  w: Float64Array, dz: FloatArray,
): void {
  const u = ls / c;
  for (let r = 0; r < b; r++) {
    const o = r * c;
    let tsum = ls; // sum of u over C classes
    if (soft !== null) {
      let s = 0;
      for (let j = 0; j < c; j++) s += soft[o + j]!;
      tsum += (1 - ls) * s;
    } else tsum += 1 - ls;
    const wr = w[r]!;
    for (let j = 0; j < c; j++) {
      const t = u + (soft !== null ? (1 - ls) * soft[o + j]! : 0);
      dz[o + j] = wr * (Math.exp(logp[o + j]!) * tsum - t);
    }
    if (cls !== null) dz[o + cls[r]!]! -= wr * (1 - ls);
  }
}

/** dsoft[r, j] = -w[r] (1 - ls) logp[r, j]: the gradient for soft targets. */
export function crossEntropyGradTarget(logp: Float64Array, b: number, c: number, ls: number, w: Float64Array, dt: FloatArray): void {
  for (let r = 0; r < b; r++) {
    const f = -w[r]! * (1 - ls);
    for (let j = 0; j < c; j++) dt[r * c + j] = f * logp[r * c + j]!;
  }
}
