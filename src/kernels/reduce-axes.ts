/**
 * Reductions over arbitrary axes through offset lists: `keptOff[o]` is the
 * flat offset of output o's first source element, `redOff[r]` the offset of
 * the r-th reduced element (row-major over the reduced axes) relative to it.
 * Fixed order, float64 accumulators.
 */
import type { FloatArray } from "../tensor/tensor.js";

/**
 * out[o] = max over r of x[keptOff[o] + redOff[r]]; arg[o] = flat source index of
 * the FIRST maximum in row-major order of the reduced axes. A NaN wins (PyTorch).
 */
export function maxOverOffsets(x: FloatArray, keptOff: Int32Array, redOff: Int32Array, out: FloatArray, arg: Int32Array): void {
  const nr = redOff.length;
  for (let o = 0; o < keptOff.length; o++) {
    const b = keptOff[o]!;
    let best = x[b + redOff[0]!]!;
    let bi = b + redOff[0]!;
    if (best === best) {
      for (let r = 1; r < nr; r++) {
        const p = b + redOff[r]!;
        const v = x[p]!;
        if (v > best || v !== v) {
          best = v;
          bi = p;
          if (v !== v) break;
        }
      }
    }
    out[o] = best;
    arg[o] = bi;
  }
}

/** dx[arg[o]] += g[o]. */
export function scatterAddAt(g: FloatArray, arg: Int32Array, dx: FloatArray): void {
  for (let o = 0; o < arg.length; o++) dx[arg[o]!]! += g[o]!;
}

/**
 * mean[o] and out[o] = sum_r (x - mean)^2 / divisor over the reduced elements
 * (two passes: the mean, then squared deviations, which avoids cancellation).
 */
export function varOverOffsets(x: FloatArray, keptOff: Int32Array, redOff: Int32Array, divisor: number, mean: Float64Array, out: FloatArray): void {
  const nr = redOff.length;
  for (let o = 0; o < keptOff.length; o++) {
    const b = keptOff[o]!;
    let s = 0;
    for (let r = 0; r < nr; r++) s += x[b + redOff[r]!]!;
    const m = s / nr;
    let q = 0;
    for (let r = 0; r < nr; r++) {
      const d = x[b + redOff[r]!]! - m;
      q += d * d;
    }
    mean[o] = m;
    out[o] = q / divisor;
  }
}

/** dx = g[o] * 2 (x - mean[o]) / divisor over each output's reduced elements. */
export function varBackward(x: FloatArray, keptOff: Int32Array, redOff: Int32Array, divisor: number, mean: Float64Array, g: FloatArray, dx: FloatArray): void {
  const nr = redOff.length;
  for (let o = 0; o < keptOff.length; o++) {
    const b = keptOff[o]!;
    const m = mean[o]!;
    const f = (2 * g[o]!) / divisor;
    for (let r = 0; r < nr; r++) {
      const p = b + redOff[r]!;
      dx[p] = f * (x[p]! - m);
    }
  }
}
