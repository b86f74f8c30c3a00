/**
 * A batch norm's affine map fused into the LIF forward (Spikformer's
 * conv / linear -> BN -> LIF): the neuron charges from
 * y = f32(f32(x scale[ch]) + shift[ch]) computed as it reads x, so the
 * normalised values never go to memory (a write and a read of every value
 * less, and one pass instead of two). The same operations in the same order
 * as the batch norm's affine pass (src/kernels/norm/) followed by the LIF
 * forward (./neuron.ts): the reference twin here is exactly that composition,
 * and the WASM twin (./wasm.ts, normLifForward) gives its bits.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { BitspikeError } from "../../tensor/errors.js";
import { inHeap } from "../../tensor/heap.js";
import { wordsFor } from "../../tensor/bits.js";
import { wasmSimdAvailable } from "../../wasm/backend.js";
import {
  chargeGrads, lifParamsFit, lifWasmFits, neuronForwardRangeReference, sigmoidWasmFits, splittableBackward, unitElem, LEAK_DIV, type NeuronKernelParams,
} from "./neuron.js";
import { neuronKernel, normLifForwardWasmCall, sigmoidBackwardWasmCall } from "./wasm.js";
import { affineValue } from "../norm/norm.js";

/**
 * Where the neuron's elements find their channel's scale and shift: `columns`,
 * x [N, C] (the neuron's columns are the channels, cols = chans); else x
 * [N, C, S] with S = rpc cols: row r of a step (rows of cols values) is
 * channel floor(r / rpc) mod chans.
 */
export interface AffineLayout {
  chans: number;
  rpc: number;
  columns: boolean;
}

/** Float32 slots a channel vector of the fused kernel takes: the columns form reads up to 3 channels past a row's last. */
export function affineVectorLength(chans: number): number {
  return chans + 4;
}

/** The channel of element i of a step. */
function channelOf(a: AffineLayout, cols: number, i: number): number {
  return a.columns ? i % cols : Math.floor(Math.floor(i / cols) / a.rpc) % a.chans;
}

/**
 * The definition: y = x scale + shift ({@link affineValue}: in float32 for
 * float32 x, as the batch norm's affine pass) for the elements of spike units u0..u1-1 in
 * every step, then {@link neuronForwardRangeReference} over y.
 */
export function normLifForwardRangeReference(
  x: FloatArray, a: AffineLayout, scale: Float64Array, shift: Float64Array,
  p: NeuronKernelParams, h: FloatArray | null, words: Uint32Array, v: FloatArray, u0: number, u1: number,
): void {
  const n = p.rows * p.cols, wpr = wordsFor(p.cols);
  const f32 = x instanceof Float32Array;
  const y = f32 ? new Float32Array(x.length) : new Float64Array(x.length);
  const e0 = unitElem(u0, p.cols, wpr), e1 = unitElem(u1, p.cols, wpr);
  for (let t = 0; t < p.steps; t++) {
    for (let i = e0; i < e1; i++) {
      const ch = channelOf(a, p.cols, i);
      y[t * n + i] = affineValue(x[t * n + i]!, scale[ch]!, shift[ch]!, f32);
    }
  }
  neuronForwardRangeReference(y, p, h, words, v, u0, u1);
}

/** Heap byte address of element i of a heap array. */
function byteAt(arr: FloatArray | Uint32Array, i: number): number {
  return arr.byteOffset + i * arr.BYTES_PER_ELEMENT;
}

/** Where the WASM kernel's channel walk starts at spike unit u0 (rows form): the channel of its row, and that channel's rows left from it. */
function channelWalk(a: AffineLayout, u0: number, wpr: number): [number, number] {
  const r0 = Math.floor(u0 / wpr);
  return [Math.floor(r0 / a.rpc) % a.chans, a.rpc - (r0 % a.rpc)];
}

/** True when the layout matches the neuron's view: its columns are the channels, or each step's rows whole channels' rows. */
function layoutFits(a: AffineLayout, p: NeuronKernelParams): boolean {
  return a.columns ? a.chans === p.cols : a.rpc >= 1 && p.rows % (a.rpc * a.chans) === 0;
}

