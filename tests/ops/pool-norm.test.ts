import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { avgPool2d, maxPool2d } from "../../src/ops/pool.js";
import { batchNorm, layerNorm } from "../../src/ops/norm.js";
import { backward } from "../../src/autograd/tape.js";
import { sum } from "../../src/ops/reduce.js";
import { arbShape, gradcheck, GRAD_RUNS, rand64 } from "../helpers/gradcheck.js";

const arbPool = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    c: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 7 }),
    w: fc.integer({ min: 1, max: 7 }),
    kh: fc.integer({ min: 1, max: 3 }),
    kw: fc.integer({ min: 1, max: 3 }),
    sh: fc.integer({ min: 1, max: 3 }),
    sw: fc.integer({ min: 1, max: 3 }),
    ph: fc.integer({ min: 0, max: 1 }),
    pw: fc.integer({ min: 0, max: 1 }),
    seed: fc.integer(),
  })
  .filter((p) => 2 * p.ph <= p.kh && 2 * p.pw <= p.kw && p.h + 2 * p.ph >= p.kh && p.w + 2 * p.pw >= p.kw);

/** A float64 leaf whose entries are a random permutation of distinct values (no ties in any window). */
function distinct(shape: number[], rng: Rng): Tensor {
  const t = Tensor.zeros(shape, "float64");
  const idx = Array.from({ length: t.size }, (_, i) => i);
  rng.shuffle(idx);
  for (let i = 0; i < t.size; i++) t.data[i] = idx[i]! * 0.01 - 0.3;
  return t.requireGrad();
}

