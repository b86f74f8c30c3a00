import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor, type DType } from "../../src/tensor/tensor.js";
import { Spikes } from "../../src/tensor/spikes.js";
import { Rng } from "../../src/tensor/random.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { backward } from "../../src/autograd/tape.js";
import { add, div, mul, sigmoid, sub } from "../../src/ops/elementwise.js";
import { reshape, slice, stack } from "../../src/ops/shape.js";
import { spikesToFloat } from "../../src/ops/spike/cast.js";
import { heaviside } from "../../src/ops/spike/heaviside.js";
import { iand } from "../../src/ops/spike/iand.js";
import { multiStepNeuron, multiStepNeuronTrace, type NeuronOptions } from "../../src/ops/spike/neuron.js";
import { atanSurrogate, customSurrogate, sigmoidSurrogate } from "../../src/ops/spike/surrogate.js";

/**
 * The neuron built from taped elementwise ops, one step at a time, exactly as
 * REFERENCE section 1 writes it. Returns the 0/1 float spikes [T, ...] and H.
 */
/** Marks spikes as a leaf that collects gradients. */
function leaf(s: Spikes): Spikes {
  s.requiresGrad = true;
  return s;
}

function unfused(x: Tensor, o: NeuronOptions): { s: Tensor; h: Tensor } {
  const steps = x.shape[0]!;
  const feat = x.shape.slice(1);
  const vr = o.vReset === undefined ? 0 : o.vReset;
  const rest = vr === null ? 0 : vr;
  const vth = o.vThreshold ?? 1;
  const sg = o.surrogate ?? sigmoidSurrogate(4);
  const decay = o.decayInput ?? true;
  const k = o.kind === "plif" ? sigmoid(o.plifW!) : null;
  const leak = (d: Tensor): Tensor => (o.kind === "lif" ? div(d, o.tau ?? 2) : mul(d, k!));
  let v = Tensor.full(feat, rest, x.dtype);
  const ss: Tensor[] = [];
  const hs: Tensor[] = [];
  for (let t = 0; t < steps; t++) {
    const xt = reshape(slice(x, 0, t, t + 1), feat);
    let h: Tensor;
    if (o.kind === "if") h = add(v, xt);
    else if (decay) h = add(v, leak(sub(xt, sub(v, rest))));
    else h = add(sub(v, leak(sub(v, rest))), xt);
    const s = heaviside(sub(h, vth), sg);
    const sr = o.detachReset ? s.detach() : s;
    v = vr === null ? sub(h, mul(sr, vth)) : add(mul(h, sub(1, sr)), mul(sr, rest));
    ss.push(s);
    hs.push(h);
  }
  return { s: stack(ss, 0), h: stack(hs, 0).detach() };
}

const arbOptions = fc.record({
  kind: fc.constantFrom("lif" as const, "if" as const, "plif" as const),
  tau: fc.constantFrom(2, 1.5, 3, 4.25),
  vThreshold: fc.constantFrom(1, 0.5, 0.75, 1.3),
  vReset: fc.constantFrom(0, null, -0.25, 0.2),
  detachReset: fc.boolean(),
  decayInput: fc.boolean(),
  surrogate: fc.constantFrom("sigmoid", "atan"),
  w: fc.double({ min: -2, max: 2, noNaN: true }),
  wShape: fc.constantFrom<number[][]>([], [1]),
});
type ArbOpts = typeof arbOptions extends fc.Arbitrary<infer U> ? U : never;

const arbNeuronShape = fc
  .tuple(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }), fc.integer({ min: 1, max: 40 }))
  .map(([steps, mid, last]) => [steps, ...mid, last]);

function makeOptions(a: ArbOpts, dtype: DType): NeuronOptions {
  const o: NeuronOptions = {
    kind: a.kind,
    tau: a.tau,
    vThreshold: a.vThreshold,
    vReset: a.vReset,
    detachReset: a.detachReset,
    decayInput: a.decayInput,
    surrogate: a.surrogate === "sigmoid" ? sigmoidSurrogate(4) : atanSurrogate(2),
  };
  if (a.kind === "plif") o.plifW = Tensor.from([a.w], a.wShape, dtype).requireGrad();
  return o;
}

function relClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - b[i]!);
    if (err > 1e-9 + 1e-6 * Math.abs(b[i]!)) expect.fail(`${what}[${i}]: fused ${a[i]} vs unfused ${b[i]}`);
  }
}

