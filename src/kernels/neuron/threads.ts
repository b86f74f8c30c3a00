/**
 * Threaded twins of the multi-step neuron kernels (src/kernels/neuron/neuron.ts).
 * Neurons are independent across T, so the work is split into ranges of
 * spike units (one unit = one 32-bit spike word of one row: whole words, since
 * spikes are written word by word); each thread runs the unchanged kernel on
 * its range. Every element gets the same code in the same order: the results
 * are bit-identical for any thread count. With every array in the heap the
 * threads claim chunks of units as they go (src/parallel/claims.ts: a thread
 * that starts late or runs slower takes fewer); arrays not in the heap are
 * staged in the pool's shared scratch for a fixed split (only the workers'
 * ranges are copied; the calling thread's range works on the originals).
 */
import { freeArray, heapArray, inHeap } from "../../tensor/heap.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { BitspikeError } from "../../tensor/errors.js";
import { wordsFor } from "../../tensor/bits.js";
import {
  hardDetachedBackwardRange, neuronBackward, neuronForward, neuronForwardRange, plifBackwardTail, plifFastBackward,
  plifMembraneGradParams, splittableBackward, unitElem,
  type NeuronKernelParams,
} from "./neuron.js";
import { affineVectorLength, normLifBackwardFits, normLifBackwardRangeWasm, normLifForwardRangeWasm, normLifWasmFits, type AffineLayout } from "./norm-lif.js";
import { asFloats, defineTask, from, wordsView } from "../../parallel/registry.js";
import { evenCuts, partCosts } from "../../parallel/balance.js";
import { claimedRanges, runClaimed } from "../../parallel/claims.js";
import { partShares, partsFor, runParts, sabBase, scratchViews, usableThreads, type Part } from "../../parallel/pool.js";


/** Slots of a neuron task's arguments holding the kernel parameters; task arguments follow. */
const NEURON_ARGS = 13;

function encodeNeuron(p: NeuronKernelParams): number[] {
  return [
    p.steps, p.rows, p.cols, p.leak, p.tau, p.k, p.decayInput ? 1 : 0, p.vTh, p.vReset,
    p.hardReset ? 1 : 0, p.detachReset ? 1 : 0, p.f32 ? 1 : 0, p.analog === true ? 1 : 0,
  ];
}

/** Parameters back from raw (float64) arguments: tau, k, vTh and vReset are not integers. */
function decodeNeuron(a: ArrayLike<number>): NeuronKernelParams {
  return {
    steps: a[0]! | 0, rows: a[1]! | 0, cols: a[2]! | 0, leak: a[3]! | 0, tau: a[4]!, k: a[5]!, decayInput: a[6] === 1,
    vTh: a[7]!, vReset: a[8]!, hardReset: a[9] === 1, detachReset: a[10] === 1, f32: a[11] === 1, analog: a[12] === 1,
  };
}

/** Calls run(u0, u1) on the units a worker part covers: the chunks it claims from `board` (when not 0), else u0..u1-1. */
function partRanges(board: number, u0: number, u1: number, run: (u0: number, u1: number) => void): void {
  if (board !== 0) claimedRanges(board)(run);
  else run(u0, u1);
}

/** Forward of spike units u0..u1-1 or claimed from the board (a worker part): buffers x, h (or any when hasH = 0), words, v. */
function neuronForwardTask(raw: ArrayLike<number>, ints: ArrayLike<number>, b: readonly FloatArray[]): void {
  const p = decodeNeuron(raw);
  const o = NEURON_ARGS;
  const [hasH, u0, u1, xB, hB, wB, vB, board] = Array.from({ length: 8 }, (_, i) => ints[o + i]!);
  partRanges(board, u0, u1, (r0, r1) =>
    neuronForwardRange(from(b[0]!, xB), p, hasH === 1 ? from(b[1]!, hB) : null, wordsView(b[2]!, wB), from(b[3]!, vB), r0, r1));
}

