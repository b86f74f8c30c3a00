/** Reference dense matrix products on row-major typed arrays. */
import type { FloatArray } from "../tensor/tensor.js";

/**
 * C[m,n] (+)= op(A) op(B), where op(A) is A[m,k] or, with transA, A stored as
 * [k,m]; likewise B [k,n] or [n,k] with transB. Offsets select one matrix of a
 * batch. Each output element sums over p = 0..k-1 in order, whatever the
 * transposes, so results are identical across layouts.
 */
export function gemm(
  a: FloatArray, aOff: number, transA: boolean,
  b: FloatArray, bOff: number, transB: boolean,
  c: FloatArray, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): void {
  if (!accumulate) c.fill(0, cOff, cOff + m * n);
  // Bring B into [k, n] layout so the inner loop streams rows of B and C.
  let bb = b;
  let bo = bOff;
  if (transB) {
    bb = new (b.constructor as Float32ArrayConstructor)(k * n) as FloatArray;
    for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) bb[p * n + j] = b[bOff + j * k + p]!;
    bo = 0;
  }
  for (let i = 0; i < m; i++) {
    const ci = cOff + i * n;
    for (let p = 0; p < k; p++) {
      const av = transA ? a[aOff + p * m + i]! : a[aOff + i * k + p]!;
      const bp = bo + p * n;
      for (let j = 0; j < n; j++) c[ci + j]! += av * bb[bp + j]!;
    }
  }
}
