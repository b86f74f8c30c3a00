import { describe, expect, it } from "vitest";
import { Spikformer } from "../../src/models/spikformer.js";
import { spikformerConfig } from "../../src/models/config.js";
import { BatchNorm1d, BatchNorm2d } from "../../src/nn/norm.js";
import { Rng } from "../../src/tensor/random.js";
import { subset, type Dataset } from "../../src/train/data/dataset.js";
import { updateBatchNorm } from "../../src/train/update-bn.js";

const cfg = spikformerConfig("spikformer-cifar-1-16", { imgSize: 8, inChannels: 1, numClasses: 3, T: 2, numHeads: 2, seed: 3 });
function data(n: number): Dataset {
  const rng = new Rng(5);
  const images = new Float32Array(n * 64);
  for (let i = 0; i < images.length; i++) images[i] = 2 * rng.uniform() - 0.5;
  return { images, labels: new Int32Array(n), shape: [1, 8, 8], numClasses: 3 };
}
const norms = (m: Spikformer) => [...m.modules()].filter((x): x is BatchNorm1d | BatchNorm2d => x instanceof BatchNorm1d || x instanceof BatchNorm2d);
const stats = (m: Spikformer) => norms(m).map((b) => [...b.runningMean!.data, ...b.runningVar!.data, Number(b.numBatchesTracked!.data[0])]);

describe("updateBatchNorm", () => {
  it("replaces the running statistics whatever they were, and leaves weights, momenta and mode as they were", () => {
    const d = data(12);
    const a = new Spikformer(cfg).eval();
    const b = new Spikformer(cfg).eval();
    for (const n of norms(b)) { n.runningMean!.data.fill(7); n.runningVar!.data.fill(0.01); n.momentum = 0.3; }
    const weights = [...b.parameters()].map((p) => [...p.data]);
    expect(updateBatchNorm(a, d, 4, 5)).toBe(8); // whole batches until the limit is reached
    expect(updateBatchNorm(a, d, 4)).toBe(12);
    updateBatchNorm(b, d, 4);
    expect(stats(b)).toEqual(stats(a));
    expect(stats(a)[0]![stats(a)[0]!.length - 1]).toBe(3); // three batches counted
    expect(norms(b).every((n) => n.momentum === 0.3)).toBe(true);
    expect(b.training).toBe(false);
    expect([...b.parameters()].map((p) => [...p.data])).toEqual(weights);
  });

  it("gives the cumulative average of the batches' statistics (momentum null)", () => {
    const d = data(8);
    const both = new Spikformer(cfg), first = new Spikformer(cfg), second = new Spikformer(cfg);
    updateBatchNorm(both, d, 4);
    updateBatchNorm(first, subset(d, [0, 1, 2, 3]), 4);
    updateBatchNorm(second, subset(d, [4, 5, 6, 7]), 4);
    const [s, f, g] = [both, first, second].map(stats);
    let compared = 0;
    for (let l = 0; l < s!.length; l++) {
      for (let i = 0; i < s![l]!.length - 1; i++) {
        expect(s![l]![i]).toBeCloseTo((f![l]![i]! + g![l]![i]!) / 2, 5);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(100);
    // a different batch does move them: the property is not vacuous
    expect(f![0]).not.toEqual(g![0]);
  });
});
