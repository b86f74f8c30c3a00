import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { wasmSimdAvailable } from "../../src/wasm/backend.js";
import { onJsKernels } from "../helpers/backend.js";
import { spikeConvNormLifCalls } from "../../src/kernels/spike-conv/threads.js";
import { runningNorm } from "../helpers/running-norm.js";
import { backward } from "../../src/autograd/tape.js";
import { sum } from "../../src/ops/reduce.js";
import { spikesToFloat } from "../../src/ops/spike/cast.js";
import { spikeConv2d } from "../../src/ops/spike/spike-conv.js";
import { batchNormNeuron, type NormOfNeuron } from "../../src/ops/spike/norm-neuron.js";
import { spikeConvNormNeuron } from "../../src/ops/spike/conv-norm-neuron.js";
import type { NeuronOptions } from "../../src/ops/spike/neuron.js";
import type { Spikes } from "../../src/tensor/spikes.js";
import { expectSameBits } from "../helpers/arrays.js";
import { randSpikes } from "../helpers/random-spikes.js";
import { useSplittingPool } from "../helpers/pool.js";

interface Case {
  x: Spikes; weight: Tensor; bn: NormOfNeuron; T: number; stride: number; padding: number; dilation?: number; neuron: Omit<NeuronOptions, "plifW">;
  /** The fused kernels apply (output positions enough for the WASM sums). */
  fusable: boolean;
}

/**
 * Ragged convs: channels and output widths on both sides of 32 (one and several words of the
 * transposed blocks), strides 1 and 2, dilations 1 and 2 (the JS bucket fill), kernels 1 and 3;
 * BN running statistics and a LIF whose threshold makes some outputs fire; hard and soft resets.
 */
const arbCase: fc.Arbitrary<Case> = fc
  .record({
    T: fc.integer({ min: 1, max: 3 }), b: fc.integer({ min: 1, max: 3 }), c: fc.integer({ min: 1, max: 40 }), o: fc.integer({ min: 1, max: 70 }),
    h: fc.integer({ min: 3, max: 12 }), w: fc.integer({ min: 3, max: 40 }), k: fc.constantFrom(1, 3), stride: fc.constantFrom(1, 1, 2),
    dilation: fc.constantFrom(1, 1, 1, 2),
    rate: fc.constantFrom(0.05, 0.2, 0.5), soft: fc.boolean(), seed: fc.integer(),
  })
  .map(({ T, b, c, o, h, w, k, stride, dilation, rate, soft, seed }) => {
    const rng = new Rng(seed);
    const padding = k === 3 ? 1 : 0;
    const x = randSpikes([T * b, c, h, w], rate, rng);
    const weight = Tensor.normal([o, c, k, k], rng, 0, 1 / Math.sqrt(c * k * k));
    const bn = runningNorm(o, rng);
    const span = dilation * (k - 1) + 1;
    const oh = Math.floor((h + 2 * padding - span) / stride) + 1, ow = Math.floor((w + 2 * padding - span) / stride) + 1;
    return { x, weight, bn, T, stride, padding, dilation, neuron: { kind: "lif", tau: 2, vThreshold: 0.6, vReset: soft ? null : 0, detachReset: true }, fusable: o * oh * ow >= 256 };
  });

const fused = (p: Case): Spikes => spikeConvNormNeuron(p.x, p.weight, { stride: p.stride, padding: p.padding, dilation: p.dilation ?? 1 }, p.T, p.bn, p.neuron);

/** The definition: the two ops (spikeConv2d, then the batch norm and the neuron), on the TypeScript kernels. */
function reference(p: Case): Spikes {
  return onJsKernels(() => {
    const y = spikeConv2d(p.x, p.weight, null, { stride: p.stride, padding: p.padding, dilation: p.dilation ?? 1 });
    return batchNormNeuron(y, [p.T, p.x.shape[0]! / p.T, ...y.shape.slice(1)], p.bn, p.neuron);
  });
}

