/** gemm test support: random problems, and an independent model of the float32 contract (the float32 family's oracle). */
import fc from "fast-check";
import type { FloatArray } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { randArray } from "./arrays.js";

/**
 * One random gemm problem: C (+)= op(A) op(B) with its operands (each with 3
 * slack elements after it), each in the heap (kernels use it in place) or
 * foreign (kernels stage it) as heapA / heapB / heapC say.
 */
export interface GemmCase {
  m: number; n: number; k: number;
  ta: boolean; tb: boolean; acc: boolean; f64: boolean;
  ao: number; bo: number; co: number;
  heapA: boolean; heapB: boolean; heapC: boolean;
  a: FloatArray; b: FloatArray; c: FloatArray;
}

/** Ragged sizes 1..70, every transpose, accumulate or not, float32 or float64, offsets 0..9, each operand in the heap or not. */
export function arbGemmCase(): fc.Arbitrary<GemmCase> {
  const size = fc.integer({ min: 1, max: 70 }), off = fc.nat({ max: 9 });
  return fc.record({
    m: size, n: size, k: size, ta: fc.boolean(), tb: fc.boolean(), acc: fc.boolean(), f64: fc.boolean(), ao: off, bo: off, co: off,
    heapA: fc.boolean(), heapB: fc.boolean(), heapC: fc.boolean(), seed: fc.integer(),
  }).map(({ seed, ...g }) => {
    const rng = new Rng(seed);
    const a = randArray(g.f64, g.ao + g.m * g.k + 3, rng, g.heapA);
    const b = randArray(g.f64, g.bo + g.k * g.n + 3, rng, g.heapB);
    const c = randArray(g.f64, g.co + g.m * g.n + 3, rng, g.heapC);
    return { ...g, a, b, c };
  });
}

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
