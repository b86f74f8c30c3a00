import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { heapScope, heapStats } from "../../src/tensor/heap.js";
import { Rng } from "../../src/tensor/random.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { backward } from "../../src/autograd/tape.js";
import { sum } from "../../src/ops/reduce.js";
import { linear } from "../../src/ops/linear.js";
import { conv2d } from "../../src/ops/conv.js";
import { maxPool2d } from "../../src/ops/pool.js";
import { layerNorm } from "../../src/ops/norm.js";
import { Int64Buffer, Module, ModuleList, Sequential, type StateValue } from "../../src/nn/module.js";
import { Conv1d, Conv2d, Identity, Linear, MaxPool2d } from "../../src/nn/layers.js";
import { BatchNorm1d, BatchNorm2d, LayerNorm } from "../../src/nn/norm.js";
import { constant_, defaultBias_, fanIn, kaimingUniform_, normal_, ones_, truncNormal_, uniform_, zeros_ } from "../../src/nn/init.js";
import { parseSafetensors, serializeSafetensors } from "../../src/io/safetensors.js";

function expectBitspikeError(f: () => unknown, ...patterns: RegExp[]): string {
  let err: unknown = null;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(BitspikeError);
  for (const p of patterns) expect((err as Error).message).toMatch(p);
  return (err as Error).message;
}

/** A miniature of Spikformer's CIFAR module tree, with the official key names. */
class Attn extends Module {
  q_linear: Linear;
  q_bn: BatchNorm1d;
  proj_linear: Linear;
  constructor(d: number, rng: Rng) {
    super();
    this.q_linear = this.registerModule("q_linear", new Linear(d, d, { rng }));
    this.q_bn = this.registerModule("q_bn", new BatchNorm1d(d));
    this.proj_linear = this.registerModule("proj_linear", new Linear(d, d, { rng }));
  }
}
class Block extends Module {
  constructor(d: number, rng: Rng) {
    super();
    this.registerModule("norm1", new LayerNorm(d));
    this.registerModule("attn", new Attn(d, rng));
  }
}
class Net extends Module {
  blocks: ModuleList<Block>;
  head: Linear;
  constructor(d: number, depth: number, classes: number, seed: number) {
    super();
    const rng = new Rng(seed);
    const pe = this.registerModule("patch_embed", new Module());
    pe.registerModule("proj_conv", new Conv2d(3, d, 3, { rng, padding: 1, bias: false }));
    pe.registerModule("proj_bn", new BatchNorm2d(d));
    this.blocks = this.registerModule("block", new ModuleList(Array.from({ length: depth }, () => new Block(d, rng))));
    this.head = this.registerModule("head", new Linear(d, classes, { rng }));
    this.registerBuffer("scratch", Tensor.zeros([1]), false);
  }
}

const bnKeys = (p: string): string[] => ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"].map((k) => `${p}.${k}`);
const netKeys = (depth: number): string[] => [
  "patch_embed.proj_conv.weight",
  ...bnKeys("patch_embed.proj_bn"),
  ...Array.from({ length: depth }, (_, i) => [
    `block.${i}.norm1.weight`, `block.${i}.norm1.bias`,
    `block.${i}.attn.q_linear.weight`, `block.${i}.attn.q_linear.bias`,
    ...bnKeys(`block.${i}.attn.q_bn`),
    `block.${i}.attn.proj_linear.weight`, `block.${i}.attn.proj_linear.bias`,
  ]).flat(),
  "head.weight", "head.bias",
];

function toEntries(sd: Map<string, StateValue>): Map<string, { shape: readonly number[]; data: Float32Array | Float64Array | BigInt64Array }> {
  return new Map([...sd].map(([k, v]) => [k, { shape: v.shape, data: v.data }]));
}

