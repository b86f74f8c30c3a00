import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor, type DType } from "../../src/tensor/tensor.js";
import { Spikes } from "../../src/tensor/spikes.js";
import { Rng } from "../../src/tensor/random.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { backward } from "../../src/autograd/tape.js";
import { conv1d, conv2d } from "../../src/ops/conv.js";
import { countsConv2d, spikeConv1d, spikeConv2d } from "../../src/ops/spike/spike-conv.js";
import { gradcheck, GRAD_RUNS, rand64 } from "../helpers/gradcheck.js";
import { expectBitEqual, leaf, randCounts, randSpikes } from "../helpers/random-spikes.js";
import { kernelFields, kernelFits } from "../helpers/conv-geom.js";

/** Random conv2d configuration (groups = 1) whose kernel fits the padded input; W crosses a word boundary. */
const arbConv = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    c: fc.integer({ min: 1, max: 3 }),
    o: fc.integer({ min: 1, max: 4 }),
    h: fc.integer({ min: 1, max: 6 }),
    w: fc.integer({ min: 1, max: 40 }),
    ...kernelFields,
    p: fc.double({ min: 0, max: 1, noNaN: true }),
    withBias: fc.boolean(),
    dtype: fc.constantFrom<DType>("float32", "float64"),
    seed: fc.integer(),
  })
  .filter(kernelFits);

function run(f: (x: Spikes | Tensor, w: Tensor, b: Tensor | null) => Tensor, x: Spikes | Tensor, w: Tensor, b: Tensor | null, seed: number): (Tensor | null)[] {
  leaf(x); leaf(w); if (b) leaf(b);
  const y = f(x, w, b);
  backward(y, Tensor.uniform(y.shape, new Rng(seed), -1, 1, y.dtype));
  return [y, x.grad, w.grad, b ? b.grad : null];
}

