import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { gemm, gemmJs, gemmReference } from "../src/kernels/gemm.js";
import { Rng } from "../src/tensor/random.js";

function randArray(n: number, rng: Rng, f64: boolean): Float32Array | Float64Array {
  const a = f64 ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform() * 2 - 1;
  return a;
}

describe("gemm (the backend's twin) and gemmJs (packed, tiled) equal gemmReference bit for bit", () => {
  it("on ragged sizes 1..70, every transpose, offsets and accumulate", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }),
        fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(),
        fc.nat({ max: 9 }), fc.nat({ max: 9 }), fc.nat({ max: 9 }), fc.integer(),
        (m, n, k, ta, tb, acc, f64, ao, bo, co, seed) => {
          const rng = new Rng(seed);
          const a = randArray(ao + m * k + 3, rng, f64);
          const b = randArray(bo + k * n + 3, rng, f64);
          const c1 = randArray(co + m * n + 3, rng, f64);
          const c2 = c1.slice(), c3 = c1.slice();
          gemm(a, ao, ta, b, bo, tb, c1, co, m, n, k, acc);
          gemmReference(a, ao, ta, b, bo, tb, c2, co, m, n, k, acc);
          gemmJs(a, ao, ta, b, bo, tb, c3, co, m, n, k, acc);
          // Whole arrays: also checks that nothing outside [co, co + m n) moved.
          expect(c1).toEqual(c2);
          expect(c3).toEqual(c2);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("the reference computes A B (and transposes) by the definition", () => {
    // A = [[1, 2], [3, 4]], B = [[5, 6], [7, 8]]
    const a = new Float64Array([1, 2, 3, 4]);
    const b = new Float64Array([5, 6, 7, 8]);
    const c = new Float64Array(4);
    gemmReference(a, 0, false, b, 0, false, c, 0, 2, 2, 2, false);
    expect([...c]).toEqual([19, 22, 43, 50]);
    gemmReference(a, 0, true, b, 0, true, c, 0, 2, 2, 2, false); // Aᵀ Bᵀ
    expect([...c]).toEqual([23, 31, 34, 46]);
    gemmReference(a, 0, false, b, 0, false, c, 0, 2, 2, 2, true);
    expect([...c]).toEqual([42, 53, 77, 96]);
  });

  it("a large product (several column blocks) matches too", () => {
    const rng = new Rng(7);
    const m = 37, n = 300, k = 260;
    const a = randArray(m * k, rng, false);
    const b = randArray(k * n, rng, false);
    const c1 = new Float32Array(m * n);
    const c2 = new Float32Array(m * n);
    gemm(a, 0, false, b, 0, true, c1, 0, m, n, k, false);
    gemmReference(a, 0, false, b, 0, true, c2, 0, m, n, k, false);
    expect(c1).toEqual(c2);
  });

  it("k = 0 writes zeros (or leaves C when accumulating)", () => {
    const c = new Float32Array([1, 2, 3, 4]);
    gemm(new Float32Array(0), 0, false, new Float32Array(0), 0, false, c, 0, 2, 2, 0, true);
    expect([...c]).toEqual([1, 2, 3, 4]);
    gemm(new Float32Array(0), 0, false, new Float32Array(0), 0, false, c, 0, 2, 2, 0, false);
    expect([...c]).toEqual([0, 0, 0, 0]);
  });
});
