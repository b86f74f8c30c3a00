import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { Spikformer } from "../../src/models/spikformer.js";
import { spikformerConfig, type SpikformerOverrides } from "../../src/models/config.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { Int64Buffer } from "../../src/nn/module.js";
import { backward, noGrad } from "../../src/autograd/tape.js";
import { crossEntropy } from "../../src/ops/loss.js";
import { BitspikeError } from "../../src/tensor/errors.js";

function build(name: string, o: SpikformerOverrides = {}): Spikformer {
  return new Spikformer(spikformerConfig(name, o));
}

describe("Spikformer parameter counts (official definitions, unused LayerNorms included)", () => {
  const cases: [string, SpikformerOverrides, number][] = [
    ["spikformer-cifar-4-384", {}, 9_330_874],
    ["spikformer-cifar-4-256", {}, 4_159_274],
    ["spikformer-imagenet-8-384", {}, 16_828_312],
    ["spikformer-imagenet-8-512", {}, 29_705_768],
    ["spikformer-dvs-2-256", {}, 2_585_610],
  ];
  for (const [name, o, count] of cases) it(`${name}: ${count}`, () => expect(build(name, o).numParameters()).toBe(count));
  // V2 against the paper's counts (1000 classes), within 0.005M; the larger ones (12-512 64.18M,
  // 12-768 143.89M, 16-768 172.28M) agree too but take seconds each to initialise.
  for (const [name, millions] of [["spikformer-v2-8-384", 29.11], ["spikformer-v2-8-512", 51.55]] as const) {
    it(`${name}: ${millions}M (paper)`, () => expect(Math.abs(build(name).numParameters() / 1e6 - millions)).toBeLessThanOrEqual(0.005));
  }
  it("spikformer-cifar-4-384 has 216 state-dict keys", () => expect(build("spikformer-cifar-4-384").stateDict().size).toBe(216));
});

describe("official key names and shapes", () => {
  for (const [file, name] of [["cifar-4-384", "spikformer-cifar-4-384"], ["imagenet-8-384", "spikformer-imagenet-8-384"], ["dvs-2-256", "spikformer-dvs-2-256"]] as const) {
    it(`${name} equals the official state dict (order, names, shapes, dtypes)`, () => {
      const fixture = JSON.parse(readFileSync(new URL(`../fixtures/official-keys/${file}.json`, import.meta.url), "utf8")) as { keys: [string, number[], string][] };
      const ours = [...build(name).stateDict()].map(([k, v]) => [k, [...v.shape], v instanceof Int64Buffer ? "I64" : "F32"]);
      expect(ours).toEqual(fixture.keys);
    });
  }
});

describe("Spikformer forward", () => {
  const small: SpikformerOverrides = { imgSize: 16, T: 2, numClasses: 5, seed: 3 };
  const input = (b: number, c = 3, size = 16) => Tensor.uniform([b, c, size, size], new Rng(9), -1, 2);

  for (const [name, o] of [
    ["spikformer-cifar-1-32", small],
    ["spikformer-cifar-1-32", { ...small, residual: "iand" }],
    ["spikformer-v2-1-32", { ...small, patchSize: 4 }],
    ["spikformer-imagenet-1-32", { ...small, patchSize: 16, imgSize: 32 }],
  ] as [string, SpikformerOverrides][]) {
    it(`${name} ${JSON.stringify(o)}: bit kernels equal the float computation`, () => {
      const m = build(name, o);
      const x = input(3, 3, o.imgSize ?? 16);
      const bits = noGrad(() => m.train().forward(x));
      const m2 = build(name, o);
      m2.compute.mode = "float";
      const flt = noGrad(() => m2.train().forward(x));
      expect(bits.shape).toEqual([3, 5]);
      for (let i = 0; i < bits.size; i++) expect(bits.data[i]).toBeCloseTo(flt.data[i]!, 4);
    });
  }

  it("gradients reach every parameter the forward uses, and plain gradient steps lower the loss", () => {
    // T = 4 and a wide input range, so that even the attention LIF (threshold 0.5) fires at init.
    const m = build("spikformer-cifar-1-32", { ...small, T: 4 }).train();
    const x = Tensor.uniform([4, 3, 16, 16], new Rng(9), -2, 4);
    const labels = Int32Array.from([0, 1, 2, 3]);
    const lossOf = () => crossEntropy(m.forward(x), labels);
    const first = lossOf();
    backward(first);
    for (const [name, p] of m.namedParameters()) {
      if (/norm[12]?\.|pos_embed/.test(name)) continue; // constructed but unused, as in the official code
      expect(p.grad, name).not.toBeNull();
      expect(p.grad!.data.some((g) => g !== 0), name).toBe(true);
    }
    let last = first.item();
    for (let step = 0; step < 8; step++) {
      noGrad(() => { for (const p of m.parameters()) if (p.grad) for (let i = 0; i < p.size; i++) p.data[i]! -= 0.05 * p.grad.data[i]!; });
      m.zeroGrad();
      const l = lossOf();
      backward(l);
      last = l.item();
    }
    expect(last).toBeLessThan(first.item());
  });

  it("names the expected input shape on a mismatch", () => {
    const m = build("spikformer-cifar-1-32", small);
    expect(() => m.forward(Tensor.zeros([2, 1, 16, 16]))).toThrow(BitspikeError);
    expect(() => m.forward(Tensor.zeros([2, 1, 16, 16]))).toThrow(/expected images \[B, 3, 16, 16\]/);
  });
});

describe("attention ablation (Table I)", () => {
  for (const attention of ["softmax", "identity", "relu", "leakyrelu"] as const) {
    it(`${attention}: trains end to end (finite loss, gradients reach q/k projections)`, () => {
      const m = new Spikformer(spikformerConfig("spikformer-cifar-1-32", { imgSize: 16, T: 2, numClasses: 5, seed: 3, attention })).train();
      const loss = crossEntropy(m.forward(Tensor.uniform([3, 3, 16, 16], new Rng(9), -2, 4)), Int32Array.from([0, 1, 2]));
      expect(Number.isFinite(loss.item())).toBe(true);
      backward(loss);
      expect(m.getSubmodule("block.0.attn.q_linear").getParameter("weight")!.grad).not.toBeNull();
    });
  }
});