let gvScratch = new Float64Array(0);

/** Backward (the split per-neuron path: sigmoid or analog) of spike units u0..u1-1 or claimed: buffers gS, h, words, gx; gv is per-thread scratch. */
function neuronBackwardTask(raw: ArrayLike<number>, ints: ArrayLike<number>, b: readonly FloatArray[]): void {
  const p = decodeNeuron(raw);
  const o = NEURON_ARGS;
  const alpha = raw[o]!;
  const [u0, u1, gB, hB, wB, xB, board] = [ints[o + 1]!, ints[o + 2]!, ints[o + 3]!, ints[o + 4]!, ints[o + 5]!, ints[o + 6]!, ints[o + 7]!];
  const n = p.rows * p.cols;
  if (gvScratch.length < n) gvScratch = new Float64Array(n);
  partRanges(board, u0, u1, (r0, r1) =>
    hardDetachedBackwardRange(from(b[0]!, gB), from(b[1]!, hB), wordsView(b[2]!, wB), p, alpha, from(b[3]!, xB), gvScratch, r0, r1));
}


// One thread's range of spike units, forward or backward.
const OP_NEURON_FORWARD = defineTask("neuron.forward", import.meta.url, (raw, a, b) => neuronForwardTask(raw, a, b));
const OP_NEURON_BACKWARD = defineTask("neuron.backward", import.meta.url, (raw, a, b) => neuronBackwardTask(raw, a, b));
/** Work per neuron and step, in the pool's multiply-add units (a forward step ~ 2, a backward step with its exp ~ 4, without ~ 2). */
const FORWARD_COST = 2;
const BACKWARD_COST = 4;
const ANALOG_BACKWARD_COST = 2;
/**
 * The smallest chunk of spike units the threads claim (2048 neurons over T steps). Claimed instead of
 * split evenly, a MNIST b64 two-thread training step took 0.985-0.991x (fused BN-LIF forward) and then
 * 0.987-1.0x (backward) the time (in-process alternation): the calling thread no longer waits for a worker
 * that started late.
 */
const CLAIM_UNITS = 64;

/** The smallest claim: CLAIM_UNITS, or single units for an explicit thread count (tests: small layers still spread). */
const claimUnits = (threads: number | undefined): number => (threads === undefined ? CLAIM_UNITS : 1);


/** Copies elements [t stride + a, t stride + b) of every step t from src to dst (same layout, same element type). */
function copySteps<A extends FloatArray | Uint32Array>(src: A, dst: A, steps: number, stride: number, a: number, b: number): void {
  if (b <= a) return;
  for (let t = 0; t < steps; t++) {
    const o = t * stride;
    (dst as Float64Array).set(src.subarray(o + a, o + b) as Float64Array, o + a);
  }
}

/** A forward task's arguments: the kernel parameters, then hasH, the unit range and the bases of x, h, words, v (the board's index follows). */
function forwardArgs(base: readonly number[], hasH: boolean, u0: number, u1: number, x: FloatArray, h: FloatArray, w: Float32Array, v: FloatArray): number[] {
  return [...base, hasH ? 1 : 0, u0, u1, sabBase(x), sabBase(h), sabBase(w), sabBase(v)];
}

/** The workers' parts of a neuron task, one a range cuts[j]..cuts[j + 1] for j >= 1 (the calling thread takes the first). */
function unitParts(op: number, cuts: readonly number[], args: (u0: number, u1: number) => number[], bufs: readonly FloatArray[]): Part[] {
  const jobs: Part[] = [];
  for (let j = 1; j + 1 < cuts.length; j++) jobs.push({ op, args: args(cuts[j]!, cuts[j + 1]!), bufs });
  return jobs;
}

/** Parts for `steps x n` neurons at `cost` per step, over `units` spike units (1 = stay on this thread). */
function partsOf(p: NeuronKernelParams, cost: number, threads: number | undefined): number {
  const units = p.rows * wordsFor(p.cols);
  let parts = threads ?? partsFor(p.steps * p.rows * p.cols * cost, units);
  parts = Math.min(parts, units);
  if (parts > 1) parts = Math.min(parts, usableThreads());
  return parts;
}