describe("Module: names and order", () => {
  it("state dict keys come out like PyTorch's, in registration order, depth-first", () => {
    const net = new Net(4, 2, 3, 1);
    expect([...net.stateDict().keys()]).toEqual(netKeys(2));
    expect(net.stateDict().get("patch_embed.proj_bn.num_batches_tracked")).toBeInstanceOf(Int64Buffer);
    expect(net.stateDict().get("block.1.attn.q_linear.weight")).toBe(net.blocks.at(1).getSubmodule("attn.q_linear").getParameter("weight"));
  });

  it("parameters are the non-buffer keys; buffers include non-persistent ones, the state dict does not", () => {
    const net = new Net(4, 2, 3, 1);
    const params = [...net.namedParameters()].map(([k]) => k);
    expect(params).toEqual(netKeys(2).filter((k) => !/running_|num_batches/.test(k)));
    expect([...net.parameters()].every((p) => p.requiresGrad)).toBe(true);
    const bufs = [...net.namedBuffers()].map(([k]) => k);
    expect(bufs[0]).toBe("scratch");
    expect(bufs).toContain("block.1.attn.q_bn.running_var");
    expect(net.stateDict().has("scratch")).toBe(false);
  });

  it("namedModules is pre-order with dotted names; children are direct", () => {
    const net = new Net(4, 1, 3, 1);
    expect([...net.namedModules()].map(([k]) => k)).toEqual([
      "", "patch_embed", "patch_embed.proj_conv", "patch_embed.proj_bn", "block", "block.0", "block.0.norm1",
      "block.0.attn", "block.0.attn.q_linear", "block.0.attn.q_bn", "block.0.attn.proj_linear", "head",
    ]);
    expect([...net.children()].length).toBe(3);
    expect([...net.namedChildren()].map(([k]) => k)).toEqual(["patch_embed", "block", "head"]);
  });

  it("a shared parameter is listed once by parameters() but under both names in the state dict", () => {
    const m = new Module();
    const a = m.registerModule("a", new Linear(2, 2, { rng: new Rng(0), bias: false }));
    const b = m.registerModule("b", new Module());
    b.registerParameter("weight", a.weight);
    expect([...m.namedParameters()].map(([k]) => k)).toEqual(["a.weight"]);
    expect([...m.stateDict().keys()]).toEqual(["a.weight", "b.weight"]);
    expect(m.numParameters()).toBe(4);
  });

  it("registration errors are typed and name the problem", () => {
    const m = new Module();
    m.registerParameter("w", Tensor.zeros([1]));
    expectBitspikeError(() => m.registerParameter("a.b", Tensor.zeros([1])), /registerParameter.*without '\.'/);
    expectBitspikeError(() => m.registerParameter("", Tensor.zeros([1])), /non-empty/);
    expectBitspikeError(() => m.registerBuffer("w", Tensor.zeros([1])), /registerBuffer: "w" is already registered as a parameter/);
    expectBitspikeError(() => m.registerModule("w", new Module()), /registerModule: "w" is already registered as a parameter/);
    expectBitspikeError(() => m.registerBuffer("b", [1] as unknown as Tensor), /must be a Tensor or an Int64Buffer/);
    expectBitspikeError(() => m.registerModule("c", {} as Module), /must be a Module/);
    expectBitspikeError(() => m.getSubmodule("x.y"), /getSubmodule.*"x\.y"/);
    expectBitspikeError(() => new ModuleList().at(0), /ModuleList\.at: index 0 out of range for 0/);
    expectBitspikeError(() => new Int64Buffer(new BigInt64Array(2), [3]), /Int64Buffer.*shape \[3\] needs 3/);
    const t = sum(Tensor.ones([2]).requireGrad());
    expectBitspikeError(() => m.registerParameter("n", t), /leaf/);
    // Re-registering the same kind replaces.
    const w2 = m.registerParameter("w", Tensor.ones([2]));
    expect(m.getParameter("w")).toBe(w2);
  });
});

