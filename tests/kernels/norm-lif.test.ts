import { expect, it } from "vitest";
import fc from "fast-check";
import { hardDetachedBackwardRangeJs, LEAK_DIV, neuronBackward, neuronForward, type NeuronKernelParams } from "../../src/kernels/neuron/neuron.js";
import {
  affineVectorLength, normLifBackwardFits, normLifBackwardRangeWasm, normLifForwardRangeReference, normLifForwardRangeWasm, normLifWasmFits,
  type AffineLayout,
} from "../../src/kernels/neuron/norm-lif.js";
import { normNeuronBackwardThreads, normNeuronForwardThreads } from "../../src/kernels/neuron/threads.js";
import { sigmoidSurrogate, surrogateDerivative } from "../../src/ops/spike/surrogate.js";
import { channelAffine } from "../../src/kernels/norm/norm.js";
import { setKernelBackend } from "../../src/wasm/backend.js";
import { heapArray } from "../../src/tensor/heap.js";
import { wordsFor } from "../../src/tensor/bits.js";
import { Rng } from "../../src/tensor/random.js";
import { Spikes } from "../../src/tensor/spikes.js";
import { describeTwins } from "../helpers/twins.js";

/**
 * A batch norm's input x [T B, C, S] (S = rpc cols) or [T B rows, C] (the columns form), its affine
 * map, and the LIF neuron over the normalised values viewed as [T, rows, cols].
 */
interface Case { x: Float32Array; a: AffineLayout; scale: Float64Array; shift: Float64Array; p: NeuronKernelParams; keepH: boolean; cut: number }

