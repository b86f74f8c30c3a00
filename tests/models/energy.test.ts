import { describe, expect, it, vi } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { Spikes } from "../../src/tensor/spikes.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { EnergyProbe, energyReport, E_AC_PJ, E_MAC_PJ, type EnergyReport } from "../../src/energy/energy.js";
import { formatEnergy, runEnergy } from "../../src/cli/commands.js";
import { saveWeights } from "../../src/train/checkpoint.js";
import { measureEnergy } from "../../src/energy/measure.js";
import { Spikformer } from "../../src/models/spikformer.js";
import { spikformerConfig } from "../../src/models/config.js";
import { Spikeformer } from "../../src/models/spikeformer/spikeformer.js";
import { spikeformerConfig } from "../../src/models/spikeformer/config.js";
import { spikesToFloat } from "../../src/ops/spike/cast.js";
import { conv2d } from "../../src/ops/conv.js";
import { noGrad } from "../../src/autograd/tape.js";

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

describe("Spikeformer energy", () => {
  // 4 SEW blocks (strides 2,1,2,1) on 8x8: block 1 reads block 0's ADD counts (0..2) through an
  // identity shortcut, block 2's shortcut reads average-pooled counts (real); 2x2 tokens, T 2.
  const cfg = spikeformerConfig("spikeformer-1-16", { imgSize: 8, inChannels: 1, T: 2, numClasses: 3, numHeads: 2, layers: 4, strides: [2, 1, 2, 1], mlpRatio: 2 });
  const images = 3;
  const x = Tensor.uniform([images, 1, 8, 8], new Rng(11), -1, 3);
  const data = { images: x.data as Float32Array, labels: new Int32Array(images), shape: [1, 8, 8] as [number, number, number], numClasses: 3 };

  it("counts equal a float computation from the recorded inputs: SOPs = sum of a conv / Linear with all-ones weights", () => {
    const m = new Spikeformer(cfg);
    // Trunc-normal(0.02) weights leave the MLP's hidden PLIF silent: scale fc1 so it fires.
    const fc1 = [...m.model.blocks][0]!.mlp.fc1.weight;
    for (let i = 0; i < fc1.size; i++) fc1.data[i]! *= 40;
    const oracle = new Map<string, { sops: number; macs: number }>();
    const exact = new EnergyProbe();
    const f64 = (a: Spikes | Tensor): Tensor => new Tensor(Float64Array.from(a instanceof Spikes ? spikesToFloat(a).data : a.data), a.shape);
    const sum = (t: Tensor): number => Array.from(t.data).reduce((s, v) => s + v, 0);
    m.compute.probe = {
      onLayer(e) {
        exact.onLayer(e);
        const row = oracle.get(e.name) ?? { sops: 0, macs: 0 };
        oracle.set(e.name, row);
        if (e.kind === "conv2d") {
          const xin = f64(e.input);
          const integral = xin.data.every((v) => Number.isInteger(v));
          if (integral) row.sops += sum(conv2d(xin, Tensor.full(e.weightShape, 1, "float64"), null, { stride: e.stride, padding: e.padding }));
          else row.macs += e.outShape.reduce((a, b) => a * b, 1) * e.weightShape.slice(1).reduce((a, b) => a * b, 1);
        } else if (e.kind === "linear") {
          const xin = f64(e.input);
          if (e.input instanceof Spikes || xin.data.every((v) => Number.isInteger(v))) row.sops += sum(xin) * e.outFeatures;
          else row.macs += xin.size * e.outFeatures;
        }
      },
    };
    m.eval();
    noGrad(() => m.forward(x));
    m.compute.probe = null;
    const E = 16, N = 4, T = 2, B = images, H = 32;
    // Real-valued work by hand: per block, temporal (B N sequences of T) and spatial (B T sequences of N) attention.
    const attn = (S: number, L: number): Record<string, number> => ({ qkv: S * L * E * 3 * E, softmax: 2 * S * L * L * E, proj: S * L * E * E });
    const hand: Record<string, number> = {
      "model.blocks.0.temporal_fc": B * N * T * E * E,
      "model.blocks.0.mlp.0": B * N * T * E * H,
      "model.attention_pool": 2 * B * N * T * E,
      "model.head": B * E * 3,
    };
    for (const [k, v] of Object.entries(attn(B * N, T))) hand[`model.blocks.0.temporal_attn.${k}`] = v;
    for (const [k, v] of Object.entries(attn(B * T, N))) hand[`model.blocks.0.attn.${k}`] = v;
    expect(oracle.get("model.blocks.0.mlp.0")!.macs).toBe(hand["model.blocks.0.mlp.0"]); // from its event, as the others
    for (const [name, macs] of Object.entries(hand)) oracle.set(name, { sops: 0, macs });
    expect([...exact.layers.keys()].sort()).toEqual([...oracle.keys()].sort());
    for (const [name, want] of oracle) {
      const got = exact.layers.get(name)!;
      expect([name, got.sops, got.macs]).toEqual([name, want.sops, want.macs]);
    }
    // What is spike-fed and what is real: the image conv, the pooled-counts shortcut and everything after the tokenizer
    // but the MLP's second Linear.
    const real = [...exact.layers.values()].filter((l) => l.input === "real").map((l) => l.name);
    expect(real).toContain("model.patch_embed.conv_layers.0.residual_function.0");
    expect(real).toContain("model.patch_embed.conv_layers.2.shortcut.1");
    expect(exact.layers.get("model.patch_embed.conv_layers.1.residual_function.0")!.input).toBe("spikes");
    expect(exact.layers.get("model.blocks.0.mlp.2")!.input).toBe("spikes");
    expect(exact.layers.get("model.blocks.0.mlp.2")!.sops).toBeGreaterThan(0);
  });

  it("measureEnergy on a Spikeformer: per-image energy adds the MACs of the real-valued layers", () => {
    const m = new Spikeformer(cfg);
    const r = measureEnergy(m, data, images, 2);
    expect(r.images).toBe(images);
    const macs = r.rows.reduce((s, l) => s + l.macs, 0);
    const sops = r.rows.reduce((s, l) => s + l.sops, 0);
    expect(r.energyMj).toBeCloseTo((E_MAC_PJ * macs + E_AC_PJ * sops) / images / 1e9, 15);
    expect(r.rows.find((l) => l.name === "model.blocks.0.attn.softmax")!.macs).toBe(2 * images * 2 * 4 * 4 * 16);
    expect(m.compute.probe).toBeNull();
  });
});