describe("Module: loadStateDict", () => {
  it("strict: one error listing every missing key, unexpected key and shape mismatch; nothing changed", () => {
    const net = new Net(4, 2, 3, 1);
    const other = new Net(4, 2, 3, 2);
    const sd = toEntries(other.stateDict());
    sd.delete("head.bias");
    sd.delete("block.1.attn.q_bn.running_mean");
    sd.set("block.2.norm1.weight", { shape: [4], data: new Float32Array(4) });
    sd.set("extra", { shape: [], data: new Float32Array(1) });
    sd.set("head.weight", { shape: [3, 5], data: new Float32Array(15) });
    sd.set("patch_embed.proj_bn.num_batches_tracked", { shape: [], data: new Float32Array([0.5]) });
    const before = [...net.stateDict().values()].map((v) => Array.from(v.data as ArrayLike<number>));
    const msg = expectBitspikeError(() => net.loadStateDict(sd),
      /^loadStateDict: /,
      /missing keys \(2\): block\.1\.attn\.q_bn\.running_mean, head\.bias/,
      /unexpected keys \(2\): block\.2\.norm1\.weight, extra/,
      /head\.weight: shape \[3, 5\] in the state dict, \[3, 4\] in the module/,
      /patch_embed\.proj_bn\.num_batches_tracked: non-integer values for an int64 buffer/);
    expect(msg).toMatch(/mismatched \(2\)/);
    const after = [...net.stateDict().values()].map((v) => Array.from(v.data as ArrayLike<number>));
    expect(after).toEqual(before);
  });

  it("non-strict: reports missing/unexpected, loads the rest, still refuses shape mismatches", () => {
    const net = new Net(4, 1, 3, 1);
    const other = new Net(4, 1, 3, 2);
    const sd = toEntries(other.stateDict());
    sd.delete("head.bias");
    sd.set("zzz", { shape: [1], data: new Float32Array(1) });
    const r = net.loadStateDict(sd, { strict: false });
    expect(r).toEqual({ missing: ["head.bias"], unexpected: ["zzz"] });
    expect(net.head.weight.data).toEqual(other.head.weight.data);
    expect(net.head.bias!.data).not.toEqual(other.head.bias!.data);
    sd.set("head.weight", { shape: [4, 3], data: new Float32Array(12) });
    expectBitspikeError(() => net.loadStateDict(sd, { strict: false }), /head\.weight: shape \[4, 3\] in the state dict, \[3, 4\] in the module/);
    expectBitspikeError(() => net.loadStateDict({ "head.bias": { shape: [3], data: new BigInt64Array(3) } }, { strict: false }), /head\.bias: int64 values for a float tensor/);
  });

  it("copies in place (the module keeps its tensors) and accepts records, iterables and integer arrays for int64", () => {
    const bn = new BatchNorm1d(2);
    const w = bn.weight!;
    bn.loadStateDict({
      weight: { shape: [2], data: [3, 4] }, bias: Tensor.from([1, 2]),
      running_var: { shape: [2], data: new Float64Array([7, 8]) }, num_batches_tracked: { shape: [], data: new Int32Array([9]) },
    }, { strict: false });
    expect(bn.weight).toBe(w);
    expect(Array.from(w.data)).toEqual([3, 4]);
    expect(bn.numBatchesTracked!.item()).toBe(9n);
    expect(Array.from(bn.runningMean!.data)).toEqual([0, 0]);
    expectBitspikeError(() => bn.loadStateDict({ running_mean: new Float64Array([5, 6]) as never }, { strict: false }),
      /running_mean: expected a tensor \{shape, data\}/);
    bn.loadStateDict([["running_mean", Tensor.from([5, 6])]], { strict: false });
    expect(Array.from(bn.runningMean!.data)).toEqual([5, 6]);
  });

  it("round trip Module -> safetensors bytes -> parse -> load gives identical values", () => {
    fc.assert(fc.property(fc.integer(), fc.integer(), fc.integer({ min: 1, max: 3 }), (s1, s2, depth) => {
      const a = new Net(4, depth, 3, s1);
      a.loadStateDict({ "patch_embed.proj_bn.num_batches_tracked": Int64Buffer.scalar(123) }, { strict: false });
      a.blocks.at(0).getSubmodule("attn.q_bn").getBuffer("running_var")!.data[1] = 0.25;
      const bytes = serializeSafetensors(toEntries(a.stateDict()), { format: "pt" });
      const parsed = parseSafetensors(bytes);
      expect(parsed.tensors.get("patch_embed.proj_bn.num_batches_tracked")!.dtype).toBe("I64");
      const b = new Net(4, depth, 3, s2);
      expect(b.loadStateDict(parsed.tensors)).toEqual({ missing: [], unexpected: [] });
      const sa = a.stateDict();
      for (const [k, v] of b.stateDict()) expect(v.data).toEqual(sa.get(k)!.data);
    }), { numRuns: 15 });
  });

  it("a Tensor and an Int64Buffer serialize directly (dtype names float32/int64)", () => {
    const bn = new BatchNorm2d(3);
    const f = parseSafetensors(serializeSafetensors(bn.stateDict()));
    expect(f.tensors.get("running_var")).toEqual({ dtype: "F32", shape: [3], data: new Float32Array([1, 1, 1]) });
    expect(f.tensors.get("num_batches_tracked")).toEqual({ dtype: "I64", shape: [], data: new BigInt64Array([0n]) });
  });
});

