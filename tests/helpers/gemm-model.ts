/** An independent model of gemm's float32 contract, the oracle of the float32-family tests. */

/**
 * The float32 contract computed independently of gemm.ts: op(A) and op(B)
 * read element by element, every product and every sum rounded to float32 by
 * a store into a Float32Array (not Math.fround, which gemm.ts uses). Returns
 * a copy of c with the product written in.
 */
export function model32(
  a: Float32Array, aOff: number, transA: boolean,
  b: Float32Array, bOff: number, transB: boolean,
  c: Float32Array, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): Float32Array {
  const out = c.slice();
  const r = new Float32Array(1);
  const opA = (i: number, p: number) => (transA ? a[aOff + p * m + i]! : a[aOff + i * k + p]!);
  const opB = (p: number, j: number) => (transB ? b[bOff + j * k + p]! : b[bOff + p * n + j]!);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = accumulate ? c[cOff + i * n + j]! : 0;
      for (let p = 0; p < k; p++) {
        r[0] = opA(i, p) * opB(p, j); // the exact double product, rounded once to float32
        r[0] = acc + r[0]; // the double sum of two float32, rounded once: the float32 sum
        acc = r[0];
      }
      out[cOff + i * n + j] = acc;
    }
  }
  return out;
}