/**
 * The split of a neuron layer's spike units into `parts` ranges: cuts, the
 * calling thread's share (units 0..mine-1, elements 0..e0-1 of every step)
 * and the sizes the staging needs.
 */
function splitUnits(p: NeuronKernelParams, parts: number) {
  const wpr = wordsFor(p.cols);
  const units = p.rows * wpr;
  const cuts = evenCuts(units, parts, partShares(parts));
  const mine = cuts[1]!;
  return { steps: p.steps, n: p.rows * p.cols, units, cuts, mine, e0: unitElem(mine, p.cols, wpr) };
}

/**
 * {@link neuronForward} (same contract, same bits) split over `threads`
 * threads (default: by size and the pool).
 */
export function neuronForwardThreads(
  x: FloatArray, p: NeuronKernelParams, h: FloatArray | null, words: Uint32Array, v: FloatArray, threads?: number,
): void {
  const parts = partsOf(p, FORWARD_COST, threads);
  if (parts <= 1) {
    neuronForward(x, p, h, words, v);
    return;
  }
  const base = encodeNeuron(p);
  if (inHeap(x) && (h === null || inHeap(h)) && inHeap(words) && inHeap(v)) {
    const ww = asFloats(words), hh = h ?? x;
    runClaimed("multiStepNeuron.forward", p.rows * wordsFor(p.cols), parts, claimUnits(threads), (at) => ({
      op: OP_NEURON_FORWARD, args: [...forwardArgs(base, h !== null, 0, 0, x, hh, ww, v), at], bufs: [x, hh, ww, v],
    }), (ranges) => ranges((u0, u1) => neuronForwardRange(x, p, h, words, v, u0, u1)));
    return;
  }
  const { steps, n, units, cuts, mine, e0 } = splitUnits(p, parts);
  const f64 = x instanceof Float64Array;
  const stX = !inHeap(x), stH = h !== null && !inHeap(h), stW = !inHeap(words), stV = !inHeap(v);
  const [sx, sh, sw, sv] = scratchViews([
    [f64, stX ? steps * n : 0], [f64, stH ? steps * n : 0], [false, stW ? steps * units : 0], [f64, stV ? n : 0],
  ]) as [FloatArray, FloatArray, Float32Array, FloatArray];
  if (stX) copySteps(x, sx, steps, n, e0, n);
  const wx = stX ? sx : x, wh = h === null ? wx : stH ? sh : h, wv = stV ? sv : v;
  const ww = stW ? sw : asFloats(words);
  const jobs = unitParts(OP_NEURON_FORWARD, cuts, (u0, u1) => [...forwardArgs(base, h !== null, u0, u1, wx, wh, ww, wv), 0], [wx, wh, ww, wv]);
  runParts("multiStepNeuron.forward", jobs, () => neuronForwardRange(x, p, h, words, v, 0, mine), partCosts(null, cuts));
  if (stH) copySteps(sh, h!, steps, n, e0, n);
  if (stW) copySteps(new Uint32Array(sw.buffer, sw.byteOffset, sw.length), words, steps, units, mine, units);
  if (stV) v.set(sv.subarray(e0, n), e0);
}

/**
 * The fused batch-norm affine + LIF forward of the spike units a worker part claims: the forward task's
 * arguments ({@link forwardArgs}), then the layout, the vector's base and the claims' board; buffers x, h
 * (or any when hasH = 0), words, v, vec.
 */
