import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { stridesOf } from "../../src/tensor/shape.js";
import {
  concat, expand, flatten, gather, indexSelect, indices, pad, permute, reshape, slice, stack, transpose,
} from "../../src/ops/shape.js";
import { sum } from "../../src/ops/reduce.js";
import { backward } from "../../src/autograd/tape.js";
import { arbShape, gradcheck, GRAD_RUNS, rand64 } from "../helpers/gradcheck.js";

/** Reads x at a multi-index. */
const at = (x: Tensor, idx: number[]): number => {
  const st = stridesOf(x.shape);
  return x.data[idx.reduce((o, v, i) => o + v * st[i]!, 0)]!;
};

/** Every multi-index of a shape, row-major. */
function* indicesOf(shape: readonly number[]): Generator<number[]> {
  const n = shape.reduce((a, b) => a * b, 1);
  for (let f = 0; f < n; f++) {
    const idx: number[] = new Array<number>(shape.length);
    let r = f;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = r % shape[d]!;
      r = Math.floor(r / shape[d]!);
    }
    yield idx;
  }
}

const seeded = fc.integer();

describe("reshape and flatten", () => {
  it("gradient, with an inferred -1", () => {
    fc.assert(
      fc.property(arbShape(1, 4), seeded, fc.nat(), (s, seed, pos) => {
        // [s0, rest] (or [size] for rank 1), with one size replaced by -1
        const size = s.reduce((a, b) => a * b, 1);
        const shape = s.length > 1 ? [s[0]!, size / s[0]!] : [size];
        shape[pos % shape.length] = -1;
        gradcheck((x) => reshape(x, shape), [rand64(s, new Rng(seed))]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("flatten gradient over random axis ranges", () => {
    fc.assert(
      fc.property(arbShape(1, 4), seeded, fc.nat(), fc.nat(), (s, seed, a, b) => {
        const lo = Math.min(a % s.length, b % s.length);
        const hi = Math.max(a % s.length, b % s.length);
        const x = rand64(s, new Rng(seed));
        const y = flatten(x, lo, hi - s.length); // negative end axis
        expect(y.shape).toEqual([...s.slice(0, lo), s.slice(lo, hi + 1).reduce((p, q) => p * q, 1), ...s.slice(hi + 1)]);
        gradcheck((t) => flatten(t, lo, hi), [x]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("values and shapes", () => {
    const x = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(reshape(x, [3, -1]).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(flatten(Tensor.zeros([2, 3, 4]), 1).shape).toEqual([2, 12]);
    expect(flatten(Tensor.scalar(5)).shape).toEqual([1]);
  });
  it("errors", () => {
    const x = Tensor.zeros([2, 3]);
    expect(() => reshape(x, [4, 2])).toThrow(/reshape: cannot reshape \[2, 3\] \(6 elements\) to \[4, 2\] \(8 elements\)/);
    expect(() => reshape(x, [-1, -1])).toThrow(/reshape: only one size may be -1/);
    expect(() => reshape(x, [4, -1])).toThrow(/reshape: cannot infer -1 in \[4, -1\] for 6 elements/);
    expect(() => reshape(x, [2.5, 2])).toThrow(BitspikeError);
    expect(() => flatten(x, 1, 0)).toThrow(/flatten: startAxis 1 comes after endAxis 0/);
  });
});

describe("permute and transpose", () => {
  it("gradient under random permutations", () => {
    fc.assert(
      fc.property(arbShape(0, 4), seeded, (s, seed) => {
        const rng = new Rng(seed);
        const perm = s.map((_, i) => i);
        rng.shuffle(perm);
        gradcheck((x) => permute(x, perm), [rand64(s, rng)]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("out[i] = x[i permuted]", () => {
    const x = Tensor.uniform([2, 3, 4], new Rng(1));
    const y = permute(x, [2, 0, -2]);
    expect(y.shape).toEqual([4, 2, 3]);
    for (const [a, b, c] of indicesOf(y.shape)) expect(at(y, [a!, b!, c!])).toBe(at(x, [b!, c!, a!]));
    expect(transpose(x, 0, -1).shape).toEqual([4, 3, 2]);
  });
  it("transpose gradient", () => {
    fc.assert(
      fc.property(arbShape(2, 4), seeded, fc.nat(), fc.nat(), (s, seed, a, b) => {
        gradcheck((x) => transpose(x, a % s.length, b % s.length), [rand64(s, new Rng(seed))]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("errors", () => {
    expect(() => permute(Tensor.zeros([2, 3]), [0])).toThrow(/permute: perm \[0\] must list 2 axes for shape \[2, 3\]/);
    expect(() => permute(Tensor.zeros([2, 3]), [1, 1])).toThrow(/permute: perm \[1, 1\] repeats an axis/);
    expect(() => transpose(Tensor.zeros([2, 3]), 0, 2)).toThrow(/transpose: axis 2 is out of range/);
  });
});

describe("slice", () => {
  it("gradient with random start/end/step (negative and clamped bounds too)", () => {
    fc.assert(
      fc.property(arbShape(1, 3), seeded, fc.nat(), fc.integer({ min: -6, max: 6 }), fc.integer({ min: -6, max: 6 }), fc.integer({ min: 1, max: 3 }), (s, seed, a, start, end, step) => {
        gradcheck((x) => slice(x, a % s.length, start, end, step), [rand64(s, new Rng(seed))]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("follows Python slicing along the axis", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 7 }), fc.integer({ min: -9, max: 9 }), fc.integer({ min: -9, max: 9 }), fc.integer({ min: 1, max: 3 }), (n, start, end, step) => {
        const x = Tensor.from(Array.from({ length: 2 * n }, (_, i) => i), [2, n]);
        const y = slice(x, 1, start, end, step);
        // reference: Python's range(*slice(start, end, step).indices(n))
        const norm = (v: number): number => Math.min(n, Math.max(0, v < 0 ? v + n : v));
        const want: number[] = [];
        for (let i = norm(start); i < norm(end); i += step) want.push(i);
        expect(y.toArray()).toEqual([want, want.map((v) => v + n)]);
      }),
    );
    expect(slice(Tensor.from([1, 2, 3, 4]), 0, 1).toArray()).toEqual([2, 3, 4]);
  });
  it("errors", () => {
    expect(() => slice(Tensor.zeros([3]), 0, 0, 2, 0)).toThrow(/slice: step must be a positive integer, got 0/);
    expect(() => slice(Tensor.zeros([3]), 1, 0, 2)).toThrow(/slice: axis 1 is out of range/);
    expect(() => slice(Tensor.zeros([3]), 0, 0.5, 2)).toThrow(/slice: start and end must be integers/);
  });
});

describe("concat and stack", () => {
  it("concat gradient: random count and axis", () => {
    fc.assert(
      fc.property(arbShape(1, 3), seeded, fc.nat(), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 }), (s, seed, a, sizes) => {
        const rng = new Rng(seed);
        const ax = a % s.length;
        const xs = sizes.map((k) => rand64(s.map((d, i) => (i === ax ? k : d)), rng));
        gradcheck((...ts) => concat(ts, ax), xs);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("stack gradient", () => {
    fc.assert(
      fc.property(arbShape(0, 3), seeded, fc.nat(), fc.integer({ min: 1, max: 3 }), (s, seed, a, count) => {
        const rng = new Rng(seed);
        const xs = Array.from({ length: count }, () => rand64(s, rng));
        gradcheck((...ts) => stack(ts, a % (s.length + 1)), xs);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("values; only the inputs that need it get a gradient", () => {
    const a = Tensor.from([[1, 2], [3, 4]], undefined, "float64").requireGrad();
    const b = Tensor.from([[5], [6]], undefined, "float64");
    expect(concat([a, b], -1).toArray()).toEqual([[1, 2, 5], [3, 4, 6]]);
    expect(concat([a, a], 0).toArray()).toEqual([[1, 2], [3, 4], [1, 2], [3, 4]]);
    expect(stack([a, a], 1).toArray()).toEqual([[[1, 2], [1, 2]], [[3, 4], [3, 4]]]);
    backward(sum(concat([a, b, a], 1)));
    expect(a.grad!.toArray()).toEqual([[2, 2], [2, 2]]);
    expect(b.grad).toBe(null);
  });
  it("errors", () => {
    expect(() => concat([Tensor.zeros([2, 3]), Tensor.zeros([3, 3])], 1)).toThrow(/concat: shapes \[2, 3\], \[3, 3\] must agree on every axis but 1/);
    expect(() => concat([Tensor.zeros([2, 3]), Tensor.zeros([2])], 0)).toThrow(/concat: shapes \[2, 3\], \[2\]/);
    expect(() => concat([], 0)).toThrow(/concat: needs at least one tensor/);
    expect(() => concat([Tensor.zeros([2])], 1)).toThrow(/concat: axis 1 is out of range/);
    expect(() => concat([Tensor.zeros([2]), Tensor.zeros([2], "float64")], 0)).toThrow(/concat: inputs mix dtypes/);
    expect(() => stack([Tensor.zeros([2]), Tensor.zeros([3])])).toThrow(/stack: shapes \[2\], \[3\] must be equal/);
    expect(() => stack([Tensor.zeros([2])], 2)).toThrow(/stack: axis 2 is out of range for a tensor of rank 2/);
  });
});

describe("pad", () => {
  it("gradient with random pads on the last axes", () => {
    fc.assert(
      fc.property(arbShape(1, 3), seeded, fc.array(fc.tuple(fc.nat({ max: 2 }), fc.nat({ max: 2 })), { minLength: 1, maxLength: 3 }), fc.double({ min: -2, max: 2, noNaN: true }), (s, seed, pads, value) => {
        const p = pads.slice(0, s.length);
        gradcheck((x) => pad(x, p, value), [rand64(s, new Rng(seed))]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("values: axis-order pairs applied to the last axes", () => {
    const x = Tensor.from([[1, 2], [3, 4]]);
    expect(pad(x, [[0, 1]], 9).toArray()).toEqual([[1, 2, 9], [3, 4, 9]]);
    expect(pad(x, [[1, 0], [1, 1]]).toArray()).toEqual([[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 4, 0]]);
  });
  it("errors", () => {
    expect(() => pad(Tensor.zeros([2]), [[1, 1], [1, 1]])).toThrow(/pad: 2 \[before, after\] pairs for a tensor of rank 1/);
    expect(() => pad(Tensor.zeros([2]), [[-1, 1]])).toThrow(/pad: pads must be non-negative integers, got \[-1, 1\] for axis 0/);
  });
});

describe("expand", () => {
  it("gradient sums back over broadcast axes", () => {
    fc.assert(
      fc.property(arbShape(0, 3), seeded, fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }), (s, seed, ones, lead) => {
        const src = s.map((d, i) => (ones[i] ? 1 : d));
        gradcheck((x) => expand(x, [...lead, ...s]), [rand64(src, new Rng(seed))]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("values and -1", () => {
    expect(expand(Tensor.from([[1], [2]]), [2, -1, 3]).toArray()).toEqual([[[1, 1, 1], [2, 2, 2]], [[1, 1, 1], [2, 2, 2]]]);
  });
  it("errors", () => {
    expect(() => expand(Tensor.zeros([2, 3]), [3])).toThrow(/expand: cannot expand \[2, 3\] to the lower rank \[3\]/);
    expect(() => expand(Tensor.zeros([2]), [3])).toThrow(/expand: shapes \[2\] and \[3\] do not broadcast/);
    expect(() => expand(Tensor.zeros([3]), [1])).toThrow(/expand: cannot expand \[3\] to \[1\]/);
    expect(() => expand(Tensor.zeros([3]), [-1, 3])).toThrow(/expand: -1 in \[-1, 3\] is at a new leading axis/);
  });
});

describe("gather and indexSelect", () => {
  it("gather gradient (scatter-add), repeated indices included", () => {
    fc.assert(
      fc.property(arbShape(1, 4), seeded, fc.nat(), fc.integer({ min: 0, max: 5 }), (s, seed, a, k) => {
        const rng = new Rng(seed);
        const ax = a % s.length;
        const lead = s.slice(0, ax);
        const n = lead.reduce((p, q) => p * q, 1) * k;
        const idx = indices(Int32Array.from({ length: n }, () => rng.int(s[ax]!)), [...lead, k]);
        gradcheck((x) => gather(x, ax, idx), [rand64(s, rng)]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("MAE token selection: [B, N, C] with [B, K] -> [B, K, C], out[b, k, c] = x[b, idx[b, k], c]", () => {
    const rng = new Rng(3);
    const [b, n, c, k] = [2, 5, 3, 3];
    const x = Tensor.uniform([b, n, c], rng);
    const idx = indices([4, 0, 2, 1, 1, 3], [b, k]);
    const y = gather(x, 1, idx);
    expect(y.shape).toEqual([b, k, c]);
    for (const [i, j, l] of indicesOf(y.shape)) expect(at(y, [i!, j!, l!])).toBe(at(x, [i!, idx.data[i! * k + j!]!, l!]));
    const xg = Tensor.uniform([b, n, c], rng, -1, 1, "float64").requireGrad();
    backward(sum(gather(xg, 1, idx)));
    expect(xg.grad!.toArray()).toEqual([
      [[1, 1, 1], [0, 0, 0], [1, 1, 1], [0, 0, 0], [1, 1, 1]],
      [[0, 0, 0], [2, 2, 2], [0, 0, 0], [1, 1, 1], [0, 0, 0]],
    ]);
  });
  it("indexSelect gradient and values", () => {
    fc.assert(
      fc.property(arbShape(1, 3), seeded, fc.nat(), fc.integer({ min: 0, max: 5 }), (s, seed, a, k) => {
        const rng = new Rng(seed);
        const ax = a % s.length;
        const idx = Array.from({ length: k }, () => rng.int(s[ax]!));
        gradcheck((x) => indexSelect(x, ax, idx), [rand64(s, rng)]);
      }),
      { numRuns: GRAD_RUNS },
    );
    expect(indexSelect(Tensor.from([[1, 2, 3], [4, 5, 6]]), 1, [2, 0, 2]).toArray()).toEqual([[3, 1, 3], [6, 4, 6]]);
  });
  it("errors: range, index shape, axis", () => {
    const x = Tensor.zeros([2, 4, 3]);
    expect(() => gather(x, 1, indices([0, 4], [2, 1]))).toThrow(/gather: index 4 at position 1 is out of range for axis 1 of size 4 \(input \[2, 4, 3\]\)/);
    expect(() => gather(x, 1, indices([0, -1], [2, 1]))).toThrow(/gather: index -1 at position 1 is out of range/);
    expect(() => gather(x, 1, indices([0, 1, 2], [3, 1]))).toThrow(/gather: index shape \[3, 1\] must be \[2, K\] for input \[2, 4, 3\] along axis 1/);
    expect(() => gather(x, 3, indices([0], [1]))).toThrow(/gather: axis 3 is out of range/);
    expect(() => indices([1, 2, 3], [2, 2])).toThrow(/indices: 3 indices do not fill shape \[2, 2\]/);
    expect(() => indexSelect(x, 2, [3])).toThrow(/indexSelect: index 3 at position 0 is out of range for axis 2 of size 3/);
  });
  it("the backward uses the indices given at call time, not later edits", () => {
    const data = Int32Array.from([0, 0]);
    const x = Tensor.zeros([3, 1], "float64").requireGrad();
    const y = gather(x, 0, indices(data, [2]));
    data[0] = 2;
    backward(sum(y));
    expect(x.grad!.toArray()).toEqual([[2], [0], [0]]);
  });
});
