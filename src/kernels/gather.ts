/**
 * Gathers and scatter-adds of blocks along one axis. x is viewed as
 * [outer, n, inner]; the index as [outer, k] (idxStride = k) or one shared
 * [k] list (idxStride = 0). Indices are trusted: the op checks the range.
 */
import type { FloatArray } from "../tensor/tensor.js";

/** out[o, j, :] = x[o, idx[o * idxStride + j], :]; out is [outer, k, inner]. */
export function gatherBlocks(
  x: FloatArray, outer: number, n: number, inner: number,
  idx: Int32Array, idxStride: number, k: number, out: FloatArray,
): void {
  let w = 0;
  for (let o = 0; o < outer; o++) {
    const ib = o * idxStride;
    const xb = o * n;
    for (let j = 0; j < k; j++) {
      const s = (xb + idx[ib + j]!) * inner;
      for (let c = 0; c < inner; c++) out[w + c] = x[s + c]!;
      w += inner;
    }
  }
}

/** dx[o, idx[o * idxStride + j], :] += g[o, j, :]: the adjoint of {@link gatherBlocks} (repeats accumulate). */
export function scatterAddBlocks(
  g: FloatArray, outer: number, n: number, inner: number,
  idx: Int32Array, idxStride: number, k: number, dx: FloatArray,
): void {
  let r = 0;
  for (let o = 0; o < outer; o++) {
    const ib = o * idxStride;
    const xb = o * n;
    for (let j = 0; j < k; j++) {
      const d = (xb + idx[ib + j]!) * inner;
      for (let c = 0; c < inner; c++) dx[d + c]! += g[r + c]!;
      r += inner;
    }
  }
}
