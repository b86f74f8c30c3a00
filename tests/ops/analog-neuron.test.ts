/**
 * PLIAF / LIAF (Spikeformer's ImageNet neuron: output ReLU(H), the spike only
 * resets) and PLIF's learnable tau, checked against float64 central
 * differences. With a detached reset the backward is the exact derivative
 * wherever no H sits on the threshold (the spike pattern is locally constant),
 * so no surrogate stands between the two for the analog neuron; for PLIF's
 * spikes the check differentiates the "relaxed" forward whose output is the
 * surrogate's primitive, which is what the surrogate gradient is the exact
 * derivative of.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { backward } from "../../src/autograd/tape.js";
import { mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { spikesToFloat } from "../../src/ops/spike/cast.js";
import { multiStepAnalogNeuron, multiStepNeuron, multiStepNeuronTrace, type NeuronOptions } from "../../src/ops/spike/neuron.js";
import { sigmoidSurrogate } from "../../src/ops/spike/surrogate.js";
import { gradcheck } from "../helpers/gradcheck.js";

const sig = (v: number): number => 1 / (1 + Math.exp(-v));

describe("analog neuron (LIAF / PLIAF): output ReLU(H), the spike drives only the reset", () => {
  it("forward: ReLU of the spiking neuron's H, bit for bit (float32, PLIF and LIF, hard and soft reset)", () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 70 }), fc.constantFrom("plif" as const, "lif" as const),
      fc.constantFrom(0, null), fc.double({ min: -2, max: 2, noNaN: true }), fc.nat(),
      (T, n, kind, vReset, w, seed) => {
        const x = Tensor.uniform([T, 2, n], new Rng(seed), -1, 2.5);
        const o: NeuronOptions = { kind, vReset, detachReset: true, ...(kind === "plif" ? { plifW: Tensor.scalar(w) } : {}) };
        const y = multiStepAnalogNeuron(x, o);
        const tr = multiStepNeuronTrace(x, o);
        expect(y.shape).toEqual(x.shape);
        for (let i = 0; i < y.size; i++) expect(y.data[i]).toBe(Math.max(0, tr.h.data[i]!));
      },
    ), { numRuns: 40 });
  });

  for (const vReset of [0, null] as const) {
    it(`gradients of x and w equal float64 central differences (PLIAF, detached ${vReset === null ? "soft" : "hard"} reset, T 1..6)`, () => {
      for (let seed = 0; seed < 6; seed++) {
        const rng = new Rng(100 + seed);
        const T = 1 + (seed % 6);
        const x = Tensor.uniform([T, 3, 7], rng, -1, 2.5, "float64").requireGrad();
        const w = Tensor.scalar(rng.uniform() * 2 - 1, "float64").requireGrad();
        gradcheck((xx, ww) => multiStepAnalogNeuron(xx, { kind: "plif", plifW: ww, vReset, detachReset: true }), [x, w], { eps: 1e-7 });
      }
    });
  }

  it("LIAF (fixed tau 2, decay_input false) gradient of x equals central differences", () => {
    const x = Tensor.uniform([4, 5, 9], new Rng(7), -1, 2.5, "float64").requireGrad();
    gradcheck((xx) => multiStepAnalogNeuron(xx, { kind: "lif", tau: 2, detachReset: true, decayInput: false }), [x], { eps: 1e-7 });
  });

  it("no gradient needed: nothing recorded; errors name the op", () => {
    const y = multiStepAnalogNeuron(Tensor.uniform([2, 4], new Rng(1), 0, 2), { kind: "lif" });
    expect(y.requiresGrad).toBe(false);
    expect(() => multiStepAnalogNeuron(Tensor.zeros([4]), { kind: "lif" })).toThrow(/multiStepNeuron.*rank >= 2/);
    expect(() => multiStepAnalogNeuron(Tensor.zeros([2, 4]), { kind: "plif" })).toThrow(/needs plifW/);
  });
});

/**
 * PLIF's relaxed forward in float64 plain loops: H by the charge equation with
 * k = sigmoid(w), output primitive(H - v_th) = sigmoid(4 (H - v_th)), hard
 * reset to 0 by the Heaviside spike (detached). Returns sum(c * output).
 */
function relaxedPlif(x: Float64Array, w: number, T: number, n: number, c: Float64Array): number {
  const k = sig(w);
  const v = new Float64Array(n);
  let total = 0;
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < n; i++) {
      const h = v[i]! + (x[t * n + i]! - v[i]!) * k;
      total += c[t * n + i]! * sig(4 * (h - 1));
      v[i] = h - 1 >= 0 ? 0 : h;
    }
  }
  return total;
}

describe("PLIF's learnable tau (w, 1/tau = sigmoid(w))", () => {
  it("dL/dw and dL/dx of the spiking PLIF equal central differences of the relaxed forward (float64)", () => {
    for (let seed = 0; seed < 8; seed++) {
      const rng = new Rng(200 + seed);
      const T = 1 + (seed % 5), n = 11;
      const x = Tensor.uniform([T, n], rng, -0.5, 3, "float64").requireGrad();
      const w = Tensor.scalar(rng.uniform() * 3 - 1.5, "float64").requireGrad();
      const c = Tensor.uniform([T, n], rng, 0.5, 1.5, "float64");
      const s = multiStepNeuron(x, { kind: "plif", plifW: w, detachReset: true, surrogate: sigmoidSurrogate(4) });
      backward(sum(mul(spikesToFloat(s), c)));
      const eps = 1e-6;
      const f = (xd: Float64Array, wv: number): number => relaxedPlif(xd, wv, T, n, c.data as Float64Array);
      const xd = Float64Array.from(x.data);
      const nw = (f(xd, w.data[0]! + eps) - f(xd, w.data[0]! - eps)) / (2 * eps);
      expect(Math.abs(w.grad!.data[0]! - nw)).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(nw));
      for (let i = 0; i < x.size; i++) {
        const a = Float64Array.from(xd), b = Float64Array.from(xd);
        a[i] = a[i]! + eps;
        b[i] = b[i]! - eps;
        const nx = (f(a, w.data[0]!) - f(b, w.data[0]!)) / (2 * eps);
        expect(Math.abs(x.grad!.data[i]! - nx)).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(nx));
      }
    }
  });
});