describe("maxPool2d", () => {
  it("gradients (no ties) over random kernel, stride, padding", () => {
    fc.assert(
      fc.property(arbPool, (p) => {
        const x = distinct([p.n, p.c, p.h, p.w], new Rng(p.seed));
        gradcheck((a) => maxPool2d(a!, { kernel: [p.kh, p.kw], stride: [p.sh, p.sw], padding: [p.ph, p.pw] }), [x]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("values, padding as -inf, stride defaults to the kernel", () => {
    const x = Tensor.from([[[[-1, -2, -3], [-4, -5, -6], [-7, -8, -9]]]]);
    expect(maxPool2d(x, { kernel: 2 }).toArray()).toEqual([[[[-1]]]]);
    expect(maxPool2d(x, { kernel: 3, stride: 2, padding: 1 }).toArray()).toEqual([[[[-1, -2], [-4, -5]]]]);
  });
  it("a tie sends the gradient to the first maximum in the window", () => {
    const x = Tensor.from([[[[1, 1], [1, 1]]]], undefined, "float64").requireGrad();
    backward(sum(maxPool2d(x, { kernel: 2 })));
    expect(x.grad!.toArray()).toEqual([[[[1, 0], [0, 0]]]]);
    const z = Tensor.from([[[[0, 2], [2, 1]]]], undefined, "float64").requireGrad();
    backward(sum(maxPool2d(z, { kernel: 2 })));
    expect(z.grad!.toArray()).toEqual([[[[0, 1], [0, 0]]]]);
  });
  it("errors name the op and shapes", () => {
    expect(() => maxPool2d(Tensor.zeros([1, 2, 3]), { kernel: 2 })).toThrow(BitspikeError);
    expect(() => maxPool2d(Tensor.zeros([1, 2, 3]), { kernel: 2 })).toThrow(/maxPool2d: input must be \[N, C, H, W\], got \[1, 2, 3\]/);
    expect(() => maxPool2d(Tensor.zeros([1, 1, 2, 2]), { kernel: 3 })).toThrow(/maxPool2d: kernel height 3 .* bigger than the padded input 2/);
    expect(() => maxPool2d(Tensor.zeros([1, 1, 4, 4]), { kernel: 2, padding: 2 })).toThrow(/maxPool2d: padding \[2, 2\] must be at most half the kernel \[2, 2\]/);
  });
});

describe("avgPool2d", () => {
  it("gradients over random kernel, stride, padding", () => {
    fc.assert(
      fc.property(arbPool, (p) => {
        const x = rand64([p.n, p.c, p.h, p.w], new Rng(p.seed));
        gradcheck((a) => avgPool2d(a!, { kernel: [p.kh, p.kw], stride: [p.sh, p.sw], padding: [p.ph, p.pw] }), [x]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("padding counts in the divisor (count_include_pad)", () => {
    const x = Tensor.from([[[[4, 8], [12, 16]]]]);
    expect(avgPool2d(x, { kernel: 2 }).toArray()).toEqual([[[[10]]]]);
    // corner window with padding 1: only x[0,0] = 4 is real, divided by 4
    expect(avgPool2d(x, { kernel: 2, padding: 1 }).toArray()).toEqual([[[[1, 2], [3, 4]]]]);
  });
  it("errors name the op and shapes", () => {
    expect(() => avgPool2d(Tensor.zeros([1, 1, 2, 2]), { kernel: [1, 3] })).toThrow(/avgPool2d: kernel width 3 .* bigger than the padded input 2/);
  });
});

/** Shapes [N, C], [N, C, L] or [N, C, H, W] with at least two values per channel. */
const arbBnShape = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }))
  .map(([n, c, rest]) => [n, c, ...rest])
  .filter((s) => s[0]! * s.slice(2).reduce((a, b) => a * b, 1) >= 2);

describe("batchNorm", () => {
  for (const training of [true, false]) {
    it(`gradients of x, weight and bias (${training ? "training, through the batch statistics" : "eval"})`, () => {
      fc.assert(
        fc.property(arbBnShape, fc.boolean(), fc.integer(), (shape, affine, seed) => {
          const rng = new Rng(seed);
          const c = shape[1]!;
          const rm = Tensor.uniform([c], rng, -0.5, 0.5, "float64");
          const rv = Tensor.uniform([c], rng, 0.5, 1.5, "float64");
          const x = rand64(shape, rng);
          const inputs = affine ? [x, rand64([c], rng, 0.5, 1.5), rand64([c], rng)] : [x];
          gradcheck((a, w, b) => batchNorm(a!, rm, rv, w ?? null, b ?? null, { training }), inputs);
        }),
        { numRuns: GRAD_RUNS },
      );
    });
  }

  it("train and eval semantics match the direct formula (PyTorch)", () => {
    fc.assert(
      fc.property(arbBnShape, fc.integer(), (shape, seed) => {
        const rng = new Rng(seed);
        const [n, c] = shape as [number, number];
        const s = shape.slice(2).reduce((a, b) => a * b, 1);
        const m = n * s;
        const x = Tensor.uniform(shape, rng, -2, 3, "float64");
        const w = Tensor.uniform([c], rng, 0.5, 1.5, "float64");
        const b = Tensor.uniform([c], rng, -1, 1, "float64");
        const rm0 = Tensor.uniform([c], rng, -0.5, 0.5, "float64");
        const rv0 = Tensor.uniform([c], rng, 0.5, 1.5, "float64");
        const rm = rm0.clone();
        const rv = rv0.clone();
        const at = (i: number, ch: number, q: number): number => x.data[(i * c + ch) * s + q]!;
        const y = batchNorm(x, rm, rv, w, b, { training: true });
        for (let ch = 0; ch < c; ch++) {
          let mean = 0;
          for (let i = 0; i < n; i++) for (let q = 0; q < s; q++) mean += at(i, ch, q) / m;
          let ss = 0;
          for (let i = 0; i < n; i++) for (let q = 0; q < s; q++) ss += (at(i, ch, q) - mean) ** 2;
          const biased = ss / m;
          const unbiased = ss / (m - 1);
          expect(rm.data[ch]).toBeCloseTo(0.9 * rm0.data[ch]! + 0.1 * mean, 12);
          expect(rv.data[ch]).toBeCloseTo(0.9 * rv0.data[ch]! + 0.1 * unbiased, 12);
          for (let i = 0; i < n; i++)
            for (let q = 0; q < s; q++) {
              const want = ((at(i, ch, q) - mean) / Math.sqrt(biased + 1e-5)) * w.data[ch]! + b.data[ch]!;
              expect(y.data[(i * c + ch) * s + q]).toBeCloseTo(want, 10);
            }
        }
        // eval: uses (and leaves unchanged) the running statistics
        const rmE = rm.clone();
        const rvE = rv.clone();
        const ye = batchNorm(x, rm, rv, w, b, { training: false });
        expect(rm.toArray()).toEqual(rmE.toArray());
        expect(rv.toArray()).toEqual(rvE.toArray());
        for (let ch = 0; ch < c; ch++)
          for (let i = 0; i < n; i++)
            for (let q = 0; q < s; q++) {
              const want = ((at(i, ch, q) - rm.data[ch]!) / Math.sqrt(rv.data[ch]! + 1e-5)) * w.data[ch]! + b.data[ch]!;
              expect(ye.data[(i * c + ch) * s + q]).toBeCloseTo(want, 10);
            }
      }),
      { numRuns: 50 },
    );
  });

  it("momentum and eps options are honoured", () => {
    const x = Tensor.from([[1], [3]], undefined, "float64"); // mean 2, biased var 1, unbiased 2
    const rm = Tensor.zeros([1], "float64");
    const rv = Tensor.ones([1], "float64");
    const y = batchNorm(x, rm, rv, null, null, { training: true, momentum: 0.5, eps: 3 });
    expect(y.toArray()).toEqual([[-0.5], [0.5]]);
    expect(rm.data[0]).toBe(1);
    expect(rv.data[0]).toBe(1.5);
  });

  it("errors name the op and shapes", () => {
    const x = Tensor.zeros([2, 3, 4]);
    const ok = Tensor.zeros([3]);
    expect(() => batchNorm(x, Tensor.zeros([4]), ok, null, null, { training: true })).toThrow(BitspikeError);
    expect(() => batchNorm(x, Tensor.zeros([4]), ok, null, null, { training: true })).toThrow(/batchNorm: runningMean must be \[3\] for input \[2, 3, 4\] \(3 channels\), got \[4\]/);
    expect(() => batchNorm(x, ok, Tensor.zeros([3, 1]), null, null, { training: false })).toThrow(/batchNorm: runningVar must be \[3\].*got \[3, 1\]/);
    expect(() => batchNorm(x, ok, ok, Tensor.zeros([2]), null, { training: false })).toThrow(/batchNorm: weight must be \[3\].*got \[2\]/);
    expect(() => batchNorm(Tensor.zeros([6]), ok, ok, null, null, { training: false })).toThrow(/batchNorm: input must be \[N, C\], \[N, C, L\] or \[N, C, H, W\], got \[6\]/);
    expect(() => batchNorm(Tensor.zeros([1, 3]), ok, ok, null, null, { training: true })).toThrow(/batchNorm: training needs more than one value per channel, got input \[1, 3\]/);
  });
});

describe("layerNorm", () => {
  it("gradients of x, weight and bias over 1..rank trailing axes", () => {
    fc.assert(
      fc.property(arbShape(1, 3, 4), fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.boolean(), fc.integer(), (shape, k0, hasW, hasB, seed) => {
        const k = Math.min(k0, shape.length);
        const norm = shape.slice(shape.length - k);
        fc.pre(norm.reduce((a, b) => a * b, 1) >= 2);
        const rng = new Rng(seed);
        const x = rand64(shape, rng);
        const w = hasW ? rand64(norm, rng, 0.5, 1.5) : null;
        const b = hasB ? rand64(norm, rng) : null;
        const inputs = [x, ...(w ? [w] : []), ...(b ? [b] : [])];
        gradcheck((...ts) => layerNorm(ts[0]!, norm, w ? ts[1]! : null, b ? ts[w ? 2 : 1]! : null), inputs);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("values: zero mean, unit variance per row, then affine", () => {
    const x = Tensor.from([[1, 3], [0, 4]], undefined, "float64");
    const y = layerNorm(x, [2], Tensor.from([2, 2], undefined, "float64"), Tensor.from([1, 1], undefined, "float64"), 0);
    expect(y.toArray()).toEqual([[-1, 3], [-1, 3]]);
  });
  it("errors name the op and shapes", () => {
    expect(() => layerNorm(Tensor.zeros([2, 3]), [2])).toThrow(/layerNorm: normalizedShape \[2\] must be a non-empty suffix of the input shape \[2, 3\]/);
    expect(() => layerNorm(Tensor.zeros([2, 3]), [3], Tensor.zeros([2]))).toThrow(/layerNorm: weight must have shape \[3\], got \[2\]/);
  });
});