describe("spikeConvNormNeuron: the fused conv -> BN -> LIF forward gives the two ops' spikes", () => {
  // Three threads that split even tiny problems: each case's batch elements (a small batch's cut into bands of output rows) go 1, 2 or 3 ways.
  useSplittingPool(3);
  it.skipIf(!wasmSimdAvailable())("on the WASM kernels, the batch split over threads", () => {
    let fusedCases = 0;
    fc.assert(
      fc.property(arbCase, (p) => {
        const calls = spikeConvNormLifCalls();
        const want = reference(p), got = fused(p);
        expect(spikeConvNormLifCalls() - calls).toBe(p.fusable ? 1 : 0);
        expect(got.shape).toEqual(want.shape);
        expectSameBits(got.words, want.words, "spike words");
        if (p.fusable) fusedCases++;
      }),
      { numRuns: 100, seed: 7 },
    );
    expect(fusedCases).toBeGreaterThan(40);
  });

  it.skipIf(!wasmSimdAvailable())("many batch elements, claimed by the threads as they go", () => {
    const rng = new Rng(9);
    const x = randSpikes([2 * 60, 3, 6, 7], 0.3, rng);
    const weight = Tensor.normal([45, 3, 3, 3], rng, 0, 0.6);
    const bn = runningNorm(45, rng);
    const p: Case = { x, weight, bn, T: 2, stride: 1, padding: 1, neuron: { kind: "lif", tau: 2, vThreshold: 0.6 }, fusable: true };
    expectSameBits(fused(p).words, reference(p).words, "claimed");
  });

  it("a batch norm without weight and bias, before an IF neuron (the two ops) and a LIF (fused)", () => {
    const rng = new Rng(3);
    const x = randSpikes([4, 5, 9, 9], 0.3, rng);
    const weight = Tensor.normal([40, 5, 3, 3], rng, 0, 0.3);
    const bn: NormOfNeuron = { runningMean: Tensor.zeros([40]), runningVar: Tensor.ones([40]), weight: null, bias: null, opts: { training: false } };
    for (const neuron of [{ kind: "if" as const, vThreshold: 0.5 }, { kind: "lif" as const, tau: 2, vThreshold: 0.5 }]) {
      const want = reference({ x, weight, bn, T: 2, stride: 1, padding: 1, neuron, fusable: true });
      const got = spikeConvNormNeuron(x, weight, { padding: 1 }, 2, bn, neuron);
      expectSameBits(got.words, want.words, neuron.kind);
    }
  });

  it("with a gradient needed it is the two ops' graph (the weight gets its gradient)", () => {
    const rng = new Rng(5);
    const x = randSpikes([2, 3, 8, 8], 0.3, rng);
    const weight = Tensor.normal([32, 3, 3, 3], rng, 0, 0.5);
    weight.requiresGrad = true;
    const bn: NormOfNeuron = { runningMean: Tensor.zeros([32]), runningVar: Tensor.ones([32]), weight: null, bias: null, opts: { training: false } };
    const s = spikeConvNormNeuron(x, weight, { padding: 1 }, 2, bn, { kind: "lif", tau: 2, vThreshold: 0.3 });
    backward(sum(spikesToFloat(s)));
    expect(weight.grad).not.toBeNull();
    expect(weight.grad!.shape).toEqual([32, 3, 3, 3]);
  });

  it("refuses a T that does not divide the images, naming the op", () => {
    const rng = new Rng(1);
    const x = randSpikes([3, 2, 6, 6], 0.3, rng);
    const bn: NormOfNeuron = { runningMean: Tensor.zeros([4]), runningVar: Tensor.ones([4]), weight: null, bias: null, opts: { training: false } };
    expect(() => spikeConvNormNeuron(x, Tensor.zeros([4, 2, 3, 3]), {}, 2, bn, { kind: "lif" })).toThrow(BitspikeError);
    expect(() => spikeConvNormNeuron(x, Tensor.zeros([4, 2, 3, 3]), {}, 2, bn, { kind: "lif" })).toThrow(/spikeConvNormNeuron: T must be a positive integer dividing the 3 images/);
  });
});
