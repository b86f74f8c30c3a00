import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { AdamW, SGD, paramGroupsWithDecayExclusions, type Optimizer } from "../../src/train/optim.js";
import { clipGradNorm } from "../../src/train/clip.js";
import { layerDecayScales, layerIdOf } from "../../src/train/schedule.js";
import { expectBitspikeError } from "../helpers/errors.js";

const leaf = (values: number[], shape: number[] = [values.length], dtype: "float32" | "float64" = "float64"): Tensor =>
  Tensor.from(values, shape, dtype).requireGrad();
const setGrad = (p: Tensor, values: number[]): void => {
  p.grad = Tensor.from(values, [...p.shape], p.dtype);
};
/** Runs `opt.step()` once per gradient list for a single scalar-ish param, returning the values after each step. */
function run(opt: Optimizer, p: Tensor, grads: number[]): number[] {
  const out: number[] = [];
  for (const g of grads) {
    setGrad(p, [g]);
    opt.step();
    out.push(p.data[0]!);
  }
  return out;
}

describe("SGD, hand-computed updates (PyTorch semantics)", () => {
  it("plain SGD with coupled weight decay", () => {
    const p = leaf([1, -2]);
    const opt = new SGD([p], { lr: 0.1, weightDecay: 0.5 });
    setGrad(p, [0.3, 0.4]);
    opt.step();
    // p - lr (g + wd p)
    expect(p.data[0]).toBeCloseTo(1 - 0.1 * (0.3 + 0.5), 15);
    expect(p.data[1]).toBeCloseTo(-2 - 0.1 * (0.4 - 1), 15);
  });

  it("momentum 0.9 with weight decay 0.1 over two steps", () => {
    const p = leaf([1]);
    const vals = run(new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.1 }), p, [0.5, -1]);
    // step 1: d = 0.6, buf = 0.6, p = 0.94; step 2: d = -1 + 0.094, buf = 0.54 - 0.906 = -0.366, p = 0.94 + 0.0366
    expect(vals[0]).toBeCloseTo(0.94, 14);
    expect(vals[1]).toBeCloseTo(0.9766, 14);
  });

  it("Nesterov momentum over two steps", () => {
    const p = leaf([1]);
    const vals = run(new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1 }), p, [0.5, -1]);
    // step 1: d = 0.6, buf = 0.6, update 0.6 + 0.54 = 1.14 -> 0.886
    // step 2: d = -1 + 0.0886 = -0.9114, buf = 0.54 - 0.9114 = -0.3714, update -0.9114 - 0.33426 -> 1.010566
    expect(vals[0]).toBeCloseTo(0.886, 14);
    expect(vals[1]).toBeCloseTo(1.010566, 14);
  });

  it("dampening applies from the second step on (the buffer starts undamped)", () => {
    const p = leaf([1]);
    const vals = run(new SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.5 }), p, [0.5, 1]);
    expect(vals[0]).toBeCloseTo(0.95, 14);
    expect(vals[1]).toBeCloseTo(0.95 - 0.1 * (0.9 * 0.5 + 0.5 * 1), 14);
  });

  it("skips params without a gradient and keeps their momentum untouched", () => {
    const a = leaf([1]);
    const b = leaf([2]);
    const opt = new SGD([a, b], { lr: 0.1, momentum: 0.9 });
    setGrad(a, [1]);
    opt.step();
    expect(a.data[0]).toBeCloseTo(0.9, 15);
    expect(b.data[0]).toBe(2);
    const st = opt.stateDict();
    expect(st.json.params.map((q) => q.step)).toEqual([1, 0]);
    expect([...st.tensors.keys()]).toEqual(["0.momentum_buffer"]);
  });

  it("rejects invalid hyper-parameters", () => {
    const p = leaf([1]);
    expectBitspikeError(() => new SGD([p], { lr: 0.1, nesterov: true }), "SGD", /Nesterov.*momentum 0/);
    expectBitspikeError(() => new SGD([p], { lr: -1 }), "SGD", /lr must be .* got -1/);
    expectBitspikeError(() => new SGD([{ params: [p] }, { params: [p] }], { lr: 0.1 }), "SGD", /more than one group/);
  });
});