describe("fused multi-step neuron = unfused composition of elementwise ops", () => {
  it("float64: spikes bit-equal, gradients of x and PLIF w within 1e-6 relative (all kinds, resets, detach, decayInput, T 1..8)", () => {
    fc.assert(
      fc.property(arbNeuronShape, arbOptions, fc.integer(), (shape, a, seed) => {
        const rng = new Rng(seed);
        const x = Tensor.uniform(shape, rng, -1, 2.5, "float64").requireGrad();
        const g = Tensor.uniform(shape, rng, -1, 1, "float64");
        const o = makeOptions(a, "float64");
        const fused = multiStepNeuron(x, o);
        expect(fused).toBeInstanceOf(Spikes);
        expect(fused.shape).toEqual(shape);
        backward(fused, g);
        const gx = x.grad!.data.slice();
        const gw = o.plifW ? o.plifW.grad!.data.slice() : null;
        x.grad = null;
        if (o.plifW) o.plifW.grad = null;
        const ref = unfused(x, o);
        expect(Array.from(fused.toFloat("float64").data)).toEqual(Array.from(ref.s.data));
        backward(ref.s, g);
        relClose(gx, x.grad!.data, "dL/dx");
        if (gw) {
          expect(o.plifW!.grad!.shape).toEqual(o.plifW!.shape);
          relClose(gw, o.plifW!.grad!.data, "dL/dw");
        }
      }),
      { numRuns: 150 },
    );
  });

  it("float32: spikes and H bit-equal to the op-by-op float32 evaluation", () => {
    fc.assert(
      fc.property(arbNeuronShape, arbOptions, fc.integer(), (shape, a, seed) => {
        const rng = new Rng(seed);
        const x = Tensor.uniform(shape, rng, -1, 2.5, "float32");
        const o = makeOptions(a, "float32");
        const tr = multiStepNeuronTrace(x, o);
        const ref = unfused(x, o);
        expect(tr.h.dtype).toBe("float32");
        expect(Array.from(tr.h.data)).toEqual(Array.from(ref.h.data));
        expect(Array.from(tr.spikes.toFloat().data)).toEqual(Array.from(ref.s.data));
      }),
      { numRuns: 150 },
    );
  });

  it("is one autograd node whose inputs are x (and w for PLIF)", () => {
    const x = Tensor.uniform([3, 2, 5], new Rng(1), 0, 2, "float64").requireGrad();
    const s = multiStepNeuron(x, { kind: "lif" });
    expect(s.node!.op).toBe("multiStepNeuron");
    expect(s.node!.inputs).toEqual([x]);
    const w = Tensor.scalar(0.3, "float64").requireGrad();
    const p = multiStepNeuron(x, { kind: "plif", plifW: w });
    expect(p.node!.inputs.length).toBe(2);
    expect(p.node!.inputs[1]).toBe(w);
    // nothing needs a gradient: no node, no saved H
    expect(multiStepNeuron(x.detach(), { kind: "lif" }).node).toBeNull();
  });

  it("only a PLIF w that requires grad gets one; x need not require grad", () => {
    const x = Tensor.uniform([4, 33], new Rng(2), 0, 2, "float64");
    const w = Tensor.scalar(-0.5, "float64").requireGrad();
    const s = multiStepNeuron(x, { kind: "plif", plifW: w, decayInput: false });
    backward(s, Tensor.ones([4, 33], "float64"));
    expect(x.grad).toBeNull();
    expect(w.grad!.shape).toEqual([]);
    expect(Number.isFinite(w.grad!.item())).toBe(true);
    expect(w.grad!.item()).not.toBe(0);
  });
});

