import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor, type DType } from "../../src/tensor/tensor.js";
import { Spikes } from "../../src/tensor/spikes.js";
import { Rng } from "../../src/tensor/random.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { backward } from "../../src/autograd/tape.js";
import { linear } from "../../src/ops/linear.js";
import { countsLinear, spikeLinear } from "../../src/ops/spike/spike-linear.js";
import { arbShape, gradcheck, GRAD_RUNS, rand64 } from "../helpers/gradcheck.js";
import { expectBitEqual, leaf, randCounts, randSpikes } from "../helpers/random-spikes.js";

const arbCase = fc.record({
  lead: arbShape(0, 2, 5),
  nIn: fc.integer({ min: 0, max: 80 }),
  nOut: fc.integer({ min: 1, max: 9 }),
  p: fc.double({ min: 0, max: 1, noNaN: true }),
  withBias: fc.boolean(),
  dtype: fc.constantFrom<DType>("float32", "float64"),
  seed: fc.integer(),
});

/** Runs forward + backward of f and returns [out, grads of x, w, b]. */
function run(
  f: (x: Spikes | Tensor, w: Tensor, b: Tensor | null) => Tensor,
  x: Spikes | Tensor, w: Tensor, b: Tensor | null, g: Tensor,
): [Tensor, Tensor, Tensor, Tensor | null] {
  leaf(x); leaf(w); if (b) leaf(b);
  const y = f(x, w, b);
  backward(y, g);
  return [y, x.grad!, w.grad!, b ? b.grad : null];
}

