/**
 * Softmax and log-softmax along one axis of x viewed as [outer, n, inner]
 * (the axis has length n and stride inner). Max-subtracted for stability,
 * float64 sums in index order.
 */
import type { FloatArray } from "../tensor/tensor.js";

/** y = softmax(x) along the middle axis (log = false) or log-softmax (log = true). */
export function softmaxForward(x: FloatArray, outer: number, n: number, inner: number, y: FloatArray, log: boolean): void {
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    for (let i = 0; i < inner; i++) {
      const b = base + i;
      let m = -Infinity;
      for (let j = 0; j < n; j++) {
        const v = x[b + j * inner]!;
        if (v > m || v !== v) m = v;
      }
      // all -inf: softmax is NaN in PyTorch too; keep m finite so exp(x - m) is defined
      if (m === -Infinity) m = 0;
      let s = 0;
      if (log) {
        for (let j = 0; j < n; j++) s += Math.exp(x[b + j * inner]! - m);
        const lse = m + Math.log(s);
        for (let j = 0; j < n; j++) y[b + j * inner] = x[b + j * inner]! - lse;
      } else {
        // y holds exp(x - m) first (one exp per element), then is scaled; the
        // sum uses the unrounded values, so float32 and float64 agree to rounding
        for (let j = 0; j < n; j++) {
          const e = Math.exp(x[b + j * inner]! - m);
          y[b + j * inner] = e;
          s += e;
        }
        const inv = 1 / s;
        for (let j = 0; j < n; j++) y[b + j * inner]! *= inv;
      }
    }
  }
}

/**
 * Backward of softmax (y = softmax): dx = y (g - sum_j g_j y_j), or of
 * log-softmax (y = log-softmax): dx = g - exp(y) sum_j g_j.
 */
export function softmaxBackward(y: FloatArray, g: FloatArray, outer: number, n: number, inner: number, dx: FloatArray, log: boolean): void {
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    for (let i = 0; i < inner; i++) {
      const b = base + i;
      let s = 0;
      if (log) {
        for (let j = 0; j < n; j++) s += g[b + j * inner]!;
        for (let j = 0; j < n; j++) {
          const p = b + j * inner;
          dx[p] = g[p]! - Math.exp(y[p]!) * s;
        }
      } else {
        for (let j = 0; j < n; j++) s += g[b + j * inner]! * y[b + j * inner]!;
        for (let j = 0; j < n; j++) {
          const p = b + j * inner;
          dx[p] = y[p]! * (g[p]! - s);
        }
      }
    }
  }
}