function normForwardTask(raw: ArrayLike<number>, ints: ArrayLike<number>, b: readonly FloatArray[]): void {
  const p = decodeNeuron(raw);
  const o = NEURON_ARGS;
  const [hasH, , , xB, hB, wB, vB, columns, rpc, chans, vecB, xRepeats, board] = Array.from({ length: 13 }, (_, i) => ints[o + i]!);
  claimedRanges(board)((r0, r1) => normLifForwardRangeWasm(
    from(b[0]!, xB) as Float32Array, { columns: columns === 1, rpc, chans }, from(b[4]!, vecB) as Float32Array, p,
    hasH === 1 ? from(b[1]!, hB) as Float32Array : null, wordsView(b[2]!, wB), from(b[3]!, vB) as Float32Array, r0, r1, xRepeats === 1,
  ));
}

const OP_NORM_FORWARD = defineTask("neuron.normForward", import.meta.url, (raw, a, b) => normForwardTask(raw, a, b));

/**
 * The LIF forward over a batch norm's affine map of x (y = x scale + shift per
 * channel, see src/kernels/neuron/norm-lif.ts) in one pass, split over
 * `threads` threads (default: by size and the pool) by spike units, as
 * {@link neuronForwardThreads}: the bits of the affine pass followed by the
 * neuron forward. Needs what {@link normLifWasmFits} says (the callers check). `xRepeats`: x holds
 * one step, read at every step (see normLifForwardRangeWasm).
 */
export function normNeuronForwardThreads(
  x: Float32Array, a: AffineLayout, scale: Float64Array, shift: Float64Array,
  p: NeuronKernelParams, h: Float32Array | null, words: Uint32Array, v: Float32Array, threads?: number, xRepeats = false,
): void {
  if (!normLifWasmFits(x, a, p, h, words, v)) throw new Error("normNeuronForwardThreads: internal: the fused forward does not apply");
  const vec = affineVector("normNeuronForwardThreads", scale, shift, a.chans);
  const parts = partsOf(p, FORWARD_COST + 1, threads); // the affine map's multiply and add: one unit more a value
  const units = p.rows * wordsFor(p.cols);
  if (parts <= 1) {
    normLifForwardRangeWasm(x, a, vec, p, h, words, v, 0, units, xRepeats);
    return;
  }
  // The arrays are in the heap (normLifWasmFits): the threads claim units.
  const ww = asFloats(words), hh = h ?? x;
  const args = [...forwardArgs(encodeNeuron(p), h !== null, 0, 0, x, hh, ww, v), a.columns ? 1 : 0, a.rpc, a.chans, sabBase(vec), xRepeats ? 1 : 0];
  runClaimed("multiStepNeuron.normForward", units, parts, claimUnits(threads), (at) => ({ op: OP_NORM_FORWARD, args: [...args, at], bufs: [x, hh, ww, v, vec] }),
    (ranges) => ranges((u0, u1) => normLifForwardRangeWasm(x, a, vec, p, h, words, v, u0, u1, xRepeats)));
}

/**
 * The fused BN-LIF backward of the spike units a worker part claims: the kernel parameters, alpha, the bases
 * of x, gS, words, gy, the layout, the vector's base and the claims' board; buffers x, gS, words, gy, vec.
 */
function normBackwardTask(raw: ArrayLike<number>, ints: ArrayLike<number>, b: readonly FloatArray[]): void {
  const p = decodeNeuron(raw);
  const o = NEURON_ARGS;
  const alpha = raw[o]!;
  const [xB, gB, wB, yB, columns, rpc, chans, vecB, board] = Array.from({ length: 9 }, (_, i) => ints[o + 1 + i]!);
  claimedRanges(board)((r0, r1) => normLifBackwardRangeWasm(
    from(b[0]!, xB) as Float32Array, { columns: columns === 1, rpc, chans }, from(b[4]!, vecB) as Float32Array, p, from(b[1]!, gB) as Float32Array,
    wordsView(b[2]!, wB), alpha, from(b[3]!, yB) as Float32Array, r0, r1,
  ));
}

const OP_NORM_BACKWARD = defineTask("neuron.normBackward", import.meta.url, (raw, a, b) => normBackwardTask(raw, a, b));