describe("spikeConv2d", () => {
  // Both dtypes: the forward sums in gemm's family and order (float32 adds on
  // float32 data); dW accumulates in the data dtype in both ops; dx is the same dense code.
  it("forward and gradients equal the dense conv2d on the 0/1 values, bit for bit (float32 and float64)", () => {
    fc.assert(
      fc.property(arbConv, (cfg) => {
        const rng = new Rng(cfg.seed);
        const s = randSpikes([cfg.n, cfg.c, cfg.h, cfg.w], cfg.p, rng, cfg.dtype);
        const w = Tensor.uniform([cfg.o, cfg.c, cfg.kh, cfg.kw], rng, -1, 1, cfg.dtype);
        const b = cfg.withBias ? Tensor.uniform([cfg.o], rng, -1, 1, cfg.dtype) : null;
        const opts = { stride: [cfg.sh, cfg.sw] as const, padding: [cfg.ph, cfg.pw] as const, dilation: [cfg.dh, cfg.dw] as const };
        const got = run((x, ww, bb) => spikeConv2d(x as Spikes, ww, bb, opts), s, w, b, 9);
        const want = run((x, ww, bb) => conv2d(x as Tensor, ww, bb, opts), s.toFloat(), w.clone(), b ? b.clone() : null, 9);
        const names = ["y", "dx", "dW", "db"];
        for (let i = 0; i < 4; i++) if (got[i]) expectBitEqual(got[i]!, want[i]!, names[i]);
      }),
      { numRuns: 80 },
    );
  });

  it("weight and bias gradients (gradcheck, spikes fixed)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer(), (c, o, st, seed) => {
        const rng = new Rng(seed);
        const s = randSpikes([1, c, 4, 5], 0.5, rng, "float64");
        gradcheck((w, b) => spikeConv2d(s, w!, b!, { stride: st, padding: 1 }), [rand64([o, c, 3, 3], rng), rand64([o], rng)]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });

  it("a single spike stamps the flipped kernel", () => {
    const s = Spikes.fromValues([0, 0, 0, 0, 1, 0, 0, 0, 0], [1, 1, 3, 3]);
    const w = Tensor.from([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
    expect(spikeConv2d(s, w, null, { padding: 1 }).toArray()).toEqual([[[[9, 8, 7], [6, 5, 4], [3, 2, 1]]]]);
  });

  it("errors name the op and shapes", () => {
    const s = Spikes.zeros([1, 2, 4, 4]);
    expect(() => spikeConv2d(s, Tensor.zeros([3, 2, 3, 3]), null, { groups: 2 })).toThrow(BitspikeError);
    expect(() => spikeConv2d(s, Tensor.zeros([4, 1, 3, 3]), null, { groups: 2 })).toThrow(/spikeConv2d: only groups = 1 is supported.*groups 2/);
    expect(() => spikeConv2d(s, Tensor.zeros([3, 5, 3, 3]))).toThrow(/spikeConv2d: weight \[3, 5, 3, 3\] expects 5 input channels but the spikes \[1, 2, 4, 4\] have 2/);
    expect(() => spikeConv2d(s, Tensor.zeros([3, 2, 3, 3]), Tensor.zeros([2]))).toThrow(/spikeConv2d: bias must be \[3\].*got \[2\]/);
    expect(() => spikeConv2d(s, Tensor.zeros([3, 2, 5, 5]))).toThrow(/spikeConv2d: kernel height 5/);
    expect(() => spikeConv2d(Spikes.zeros([2, 4, 4]), Tensor.zeros([3, 2, 3, 3]))).toThrow(/spikeConv2d: input must be spikes \[N, C, H, W\], got \[2, 4, 4\]/);
    expect(() => spikeConv2d(s, Tensor.zeros([3, 2, 3]))).toThrow(/spikeConv2d: weight must be \[O, C, kh, kw\], got \[3, 2, 3\]/);
    expect(() => spikeConv2d(s, Tensor.zeros([3, 2, 3, 3]), null, { stride: 0 })).toThrow(/spikeConv2d: stride must be an integer >= 1/);
  });
});

describe("spikeConv1d", () => {
  it("equals conv1d bit for bit (k = 1 token-wise, and general k/stride/padding; float32 and float64)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 1 }), fc.boolean(), fc.integer(),
        fc.constantFrom<DType>("float32", "float64"),
        (n, c, o, l, k, st, pd, withBias, seed, dtype) => {
          const rng = new Rng(seed);
          const s = randSpikes([n, c, l], 0.3, rng, dtype);
          const w = Tensor.uniform([o, c, k], rng, -1, 1, dtype);
          const b = withBias ? Tensor.uniform([o], rng, -1, 1, dtype) : null;
          if (l + 2 * pd < k) return;
          const got = run((x, ww, bb) => spikeConv1d(x as Spikes, ww, bb, { stride: st, padding: pd }), s, w, b, 4);
          const want = run((x, ww, bb) => conv1d(x as Tensor, ww, bb, { stride: st, padding: pd }), s.toFloat(), w.clone(), b ? b.clone() : null, 4);
          for (let i = 0; i < 4; i++) if (got[i]) expectBitEqual(got[i]!, want[i]!, `output ${i}`);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("errors name the op and shapes", () => {
    expect(() => spikeConv1d(Spikes.zeros([2, 3, 4, 4]), Tensor.zeros([3, 3, 1]))).toThrow(/spikeConv1d: input must be spikes \[N, C, L\], got \[2, 3, 4, 4\]/);
    expect(() => spikeConv1d(Spikes.zeros([2, 3, 4]), Tensor.zeros([3, 3]))).toThrow(/spikeConv1d: weight must be \[O, C, k\], got \[3, 3\]/);
    expect(() => spikeConv1d(Spikes.zeros([2, 3, 4]), Tensor.zeros([3, 2, 1]))).toThrow(/spikeConv1d: weight \[3, 2, 1\] expects 2 input channels/);
  });
});

describe("countsConv2d", () => {
  /** Counts of a SEW ADD (0, 1, 2; nonzero with probability p), or (`real`) any values: fractions, negatives, -0. */
  function counts(shape: number[], p: number, rng: Rng, dtype: DType, real: boolean): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = real
      ? Array.from({ length: n }, () => (rng.uniform() < p ? rng.uniform() * 6 - 3 : rng.uniform() < 0.5 ? -0 : 0))
      : randCounts(n, p, rng).map((c) => Math.min(c, 2));
    return new Tensor(dtype === "float32" ? Float32Array.from(v) : Float64Array.from(v), shape);
  }

  // The dense conv2d's float32 path sums im2col + gemm: for each output, the (c, ki, kj) terms in order, each
  // product rounded, one float32 add a term from +0; dW over the batch in order, then positions in order. The
  // counts kernels add the nonzero terms in those orders, so bit-equality is the test (as for spikeConv2d).
  it("forward and gradients equal the dense conv2d bit for bit on 0/1/2 counts and on any values (float32 and float64)", () => {
    fc.assert(
      fc.property(arbConv, fc.boolean(), (cfg, real) => {
        const rng = new Rng(cfg.seed);
        const x = counts([cfg.n, cfg.c, cfg.h, cfg.w], cfg.p, rng, cfg.dtype, real);
        const w = Tensor.uniform([cfg.o, cfg.c, cfg.kh, cfg.kw], rng, -1, 1, cfg.dtype);
        const b = cfg.withBias ? Tensor.uniform([cfg.o], rng, -1, 1, cfg.dtype) : null;
        const opts = { stride: [cfg.sh, cfg.sw] as const, padding: [cfg.ph, cfg.pw] as const, dilation: [cfg.dh, cfg.dw] as const };
        const got = run((xx, ww, bb) => countsConv2d(xx as Tensor, ww, bb, opts), x, w, b, 9);
        const want = run((xx, ww, bb) => conv2d(xx as Tensor, ww, bb, opts), x.clone(), w.clone(), b ? b.clone() : null, 9);
        const names = ["y", "dx", "dW", "db"];
        for (let i = 0; i < 4; i++) if (got[i]) expectBitEqual(got[i]!, want[i]!, names[i]);
      }),
      { numRuns: 80 },
    );
  });

  it("equals spikeConv2d on 0/1 values", () => {
    const rng = new Rng(5);
    const s = randSpikes([2, 3, 7, 37], 0.2, rng);
    const w = Tensor.uniform([4, 3, 3, 3], rng, -1, 1);
    expectBitEqual(countsConv2d(s.toFloat(), w, null, { stride: 2, padding: 1 }), spikeConv2d(s, w, null, { stride: 2, padding: 1 }), "y");
  });

  it("weight and bias gradients (gradcheck, counts fixed)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer(), (c, o, st, seed) => {
        const rng = new Rng(seed);
        const x = counts([1, c, 4, 5], 0.5, rng, "float64", false);
        gradcheck((w, b) => countsConv2d(x, w!, b!, { stride: st, padding: 1 }), [rand64([o, c, 3, 3], rng), rand64([o], rng)]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });

  it("errors name the op and shapes", () => {
    const x = Tensor.zeros([1, 2, 4, 4]);
    expect(() => countsConv2d(x, Tensor.zeros([4, 1, 3, 3]), null, { groups: 2 })).toThrow(/countsConv2d: only groups = 1 is supported for counts input, got groups 2/);
    expect(() => countsConv2d(x, Tensor.zeros([3, 5, 3, 3]))).toThrow(/countsConv2d: weight \[3, 5, 3, 3\] expects 5 input channels but the input \[1, 2, 4, 4\] have 2/);
    expect(() => countsConv2d(Tensor.zeros([2, 4, 4]), Tensor.zeros([3, 2, 3, 3]))).toThrow(/countsConv2d: input must be \[N, C, H, W\], got \[2, 4, 4\]/);
    expect(() => countsConv2d(x, Tensor.zeros([3, 2, 3, 3], "float64"))).toThrow(BitspikeError);
  });
});