describe("Module: modes, gradients, counts", () => {
  it("train/eval propagate to every descendant and return this", () => {
    const net = new Net(4, 2, 3, 1);
    expect([...net.modules()].every((m) => m.training)).toBe(true);
    expect(net.eval()).toBe(net);
    expect([...net.modules()].every((m) => !m.training)).toBe(true);
    net.blocks.train();
    expect(net.training).toBe(false);
    expect([...net.blocks.modules()].every((m) => m.training)).toBe(true);
    net.train();
    expect([...net.modules()].every((m) => m.training)).toBe(true);
  });

  it("numParameters counts trainable values only", () => {
    const d = 4, depth = 2, classes = 3;
    const net = new Net(d, depth, classes, 1);
    const perBlock = 2 * d + 2 * (d * d + d) + 2 * d;
    expect(net.numParameters()).toBe(3 * d * 9 + 2 * d + depth * perBlock + d * classes + classes);
    net.head.weight.requiresGrad = false;
    expect(net.numParameters()).toBe(3 * d * 9 + 2 * d + depth * perBlock + classes);
    const frozen = new Module();
    frozen.registerParameter("f", Tensor.zeros([5]), false);
    expect(frozen.numParameters()).toBe(0);
    expect([...frozen.parameters()].length).toBe(1);
  });

  it("backward reaches layer parameters; zeroGrad clears them; apply visits post-order", () => {
    const rng = new Rng(3);
    const seq = new Sequential(new Linear(3, 5, { rng }), new LayerNorm(5), new Identity(), new Linear(5, 2, { rng }));
    const y = seq.forward(Tensor.uniform([4, 3], rng, -1, 1));
    expect(y.shape).toEqual([4, 2]);
    backward(sum(y));
    expect([...seq.parameters()].every((p) => p.grad !== null && p.grad.shape.join() === p.shape.join())).toBe(true);
    seq.zeroGrad();
    expect([...seq.parameters()].every((p) => p.grad === null)).toBe(true);
    const order: string[] = [];
    seq.apply((m) => order.push(m.constructor.name));
    expect(order).toEqual(["Linear", "LayerNorm", "Identity", "Linear", "Sequential"]);
    expect([...seq.stateDict().keys()]).toEqual(["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"]);
  });

  it("zeroGrad gives the gradients' memory back: a loop that clears at the start of each step keeps no step's gradients", () => {
    const rng = new Rng(4);
    const lin = new Linear(64, 32, { rng });
    const x = Tensor.uniform([8, 64], rng, -1, 1);
    const step = () => {
      lin.zeroGrad();
      heapScope(() => backward(sum(lin.forward(x))), () => [lin.weight.grad?.data, lin.bias?.grad?.data]);
    };
    step();
    const live = heapStats().liveBytes;
    for (let i = 0; i < 5; i++) step();
    expect(heapStats().liveBytes).toBe(live);
    const held = lin.weight.grad!;
    lin.zeroGrad();
    expect(() => held.data).toThrow(/released by zeroGrad/);
  });
});

