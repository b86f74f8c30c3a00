import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor, type DType } from "../../src/tensor/tensor.js";
import { Spikes } from "../../src/tensor/spikes.js";
import { Rng } from "../../src/tensor/random.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { backward } from "../../src/autograd/tape.js";
import { mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { expand, reshape } from "../../src/ops/shape.js";
import { spikesToFloat } from "../../src/ops/spike/cast.js";
import { batchNorm } from "../../src/ops/norm.js";
import { multiStepNeuron, type NeuronOptions } from "../../src/ops/spike/neuron.js";
import { batchNormNeuron, batchNormNeuronRepeated, type NormOfNeuron } from "../../src/ops/spike/norm-neuron.js";
import { onJsKernels } from "../helpers/backend.js";
import { runningNorm } from "../helpers/running-norm.js";
import { expectSameBits } from "../helpers/arrays.js";
import { useSplittingPool } from "../helpers/pool.js";

interface Case {
  x: Tensor; weight: Tensor; bias: Tensor; rm: Tensor; rv: Tensor; g: Tensor;
  shape: number[]; training: boolean; neuron: Omit<NeuronOptions, "plifW">;
}

/** x [T*B, C, ...] (token rows [T*B*N, C] or conv maps), ragged sizes, values that make some neurons fire. */
const arbCase: fc.Arbitrary<Case> = fc
  .record({
    T: fc.integer({ min: 1, max: 4 }), b: fc.integer({ min: 1, max: 3 }), c: fc.integer({ min: 1, max: 37 }),
    spatial: fc.constantFrom<number[]>([], [5], [3, 7], [1, 33]), dtype: fc.constantFrom<DType>("float32", "float64"),
    training: fc.boolean(), kind: fc.constantFrom<"lif" | "if">("lif", "if"), soft: fc.boolean(), detach: fc.boolean(), seed: fc.integer(),
  })
  .filter(({ T, b, spatial }) => T * b * spatial.reduce((a, v) => a * v, 1) > 1)
  .map(({ T, b, c, spatial, dtype, training, kind, soft, detach, seed }) => {
    const rng = new Rng(seed);
    const n = T * b;
    const x = Tensor.normal([n, c, ...spatial], rng, 0, 1.5, dtype);
    x.requiresGrad = true;
    const vec = (lo: number, w: number) => Tensor.from(Float64Array.from({ length: c }, () => lo + w * rng.uniform()), [c], dtype);
    const weight = vec(0.5, 1.5), bias = vec(-0.5, 1.5);
    weight.requiresGrad = bias.requiresGrad = true;
    // Token layout: the neuron sees [T, B, C] rows; conv layout: [T, B, C, ...spatial].
    const shape = [T, b, c, ...spatial];
    const g = Tensor.normal(shape, rng, 0, 1, dtype);
    const neuron: Omit<NeuronOptions, "plifW"> = { kind, tau: 2, vThreshold: 0.7, vReset: soft ? null : 0, detachReset: detach };
    return { x, weight, bias, rm: vec(-0.2, 0.4), rv: vec(0.5, 1), g, shape, training, neuron };
  });

/** Runs one path on fresh copies of the running statistics; returns spikes, running stats and gradients. */
function run(p: Case, fused: boolean): ArrayLike<number>[] {
  const rm = p.rm.clone(), rv = p.rv.clone();
  for (const t of [p.x, p.weight, p.bias]) t.grad = null;
  const opts = { training: p.training, momentum: 0.1, eps: 1e-5 };
  const s = fused
    ? batchNormNeuron(p.x, p.shape, { runningMean: rm, runningVar: rv, weight: p.weight, bias: p.bias, opts }, p.neuron)
    : multiStepNeuron(reshape(batchNorm(p.x, rm, rv, p.weight, p.bias, opts), p.shape), p.neuron);
  // The spikes skip the constructor's pad-bit scan (Spikes.fromKernelWords): the scan must still pass.
  expect(() => new Spikes(s.words, s.shape)).not.toThrow();
  backward(sum(mul(spikesToFloat(s), p.g)));
  return [s.words, rm.data, rv.data, p.x.grad!.data, p.weight.grad!.data, p.bias.grad!.data];
}

describe("batchNormNeuron", () => {
  const same = (p: Case) => {
    const want = run(p, false), got = run(p, true);
    const names = ["spike words", "running mean", "running var", "x grad", "weight grad", "bias grad"];
    want.forEach((w, i) => expectSameBits(got[i]!, w, names[i]!));
  };

  it("gives batchNorm then multiStepNeuron's spikes, running statistics and gradients bit for bit", () => {
    fc.assert(fc.property(arbCase, same), { numRuns: 60 });
  });

  describe("on split threads", () => {
    useSplittingPool();
    it("the same bits", () => fc.assert(fc.property(arbCase, same), { numRuns: 15 }));
    // Float32, a LIF with Spikformer's reset (hard, detached): the backward that makes H again in cache.
    const spikformerLif = arbCase
      .filter((p) => p.x.dtype === "float32")
      .map((p) => ({ ...p, neuron: { kind: "lif" as const, tau: 2, vThreshold: 0.7, vReset: 0, detachReset: true } }));
    it("the same bits with Spikformer's LIF (its backward's membrane made again in cache)", () => fc.assert(fc.property(spikformerLif, same), { numRuns: 20 }));
  });

  it("refuses PLIF, a view of another size or last axis, and a bad input", () => {
    const x = Tensor.zeros([4, 3]);
    const bn = { runningMean: Tensor.zeros([3]), runningVar: Tensor.ones([3]), weight: null, bias: null, opts: { training: true } };
    const err = (f: () => unknown, re: RegExp) => {
      expect(f).toThrow(BitspikeError);
      expect(f).toThrow(re);
    };
    err(() => batchNormNeuron(x, [2, 2, 3], bn, { kind: "plif" } as NeuronOptions), /batchNormNeuron.*PLIF/);
    err(() => batchNormNeuron(x, [2, 3, 2], bn, { kind: "lif" }), /batchNormNeuron.*\[2, 3, 2\].*last axis/);
    err(() => batchNormNeuron(x, [2, 3, 3], bn, { kind: "lif" }), /batchNormNeuron.*12 values/);
    err(() => batchNormNeuron(Tensor.zeros([4]), [4], bn, { kind: "lif" }), /batchNormNeuron.*\[N, C\]/);
    err(() => batchNormNeuron(x, [2, 2, 3], { ...bn, runningMean: Tensor.zeros([2]) }, { kind: "lif" }), /batchNormNeuron.*runningMean must be \[3\]/);
  });
});

describe("batchNormNeuronRepeated", () => {
  useSplittingPool(3);
  /** The definition: the copy expanded over T, then batchNormNeuron, on the TypeScript kernels. */
  const expanded = (once: Tensor, T: number, bn: NormOfNeuron, neuron: Omit<NeuronOptions, "plifW">): Spikes => {
    return onJsKernels(() => {
      const rep = reshape(expand(reshape(once, [1, ...once.shape]), [T, ...once.shape]), [T * once.shape[0]!, ...once.shape.slice(1)]);
      return batchNormNeuron(rep, [T, ...once.shape], bn, neuron);
    });
  };

  it("at inference (one copy read at every step) gives the expanded copy's spikes: token and conv layouts, LIF hard and soft, IF", () => {
    fc.assert(
      fc.property(
        fc.record({
          T: fc.integer({ min: 1, max: 4 }), b: fc.integer({ min: 1, max: 3 }), c: fc.integer({ min: 1, max: 37 }),
          spatial: fc.constantFrom<number[]>([], [5], [3, 7], [2, 33]), kind: fc.constantFrom<"lif" | "if">("lif", "lif", "if"), soft: fc.boolean(), seed: fc.integer(),
        }),
        ({ T, b, c, spatial, kind, soft, seed }) => {
          const rng = new Rng(seed);
          const once = Tensor.normal([b, c, ...spatial], rng, 0, 1.5);
          const bn = runningNorm(c, rng);
          const neuron: Omit<NeuronOptions, "plifW"> = { kind, tau: 2, vThreshold: 0.7, vReset: soft ? null : 0 };
          const got = batchNormNeuronRepeated(once, T, bn, neuron), want = expanded(once, T, bn, neuron);
          expect(got.shape).toEqual(want.shape);
          expectSameBits(got.words, want.words, `T ${T} [${b}, ${c}, ${spatial.join(", ")}] ${kind}`);
        },
      ),
      { numRuns: 100, seed: 5 },
    );
  });

  it("in training it is the expanded copy's batch norm (running statistics updated the same, gradients through)", () => {
    const rng = new Rng(2);
    const once = Tensor.normal([3, 4, 5, 5], rng, 0, 1).requireGrad();
    const mk = (): NormOfNeuron => ({ runningMean: Tensor.zeros([4]), runningVar: Tensor.ones([4]), weight: null, bias: null, opts: { training: true, momentum: 0.1 } });
    const a = mk(), b = mk();
    const got = batchNormNeuronRepeated(once, 2, a, { kind: "lif", tau: 2 });
    const want = expanded(once, 2, b, { kind: "lif", tau: 2 });
    expectSameBits(got.words, want.words, "spikes");
    expectSameBits(a.runningMean.data, b.runningMean.data, "running mean");
    expectSameBits(a.runningVar.data, b.runningVar.data, "running variance");
    backward(sum(spikesToFloat(got)));
    expect(once.grad).not.toBeNull();
  });

  it("refuses a bad T or input, naming the op", () => {
    const bn: NormOfNeuron = { runningMean: Tensor.zeros([3]), runningVar: Tensor.ones([3]), weight: null, bias: null, opts: { training: false } };
    expect(() => batchNormNeuronRepeated(Tensor.zeros([2, 3]), 0, bn, { kind: "lif" })).toThrow(/batchNormNeuronRepeated: T must be a positive integer, got 0/);
    expect(() => batchNormNeuronRepeated(Tensor.zeros([6]), 2, bn, { kind: "lif" })).toThrow(/batchNormNeuronRepeated: input must be a float Tensor \[B, C, \.\.\.\]/);
  });
});
