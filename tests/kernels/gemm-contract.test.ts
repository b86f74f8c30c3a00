import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { gemm, gemmJs, gemmReference } from "../../src/kernels/gemm/gemm.js";
import { Rng } from "../../src/tensor/random.js";
import { model32 } from "../helpers/gemm-model.js";
import { randArray, sameBits } from "../helpers/arrays.js";


describe("gemm (the backend's twin) and gemmJs (packed, tiled) equal gemmReference bit for bit", () => {
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
    const a = randArray(false, m * k, rng, false);
    const b = randArray(false, k * n, rng, false);
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

describe("the float32 family (A, B and C all float32): float32 multiply, then float32 add, never fused", () => {
  it("gemmReference, gemm and gemmJs equal an independent float32 model on ragged sizes 1..70, every transpose, offsets and accumulate", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }),
        fc.boolean(), fc.boolean(), fc.boolean(),
        fc.nat({ max: 9 }), fc.nat({ max: 9 }), fc.nat({ max: 9 }), fc.integer(),
        (m, n, k, ta, tb, acc, ao, bo, co, seed) => {
          const rng = new Rng(seed);
          const a = randArray(false, ao + m * k + 3, rng, false) as Float32Array;
          const b = randArray(false, bo + k * n + 3, rng, false) as Float32Array;
          const c0 = randArray(false, co + m * n + 3, rng, false) as Float32Array;
          const want = model32(a, ao, ta, b, bo, tb, c0, co, m, n, k, acc);
          for (const f of [gemmReference, gemm, gemmJs]) {
            const c = c0.slice();
            f(a, ao, ta, b, bo, tb, c, co, m, n, k, acc);
            if (!sameBits(c, want)) return false;
          }
          return true;
        },
      ),
      { numRuns: 150 },
    );
  });

  it("accumulates in float32 where float64 accumulation gives other bits, and only when all three are float32", () => {
    // Row i of A is [1, 2^-24, 2^-24, ...], B is all ones. In float32 every 1 + 2^-24 is a tie that rounds
    // back to 1 (to even); in float64 the small terms add up to 39 * 2^-24 before the one rounding.
    const m = 6, n = 10, k = 40;
    const a = new Float32Array(m * k).fill(2 ** -24);
    for (let i = 0; i < m; i++) a[i * k] = 1;
    const b = new Float32Array(k * n).fill(1);
    const f64Sum = Math.fround(1 + 39 * 2 ** -24);
    expect(f64Sum).not.toBe(1);
    for (const f of [gemmReference, gemm, gemmJs]) {
      const c32 = new Float32Array(m * n);
      f(a, 0, false, b, 0, false, c32, 0, m, n, k, false);
      expect([...new Set(c32)]).toEqual([1]);
      // Any float64 operand selects the float64 family: here C, then A.
      const c64 = new Float64Array(m * n);
      f(a, 0, false, b, 0, false, c64, 0, m, n, k, false);
      expect([...new Set(c64)]).toEqual([1 + 39 * 2 ** -24]);
      const cMixed = new Float32Array(m * n);
      f(Float64Array.from(a), 0, false, b, 0, false, cMixed, 0, m, n, k, false);
      expect([...new Set(cMixed)]).toEqual([f64Sum]);
    }
  });

  it("rounds the product before the add (no fused multiply-add)", () => {
    // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 rounds to 1 + 2^-11 in float32; adding C = -(1 + 2^-11) gives +0,
    // where a fused multiply-add would keep 2^-24.
    const m = 16, n = 16, k = 1;
    const a = new Float32Array(m * k).fill(1 + 2 ** -12);
    const b = new Float32Array(k * n).fill(1 + 2 ** -12);
    for (const f of [gemmReference, gemm, gemmJs]) {
      const c = new Float32Array(m * n).fill(-(1 + 2 ** -11));
      f(a, 0, false, b, 0, false, c, 0, m, n, k, true);
      for (const x of c) expect(Object.is(x, 0)).toBe(true);
    }
  });
});