describe("layers", () => {
  it("Linear: shapes, PyTorch default init bounds, forward = linear op, no-bias option", () => {
    const rng = new Rng(7);
    const l = new Linear(16, 8, { rng });
    expect(l.weight.shape).toEqual([8, 16]);
    expect(l.bias!.shape).toEqual([8]);
    const bound = 1 / 4;
    expect(l.weight.data.every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(Math.max(...l.weight.data.map(Math.abs))).toBeGreaterThan(0.8 * bound);
    expect(l.bias!.data.every((v) => Math.abs(v) <= bound)).toBe(true);
    const x = Tensor.uniform([2, 3, 16], rng, -1, 1);
    expect(l.forward(x).data).toEqual(linear(x, l.weight, l.bias).data);
    const nb = new Linear(16, 8, { rng, bias: false });
    expect([...nb.stateDict().keys()]).toEqual(["weight"]);
    expect(nb.bias).toBeNull();
    // same seed, same weights
    expect(new Linear(16, 8, { rng: new Rng(7) }).weight.data).toEqual(l.weight.data);
    expectBitspikeError(() => new Linear(0, 2, { rng }), /Linear: inFeatures must be a positive integer, got 0/);
    expectBitspikeError(() => new Linear(2, 2, undefined as never), /Linear: opts\.rng/);
  });

  it("Conv2d/Conv1d: weight shapes with groups, bias option, forward = op", () => {
    const rng = new Rng(8);
    const c = new Conv2d(4, 6, [3, 1], { rng, stride: [2, 1], padding: 1, groups: 2 });
    expect(c.weight.shape).toEqual([6, 2, 3, 1]);
    const bound = 1 / Math.sqrt(2 * 3);
    expect(c.weight.data.every((v) => Math.abs(v) <= bound) && c.bias!.data.every((v) => Math.abs(v) <= bound)).toBe(true);
    const x = Tensor.uniform([2, 4, 5, 5], rng, -1, 1);
    expect(c.forward(x).data).toEqual(conv2d(x, c.weight, c.bias, { stride: [2, 1], padding: 1, groups: 2 }).data);
    const stem = new Conv2d(3, 8, 3, { rng, padding: 1, bias: false });
    expect([...stem.stateDict().keys()]).toEqual(["weight"]);
    expect(stem.forward(Tensor.zeros([1, 3, 4, 4])).shape).toEqual([1, 8, 4, 4]);
    const c1 = new Conv1d(6, 4, 1, { rng, bias: false });
    expect(c1.weight.shape).toEqual([4, 6, 1]);
    expect(c1.forward(Tensor.ones([2, 6, 5])).shape).toEqual([2, 4, 5]);
    expectBitspikeError(() => new Conv2d(3, 4, 3, { rng, groups: 2 }), /Conv2d: groups 2 must divide inChannels 3/);
    expectBitspikeError(() => new Conv2d(3, 4, 0, { rng }), /Conv2d: kernelSize must be an integer >= 1/);
    expectBitspikeError(() => new Conv1d(3, 4, 1, { rng, padding: -1 }), /Conv1d: padding must be an integer >= 0/);
  });

  it("MaxPool2d defaults stride to the kernel; Identity returns its input", () => {
    const x = Tensor.uniform([1, 2, 6, 6], new Rng(1), -1, 1);
    expect(new MaxPool2d(2).forward(x).data).toEqual(maxPool2d(x, { kernel: 2, stride: 2 }).data);
    expect(new MaxPool2d(3, { stride: 2, padding: 1 }).forward(x).shape).toEqual([1, 2, 3, 3]);
    expect(new Identity().forward(x)).toBe(x);
    expect([...new MaxPool2d(2).stateDict().keys()]).toEqual([]);
  });

  it("LayerNorm: weight 1 bias 0, forward = op, options", () => {
    const ln = new LayerNorm([2, 3], { eps: 1e-6 });
    expect(Array.from(ln.weight!.data)).toEqual([1, 1, 1, 1, 1, 1]);
    const x = Tensor.uniform([4, 2, 3], new Rng(2), -1, 1);
    expect(ln.forward(x).data).toEqual(layerNorm(x, [2, 3], ln.weight, ln.bias, 1e-6).data);
    expect([...new LayerNorm(3, { bias: false }).stateDict().keys()]).toEqual(["weight"]);
    expect([...new LayerNorm(3, { elementwiseAffine: false }).stateDict().keys()]).toEqual([]);
    expectBitspikeError(() => new LayerNorm([]), /LayerNorm: normalizedShape/);
  });
});

describe("BatchNorm layers", () => {
  it("num_batches_tracked increments in training forward only; running stats move with momentum 0.1", () => {
    const bn = new BatchNorm2d(2);
    expect([...bn.stateDict().keys()]).toEqual(["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    const x = Tensor.from([1, 3, 5, 7, 10, 10, 10, 10], [2, 2, 1, 2]); // channel 0: 1,3,10,10; channel 1: 5,7,10,10
    bn.forward(x);
    bn.forward(x);
    expect(bn.numBatchesTracked!.item()).toBe(2n);
    const m0 = 6, m1 = 8;
    expect(bn.runningMean!.data[0]).toBeCloseTo(m0 * (1 - 0.9 ** 2), 5);
    expect(bn.runningMean!.data[1]).toBeCloseTo(m1 * (1 - 0.9 ** 2), 5);
    bn.eval();
    const y = bn.forward(x);
    expect(bn.numBatchesTracked!.item()).toBe(2n);
    const rm = bn.runningMean!.data[0]!, rv = bn.runningVar!.data[0]!;
    expect(y.data[0]).toBeCloseTo((1 - rm) / Math.sqrt(rv + 1e-5), 4);
  });

  it("momentum null is a cumulative average; trackRunningStats false has no buffers and uses batch stats", () => {
    const bn = new BatchNorm1d(1, { momentum: null });
    bn.forward(Tensor.from([[0], [2]]));
    bn.forward(Tensor.from([[4], [6]]));
    expect(bn.runningMean!.data[0]).toBeCloseTo(3, 6);
    // reset_running_stats(), then (momentum settable) one batch's statistics exactly.
    bn.resetRunningStats();
    expect([bn.runningMean!.data[0], bn.runningVar!.data[0], bn.numBatchesTracked!.item()]).toEqual([0, 1, 0n]);
    bn.momentum = 0.5;
    bn.forward(Tensor.from([[4], [6]]));
    expect([bn.runningMean!.data[0], bn.runningVar!.data[0]]).toEqual([2.5, 1.5]);
    const free = new BatchNorm1d(1, { trackRunningStats: false, affine: false });
    expect([...free.stateDict().keys()]).toEqual([]);
    free.eval();
    const y = free.forward(Tensor.from([[0], [2]]));
    expect(y.data[0]).toBeCloseTo(-1 / Math.sqrt(1 + 1e-5), 5);
  });

  it("refuses wrong ranks and channel counts", () => {
    expectBitspikeError(() => new BatchNorm2d(2).forward(Tensor.zeros([2, 2, 3])), /BatchNorm2d: input must be \[N, C, H, W\], got \[2, 2, 3\]/);
    expectBitspikeError(() => new BatchNorm1d(2).forward(Tensor.zeros([2, 3])), /BatchNorm1d: expected 2 channels \(axis 1\), got input \[2, 3\]/);
    expectBitspikeError(() => new BatchNorm1d(0), /numFeatures must be a positive integer/);
    expectBitspikeError(() => new BatchNorm1d(2, { momentum: 2 }), /momentum must be in \[0, 1\]/);
  });
});

describe("init", () => {
  it("truncNormal_: absolute bounds respected, std close, seeded", () => {
    const t = Tensor.zeros([20000]);
    truncNormal_(t, new Rng(5), 0.02);
    let s = 0, s2 = 0;
    for (const v of t.data) { s += v; s2 += v * v; }
    const mean = s / t.size, std = Math.sqrt(s2 / t.size - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.001);
    expect(std).toBeGreaterThan(0.019);
    expect(std).toBeLessThan(0.021);
    fc.assert(fc.property(fc.integer(), fc.double({ min: -0.03, max: 0.01, noNaN: true }), fc.double({ min: 0.001, max: 0.05, noNaN: true }), (seed, a, w) => {
      const u = truncNormal_(Tensor.zeros([200], "float64"), new Rng(seed), 0.02, a, a + w);
      expect(u.data.every((v) => v >= a && v <= a + w)).toBe(true);
    }), { numRuns: 50 });
    expect(truncNormal_(Tensor.zeros([5]), new Rng(1)).data).toEqual(truncNormal_(Tensor.zeros([5]), new Rng(1)).data);
    expectBitspikeError(() => truncNormal_(Tensor.zeros([1]), new Rng(1), 0.02, 5, 6), /truncNormal_: \[5, 6\] holds almost none/);
    expectBitspikeError(() => truncNormal_(Tensor.zeros([1]), new Rng(1), 0.02, 1, -1), /needs a < b/);
    expectBitspikeError(() => truncNormal_(Tensor.zeros([1]), new Rng(1), 0), /std must be/);
  });

  it("kaimingUniform_ and defaultBias_ use PyTorch's fan-in bounds", () => {
    expect(fanIn([8, 3, 3, 3])).toBe(27);
    expect(fanIn([5, 7])).toBe(7);
    expectBitspikeError(() => fanIn([4]), /fanIn: .*rank >= 2, got \[4\]/);
    const w = kaimingUniform_(Tensor.zeros([64, 3, 3, 3]), new Rng(1));
    const bound = 1 / Math.sqrt(27);
    expect(w.data.every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(Math.max(...w.data.map(Math.abs))).toBeGreaterThan(0.95 * bound);
    const relu = kaimingUniform_(Tensor.zeros([64, 27]), new Rng(1), 0);
    expect(Math.max(...relu.data.map(Math.abs))).toBeGreaterThan(0.95 * Math.sqrt(6 / 27));
    expect(relu.data.every((v) => Math.abs(v) <= Math.sqrt(6 / 27))).toBe(true);
    const b = defaultBias_(Tensor.zeros([100]), [100, 4], new Rng(2));
    expect(b.data.every((v) => Math.abs(v) <= 0.5) && Math.max(...b.data.map(Math.abs)) > 0.4).toBe(true);
    expect(kaimingUniform_(Tensor.zeros([0, 3]), new Rng(1)).size).toBe(0);
  });

  it("zeros_, ones_, constant_, uniform_, normal_", () => {
    const t = Tensor.full([3], 7);
    expect(Array.from(zeros_(t).data)).toEqual([0, 0, 0]);
    expect(Array.from(ones_(t).data)).toEqual([1, 1, 1]);
    expect(Array.from(constant_(t, 2.5).data)).toEqual([2.5, 2.5, 2.5]);
    expect(uniform_(Tensor.zeros([50]), new Rng(1), 2, 3).data.every((v) => v >= 2 && v < 3)).toBe(true);
    expect(normal_(Tensor.zeros([3]), new Rng(4), 0, 0).data).toEqual(new Float32Array(3));
    expectBitspikeError(() => uniform_(t, new Rng(1), 1, 0), /uniform_: needs low <= high/);
    expectBitspikeError(() => normal_(t, new Rng(1), 0, -1), /normal_: std must be >= 0/);
  });
});