describe("AdamW, hand-computed updates (PyTorch semantics)", () => {
  it("two steps with decoupled decay and bias correction", () => {
    const p = leaf([1]);
    const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.1 });
    const [s1, s2] = run(opt, p, [0.5, -1]);
    // step 1: p = 1 * (1 - 0.01); m = 0.05, v = 0.00025; m/(1-0.9) = 0.5 ... update = 0.1/0.1 * 0.05 / (sqrt(0.00025)/sqrt(0.001) + 1e-8)
    const p1 = 0.99 - (0.1 / 0.1) * (0.05 / (Math.sqrt(0.00025) / Math.sqrt(0.001) + 1e-8));
    expect(s1).toBeCloseTo(p1, 14);
    expect(s1).toBeCloseTo(0.89, 7);
    // step 2: m = 0.045 - 0.1 = -0.055, v = 0.999 * 0.00025 + 0.001 = 0.00124975
    const p2 = p1 * 0.99 - (0.1 / (1 - 0.81)) * (-0.055 / (Math.sqrt(0.00124975) / Math.sqrt(1 - 0.998001) + 1e-8));
    expect(s2).toBeCloseTo(p2, 13);
  });

  it("float32 parameters get float32 moments and stay within float32 rounding of the float64 run", () => {
    const p64 = leaf([0.3, -0.7, 1.2]);
    const p32 = leaf([0.3, -0.7, 1.2], [3], "float32");
    const o64 = new AdamW([p64], { lr: 1e-2 });
    const o32 = new AdamW([p32], { lr: 1e-2 });
    const rng = new Rng(3);
    for (let s = 0; s < 3; s++) {
      const g = [rng.normal(), rng.normal(), rng.normal()];
      setGrad(p64, g);
      setGrad(p32, g);
      o64.step();
      o32.step();
    }
    for (let i = 0; i < 3; i++) expect(Math.abs(p32.data[i]! - p64.data[i]!)).toBeLessThan(1e-6);
    expect(o32.stateDict().tensors.get("0.exp_avg")).toBeInstanceOf(Float32Array);
    expect(o64.stateDict().tensors.get("0.exp_avg")).toBeInstanceOf(Float64Array);
  });

  it("decay exclusions: no decay on biases, 1-D params and scalars (timm rule), over three steps", () => {
    const named: [string, Tensor][] = [
      ["block.0.fc1_linear.weight", leaf([1, 2, 3, 4], [2, 2])],
      ["block.0.fc1_linear.bias", leaf([1, 1], [2])],
      ["block.0.fc1_bn.weight", leaf([2, 2], [2])],
      ["block.0.lif.w", leaf([0.5], [])],
      ["head.weight", leaf([1, -1, 1], [1, 3])],
      ["frozen.weight", Tensor.from([1, 1], [1, 2], "float64")],
    ];
    const groups = paramGroupsWithDecayExclusions(named, { lr: 0.1, weightDecay: 0.1 });
    expect(groups.map((g) => [g.name, g.weightDecay, g.paramNames])).toEqual([
      ["decay", 0.1, ["block.0.fc1_linear.weight", "head.weight"]],
      ["no_decay", 0, ["block.0.fc1_linear.bias", "block.0.fc1_bn.weight", "block.0.lif.w"]],
    ]);
    const opt = new AdamW(groups, { lr: 0.1 });
    const before = named.map(([, p]) => Array.from(p.data));
    for (let s = 0; s < 3; s++) {
      for (const [n, p] of named) if (n !== "frozen.weight") p.grad = Tensor.zeros(p.shape, "float64");
      opt.step();
    }
    // zero gradients: Adam's part is 0 / (0 + eps) = 0, so only the decoupled decay moves params
    named.forEach(([n, p], i) => {
      const factor = n.endsWith("fc1_linear.weight") || n === "head.weight" ? 0.99 ** 3 : 1;
      Array.from(p.data).forEach((v, k) => expect(v).toBeCloseTo(before[i]![k]! * factor, 14));
    });
  });

  it("noWeightDecay names and layer scales make separate groups", () => {
    const named: [string, Tensor][] = [
      ["patch_embed.proj_conv.weight", leaf([1, 1, 1, 1], [1, 1, 2, 2])],
      ["pos_embed", leaf([1, 1], [1, 2])],
      ["block.0.attn.q_linear.weight", leaf([1], [1, 1])],
      ["block.1.attn.q_linear.weight", leaf([1], [1, 1])],
      ["block.1.attn.q_linear.bias", leaf([1], [1])],
      ["head.weight", leaf([1], [1, 1])],
    ];
    const scales = layerDecayScales(2, 0.5);
    const groups = paramGroupsWithDecayExclusions(named, {
      lr: 1,
      weightDecay: 0.05,
      noWeightDecay: ["pos_embed"],
      layerScale: (n) => scales[layerIdOf(n, 2)]!,
    });
    expect(groups.map((g) => [g.lrScale, g.weightDecay, g.paramNames!.length])).toEqual([
      [0.125, 0.05, 1],
      [0.125, 0, 1],
      [0.25, 0.05, 1],
      [0.5, 0.05, 1],
      [0.5, 0, 1],
      [1, 0.05, 1],
    ]);
    const opt = new SGD(groups, { lr: 1 });
    opt.setLr(0.4);
    expect(groups.map((_, i) => opt.groupLr(i))).toEqual([0.05, 0.05, 0.1, 0.2, 0.2, 0.4]);
  });

  it("setLr applies lrScale to the update", () => {
    const a = leaf([1]);
    const b = leaf([1]);
    const opt = new SGD([{ params: [a] }, { params: [b], lrScale: 0.25 }], { lr: 1 });
    opt.setLr(0.2);
    setGrad(a, [1]);
    setGrad(b, [1]);
    opt.step();
    expect(a.data[0]).toBeCloseTo(0.8, 15);
    expect(b.data[0]).toBeCloseTo(0.95, 15);
  });
});

