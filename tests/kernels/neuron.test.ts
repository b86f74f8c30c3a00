import { expect } from "vitest";
import fc from "fast-check";
import {
  hardDetachedBackwardRangeJs, LEAK_DIV, LEAK_MUL, LEAK_NONE, lifForwardRangeJs, lifForwardRangeWasm, neuronBackward, neuronForward,
  neuronForwardRangeReference, plifBackwardTail, plifFastBackward, plifMembraneGradParams, type NeuronKernelParams,
} from "../../src/kernels/neuron/neuron.js";
import { neuronBackwardThreads, neuronForwardThreads } from "../../src/kernels/neuron/threads.js";
import { sigmoidSurrogate, surrogateDerivative } from "../../src/ops/spike/surrogate.js";
import { wordsFor } from "../../src/tensor/bits.js";
import { Rng } from "../../src/tensor/random.js";
import { Spikes } from "../../src/tensor/spikes.js";
import { allocFloat, type FloatArray } from "../../src/tensor/tensor.js";
import { describeTwins, type TwinFamily } from "../helpers/twins.js";

/** A multi-step neuron layer: X [steps, rows, cols] (ragged cols), its kernel parameters, and where its arrays live. */
interface NeuronCase { p: NeuronKernelParams; x: FloatArray; keepH: boolean; heap: boolean; lif32: boolean }

const arbNeuron: fc.Arbitrary<NeuronCase> = fc
  .record({
    steps: fc.integer({ min: 1, max: 4 }), rows: fc.integer({ min: 1, max: 5 }), cols: fc.integer({ min: 1, max: 100 }),
    // LIF with decay_input on float32 (the fast twins' case) half the time; every other neuron and dtype the rest.
    lif32: fc.boolean(), leak: fc.constantFrom(LEAK_NONE, LEAK_DIV, LEAK_MUL), decayInput: fc.boolean(), hard: fc.boolean(),
    f64: fc.boolean(), keepH: fc.boolean(), heap: fc.boolean(), seed: fc.integer(),
  })
  .map((c) => {
    const f64 = c.lif32 ? false : c.f64, leak = c.lif32 ? LEAK_DIV : c.leak, decayInput = c.lif32 || c.decayInput;
    const r = f64 ? (v: number) => v : Math.fround;
    const p: NeuronKernelParams = {
      steps: c.steps, rows: c.rows, cols: c.cols, leak, tau: r(2), k: leak === LEAK_MUL ? r(0.37) : leak === LEAK_DIV ? 0.5 : 0,
      decayInput, vTh: r(0.6), vReset: c.hard ? r(0.1) : 0, hardReset: c.hard, detachReset: true, f32: !f64,
    };
    const rng = new Rng(c.seed);
    const x = allocFloat(f64 ? "float64" : "float32", c.steps * c.rows * c.cols, c.heap);
    for (let i = 0; i < x.length; i++) x[i] = rng.uniform() < 0.05 ? p.vTh : (rng.uniform() - 0.3) * 3; // some exactly at threshold
    return { p, x, keepH: c.keepH, heap: c.heap, lif32: c.lif32 };
  });

/** Fresh outputs (stale values a twin must overwrite): H (or null), the spike words, the final membrane. */
function outputs(c: NeuronCase): { h: FloatArray | null; words: Uint32Array; v: FloatArray } {
  const { steps, rows, cols, f32 } = c.p;
  const dtype = f32 ? "float32" : "float64";
  const h = c.keepH ? allocFloat(dtype, steps * rows * cols, c.heap).fill(9) : null;
  const words = (c.heap ? Spikes.allocWords(steps * rows * wordsFor(cols)) : new Uint32Array(steps * rows * wordsFor(cols))).fill(0xffffffff);
  return { h, words, v: allocFloat(dtype, rows * cols, c.heap).fill(5) };
}

/** A twin over every spike unit, returning all it wrote. */
const over = (twin: typeof neuronForwardRangeReference) => (c: NeuronCase) => {
  const o = outputs(c);
  twin(c.x, c.p, o.h, o.words, o.v, 0, c.p.rows * wordsFor(c.p.cols));
  return [o.words, o.v, ...(o.h ? [o.h] : [])];
};