/**
 * gy = dL/dy of the fused BN-LIF forward (y = x scale + shift per channel, Spikformer's LIF with the sigmoid
 * surrogate of slope `alpha`) from gS = dL/dS and the forward's spikes `words`, the membrane made again
 * block by block in cache ({@link normLifBackwardRangeWasm}), split over `threads` threads (default: by
 * size and the pool) by spike units claimed as they go: the bits of the forward writing H followed by the
 * neuron backward over it. Needs what {@link normLifBackwardFits} says (the callers check).
 */
export function normNeuronBackwardThreads(
  x: Float32Array, a: AffineLayout, scale: Float64Array, shift: Float64Array, p: NeuronKernelParams, gS: Float32Array, words: Uint32Array,
  alpha: number, gy: Float32Array, threads?: number,
): void {
  if (!normLifBackwardFits(x, a, p, gS, words, gy, alpha)) throw new Error("normNeuronBackwardThreads: internal: the fused backward does not apply");
  const vec = affineVector("normNeuronBackwardThreads", scale, shift, a.chans);
  const parts = partsOf(p, FORWARD_COST + 1 + BACKWARD_COST, threads);
  const units = p.rows * wordsFor(p.cols);
  if (parts <= 1) {
    normLifBackwardRangeWasm(x, a, vec, p, gS, words, alpha, gy, 0, units);
    return;
  }
  const ww = asFloats(words);
  const args = [...encodeNeuron(p), alpha, sabBase(x), sabBase(gS), sabBase(ww), sabBase(gy), a.columns ? 1 : 0, a.rpc, a.chans, sabBase(vec)];
  runClaimed("multiStepNeuron.normBackward", units, parts, claimUnits(threads), (at) => ({ op: OP_NORM_BACKWARD, args: [...args, at], bufs: [x, gS, ww, gy, vec] }),
    (ranges) => ranges((u0, u1) => normLifBackwardRangeWasm(x, a, vec, p, gS, words, alpha, gy, u0, u1)));
}

/** One batch norm's affine map as {@link affineVectors} takes it: per-channel scale and shift. */
export interface AffineMap {
  scale: Float64Array;
  shift: Float64Array;
  chans: number;
}

/**
 * The fused BN-LIF kernel's channel vectors, one a map (scale then shift, {@link affineVectorLength}
 * slots each, the padding zero), in this thread's pool scratch, valid until its next use. The kernel's
 * lanes are float32: other values would be rounded there but not in the reference, so they are refused
 * (`op` names the caller).
 */
export function affineVectors(op: string, maps: readonly AffineMap[]): Float32Array[] {
  for (const { scale, shift, chans } of maps) {
    for (const [what, vals] of [["scale", scale], ["shift", shift]] as const) {
      for (let ch = 0; ch < chans; ch++) {
        const t = vals[ch]!;
        if (Math.fround(t) !== t && t === t) throw new BitspikeError(op, `${what}[${ch}] must be a float32 value (batchNormState rounds it for float32), got ${t}`);
      }
    }
  }
  // One request for all: each scratchViews call reuses the same scratch.
  const vecs = scratchViews(maps.map((m) => [false, 2 * affineVectorLength(m.chans), true] as const)) as Float32Array[];
  maps.forEach(({ scale, shift, chans }, i) => {
    const vec = vecs[i]!, len = affineVectorLength(chans);
    vec.fill(0);
    vec.set(scale.subarray(0, chans), 0);
    vec.set(shift.subarray(0, chans), len);
  });
  return vecs;
}

/** {@link affineVectors} of one map. */
export function affineVector(op: string, scale: Float64Array, shift: Float64Array, chans: number): Float32Array {
  return affineVectors(op, [{ scale, shift, chans }])[0]!;
}

/**
 * {@link neuronBackward} (same contract, same bits). The per-neuron paths
 * (Spikformer's neuron: hard reset, detach_reset, no PLIF gradient, with the
 * sigmoid inlined; the analog LIAF / PLIAF with that reset, no surrogate) are
 * split over threads, and so is the part of PLIF's and PLIAF's with the weight
 * gradient before that gradient's fixed-order sum ({@link plifFastBackward});
 * the general path (a surrogate given as a function, a soft or attached reset)
 * stays on the calling thread.
 */
