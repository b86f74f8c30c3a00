import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { max, mean, sum, variance, var as varAlias } from "../../src/ops/reduce.js";
import { backward } from "../../src/autograd/tape.js";
import { unbroadcast } from "../../src/ops/util.js";
import { sumTo } from "../../src/kernels/reduce/reduce.js";
import { broadcastStrides } from "../../src/tensor/shape.js";
import { onJsKernels } from "../helpers/backend.js";
import { arbShape, gradcheck, GRAD_RUNS } from "../helpers/gradcheck.js";

/** A float64 leaf with pairwise distinct values (gaps >= 0.05), so max has no ties or near-ties. */
function distinct(shape: number[], rng: Rng): Tensor {
  const t = Tensor.zeros(shape, "float64");
  const perm = Array.from({ length: t.size }, (_, i) => i);
  rng.shuffle(perm);
  for (let i = 0; i < t.size; i++) t.data[i] = (perm[i]! + 0.5 * rng.uniform()) * 0.1 - 1;
  return t.requireGrad();
}

const arbAxes = fc.array(fc.boolean(), { minLength: 4, maxLength: 4 });
const pickAxes = (s: number[], pick: boolean[]): number[] | undefined => {
  const axes = s.map((_, i) => i).filter((i) => pick[i]);
  return axes.length ? axes : undefined;
};

