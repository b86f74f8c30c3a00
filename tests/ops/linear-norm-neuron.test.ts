import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { wasmSimdAvailable } from "../../src/wasm/backend.js";
import { onJsKernels } from "../helpers/backend.js";
import { runningNorm } from "../helpers/running-norm.js";
import { backward } from "../../src/autograd/tape.js";
import { sum } from "../../src/ops/reduce.js";
import { add } from "../../src/ops/elementwise.js";
import { spikesToFloat } from "../../src/ops/spike/cast.js";
import { countsLinear, spikeLinear } from "../../src/ops/spike/spike-linear.js";
import { batchNormNeuron } from "../../src/ops/spike/norm-neuron.js";
import { linearNormNeuron, type NormFiredProjection } from "../../src/ops/spike/linear-norm-neuron.js";
import { linearNormLifCalls } from "../../src/kernels/spike-sum/threads.js";
import { Spikes } from "../../src/tensor/spikes.js";
import { expectSameBits } from "../helpers/arrays.js";
import { randCounts, randSpikes } from "../helpers/random-spikes.js";
import { useSplittingPool } from "../helpers/pool.js";

interface Case {
  x: Spikes | Tensor;
  T: number;
  projections: NormFiredProjection[];
  /** The fused kernels apply (outputs enough for the WASM sums in every projection, counts sparse enough). */
  fusable: boolean;
}

function projection(k: number, n: number, rng: Rng, soft: boolean, bias: boolean): NormFiredProjection {
  return {
    weight: Tensor.normal([n, k], rng, 0, 1 / Math.sqrt(k)),
    bias: bias ? Tensor.normal([n], rng, 0, 0.2) : null,
    bn: runningNorm(n, rng),
    neuron: { kind: "lif", tau: soft ? 1.5 : 2, vThreshold: 0.6, vReset: soft ? null : 0, detachReset: true },
  };
}

/**
 * Ragged projections of one input: spikes or counts, input and output widths on both sides of 32 (one
 * and several words a row), 1 to 3 projections of different widths, T 1 to 4 over token counts that
 * leave the last block short (blocks of 256 / T tokens), with and without bias, hard and soft resets.
 */
const arbCase: fc.Arbitrary<Case> = fc
  .record({
    T: fc.integer({ min: 1, max: 4 }), m: fc.integer({ min: 1, max: 150 }), k: fc.integer({ min: 1, max: 80 }),
    outs: fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 3 }), spikes: fc.boolean(),
    rate: fc.constantFrom(0.05, 0.15, 0.3), soft: fc.boolean(), bias: fc.boolean(), seed: fc.integer(),
  })
  .map(({ T, m, k, outs, spikes, rate, soft, bias, seed }) => {
    const rng = new Rng(seed);
    const x = spikes ? randSpikes([T * m, k], rate, rng) : Tensor.from(Float32Array.from(randCounts(T * m * k, rate, rng)), [T * m, k]);
    const projections = outs.map((n) => projection(k, n, rng, soft, bias));
    return { x, T, projections, fusable: outs.every((n) => m * n >= 256) };
  });

/** The definition: per projection the two ops (the spike or counts linear, then the batch norm and the neuron), on the TypeScript kernels. */
function reference(p: Case): Spikes[] {
  return onJsKernels(() => p.projections.map(({ weight, bias, bn, neuron }) => {
    const y = p.x instanceof Spikes ? spikeLinear(p.x, weight, bias) : countsLinear(p.x, weight, bias);
    return batchNormNeuron(y, [p.T, p.x.shape[0]! / p.T, weight.shape[0]!], bn, neuron);
  }));
}