export function neuronBackwardThreads(
  gS: FloatArray, h: FloatArray, words: Uint32Array, x: FloatArray | null, p: NeuronKernelParams,
  derivative: (z: number) => number, gx: FloatArray, gv: Float64Array, sigmoidAlpha?: number, threads?: number,
): number {
  if (sigmoidAlpha !== undefined && x !== null && plifFastBackward(p, true)) {
    // PLIF / PLIAF with the weight gradient: gH by the split backward, then dX and the fixed-order sum. A float32
    // neuron's gH are float32 values, so a float32 array holds them exactly (and the WASM twin can write them).
    const gH = heapArray(p.f32 ? Float32Array : Float64Array, p.steps * p.rows * p.cols);
    neuronBackwardThreads(gS, h, words, null, plifMembraneGradParams(p), derivative, gH, gv, sigmoidAlpha, threads);
    const gk = plifBackwardTail(gH, h, words, x, p, gx);
    freeArray(gH, "released by the PLIF backward (its membrane gradients)");
    return gk;
  }
  const cost = p.analog === true ? ANALOG_BACKWARD_COST : BACKWARD_COST;
  const parts = sigmoidAlpha !== undefined && splittableBackward(p, x !== null) ? partsOf(p, cost, threads) : 1;
  if (parts <= 1) return neuronBackward(gS, h, words, x, p, derivative, gx, gv, sigmoidAlpha);
  const alpha = sigmoidAlpha!;
  const base = encodeNeuron(p);
  if (inHeap(gS) && inHeap(h) && inHeap(words) && inHeap(gx)) {
    const ww = asFloats(words);
    runClaimed("multiStepNeuron.backward", p.rows * wordsFor(p.cols), parts, claimUnits(threads), (at) => ({
      op: OP_NEURON_BACKWARD, args: [...base, alpha, 0, 0, sabBase(gS), sabBase(h), sabBase(ww), sabBase(gx), at], bufs: [gS, h, ww, gx],
    }), (ranges) => ranges((u0, u1) => hardDetachedBackwardRange(gS, h, words, p, alpha, gx, gv, u0, u1)));
    return 0;
  }
  const { steps, n, units, cuts, mine, e0 } = splitUnits(p, parts);
  const f64 = gS instanceof Float64Array;
  const stG = !inHeap(gS), stH = !inHeap(h), stW = !inHeap(words), stX = !inHeap(gx);
  const [sg, sh, sw, sx] = scratchViews([
    [f64, stG ? steps * n : 0], [h instanceof Float64Array, stH ? steps * n : 0], [false, stW ? steps * units : 0],
    [gx instanceof Float64Array, stX ? steps * n : 0],
  ]) as [FloatArray, FloatArray, Float32Array, FloatArray];
  if (stG) copySteps(gS, sg, steps, n, e0, n);
  if (stH) copySteps(h, sh, steps, n, e0, n);
  if (stW) copySteps(words, new Uint32Array(sw.buffer, sw.byteOffset, sw.length), steps, units, mine, units);
  const wg = stG ? sg : gS, wh = stH ? sh : h, ww = stW ? sw : asFloats(words), wx = stX ? sx : gx;
  const jobs = unitParts(OP_NEURON_BACKWARD, cuts, (u0, u1) => [...base, alpha, u0, u1, sabBase(wg), sabBase(wh), sabBase(ww), sabBase(wx), 0], [wg, wh, ww, wx]);
  runParts("multiStepNeuron.backward", jobs, () => hardDetachedBackwardRange(gS, h, words, p, alpha, gx, gv, 0, mine), partCosts(null, cuts));
  if (stX) copySteps(sx, gx, steps, n, e0, n);
  return 0;
}