describe("max", () => {
  it("gradient over random axes, keepdims both ways", () => {
    fc.assert(
      fc.property(arbShape(1, 4), fc.integer(), fc.boolean(), arbAxes, (s, seed, keep, pick) => {
        gradcheck((x) => max(x, pickAxes(s, pick), keep), [distinct(s, new Rng(seed))]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("equals a direct loop over the reduced axes", () => {
    fc.assert(
      fc.property(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })), fc.integer(), ([a, b, c], seed) => {
        const x = Tensor.uniform([a, b, c], new Rng(seed), -1, 1, "float64");
        const y = max(x, [0, 2]);
        for (let j = 0; j < b; j++) {
          let m = -Infinity;
          for (let i = 0; i < a; i++) for (let k = 0; k < c; k++) m = Math.max(m, x.data[(i * b + j) * c + k]!);
          expect(y.data[j]).toBe(m);
        }
        expect(y.shape).toEqual([b]);
        expect(max(x, [0, 2], true).shape).toEqual([1, b, 1]);
      }),
      { numRuns: 20 },
    );
  });
  it("ties: the whole gradient goes to the first maximum in row-major order", () => {
    const x = Tensor.from([[1, 3, 3], [3, 0, 3]], undefined, "float64").requireGrad();
    backward(max(x));
    expect(x.grad!.toArray()).toEqual([[0, 1, 0], [0, 0, 0]]);
    x.grad = null;
    backward(sum(max(x, 0)));
    expect(x.grad!.toArray()).toEqual([[0, 1, 1], [1, 0, 0]]);
  });
  it("NaN propagates; empty reduced axis and bad axes are typed errors", () => {
    expect(max(Tensor.from([1, NaN, 2])).item()).toBeNaN();
    expect(() => max(Tensor.zeros([2, 0]), 1)).toThrow(/max: cannot reduce axis 1 of size 0 \(shape \[2, 0\]\)/);
    expect(() => max(Tensor.zeros([2, 3]), 2)).toThrow(/max: axis 2 is out of range for a tensor of rank 2/);
    expect(() => max(Tensor.zeros([2, 3]), [0, -2])).toThrow(/max: axes \[0, -2\] repeat an axis/);
  });
});

describe("var", () => {
  it("gradient over random axes, correction 0 and 1, keepdims both ways", () => {
    fc.assert(
      fc.property(arbShape(1, 4), fc.integer(), fc.boolean(), fc.constantFrom(0, 1), arbAxes, (s, seed, keep, corr, pick) => {
        const axes = pickAxes(s, pick);
        const n = (axes ?? s.map((_, i) => i)).reduce((p, a) => p * s[a]!, 1);
        const correction = n > corr ? corr : 0;
        const x = Tensor.uniform(s, new Rng(seed), -1, 1, "float64").requireGrad();
        gradcheck((t) => variance(t, axes, { correction, keepdims: keep }), [x]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("matches the two-pass formula; default correction is 1 like torch.var", () => {
    const x = Tensor.from([[1, 2, 3, 4], [2, 2, 2, 10]], undefined, "float64");
    expect(varAlias).toBe(variance);
    expect(variance(x, 1).toArray()).toEqual([5 / 3, 48 / 3]);
    expect(variance(x, 1, { correction: 0 }).toArray()).toEqual([5 / 4, 48 / 4]);
    expect(variance(x, 0, { keepdims: true }).toArray()).toEqual([[0.5, 0, 0.5, 18]]);
    const all = variance(x);
    const m = 26 / 8;
    let q = 0;
    for (const v of x.data) q += (v - m) ** 2;
    expect(all.item()).toBeCloseTo(q / 7, 14);
    // N <= correction divides by zero, as PyTorch does
    expect(variance(Tensor.from([3]), 0).item()).toBeNaN();
  });
  it("rejects a bad correction and a bad axis", () => {
    expect(() => variance(Tensor.zeros([2]), 0, { correction: -1 })).toThrow(/var: correction must be a finite number >= 0, got -1/);
    expect(() => variance(Tensor.zeros([2]), 1)).toThrow(/var: axis 1 is out of range/);
  });
});

describe("sum and mean still agree with direct loops", () => {
  it("over the first and last axes", () => {
    const x = Tensor.from([[1, 2, 3], [4, 5, 6]]);
    expect(sum(x, [0, 1]).item()).toBe(21);
    expect(mean(x, 0).toArray()).toEqual([2.5, 3.5, 4.5]);
    expect(mean(x, 1, true).toArray()).toEqual([[2], [5]]);
  });
});

describe("unbroadcast", () => {
  it("summing over leading broadcast axes (its row-sum path) equals sumTo bit for bit, float32 and float64", () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 2 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 2 }),
      fc.integer({ min: 0, max: 2 }), fc.boolean(), fc.integer(),
      (lead, kept, ones, f32, seed) => {
        const rng = new Rng(seed);
        const dtype = f32 ? "float32" : "float64";
        const g = Tensor.uniform([...lead, ...kept], rng, -1, 1, dtype);
        for (let i = 0; i < g.size; i += 7) g.data[i] = g.data[i]! * 2 ** (rng.int(40) - 20);
        const shape = [...new Array<number>(ones).fill(1), ...kept];
        const got = unbroadcast(g, shape);
        const want = Tensor.zeros(shape, dtype);
        sumTo(g.data, g.shape, want.data, broadcastStrides(shape, g.shape));
        for (let i = 0; i < want.size; i++) expect(Object.is(got.data[i], want.data[i]), `element ${i}`).toBe(true);
      },
    ), { numRuns: 100 });
  });
});

describe("sumTo's WASM row adds (last axis kept, the one before it reduced)", () => {
  it("equal the JS loop bit for bit: float32 rows into float64 sums in source order, ragged widths, other axes kept or reduced", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 2 }), fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
        fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 21 }), fc.integer(),
        (outer, keepOuter, rows, inner, seed) => {
          const rng = new Rng(seed);
          const shape = [...outer, rows, inner];
          const kept = [...outer.map((n, i) => (keepOuter[i] ? n : 1)), 1, inner];
          // Values of every scale (so the order of the float64 adds shows), and signed zeros.
          const x = Tensor.zeros(shape);
          for (let i = 0; i < x.size; i++) x.data[i] = rng.uniform() < 0.1 ? -0 : (rng.uniform() - 0.5) * 2 ** (rng.int(40) - 20);
          const strides = broadcastStrides(kept, shape);
          const wasm = new Float32Array(kept.reduce((a, b) => a * b, 1)), js = wasm.slice();
          sumTo(x.data, shape, wasm, strides);
          onJsKernels(() => sumTo(x.data, shape, js, strides));
          expect(Array.from(wasm, (v) => Object.is(v, -0) ? "-0" : v)).toEqual(Array.from(js, (v) => Object.is(v, -0) ? "-0" : v));
        },
      ),
      { numRuns: 200 },
    );
  });
});
