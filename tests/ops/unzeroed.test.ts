import { describe, it } from "vitest";
import { Tensor } from "../../src/tensor/tensor.js";
import { Spikes } from "../../src/tensor/spikes.js";
import { Rng } from "../../src/tensor/random.js";
import { freeArray, heapArray } from "../../src/tensor/heap.js";
import { backward } from "../../src/autograd/tape.js";
import { countsLinear, spikeLinear } from "../../src/ops/spike/spike-linear.js";
import { countsConv2d, spikeConv2d } from "../../src/ops/spike/spike-conv.js";
import { splitHeads, transposeSpikes } from "../../src/ops/spike/spike-layout.js";
import { spikesToFloat } from "../../src/ops/spike/cast.js";
import { concat, expand, pad, permute, reshape, slice } from "../../src/ops/shape.js";
import { add, exp, mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { batchNorm } from "../../src/ops/norm.js";
import { maskedBatchNorm } from "../../src/ops/masked-norm.js";
import { multiStepNeuron } from "../../src/ops/spike/neuron.js";
import { batchNormNeuron } from "../../src/ops/spike/norm-neuron.js";
import { expectBitEqual, leaf, randSpikes } from "../helpers/random-spikes.js";

/**
 * Fills free heap blocks of every size class up to 256 KiB with `value` (they
 * are the next blocks handed out), so an output allocated without zeroing
 * that a kernel does not write in full would show it.
 */
function poison(value: number): void {
  const held: Float64Array[] = [];
  for (let bytes = 64; bytes <= 1 << 18; bytes = Math.ceil(bytes * 1.15)) {
    for (let k = 0; k < 3; k++) held.push(heapArray(Float64Array, Math.ceil(bytes / 8)).fill(value));
  }
  for (const a of held) freeArray(a, "test poison");
}

/** Runs `f` (forward, backward through a random weighting) over a stale heap of 0s and of NaNs: every output and gradient must be the same bits. */
function sameOverStaleHeap(f: (rng: Rng) => Tensor[]): void {
  const runs = [0, Number.NaN].map((v) => {
    const rng = new Rng(7);
    poison(v);
    return f(rng);
  });
  runs[0]!.forEach((t, i) => expectBitEqual(runs[1]![i]!, t, `output ${i}`));
}

/** Forward y = op(inputs), backward of sum(y · r), returns y and the gradients of the float inputs. */
function fwdBwd(rng: Rng, y: Tensor, inputs: readonly Tensor[]): Tensor[] {
  const r = Tensor.uniform(y.shape, rng, -1, 1, y.dtype);
  backward(sum(mul(y, r)));
  return [y.clone(), ...inputs.map((x) => x.grad!.clone())];
}

describe("outputs allocated without zeroing (every element written by their kernel)", () => {
  it("spike Linear and counts Linear, forward and gradients", () => {
    sameOverStaleHeap((rng) => {
      const s = leaf(randSpikes([3, 37], 0.3, rng));
      const w = leaf(Tensor.uniform([5, 37], rng, -1, 1)), b = leaf(Tensor.uniform([5], rng, -1, 1));
      const out = fwdBwd(rng, spikeLinear(s, w, b), [w, b]);
      const x = leaf(s.toFloat()), w2 = leaf(w.detach().clone()), b2 = leaf(b.detach().clone());
      return [...out, ...fwdBwd(rng, countsLinear(x, w2, b2), [x, w2, b2])];
    });
  });

  it("spike conv2d and counts conv2d (event-driven and dense paths), forward and gradients", () => {
    sameOverStaleHeap((rng) => {
      const s = leaf(randSpikes([2, 3, 9, 35], 0.3, rng));
      const w = leaf(Tensor.uniform([4, 3, 3, 3], rng, -1, 1)), b = leaf(Tensor.uniform([4], rng, -1, 1));
      const y = spikeConv2d(s, w, b, { padding: 1, stride: [1, 2] });
      const r = Tensor.uniform(y.shape, rng, -1, 1);
      backward(sum(mul(y, r)));
      const out = [y.clone(), w.grad!.clone(), b.grad!.clone(), s.grad!.clone()];
      for (const rate of [0.1, 0.6]) {
        const x = leaf(randSpikes([2, 3, 9, 35], rate, rng).toFloat()), wc = leaf(w.detach().clone());
        out.push(...fwdBwd(rng, countsConv2d(x, wc, null, { padding: 1, stride: [1, 2] }), [x, wc]));
      }
      return out;
    });
  });

  it("head split and spike transpose gradients, spikes to floats", () => {
    sameOverStaleHeap((rng) => {
      const s = leaf(randSpikes([2, 5, 36], 0.4, rng));
      const y = add(spikesToFloat(transposeSpikes(splitHeads(s, 4))), 0);
      const r = Tensor.uniform(y.shape, rng, -1, 1);
      backward(sum(mul(y, r)));
      return [y.clone(), s.grad!.clone()];
    });
  });

  it("permute, slice, concat, pad, expand, binary and unary ops", () => {
    sameOverStaleHeap((rng) => {
      const x = leaf(Tensor.uniform([3, 4, 33], rng, -1, 1)), z = leaf(Tensor.uniform([3, 2, 33], rng, -1, 1));
      const c = concat([permute(x, [1, 0, 2]), slice(permute(z, [1, 0, 2]), 0, 0, 2)], 0);
      const y = exp(add(pad(c, [[1, 2]]), expand(Tensor.uniform([1, 1, 36], rng, -1, 1), [6, 3, 36])));
      return fwdBwd(rng, y, [x, z]);
    });
  });

  it("batch norm (plain and masked), the neuron (H, membrane, input gradient) and the two fused", () => {
    sameOverStaleHeap((rng) => {
      const bn = () => ({ runningMean: Tensor.zeros([5]), runningVar: Tensor.ones([5]), opts: { training: true } });
      const x = leaf(Tensor.uniform([4, 5, 33], rng, -2, 2)), w = leaf(Tensor.uniform([5], rng, 0.5, 2)), b = leaf(Tensor.uniform([5], rng, -1, 1));
      const a = bn(), m = bn();
      const mask = Uint8Array.from({ length: 4 * 33 }, (_, i) => (i % 3 === 0 ? 0 : 1));
      const y = add(batchNorm(x, a.runningMean, a.runningVar, w, b, a.opts), maskedBatchNorm(x, mask, m.runningMean, m.runningVar, w, b, m.opts));
      const out = fwdBwd(rng, y, [x, w, b]);
      const x2 = leaf(x.detach().clone()), f = bn();
      const lif = { kind: "lif" as const, vThreshold: 0.5 };
      const s = add(spikesToFloat(multiStepNeuron(reshape(x2, [2, 2, 5, 33]), lif)), spikesToFloat(batchNormNeuron(x2, [2, 2, 5, 33], { ...f, weight: null, bias: null }, lif)));
      return [...out, ...fwdBwd(rng, s, [x2])];
    });
  });
});