const arbCase: fc.Arbitrary<Case> = fc
  .record({
    steps: fc.integer({ min: 1, max: 4 }), b: fc.integer({ min: 1, max: 3 }), chans: fc.integer({ min: 1, max: 6 }),
    rpc: fc.integer({ min: 1, max: 3 }), cols: fc.integer({ min: 1, max: 70 }), columns: fc.boolean(), hard: fc.boolean(),
    // The columns form's channels are its columns: past 32 of them a row has several spike words.
    colChans: fc.integer({ min: 1, max: 70 }),
    keepH: fc.boolean(), seed: fc.integer(), cut: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map((c) => {
    // The columns form: x [N, C] with the channels along the neuron's columns (C = cols).
    const chans = c.columns ? c.colChans : c.chans;
    const cols = c.columns ? chans : c.cols;
    const rows = c.columns ? c.b * c.rpc : c.b * chans * c.rpc;
    const a: AffineLayout = { chans, rpc: c.columns ? 1 : c.rpc, columns: c.columns };
    const p: NeuronKernelParams = {
      steps: c.steps, rows, cols, leak: LEAK_DIV, tau: 2, k: 0.5, decayInput: true, vTh: Math.fround(0.6),
      vReset: c.hard ? Math.fround(0.1) : 0, hardReset: c.hard, detachReset: true, f32: true,
    };
    const rng = new Rng(c.seed);
    const x = heapArray(Float32Array, c.steps * rows * cols);
    for (let i = 0; i < x.length; i++) x[i] = (rng.uniform() - 0.3) * 3;
    // Float32 values, as batchNormState gives a float32 batch norm.
    const scale = Float64Array.from({ length: chans }, () => Math.fround(rng.uniform() * 2 - 0.5));
    const shift = Float64Array.from({ length: chans }, () => Math.fround(rng.uniform() - 0.5));
    // A unit where the WASM twin's second call starts (mid-row and mid-channel ranges).
    const units = rows * wordsFor(cols);
    return { x, a, scale, shift, p, keepH: c.keepH, cut: Math.floor(c.cut * units) };
  });

/** Fresh outputs holding stale values a twin must overwrite: H (or null), the spike words, the final membrane. */
function outputs(c: Case): { h: Float32Array | null; words: Uint32Array; v: Float32Array } {
  const { steps, rows, cols } = c.p;
  return {
    h: c.keepH ? heapArray(Float32Array, steps * rows * cols).fill(9) : null,
    words: Spikes.allocWords(steps * rows * wordsFor(cols)).fill(0xffffffff),
    v: heapArray(Float32Array, rows * cols).fill(5),
  };
}

const written = (o: ReturnType<typeof outputs>) => [o.words, o.v, ...(o.h ? [o.h] : [])];
const unitsOf = (c: Case) => c.p.rows * wordsFor(c.p.cols);

/** The batch norm's x as [N, C, S] for the norm family's affine pass. */
function normDims(c: Case): [number, number, number] {
  const s = c.a.columns ? 1 : c.a.rpc * c.p.cols;
  return [c.x.length / (c.a.chans * s), c.a.chans, s];
}

function padded(c: Case): Float32Array {
  const len = affineVectorLength(c.a.chans);
  const vec = heapArray(Float32Array, 2 * len).fill(Number.NaN); // the padding is read, never used
  vec.set(c.scale, 0);
  vec.set(c.shift, len);
  return vec;
}

describeTwins("batch-norm affine + LIF forward", arbCase, {
  reference: (c) => {
    const o = outputs(c);
    normLifForwardRangeReference(c.x, c.a, c.scale, c.shift, c.p, o.h, o.words, o.v, 0, unitsOf(c));
    return written(o);
  },
  // The unfused passes the op ran before: the norm family's affine pass, then the neuron forward.
  js: (c) => {
    setKernelBackend("js");
    try {
      const o = outputs(c);
      const y = new Float32Array(c.x.length);
      const [n, ch, s] = normDims(c);
      channelAffine(c.x, y, n, ch, s, c.scale, c.shift);
      neuronForward(y, c.p, o.h, o.words, o.v);
      return written(o);
    } finally {
      setKernelBackend("auto");
    }
  },
  // Two calls, the second from c.cut: a range may start mid-row and mid-channel.
  wasm: (c) => {
    const o = outputs(c), vec = padded(c);
    normLifForwardRangeWasm(c.x, c.a, vec, c.p, o.h, o.words, o.v, 0, c.cut);
    normLifForwardRangeWasm(c.x, c.a, vec, c.p, o.h, o.words, o.v, c.cut, unitsOf(c));
    return written(o);
  },
  threads: (c, t) => {
    const o = outputs(c);
    normNeuronForwardThreads(c.x, c.a, c.scale, c.shift, c.p, o.h, o.words, o.v, t);
    return written(o);
  },
}, 150);

it("the fused forward applies to float32 LIF on heap arrays with a layout that matches the neuron's view, and says so otherwise", () => {
  const p: NeuronKernelParams = { steps: 2, rows: 12, cols: 5, leak: LEAK_DIV, tau: 2, k: 0.5, decayInput: true, vTh: 1, vReset: 0, hardReset: true, detachReset: true, f32: true };
  const x = heapArray(Float32Array, 120), h = heapArray(Float32Array, 120), v = heapArray(Float32Array, 60), w = Spikes.allocWords(24);
  expect(normLifWasmFits(x, { chans: 3, rpc: 2, columns: false }, p, h, w, v)).toBe(true); // 12 rows = 2 samples x 3 channels x 2 rows
  expect(normLifWasmFits(x, { chans: 5, rpc: 2, columns: false }, p, h, w, v)).toBe(false); // 12 rows are not whole channels
  expect(normLifWasmFits(x, { chans: 5, rpc: 1, columns: true }, p, h, w, v)).toBe(true);
  expect(normLifWasmFits(x, { chans: 4, rpc: 1, columns: true }, p, h, w, v)).toBe(false); // 5 columns, 4 channels
  expect(normLifWasmFits(new Float32Array(120), { chans: 3, rpc: 2, columns: false }, p, h, w, v)).toBe(false); // x not in the heap
  expect(normLifWasmFits(x, { chans: 3, rpc: 2, columns: false }, { ...p, tau: 2.1 }, h, w, v)).toBe(false); // tau not a float32 value
  expect(() => normLifForwardRangeWasm(x, { chans: 5, rpc: 2, columns: false }, heapArray(Float32Array, 17), p, h, w, v, 0, 12))
    .toThrow(/normLifForwardRangeWasm: needs a float32 LIF with decay_input on heap arrays, a matching layout and a heap vector of 18 values/);
  // The kernel's lanes are float32: a scale or shift that is not a float32 value is refused, not rounded.
  const scale = Float64Array.of(1, 0.1, 2), shift = new Float64Array(3);
  expect(() => normNeuronForwardThreads(x, { chans: 3, rpc: 2, columns: false }, scale, shift, p, h, w, v))
    .toThrow(/normNeuronForwardThreads: scale\[1\] must be a float32 value \(batchNormState rounds it for float32\), got 0.1/);
});

/** The backward's case: a forward case with Spikformer's reset (hard, detached), dL/dS, the sigmoid's slope and a block size. */
interface BackwardCase extends Case { gS: Float32Array; alpha: number; block: number }

const arbBackward: fc.Arbitrary<BackwardCase> = fc
  .tuple(arbCase, fc.constantFrom(4, 2, 0.5), fc.integer({ min: 1, max: 5 }), fc.integer())
  .map(([c, alpha, block, seed]) => {
    const rng = new Rng(seed);
    const gS = heapArray(Float32Array, c.x.length);
    for (let i = 0; i < gS.length; i++) gS[i] = rng.uniform() * 2 - 1;
    return { ...c, p: { ...c.p, hardReset: true, vReset: Math.fround(0.1) }, gS, alpha, block };
  });

/** The forward's spike words (the backward reads them) and its membrane H, by the reference. */
function forwardOf(c: BackwardCase): { words: Uint32Array; h: Float32Array } {
  const o = outputs({ ...c, keepH: true });
  normLifForwardRangeReference(c.x, c.a, c.scale, c.shift, c.p, o.h, o.words, o.v, 0, unitsOf(c));
  return { words: o.words, h: o.h! };
}

/** dL/dy, every element stale until the backward writes it. */
const staleGy = (c: BackwardCase): Float32Array => heapArray(Float32Array, c.x.length).fill(9);

describeTwins("batch-norm affine + LIF backward (H made again in cache)", arbBackward, {
  reference: (c) => {
    const { words, h } = forwardOf(c), gy = staleGy(c);
    hardDetachedBackwardRangeJs(c.gS, h, words, c.p, c.alpha, gy, new Float64Array(c.p.rows * c.p.cols), 0, unitsOf(c));
    return [gy];
  },
  // The unfused passes the op ran before, on the TypeScript kernels: affine, neuron forward writing H, the general backward.
  js: (c) => {
    setKernelBackend("js");
    try {
      const { words } = forwardOf(c), gy = staleGy(c), o = outputs({ ...c, keepH: true });
      const y = new Float32Array(c.x.length);
      const [n, ch, s] = normDims(c);
      channelAffine(c.x, y, n, ch, s, c.scale, c.shift);
      neuronForward(y, c.p, o.h, o.words, o.v);
      neuronBackward(c.gS, o.h!, words, null, c.p, surrogateDerivative(sigmoidSurrogate(c.alpha), true), gy, new Float64Array(c.p.rows * c.p.cols));
      return [gy];
    } finally {
      setKernelBackend("auto");
    }
  },
  // Two calls, the second from c.cut, in blocks of c.block units: blocks start mid-row and mid-channel.
  wasm: (c) => {
    const { words } = forwardOf(c), gy = staleGy(c), vec = padded(c);
    normLifBackwardRangeWasm(c.x, c.a, vec, c.p, c.gS, words, c.alpha, gy, 0, c.cut, c.block);
    normLifBackwardRangeWasm(c.x, c.a, vec, c.p, c.gS, words, c.alpha, gy, c.cut, unitsOf(c), c.block);
    return [gy];
  },
  threads: (c, t) => {
    const { words } = forwardOf(c), gy = staleGy(c);
    normNeuronBackwardThreads(c.x, c.a, c.scale, c.shift, c.p, c.gS, words, c.alpha, gy, t);
    return [gy];
  },
}, 120);

it("the fused backward applies to the fused forward's float32 LIF with a hard detached reset and the sigmoid surrogate, and says so otherwise", () => {
  const p: NeuronKernelParams = { steps: 2, rows: 12, cols: 5, leak: LEAK_DIV, tau: 2, k: 0.5, decayInput: true, vTh: 1, vReset: 0, hardReset: true, detachReset: true, f32: true };
  const x = heapArray(Float32Array, 120), g = heapArray(Float32Array, 120), gy = heapArray(Float32Array, 120), w = Spikes.allocWords(24);
  const a: AffineLayout = { chans: 3, rpc: 2, columns: false };
  expect(normLifBackwardFits(x, a, p, g, w, gy, 4)).toBe(true);
  expect(normLifBackwardFits(x, a, p, g, w, gy, undefined)).toBe(false); // no sigmoid surrogate
  expect(normLifBackwardFits(x, a, p, g, w, gy, 0.1)).toBe(false); // a slope that is not a float32 value
  expect(normLifBackwardFits(x, a, { ...p, hardReset: false }, g, w, gy, 4)).toBe(false); // a soft reset
  expect(normLifBackwardFits(x, a, { ...p, detachReset: false }, g, w, gy, 4)).toBe(false); // an attached reset
  expect(normLifBackwardFits(x, { chans: 5, rpc: 2, columns: false }, p, g, w, gy, 4)).toBe(false); // 12 rows are not whole channels
  expect(normLifBackwardFits(x, a, p, new Float32Array(120), w, gy, 4)).toBe(false); // dL/dS not in the heap
  expect(() => normLifBackwardRangeWasm(x, a, heapArray(Float32Array, 13), p, g, w, 4, gy, 0, 12))
    .toThrow(/normLifBackwardRangeWasm: needs a float32 LIF with decay_input, hard detached reset and the sigmoid surrogate on heap arrays, a matching layout and a heap vector of 14 values/);
});