/** The single-thread dispatch and the threaded forward, returning all they wrote. */
function forwardDispatch(c: NeuronCase): (FloatArray | Uint32Array)[] {
  const o = outputs(c);
  neuronForward(c.x, c.p, o.h, o.words, o.v);
  return [o.words, o.v, ...(o.h ? [o.h] : [])];
}
function forwardThreads(c: NeuronCase, t: number): (FloatArray | Uint32Array)[] {
  const o = outputs(c);
  neuronForwardThreads(c.x, c.p, o.h, o.words, o.v, t);
  return [o.words, o.v, ...(o.h ? [o.h] : [])];
}

describeTwins("neuron forward", arbNeuron, {
  reference: over(neuronForwardRangeReference),
  js: (c) => (fc.pre(c.lif32), over(lifForwardRangeJs)(c)), // the fast TypeScript twin exists for LIF float32
  wasm: (c) => (fc.pre(c.lif32), over(lifForwardRangeWasm as typeof lifForwardRangeJs)(c)),
  dispatch: forwardDispatch,
  threads: forwardThreads,
}, 120);

// PLIF (1/tau = k = sigmoid(w)), decay_input: the forward (the general loop, threaded) and the fast
// backward with the weight gradient against the general loop, on float32 and float64, ragged columns.
const arbPlif: fc.Arbitrary<NeuronCase & { gS: FloatArray }> = fc
  .record({
    steps: fc.integer({ min: 1, max: 5 }), rows: fc.integer({ min: 1, max: 4 }), cols: fc.integer({ min: 1, max: 90 }),
    f64: fc.boolean(), hard: fc.boolean(), keepH: fc.boolean(), heap: fc.boolean(), k: fc.constantFrom(0.5, 0.37, 0.81), seed: fc.integer(),
  })
  .map((c) => {
    const r = c.f64 ? (v: number) => v : Math.fround;
    const p: NeuronKernelParams = {
      steps: c.steps, rows: c.rows, cols: c.cols, leak: LEAK_MUL, tau: 1, k: r(c.k), decayInput: true,
      vTh: r(1), vReset: c.hard ? 0 : 0, hardReset: c.hard, detachReset: true, f32: !c.f64,
    };
    const rng = new Rng(c.seed);
    const n = c.steps * c.rows * c.cols;
    const x = allocFloat(c.f64 ? "float64" : "float32", n, c.heap);
    for (let i = 0; i < x.length; i++) x[i] = rng.uniform() < 0.05 ? p.vTh : (rng.uniform() - 0.3) * 4;
    const gS = allocFloat(c.f64 ? "float64" : "float32", n, c.heap);
    for (let i = 0; i < gS.length; i++) gS[i] = rng.uniform() - 0.5;
    return { p, x, gS, keepH: c.keepH, heap: c.heap, lif32: false };
  });

describeTwins("PLIF forward", arbPlif, {
  reference: over(neuronForwardRangeReference),
  js: over(neuronForwardRangeReference), // no separate TypeScript twin: PLIF's forward is the general loop
  wasm: (c) => (fc.pre(c.p.f32), over(lifForwardRangeWasm as typeof lifForwardRangeJs)(c)), // the LIF kernel's PLIF variant
  dispatch: forwardDispatch,
  threads: forwardThreads,
}, 80);

/** H and the spikes of a PLIF case (the general forward), then a backward run by `twin`: [dX, dW sum]. */
const plifBackward = (twin: (c: NeuronCase & { gS: FloatArray }, h: FloatArray, words: Uint32Array, gx: FloatArray, gv: Float64Array) => number) =>
  (c: NeuronCase & { gS: FloatArray }) => {
    const { steps, rows, cols, f32 } = c.p;
    const n = steps * rows * cols;
    const h = allocFloat(f32 ? "float32" : "float64", n, c.heap);
    const words = new Uint32Array(steps * rows * wordsFor(cols));
    neuronForwardRangeReference(c.x, c.p, h, words, allocFloat(f32 ? "float32" : "float64", rows * cols, c.heap), 0, rows * wordsFor(cols));
    const gx = allocFloat(f32 ? "float32" : "float64", n, c.heap).fill(7);
    const gk = twin(c, h, words, gx, new Float64Array(rows * cols));
    return [gx, Float64Array.of(gk)];
  };