describe("hand-computed LIF (tau 2, v_th 1)", () => {
  // x [T=4, 2]: neuron 0 gets 2, 1, 2, 0.5; neuron 1 gets 3, 0, -1, 4.
  const x = Tensor.from([[2, 3], [1, 0], [2, -1], [0.5, 4]]);

  it("hard reset to 0: spikes, H and the final membrane (H = v_th fires: >=)", () => {
    const tr = multiStepNeuronTrace(x, { kind: "lif", tau: 2 });
    expect(tr.spikes.toFloat().toArray()).toEqual([[1, 1], [0, 0], [1, 0], [0, 1]]);
    expect(tr.h.toArray()).toEqual([[1, 1.5], [0.5, 0], [1.25, -0.5], [0.25, 1.75]]);
    expect(tr.v.toArray()).toEqual([0.25, 0]);
  });

  it("soft reset: the threshold is subtracted", () => {
    const tr = multiStepNeuronTrace(x, { kind: "lif", tau: 2, vReset: null });
    expect(tr.spikes.toFloat().toArray()).toEqual([[1, 1], [0, 0], [1, 0], [0, 1]]);
    expect(tr.h.toArray()).toEqual([[1, 1.5], [0.5, 0.25], [1.25, -0.375], [0.375, 1.8125]]);
    expect(tr.v.toArray()).toEqual([0.375, 0.8125]);
  });

  it("IF integrates without leak; v_th 0.5 as in Spikformer's attention LIF", () => {
    const tr = multiStepNeuronTrace(Tensor.from([[0.25], [0.25], [0.25], [0.25]]), { kind: "if", vThreshold: 0.5 });
    expect(tr.spikes.toFloat().toArray()).toEqual([[0], [1], [0], [1]]);
    expect(tr.h.toArray()).toEqual([[0.25], [0.5], [0.25], [0.5]]);
  });

  it("hand-computed BPTT, T = 2, hard reset, detachReset, sigmoid(4)", () => {
    // x = [2, 0.5]: H0 = 1 (fires), V0 = 0, H1 = 0.25 (silent). gS = [1, 1].
    const xt = Tensor.from([[2], [0.5]], undefined, "float64").requireGrad();
    const s = multiStepNeuron(xt, { kind: "lif", detachReset: true });
    backward(s, Tensor.ones([2, 1], "float64"));
    const sg = sigmoidSurrogate(4).derivative;
    const gH1 = sg(0.25 - 1);
    const gH0 = sg(0) + gH1 * 0.5 * (1 - 1); // dV0/dH0 = 1 - S0 = 0
    expect(xt.grad!.data[1]).toBeCloseTo(gH1 / 2, 15);
    expect(xt.grad!.data[0]).toBeCloseTo(gH0 / 2, 15);
  });
});

describe("state", () => {
  it("nothing leaks between calls: the membrane starts at v_reset every time", () => {
    const rng = new Rng(7);
    const a = Tensor.uniform([5, 3, 37], rng, 0, 3);
    const b = Tensor.uniform([5, 3, 37], rng, 0, 3);
    for (const o of [{ kind: "lif" as const }, { kind: "if" as const, vReset: null }, { kind: "lif" as const, vReset: -0.5 }]) {
      const first = multiStepNeuron(a, o).words.slice();
      multiStepNeuron(b, o);
      expect(multiStepNeuron(a, o).words).toEqual(first);
      // and a T-step run starts like a 1-step run of its first step
      const one = multiStepNeuron(slice(a, 0, 0, 1), o);
      expect(one.words).toEqual(first.subarray(0, one.words.length));
    }
  });
});

