import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Spikes } from "../../src/tensor/spikes.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { EnergyProbe, energyReport, E_AC_PJ, E_MAC_PJ } from "../../src/energy/energy.js";
import { measureEnergy } from "../../src/energy/measure.js";
import { Spikformer } from "../../src/models/spikformer.js";
import { spikformerConfig } from "../../src/models/config.js";

describe("exact synaptic-operation counts", () => {
  it("linear on spikes: set bits x fan-out; on counts: the sum of counts x fan-out", () => {
    const p = new EnergyProbe();
    const s = Spikes.fromValues([1, 0, 1, 1, 0, 0, 0, 1, 0, 0], [2, 5]);
    p.onLayer({ kind: "linear", name: "fc", input: s, inFeatures: 5, outFeatures: 3 });
    p.onLayer({ kind: "linear", name: "res", input: Tensor.from([0, 2, 1, 0, 3, 0], [2, 3]), inFeatures: 3, outFeatures: 4 });
    const fc1 = p.layers.get("fc")!;
    expect(fc1.sops).toBe(4 * 3);
    expect(fc1.denseOps).toBe(10 * 3);
    expect(p.layers.get("res")!.sops).toBe(6 * 4);
    const r = energyReport(p, 1).rows.find((x) => x.name === "fc")!;
    expect(r.firingRate).toBe(0.4);
    expect(r.estimatedSops).toBeCloseTo(0.4 * 30, 12); // the papers' estimate: rate x dense ops
    expect(r.energyMj).toBeCloseTo((E_AC_PJ * 12) / 1e9, 20);
  });

  it("conv on spikes: each spike reaches C_out x the in-bounds kernel positions (centre 9, corner 4)", () => {
    const p = new EnergyProbe();
    const centre = Spikes.fromValues([0, 0, 0, 0, 1, 0, 0, 0, 0], [1, 1, 3, 3]);
    const corner = Spikes.fromValues([1, 0, 0, 0, 0, 0, 0, 0, 0], [1, 1, 3, 3]);
    p.onLayer({ kind: "conv2d", name: "c", input: centre, weightShape: [2, 1, 3, 3], stride: 1, padding: 1, outShape: [1, 2, 3, 3] });
    p.onLayer({ kind: "conv2d", name: "k", input: corner, weightShape: [2, 1, 3, 3], stride: 1, padding: 1, outShape: [1, 2, 3, 3] });
    expect(p.layers.get("c")!.sops).toBe(18);
    expect(p.layers.get("k")!.sops).toBe(8);
  });

  it("conv SOPs equal a brute-force count over the output positions, for any stride and padding", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 }), fc.constantFrom([3, 1, 1], [3, 2, 1], [2, 2, 0], [1, 1, 0]), fc.integer(), (H, W, [k, st, pad], seed) => {
      if (H + 2 * pad < k || W + 2 * pad < k) return;
      const rng = new Rng(seed);
      const vals = Array.from({ length: 2 * H * W }, () => (rng.uniform() < 0.4 ? 1 : 0));
      const s = Spikes.fromValues(vals, [1, 2, H, W]);
      const OH = Math.floor((H + 2 * pad - k) / st) + 1;
      const OW = Math.floor((W + 2 * pad - k) / st) + 1;
      let brute = 0;
      for (let o = 0; o < 3; o++) for (let c = 0; c < 2; c++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
        const y = oy * st - pad + ky;
        const x = ox * st - pad + kx;
        if (y >= 0 && y < H && x >= 0 && x < W) brute += vals[(c * H + y) * W + x]!;
      }
      const p = new EnergyProbe();
      p.onLayer({ kind: "conv2d", name: "c", input: s, weightShape: [3, 2, k, k], stride: st, padding: pad, outShape: [1, 3, OH, OW] });
      expect(p.layers.get("c")!.sops).toBe(brute);
    }), { numRuns: 60 });
  });

  it("real-valued input counts dense MACs at 4.6 pJ", () => {
    const p = new EnergyProbe();
    p.onLayer({ kind: "conv2d", name: "first", input: Tensor.from([0.5, -1, 0.25, 2], [1, 1, 2, 2]), weightShape: [4, 1, 3, 3], stride: 1, padding: 1, outShape: [1, 4, 2, 2] });
    const l = p.layers.get("first")!;
    expect(l.input).toBe("real");
    expect(l.macs).toBe(4 * 2 * 2 * 1 * 9);
    expect(energyReport(p, 1).energyMj).toBeCloseTo((E_MAC_PJ * 144) / 1e9, 20);
  });

  it("attention: coincident bits of Q Kᵀ plus each V spike times its attention count", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 40 }), fc.integer(), (n, d, seed) => {
      const rng = new Rng(seed);
      const mk = () => Array.from({ length: n * d }, () => (rng.uniform() < 0.3 ? 1 : 0));
      const [q, k, v] = [mk(), mk(), mk()];
      let brute = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        let a = 0;
        for (let c = 0; c < d; c++) a += q[i * d + c]! * k[j * d + c]!;
        let vj = 0;
        for (let c = 0; c < d; c++) vj += v[j * d + c]!;
        brute += a + a * vj;
      }
      const p = new EnergyProbe();
      p.onLayer({ kind: "attention", name: "a", q: Spikes.fromValues(q, [1, n, d]), k: Spikes.fromValues(k, [1, n, d]), v: Spikes.fromValues(v, [1, n, d]), scale: 0.125 });
      expect(p.layers.get("a")!.sops).toBe(brute);
    }), { numRuns: 50 });
  });

  it("measureEnergy covers every synaptic layer of a model and detaches its probe afterwards", () => {
    const m = new Spikformer(spikformerConfig("spikformer-cifar-1-16", { imgSize: 8, inChannels: 1, numClasses: 3, T: 2, numHeads: 2 }));
    const x = Tensor.uniform([5, 1, 8, 8], new Rng(3), -1, 3);
    const data = { images: x.data as Float32Array, labels: new Int32Array(5), shape: [1, 8, 8] as [number, number, number], numClasses: 3 };
    const r = measureEnergy(m, data, 4, 3);
    expect(r.images).toBe(4);
    expect(r.rows.map((x) => x.name)).toEqual([
      "patch_embed.proj_conv", "patch_embed.proj_conv1", "patch_embed.proj_conv2", "patch_embed.proj_conv3", "patch_embed.rpe_conv",
      "block.0.attn.q", "block.0.attn.k", "block.0.attn.v", "block.0.attn.ssa", "block.0.attn.proj", "block.0.mlp.fc1", "block.0.mlp.fc2",
    ]);
    expect(r.rows[0]!.input).toBe("real");
    expect(r.rows.slice(1).every((x) => x.input === "spikes")).toBe(true);
    expect(m.compute.probe).toBeNull();
  });
});