describe("optimizer state export / import", () => {
  for (const make of [
    (ps: Tensor[]) => new AdamW([{ params: [ps[0]!] }, { params: [ps[1]!], weightDecay: 0, lrScale: 0.5 }], { lr: 1e-2, weightDecay: 0.05 }),
    (ps: Tensor[]) => new SGD([{ params: [ps[0]!] }, { params: [ps[1]!], lrScale: 0.5 }], { lr: 1e-2, momentum: 0.9, nesterov: true }),
  ]) {
    it(`${make([leaf([0]), leaf([0])]).constructor.name}: resuming from the exported state is bit-identical`, () => {
      fc.assert(
        fc.property(fc.integer(), fc.integer({ min: 0, max: 3 }), (seed, k) => {
          const rng = new Rng(seed);
          const ps = [leaf([rng.normal(), rng.normal(), rng.normal()], [3], "float32"), leaf([rng.normal()], [1], "float32")];
          const opt = make(ps);
          const grads = Array.from({ length: k + 2 }, () => [[rng.normal(), rng.normal(), rng.normal()], [rng.normal()]]);
          const stepWith = (o: Optimizer, qs: Tensor[], g: number[][]): void => {
            qs.forEach((q, i) => setGrad(q, g[i]!));
            o.step();
          };
          for (let s = 0; s < k; s++) stepWith(opt, ps, grads[s]!);
          const saved = opt.stateDict();
          // through JSON, as a checkpoint would store it
          const json = JSON.parse(JSON.stringify(saved.json)) as typeof saved.json;
          const qs = ps.map((p) => p.clone().requireGrad());
          const opt2 = make(qs);
          opt2.loadStateDict({ json, tensors: saved.tensors });
          for (let s = k; s < k + 2; s++) {
            stepWith(opt, ps, grads[s]!);
            stepWith(opt2, qs, grads[s]!);
          }
          ps.forEach((p, i) => expect(Array.from(qs[i]!.data)).toEqual(Array.from(p.data)));
        }),
        { numRuns: 20 },
      );
    });
  }

  it("refuses a state of another layout, type or buffer size", () => {
    const a = leaf([1, 2]);
    const opt = new AdamW([a], { lr: 0.1 });
    setGrad(a, [1, 1]);
    opt.step();
    const st = opt.stateDict();
    expectBitspikeError(() => new SGD([a], { lr: 0.1 }).loadStateDict(st), "SGD.loadStateDict", /state is for AdamW/);
    expectBitspikeError(() => new AdamW([{ params: [a] }, { params: [leaf([1])] }], { lr: 0.1 }).loadStateDict(st), "AdamW.loadStateDict", /1 groups, optimizer has 2/);
    expectBitspikeError(() => new AdamW([leaf([1, 2, 3])], { lr: 0.1 }).loadStateDict(st), "AdamW.loadStateDict", /'0.exp_avg' has 2 elements, the parameter has 3/);
    const missing = { json: st.json, tensors: new Map() };
    expectBitspikeError(() => new AdamW([leaf([1, 2])], { lr: 0.1 }).loadStateDict(missing), "AdamW.loadStateDict", /missing buffer '0.exp_avg'/);
  });
});