/**
 * True when the fused WASM forward applies: the LIF forward's WASM twin fits
 * (a float32 LIF with decay_input and float32 constants; PLIF is not fused)
 * and every array is in the heap. The layout must match the neuron's view.
 */
export function normLifWasmFits(x: FloatArray, a: AffineLayout, p: NeuronKernelParams, h: FloatArray | null, words: Uint32Array, v: FloatArray): boolean {
  return layoutFits(a, p) && p.leak === LEAK_DIV && lifWasmFits(x, h, v, p) && inHeap(x) && (h === null || inHeap(h)) && inHeap(words) && inHeap(v);
}

/**
 * The WebAssembly SIMD twin of {@link normLifForwardRangeReference} on spike
 * units u0..u1-1, in place: `vec` is a heap Float32Array holding scale then
 * shift, each in {@link affineVectorLength} slots (the padding is read, never
 * used). V ends as the LIF twin leaves it (V[T-1], vReset for T = 0); its entry values are not read.
 * `xRepeats`: x holds one step, read at every step (a static image's first conv output at inference, the
 * same values as its copy repeated over T). `wordRows`: the rows of a step of `words` (default p.rows), when
 * the spikes go to a few rows of a taller output (a block of tokens, src/kernels/spike-sum/norm-lif.ts).
 */
export function normLifForwardRangeWasm(
  x: Float32Array, a: AffineLayout, vec: Float32Array, p: NeuronKernelParams, h: Float32Array | null, words: Uint32Array, v: Float32Array,
  u0: number, u1: number, xRepeats = false, wordRows = p.rows,
): void {
  if (!wasmSimdAvailable()) throw new BitspikeError("normLifForwardRangeWasm", "this runtime has no WebAssembly SIMD");
  if (!normLifWasmFits(x, a, p, h, words, v) || !inHeap(vec) || vec.length < 2 * affineVectorLength(a.chans)) {
    throw new BitspikeError("normLifForwardRangeWasm", `needs a float32 LIF with decay_input on heap arrays, a matching layout and a heap vector of ${2 * affineVectorLength(a.chans)} values`);
  }
  if (u1 <= u0) return;
  const { steps, rows, cols, tau, vTh, vReset, hardReset } = p;
  const wpr = wordsFor(cols), n = rows * cols;
  const e0 = unitElem(u0, cols, wpr), e1 = unitElem(u1, cols, wpr);
  if (steps === 0) v.fill(vReset, e0, e1); // else step 0 starts from vReset in the kernel: no fill pass
  const [ch0, left0] = channelWalk(a, u0, wpr);
  normLifForwardWasmCall(
    byteAt(x, e0), xRepeats ? 0 : n * 4, h === null ? 0 : byteAt(h, e0), n * 4, byteAt(v, e0), byteAt(words, u0), wordRows * wpr * 4, steps, u1 - u0,
    u0 % wpr, cols, wpr, h !== null, vReset, tau, vTh, hardReset,
    byteAt(vec, 0), byteAt(vec, affineVectorLength(a.chans)), a.columns, a.rpc, a.chans, ch0, left0,
  );
}

/**
 * Bytes of membrane H a block of {@link normLifBackwardRangeWasm} remakes (T steps of its units' neurons),
 * read back by the backward while they are in cache (with V, gV and the spike words beside them).
 */
const BACKWARD_BLOCK_BYTES = 128 * 1024;

/**
 * True when {@link normLifBackwardRangeWasm} applies: the fused forward's layout and LIF (a float32 LIF
 * with decay_input, float32 constants), Spikformer's reset (hard, detached), the sigmoid surrogate's WASM
 * backward (float32 alpha), and float32 heap arrays.
 */