describe("bitspike energy on a Spikeformer", () => {
  it("prints the per-layer table of a spikeformer-L-E weights file (MNIST-sized tokenizer)", () => {
    const m = new Spikeformer(spikeformerConfig("spikeformer-1-16", { imgSize: 28, inChannels: 1, T: 2, numClasses: 10, numHeads: 2, layers: 2, strides: 2 }));
    const dir = mkdtempSync(join(tmpdir(), "bitspike-energy-"));
    try {
      const w = join(dir, "weights.safetensors");
      saveWeights(w, m, m.config);
      const lines: string[] = [];
      const log = vi.spyOn(console, "log").mockImplementation((s: string) => void lines.push(s));
      try {
        runEnergy(["--weights", w, "--data", "mnist", "--limit", "3", "--threads", "1", "--json"]);
      } finally {
        log.mockRestore();
      }
      const r = JSON.parse(lines.join("\n")) as EnergyReport;
      expect(r.images).toBe(3);
      const names = r.rows.map((l) => l.name);
      expect(names[0]).toBe("model.patch_embed.conv_layers.0.residual_function.0");
      expect(names).toContain("model.blocks.0.temporal_attn.softmax");
      expect(names).toContain("model.blocks.0.mlp.2");
      expect(names.at(-1)).toBe("model.head");
      expect(r.totalMacs).toBeGreaterThan(0);
      expect(formatEnergy(r)).toMatch(/model\.blocks\.0\.attn\.softmax\s+real/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