describe("errors name the op and what it got", () => {
  const x = Tensor.zeros([2, 3]);
  const bad: [string, () => unknown, RegExp][] = [
    ["rank 0", () => multiStepNeuron(Tensor.scalar(1), { kind: "lif" }), /multiStepNeuron: .*rank >= 2.*\[\]/],
    ["rank 1", () => multiStepNeuron(Tensor.zeros([4]), { kind: "lif" }), /multiStepNeuron: .*\[4\]/],
    ["tau 1", () => multiStepNeuron(x, { kind: "lif", tau: 1 }), /tau must be a finite number > 1, got 1/],
    ["tau 0.5", () => multiStepNeuron(x, { kind: "lif", tau: 0.5 }), /tau .* got 0.5/],
    ["tau NaN", () => multiStepNeuron(x, { kind: "lif", tau: NaN }), /tau .* got NaN/],
    ["bad kind", () => multiStepNeuron(x, { kind: "alif" as "lif" }), /kind must be/],
    ["vThreshold", () => multiStepNeuron(x, { kind: "if", vThreshold: Infinity }), /vThreshold must be a finite number, got Infinity/],
    ["vReset", () => multiStepNeuron(x, { kind: "if", vReset: NaN }), /vReset must be a finite number or null/],
    ["plif without w", () => multiStepNeuron(x, { kind: "plif" }), /plif" needs plifW/],
    ["plifW not scalar", () => multiStepNeuron(x, { kind: "plif", plifW: Tensor.zeros([2]) }), /plifW must hold one element .*\[2\]/],
    ["plifW dtype", () => multiStepNeuron(x, { kind: "plif", plifW: Tensor.scalar(0, "float64") }), /float32 but plifW is float64/],
    ["plifW on lif", () => multiStepNeuron(x, { kind: "lif", plifW: Tensor.scalar(0) }), /plifW is only for kind "plif"/],
  ];
  for (const [name, f, re] of bad) {
    it(name, () => {
      expect(f).toThrow(BitspikeError);
      expect(f).toThrow(re);
    });
  }
});

describe("iand(a, s) = (1 - a) * s", () => {
  const arbSpikeShape = fc
    .tuple(fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }), fc.integer({ min: 1, max: 70 }))
    .map(([lead, last]) => [...lead, last]);

  it("values and gradients equal the float formula (1 - a) * s, whose ops are gradchecked", () => {
    fc.assert(
      fc.property(arbSpikeShape, fc.integer(), (shape, seed) => {
        const rng = new Rng(seed);
        const bits = (): Spikes => {
          const t = Tensor.uniform(shape, rng, 0, 1, "float64");
          return leaf(Spikes.fromValues(Array.from(t.data, (v) => (v < 0.5 ? 1 : 0)), shape, "float64"));
        };
        const a = bits();
        const s = bits();
        const g = Tensor.uniform(shape, rng, -1, 1, "float64");
        const out = iand(a, s);
        const af = a.toFloat();
        const sf = s.toFloat();
        const expected = mul(sub(1, af), sf);
        expect(Array.from(out.toFloat().data)).toEqual(Array.from(expected.data));
        backward(out, g);
        for (let i = 0; i < g.size; i++) {
          expect(a.grad!.data[i]).toBe(sf.data[i] ? -g.data[i]! : 0);
          expect(s.grad!.data[i]).toBe(af.data[i] ? 0 : g.data[i]!);
        }
        // the same through the differentiable float composition
        const a2 = leaf(a.detach());
        const s2 = leaf(s.detach());
        backward(mul(sub(1, spikesToFloat(a2)), spikesToFloat(s2)), g);
        expect(Array.from(a2.grad!.data, (v) => v + 0)).toEqual(Array.from(a.grad!.data, (v) => v + 0));
        expect(Array.from(s2.grad!.data, (v) => v + 0)).toEqual(Array.from(s.grad!.data, (v) => v + 0));
      }),
      { numRuns: 60 },
    );
  });

  it("gradient reaches only the operand that requires it", () => {
    const a = Spikes.fromValues([1, 0, 1], [3]);
    const s = leaf(Spikes.fromValues([1, 1, 0], [3]));
    backward(iand(a, s), Tensor.from([2, 3, 4]));
    expect(Array.from(s.grad!.data)).toEqual([0, 3, 0]);
    expect(a.grad).toBeNull();
  });

  it("errors: shape and dtype mismatch", () => {
    expect(() => iand(Spikes.zeros([2, 3]), Spikes.zeros([3, 2]))).toThrow(/iand: shapes \[2, 3\] and \[3, 2\] must be equal/);
    expect(() => iand(Spikes.zeros([2, 3]), Spikes.zeros([2, 3], "float64"))).toThrow(BitspikeError);
    expect(() => iand(Spikes.zeros([2, 3]), Spikes.zeros([2, 3], "float64"))).toThrow(/iand: .*float32.*float64/);
  });
});

describe("fast neuron kernels equal the general loop", () => {
  it("inlined LIF forward and sigmoid backward are bit-identical to the generic kernel (float32 and float64)", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 70 }), fc.constantFrom<DType>("float32", "float64"), fc.constantFrom(0, null), fc.integer(), (T, n, dtype, vReset, seed) => {
      const rng = new Rng(seed);
      const x = Tensor.uniform([T, 2, n], rng, -1, 3, dtype);
      const g = Tensor.uniform([T, 2, n], rng, -1, 1, dtype);
      const sig = sigmoidSurrogate(4);
      // the same function without the inlining hint takes the general path
      const plain = customSurrogate("sigmoid-plain", sig.primitive, sig.derivative, sig.derivative32);
      const run = (surrogate: typeof sig) => {
        const leaf = x.clone().requireGrad();
        const s = multiStepNeuron(leaf, { kind: "lif", tau: 2, vReset, detachReset: true, surrogate });
        backward(spikesToFloat(s), g);
        return { words: Array.from(s.words), grad: Array.from(leaf.grad!.data) };
      };
      expect(run(sig)).toEqual(run(plain));
    }), { numRuns: 60 });
  });
});
