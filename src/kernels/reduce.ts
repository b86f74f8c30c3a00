/** Reference reduction kernels. Fixed summation order (source order), float64 accumulators. */
import type { FloatArray } from "../tensor/tensor.js";

/**
 * Sums `src` (shape `srcShape`) into `dst` whose strides, seen from srcShape,
 * are `dstStrides` (0 on reduced axes). `dst` is overwritten.
 */
export function sumTo(src: FloatArray, srcShape: readonly number[], dst: FloatArray, dstStrides: readonly number[]): void {
  const acc = new Float64Array(dst.length);
  const n = src.length;
  if (n > 0) {
    const rank = srcShape.length;
    if (rank === 0) {
      acc[0] = src[0]!;
    } else {
      const inner = srcShape[rank - 1]!;
      const si = dstStrides[rank - 1]!;
      const idx = new Array<number>(rank).fill(0);
      let o = 0;
      for (let s = 0; s < n; s += inner) {
        if (si === 0) {
          let t = 0;
          for (let j = 0; j < inner; j++) t += src[s + j]!;
          acc[o]! += t;
        } else {
          for (let j = 0; j < inner; j++) acc[o + j * si]! += src[s + j]!;
        }
        for (let d = rank - 2; d >= 0; d--) {
          idx[d]!++;
          o += dstStrides[d]!;
          if (idx[d]! < srcShape[d]!) break;
          o -= dstStrides[d]! * srcShape[d]!;
          idx[d] = 0;
        }
      }
    }
  }
  for (let i = 0; i < dst.length; i++) dst[i] = acc[i]!;
}
