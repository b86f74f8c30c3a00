import { describe, expect, it } from "vitest";
import { Spikformer } from "../../src/models/spikformer.js";
import { spikformerConfig } from "../../src/models/config.js";
import { Rng } from "../../src/tensor/random.js";
import { heapStats } from "../../src/tensor/heap.js";
import { isGradEnabled } from "../../src/autograd/tape.js";
import type { Dataset } from "../../src/train/data/dataset.js";
import { passOverBatches } from "../../src/train/batch-pass.js";

const cfg = spikformerConfig("spikformer-cifar-1-16", { imgSize: 8, inChannels: 1, numClasses: 3, T: 1, numHeads: 2, seed: 3 });
function data(n: number): Dataset {
  const rng = new Rng(5);
  const images = new Float32Array(n * 64);
  for (let i = 0; i < images.length; i++) images[i] = 2 * rng.uniform() - 0.5;
  return { images, labels: Int32Array.from({ length: n }, (_, i) => i % 3), shape: [1, 8, 8], numClasses: 3 };
}

describe("passOverBatches", () => {
  it("hands over whole batches in order until the limit, without a tape, in the asked mode; then restores the mode", () => {
    const m = new Spikformer(cfg).train();
    const seen: [number, number, boolean, boolean][] = [];
    const n = passOverBatches(m, data(10), 4, { limit: 5 }, (b, before) => seen.push([b.labels.length, before, m.training, isGradEnabled()]));
    expect(n).toBe(8);
    expect(seen).toEqual([[4, 0, false, false], [4, 4, false, false]]);
    expect(m.training).toBe(true);
    const all = passOverBatches(m.eval(), data(10), 4, { train: true }, (b) => expect([b.labels.length, m.training]).toEqual([b.batchIndex < 2 ? 4 : 2, true]));
    expect(all).toBe(10);
    expect(m.training).toBe(false);
  });

  it("frees each batch's tensors and images, and restores the mode when a batch throws", () => {
    const m = new Spikformer(cfg).train();
    const d = data(12);
    passOverBatches(m, d, 4, {}, (b) => void m.forward(b.images)); // warm the heap's free lists
    const live = heapStats().liveBytes;
    passOverBatches(m, d, 4, {}, (b) => void m.forward(b.images));
    expect(heapStats().liveBytes).toBe(live);
    expect(() => passOverBatches(m, d, 4, {}, () => { throw new Error("bad batch"); })).toThrow("bad batch");
    expect(m.training).toBe(true);
  });
});