const ALPHA = 4;
/** The surrogate's derivative in the neuron's arithmetic (float32 for a float32 neuron). */
const derivative = (p: NeuronKernelParams) => surrogateDerivative(sigmoidSurrogate(ALPHA), p.f32);

/** The twins of the PLIF / PLIAF backward with the weight gradient (the fast one's gH by the split per-neuron loop). */
const weightGradTwins: TwinFamily<NeuronCase & { gS: FloatArray }> = {
  // The general loop (a surrogate given as a function), whose gk sum runs over t = T-1..0 and the neurons in order.
  reference: plifBackward((c, h, words, gx, gv) => neuronBackward(c.gS, h, words, c.x, c.p, derivative(c.p), gx, gv)),
  js: plifBackward((c, h, words, gx, gv) => {
    const { steps, rows, cols } = c.p;
    const gH = new Float64Array(steps * rows * cols);
    hardDetachedBackwardRangeJs(c.gS, h, words, plifMembraneGradParams(c.p), ALPHA, gH, gv, 0, rows * wordsFor(cols));
    return plifBackwardTail(gH, h, words, c.x, c.p, gx);
  }),
  threads: (c, t) => plifBackward((cc, h, words, gx, gv) => {
    expect(plifFastBackward(cc.p, true)).toBe(true);
    return neuronBackwardThreads(cc.gS, h, words, cc.x, cc.p, derivative(cc.p), gx, gv, ALPHA, t);
  })(c),
};
/** Output gradients with signed zeros (5% -0, 5% +0): where gS sg is -0, gH's zero takes gV (1 - S)'s sign, as the general loop's. */
const withSignedZeros = <C extends { gS: FloatArray }>(c: C, rng: Rng): C => {
  for (let i = 0; i < c.gS.length; i++) { const u = rng.uniform(); if (u < 0.05) c.gS[i] = -0; else if (u < 0.1) c.gS[i] = 0; }
  return c;
};
const arbPlifHard = arbPlif.filter((c) => c.p.hardReset).chain((c) => fc.integer().map((seed) => withSignedZeros(c, new Rng(seed))));

describeTwins("PLIF backward with the weight gradient", arbPlifHard, weightGradTwins, 80);

// PLIAF (Spikeformer's ImageNet neuron: output ReLU(H), the spike only resets) with a hard, detached reset:
// the split analog backward (no surrogate) with and without the weight gradient, against the general loop.
// Output gradients include signed zeros, and H hits 0 (the ReLU's edge) and v_th exactly.
const arbAnalog = arbPlifHard.chain((c) =>
  fc.record({ liaf: fc.boolean(), seed: fc.integer() }).map(({ liaf, seed }) => {
    const rng = new Rng(seed);
    const r = c.p.f32 ? Math.fround : (v: number) => v;
    // LIAF: 1/tau as the leak (LEAK_DIV); PLIAF: k = sigmoid(w).
    const p: NeuronKernelParams = liaf ? { ...c.p, analog: true, leak: LEAK_DIV, tau: r(2), k: 0.5 } : { ...c.p, analog: true };
    for (let i = 0; i < c.x.length; i++) if (rng.uniform() < 0.05) c.x[i] = 0;
    return { ...c, p, liaf };
  }));

describeTwins("PLIAF backward with the weight gradient", arbAnalog.filter((c) => !c.liaf), weightGradTwins, 80);

describeTwins("LIAF / PLIAF backward without a weight gradient", arbAnalog, {
  reference: plifBackward((c, h, words, gx, gv) => neuronBackward(c.gS, h, words, null, c.p, derivative(c.p), gx, gv)),
  js: plifBackward((c, h, words, gx, gv) => (hardDetachedBackwardRangeJs(c.gS, h, words, c.p, ALPHA, gx, gv, 0, c.p.rows * wordsFor(c.p.cols)), 0)),
  threads: (c, t) => plifBackward((cc, h, words, gx, gv) => neuronBackwardThreads(cc.gS, h, words, null, cc.p, derivative(cc.p), gx, gv, ALPHA, t))(c),
}, 80);
