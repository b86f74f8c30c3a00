/**
 * Reference elementwise kernels over typed arrays. No shapes beyond what the
 * loop needs, no autograd: ops in `src/ops/` own the checks.
 */
import type { FloatArray } from "../tensor/tensor.js";

/** dst[i] += src[i]. */
export function addInto(dst: FloatArray, src: FloatArray): void {
  const n = dst.length;
  for (let i = 0; i < n; i++) dst[i]! += src[i]!;
}

/** dst[i] = f(a[i]). */
export function mapUnary(a: FloatArray, dst: FloatArray, f: (x: number) => number): void {
  const n = a.length;
  for (let i = 0; i < n; i++) dst[i] = f(a[i]!);
}

/**
 * out[idx] = f(a[idx through aStrides], b[idx through bStrides]) over `outShape`,
 * where broadcast axes have stride 0. Fast paths for equal shapes and a scalar b.
 */
export function binaryBroadcast(
  a: FloatArray,
  aStrides: readonly number[],
  b: FloatArray,
  bStrides: readonly number[],
  out: FloatArray,
  outShape: readonly number[],
  f: (x: number, y: number) => number,
): void {
  const n = out.length;
  if (n === 0) return;
  if (a.length === n && b.length === n) {
    for (let i = 0; i < n; i++) out[i] = f(a[i]!, b[i]!);
    return;
  }
  if (a.length === n && b.length === 1) {
    const y = b[0]!;
    for (let i = 0; i < n; i++) out[i] = f(a[i]!, y);
    return;
  }
  const rank = outShape.length;
  const inner = outShape[rank - 1]!;
  const sa = aStrides[rank - 1]!;
  const sb = bStrides[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let ao = 0;
  let bo = 0;
  for (let o = 0; o < n; o += inner) {
    for (let j = 0; j < inner; j++) out[o + j] = f(a[ao + j * sa]!, b[bo + j * sb]!);
    // advance the outer index (all axes but the last)
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      ao += aStrides[d]!;
      bo += bStrides[d]!;
      if (idx[d]! < outShape[d]!) break;
      ao -= aStrides[d]! * outShape[d]!;
      bo -= bStrides[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}