describe("spikeLinear", () => {
  // Both dtypes: the event-driven kernels sum in gemm's family (float32 adds on
  // float32 data), in gemm's order, so even float32 results match bit for bit.
  it("forward and all gradients equal the dense linear on the 0/1 values, bit for bit (float32 and float64)", () => {
    fc.assert(
      fc.property(arbCase, ({ lead, nIn, nOut, p, withBias, dtype, seed }) => {
        const rng = new Rng(seed);
        const s = randSpikes([...lead, nIn], p, rng, dtype);
        const w = Tensor.uniform([nOut, nIn], rng, -1, 1, dtype);
        const b = withBias ? Tensor.uniform([nOut], rng, -1, 1, dtype) : null;
        const g = Tensor.uniform([...lead, nOut], rng, -1, 1, dtype);
        const got = run((x, ww, bb) => spikeLinear(x as Spikes, ww, bb), s, w, b, g);
        const want = run((x, ww, bb) => linear(x as Tensor, ww, bb), s.toFloat(), w.clone(), b ? b.clone() : null, g);
        expect(want[0].dtype).toBe(dtype);
        const names = ["y", "dx", "dW", "db"];
        for (let i = 0; i < 4; i++) if (got[i]) expectBitEqual(got[i]!, want[i]!, names[i]);
      }),
      { numRuns: 60 },
    );
  });

  it("weight and bias gradients (gradcheck, spikes fixed)", () => {
    fc.assert(
      fc.property(arbShape(0, 2, 3), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 4 }), fc.integer(), (lead, nIn, nOut, seed) => {
        const rng = new Rng(seed);
        const s = randSpikes([...lead, nIn], 0.4, rng, "float64");
        gradcheck((w, b) => spikeLinear(s, w!, b!), [rand64([nOut, nIn], rng), rand64([nOut], rng)]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });

  it("y = b + sum of the weight columns of the set bits", () => {
    const s = Spikes.fromValues([1, 0, 1, 0, 0, 0], [2, 3]);
    const w = Tensor.from([[1, 2, 3], [4, 5, 6]]);
    expect(spikeLinear(s, w, Tensor.from([10, 20])).toArray()).toEqual([[14, 30], [10, 20]]);
  });

  it("errors name the op and shapes", () => {
    const s = Spikes.zeros([2, 3]);
    expect(() => spikeLinear(s, Tensor.zeros([4, 5]))).toThrow(BitspikeError);
    expect(() => spikeLinear(s, Tensor.zeros([4, 5]))).toThrow(/spikeLinear: input \[2, 3\] has 3 features but weight \[4, 5\] expects 5/);
    expect(() => spikeLinear(s, Tensor.zeros([4, 3]), Tensor.zeros([3]))).toThrow(/spikeLinear: bias must be \[4\].*got \[3\]/);
    expect(() => spikeLinear(s, Tensor.zeros([12]))).toThrow(/spikeLinear: weight must be \[out, in\], got \[12\]/);
    expect(() => spikeLinear(s, Tensor.zeros([4, 3], "float64"))).toThrow(/spikeLinear: inputs mix dtypes/);
  });
});

describe("countsLinear", () => {
  // p in [0, 1] takes the forward and the weight gradient through both of their kernels (the bucket
  // gather below 0.4 of nonzeros and the column scatter below 0.45, the gemm above).
  it("forward and all gradients equal the dense linear, bit for bit (float32 and float64)", () => {
    fc.assert(
      fc.property(arbCase, ({ lead, nIn, nOut, p, withBias, dtype, seed }) => {
        const rng = new Rng(seed);
        const shape = [...lead, nIn];
        const xs = randCounts(shape.reduce((a, c) => a * c, 1), p, rng);
        const x = Tensor.from(xs, shape, dtype);
        const w = Tensor.uniform([nOut, nIn], rng, -1, 1, dtype);
        const b = withBias ? Tensor.uniform([nOut], rng, -1, 1, dtype) : null;
        const g = Tensor.uniform([...lead, nOut], rng, -1, 1, dtype);
        const got = run((xx, ww, bb) => countsLinear(xx as Tensor, ww, bb), x, w, b, g);
        const want = run((xx, ww, bb) => linear(xx as Tensor, ww, bb), x.clone(), w.clone(), b ? b.clone() : null, g);
        const names = ["y", "dx", "dW", "db"];
        for (let i = 0; i < 4; i++) if (got[i]) expectBitEqual(got[i]!, want[i]!, names[i]);
      }),
      { numRuns: 60 },
    );
  });

  it("takes the sparse and the dense kernels by density and width, with the dense linear's bits either way", () => {
    // The forward and the weight gradient sparse at 0.05 and 0.3 of nonzeros, both dense at 0.7.
    for (const [p, dtype] of [[0.05, "float32"], [0.3, "float32"], [0.7, "float32"], [0.3, "float64"]] as const) {
      const rng = new Rng(7);
      const x = Tensor.from(randCounts(37 * 40, p, rng), [37, 40], dtype);
      const w = Tensor.uniform([1024, 40], rng, -1, 1, dtype);
      const g = Tensor.uniform([37, 1024], rng, -1, 1, dtype);
      const got = run((xx, ww) => countsLinear(xx as Tensor, ww), x, w, null, g);
      const want = run((xx, ww) => linear(xx as Tensor, ww), x.clone(), w.clone(), null, g);
      for (let i = 0; i < 3; i++) expectBitEqual(got[i]!, want[i]!, `${["y", "dx", "dW"][i]} at p ${p}`);
    }
  });

  it("gradients of x, weight and bias (gradcheck; x with exact zeros)", () => {
    fc.assert(
      fc.property(arbShape(0, 2, 3), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.integer(), (lead, nIn, nOut, seed) => {
        const rng = new Rng(seed);
        const shape = [...lead, nIn];
        const x = leaf(Tensor.from(randCounts(shape.reduce((a, c) => a * c, 1), 0.5, rng), shape, "float64"));
        gradcheck((a, w, b) => countsLinear(a!, w!, b!), [x, rand64([nOut, nIn], rng), rand64([nOut], rng)]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });

  it("errors name the op and shapes", () => {
    expect(() => countsLinear(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))).toThrow(/countsLinear: input \[2, 3\] has 3 features but weight \[4, 5\] expects 5/);
    expect(() => countsLinear(Tensor.zeros([]), Tensor.zeros([4, 5]))).toThrow(/countsLinear: input must have rank >= 1/);
  });
});