function expectSameSpikes(got: Spikes[], want: Spikes[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((s, j) => {
    expect(s.shape).toEqual(want[j]!.shape);
    expectSameBits(s.words, want[j]!.words, `projection ${j}`);
  });
}

describe("linearNormNeuron: the fused linear -> BN -> LIF forward gives the two ops' spikes", () => {
  // Three threads that split even tiny problems: each case's token blocks go 1, 2 or 3 ways, claimed.
  useSplittingPool(3);
  it.skipIf(!wasmSimdAvailable())("on the WASM kernels, spikes and counts, 1-3 projections, the blocks split over threads", () => {
    let fusedCases = 0;
    fc.assert(
      fc.property(arbCase, (p) => {
        const calls = linearNormLifCalls();
        expectSameSpikes(linearNormNeuron(p.x, p.T, p.projections), reference(p));
        expect(linearNormLifCalls() - calls).toBe(p.fusable ? 1 : 0);
        if (p.fusable) fusedCases++;
      }),
      { numRuns: 100, seed: 11 },
    );
    expect(fusedCases).toBeGreaterThan(30);
  });

  it.skipIf(!wasmSimdAvailable())("many token blocks at Spikformer widths (q, k, v of one counts input; one spike input)", () => {
    const rng = new Rng(4);
    const T = 4, m = 200; // blocks of 64 tokens: 4, the last short
    const counts = Tensor.from(Float32Array.from(randCounts(T * m * 96, 0.25, rng)), [T * m, 96]);
    const qkv = [0, 1, 2].map(() => projection(96, 96, rng, false, true));
    const p: Case = { x: counts, T, projections: qkv, fusable: true };
    const calls = linearNormLifCalls();
    expectSameSpikes(linearNormNeuron(p.x, T, qkv), reference(p));
    const spikes = randSpikes([T * m, 384], 0.05, rng);
    const fc2 = [projection(384, 96, rng, false, true)];
    expectSameSpikes(linearNormNeuron(spikes, T, fc2), reference({ x: spikes, T, projections: fc2, fusable: true }));
    expect(linearNormLifCalls() - calls).toBe(2);
  });

  it("the two ops where the fused forward does not apply: IF, batch statistics, float64, dense counts", () => {
    const rng = new Rng(3);
    const T = 2, m = 40, k = 24;
    const x = randSpikes([T * m, k], 0.3, rng);
    const base = projection(k, 40, rng, false, true);
    const variants: NormFiredProjection[] = [
      { ...base, neuron: { kind: "if", vThreshold: 0.5 } },
      { ...base, bn: { ...base.bn, opts: { training: true, momentum: 0.1 } } },
    ];
    const calls = linearNormLifCalls();
    for (const v of variants) expectSameSpikes(linearNormNeuron(x, T, [v]), reference({ x, T, projections: [v], fusable: false }));
    const dense = Tensor.from(Float32Array.from(randCounts(T * m * k, 0.9, rng)), [T * m, k]);
    expectSameSpikes(linearNormNeuron(dense, T, [base]), reference({ x: dense, T, projections: [base], fusable: false }));
    const x64 = randSpikes([T * m, k], 0.3, rng, "float64");
    const p64: NormFiredProjection = { ...base, weight: Tensor.normal([40, k], rng, 0, 0.3, "float64"), bias: null, bn: { ...runningNorm(40, rng, false) } };
    p64.bn.runningMean = Tensor.zeros([40], "float64");
    p64.bn.runningVar = Tensor.ones([40], "float64");
    expectSameSpikes(linearNormNeuron(x64, T, [p64]), reference({ x: x64, T, projections: [p64], fusable: false }));
    expect(linearNormLifCalls()).toBe(calls);
  });

  it.skipIf(!wasmSimdAvailable())("a batch norm without weight and bias is fused", () => {
    const rng = new Rng(8);
    const x = randSpikes([2 * 40, 24], 0.3, rng);
    const p: NormFiredProjection = { ...projection(24, 40, rng, false, true), bn: runningNorm(40, rng, false) };
    const calls = linearNormLifCalls();
    expectSameSpikes(linearNormNeuron(x, 2, [p]), reference({ x, T: 2, projections: [p], fusable: true }));
    expect(linearNormLifCalls() - calls).toBe(1);
  });

  it("with a gradient needed it is the two ops' graph (the weight's and the input's gradients are theirs, bit for bit)", () => {
    const rng = new Rng(5);
    const counts = Float32Array.from(randCounts(2 * 40 * 16, 0.3, rng));
    const ps = [projection(16, 33, rng, false, true), projection(16, 20, rng, true, false)];
    // The op and the two ops per projection, each on its own leaves of the same values.
    const grads = (fused: boolean): [Tensor, Tensor] => {
      const x = Tensor.from(counts.slice(), [80, 16]);
      x.requiresGrad = true;
      const w = Tensor.from((ps[0]!.weight.data as Float32Array).slice(), ps[0]!.weight.shape);
      w.requiresGrad = true;
      const own = [{ ...ps[0]!, weight: w }, ps[1]!];
      const [a, b] = fused ? linearNormNeuron(x, 2, own) : reference({ x, T: 2, projections: own, fusable: false });
      backward(add(sum(spikesToFloat(a!)), sum(spikesToFloat(b!))));
      return [w.grad!, x.grad!];
    };
    const [gw, gx] = grads(true), [rw, rx] = onJsKernels(() => grads(false));
    expect(gw.shape).toEqual([33, 16]);
    expectSameBits(gw.data, rw.data, "weight gradient");
    expectSameBits(gx.data, rx.data, "input gradient");
  });

  it("refuses bad input, naming the op", () => {
    const rng = new Rng(1);
    const x = randSpikes([6, 8], 0.3, rng);
    const p = projection(8, 4, rng, false, false);
    expect(() => linearNormNeuron(x, 4, [p])).toThrow(BitspikeError);
    expect(() => linearNormNeuron(x, 4, [p])).toThrow(/linearNormNeuron: T must be a positive integer dividing the 6 rows/);
    expect(() => linearNormNeuron(x, 2, [])).toThrow(/linearNormNeuron: needs at least one projection/);
    expect(() => linearNormNeuron(randSpikes([2, 3, 8], 0.3, rng), 2, [p])).toThrow(/linearNormNeuron: input must be token rows \[N, in\]/);
    expect(() => linearNormNeuron(x, 2, [projection(7, 4, rng, false, false)])).toThrow(/linearNormNeuron/);
  });
});