describe("clipGradNorm", () => {
  it("returns the global norm and scales only when above maxNorm", () => {
    const a = leaf([0, 0]);
    const b = leaf([0]);
    const c = leaf([5]); // no grad: ignored
    setGrad(a, [3, 4]);
    setGrad(b, [12]);
    expect(clipGradNorm([a, b, c], 20)).toBeCloseTo(13, 14);
    expect(Array.from(a.grad!.data)).toEqual([3, 4]);
    expect(clipGradNorm([a, b, c], 6.5)).toBeCloseTo(13, 14);
    const k = 6.5 / (13 + 1e-6);
    expect(a.grad!.data[0]).toBeCloseTo(3 * k, 14);
    expect(b.grad!.data[0]).toBeCloseTo(12 * k, 14);
    expect(clipGradNorm([a, b], 100)).toBeCloseTo(6.5, 5);
  });

  it("property: after clipping the norm is at most maxNorm", () => {
    fc.assert(
      fc.property(fc.integer(), fc.double({ min: 0.01, max: 10, noNaN: true }), (seed, maxNorm) => {
        const rng = new Rng(seed);
        const ps = [Tensor.normal([4], rng, 0, 3, "float64"), Tensor.normal([2, 3], rng, 0, 3, "float64")];
        for (const p of ps) p.grad = Tensor.normal(p.shape, rng, 0, 3, "float64");
        const before = clipGradNorm(ps, 1e9);
        const ret = clipGradNorm(ps, maxNorm);
        expect(ret).toBe(before);
        expect(clipGradNorm(ps, 1e9)).toBeLessThanOrEqual(Math.min(before, maxNorm) * (1 + 1e-12));
      }),
      { numRuns: 50 },
    );
  });

  it("leaves gradients alone when the norm is not finite, and rejects a bad maxNorm", () => {
    const a = leaf([0, 0]);
    setGrad(a, [NaN, 1]);
    expect(clipGradNorm([a], 1)).toBeNaN();
    expect(a.grad!.data[1]).toBe(1);
    expectBitspikeError(() => clipGradNorm([a], 0), "clipGradNorm", /maxNorm must be .* got 0/);
  });
});