export function normLifBackwardFits(
  x: FloatArray, a: AffineLayout, p: NeuronKernelParams, gS: FloatArray, words: Uint32Array, gy: FloatArray, alpha: number | undefined,
): boolean {
  return layoutFits(a, p) && alpha !== undefined && p.leak === LEAK_DIV && lifParamsFit(p) && splittableBackward(p, false) && x instanceof Float32Array &&
    sigmoidWasmFits(gS, x, gy, p, alpha) && inHeap(x) && inHeap(gS) && inHeap(words) && inHeap(gy);
}

/**
 * The backward of the fused BN-LIF forward for spike units u0..u1-1: gy = dL/dy (y = x scale + shift, the
 * LIF's input) from gS = dL/dS, for Spikformer's LIF (hard reset, detach_reset, the sigmoid surrogate of
 * slope `alpha`). The forward's membrane H is made again from x, as the op's backward does, but a block of
 * units at a time into this thread's scratch, where the backward reads it at once: H never goes to memory
 * (a write and a read of every value less). The bits of {@link normLifForwardRangeWasm} writing H, then
 * the WASM sigmoid backward (hardDetachedSigmoidBackwardRangeWasm) over it; `words` are the forward's spikes,
 * which the remade ones equal. `blockUnits`: the units a block (tests: a few, to cut ranges into many).
 * Needs what {@link normLifBackwardFits} says.
 */
export function normLifBackwardRangeWasm(
  x: Float32Array, a: AffineLayout, vec: Float32Array, p: NeuronKernelParams, gS: Float32Array, words: Uint32Array, alpha: number,
  gy: Float32Array, u0: number, u1: number, blockUnits = Math.max(1, Math.floor(BACKWARD_BLOCK_BYTES / (p.steps * 32 * 4))),
): void {
  if (!wasmSimdAvailable()) throw new BitspikeError("normLifBackwardRangeWasm", "this runtime has no WebAssembly SIMD");
  if (!normLifBackwardFits(x, a, p, gS, words, gy, alpha) || !inHeap(vec) || vec.length < 2 * affineVectorLength(a.chans)) {
    throw new BitspikeError("normLifBackwardRangeWasm", `needs a float32 LIF with decay_input, hard detached reset and the sigmoid surrogate on heap arrays, a matching layout and a heap vector of ${2 * affineVectorLength(a.chans)} values`);
  }
  if (u1 <= u0 || p.steps === 0) return;
  const { steps, rows, cols, tau, vTh, vReset, hardReset } = p;
  const wpr = wordsFor(cols), n = rows * cols;
  const { dHdV, dHdX } = chargeGrads(p);
  // Scratch for a block of at most `most` units (32 neurons each): H [steps, block], V, gV [block], the remade spike
  // words [steps, block units] (taken once: a take may move the heap).
  const most = Math.min(blockUnits, u1 - u0), elemsMost = most * 32;
  const hAt = neuronKernel.scratch.take((steps + 2) * elemsMost * 4 + steps * most * 4);
  const vAt = hAt + steps * elemsMost * 4, gvAt = vAt + elemsMost * 4, wAt = gvAt + elemsMost * 4;
  const scale = byteAt(vec, 0), shift = byteAt(vec, affineVectorLength(a.chans));
  for (let b0 = u0; b0 < u1; b0 += blockUnits) {
    const b1 = Math.min(u1, b0 + blockUnits), units = b1 - b0;
    const e0 = unitElem(b0, cols, wpr), elems = unitElem(b1, cols, wpr) - e0;
    const [ch0, left0] = channelWalk(a, b0, wpr);
    normLifForwardWasmCall(
      byteAt(x, e0), n * 4, hAt, elems * 4, vAt, wAt, units * 4, steps, units, b0 % wpr, cols, wpr, true, vReset, tau, vTh, hardReset,
      scale, shift, a.columns, a.rpc, a.chans, ch0, left0,
    );
    // gV is read as +0 in the backward's first step (its last time step): no fill.
    sigmoidBackwardWasmCall(
      byteAt(gS, e0), n * 4, hAt, elems * 4, byteAt(words, b0), rows * wpr * 4, byteAt(gy, e0), n * 4, gvAt, steps, units, b0 % wpr, cols, wpr,
      alpha, vTh, dHdX, dHdV,
    );
  }
}
