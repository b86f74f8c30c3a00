/**
 * Task bodies of the threaded spike-path twins (neuron, spike conv, batch
 * norm passes, spike / counts linear, spike max-pool), run by the calling
 * thread and by the workers alike: each is a plain call of the single-thread
 * kernel on a range of independent units, so every
 * output element is computed by the same code in the same order whatever the
 * split. Arguments travel as float64s (see protocol.ts); buffers as
 * whole-heap views plus element offsets.
 */
import type { FloatArray } from "../tensor/tensor.js";
import {
  hardDetachedSigmoidBackwardRange, neuronForwardRange, type NeuronKernelParams,
} from "./neuron/neuron.js";
import { spikeConvForwardImages, spikeConvWeightImages } from "./spike-conv.js";
import type { ConvGeom } from "./conv/conv.js";
import { maxPoolBitsRange, type PoolGeometry } from "./spike-layout.js";
import { countsGatherAdd, countsScatterRowsCols, spikeGatherAdd, spikeScatterRowsWords } from "./spike-gemm.js";
import { channelAffineRange, channelGradInputRange, channelGradSumsRange, channelMeanVarRange } from "./norm/norm.js";

/** Slots of a neuron task's arguments holding the kernel parameters; task arguments follow. */
export const NEURON_ARGS = 12;

export function encodeNeuron(p: NeuronKernelParams): number[] {
  return [
    p.steps, p.rows, p.cols, p.leak, p.tau, p.k, p.decayInput ? 1 : 0, p.vTh, p.vReset,
    p.hardReset ? 1 : 0, p.detachReset ? 1 : 0, p.f32 ? 1 : 0,
  ];
}

/** Parameters back from raw (float64) arguments: tau, k, vTh and vReset are not integers. */
export function decodeNeuron(a: ArrayLike<number>): NeuronKernelParams {
  return {
    steps: a[0]! | 0, rows: a[1]! | 0, cols: a[2]! | 0, leak: a[3]! | 0, tau: a[4]!, k: a[5]!, decayInput: a[6] === 1,
    vTh: a[7]!, vReset: a[8]!, hardReset: a[9] === 1, detachReset: a[10] === 1, f32: a[11] === 1,
  };
}

/** A Uint32 view of the words a worker received as a Float32 view of their buffer, from element `base` on. */
export function wordsView(buf: FloatArray, base: number): Uint32Array {
  return new Uint32Array(buf.buffer, buf.byteOffset + base * 4, buf.length - base);
}

/** A view of a whole-buffer array from element `base` on. */
function from(a: FloatArray, base: number): FloatArray {
  return base === 0 ? a : a.subarray(base);
}

/** Forward of spike units u0..u1-1 (a worker part): buffers x, h (or any when hasH = 0), words, v. */
export function neuronForwardTask(raw: ArrayLike<number>, ints: ArrayLike<number>, b: readonly FloatArray[]): void {
  const p = decodeNeuron(raw);
  const o = NEURON_ARGS;
  const [hasH, u0, u1, xB, hB, wB, vB] = [ints[o]!, ints[o + 1]!, ints[o + 2]!, ints[o + 3]!, ints[o + 4]!, ints[o + 5]!, ints[o + 6]!];
  neuronForwardRange(from(b[0]!, xB), p, hasH === 1 ? from(b[1]!, hB) : null, wordsView(b[2]!, wB), from(b[3]!, vB), u0, u1);
}

let gvScratch = new Float64Array(0);

/** Backward (inlined sigmoid path) of spike units u0..u1-1: buffers gS, h, words, gx; gv is per-thread scratch. */
export function neuronBackwardTask(raw: ArrayLike<number>, ints: ArrayLike<number>, b: readonly FloatArray[]): void {
  const p = decodeNeuron(raw);
  const o = NEURON_ARGS;
  const alpha = raw[o]!;
  const [u0, u1, gB, hB, wB, xB] = [ints[o + 1]!, ints[o + 2]!, ints[o + 3]!, ints[o + 4]!, ints[o + 5]!, ints[o + 6]!];
  const n = p.rows * p.cols;
  if (gvScratch.length < n) gvScratch = new Float64Array(n);
  hardDetachedSigmoidBackwardRange(from(b[0]!, gB), from(b[1]!, hB), wordsView(b[2]!, wB), p, alpha, from(b[3]!, xB), gvScratch, u0, u1);
}

/** Slots of a spike-conv task's arguments holding c, wpr, o and the geometry; task arguments follow. */
export const SPIKE_CONV_ARGS = 15;

export function encodeSpikeConv(c: number, wpr: number, o: number, g: ConvGeom): number[] {
  return [c, wpr, o, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.oh, g.ow];
}

function decodeGeom(a: ArrayLike<number>): ConvGeom {
  return { h: a[3]!, w: a[4]!, kh: a[5]!, kw: a[6]!, sh: a[7]!, sw: a[8]!, ph: a[9]!, pw: a[10]!, dh: a[11]!, dw: a[12]!, oh: a[13]!, ow: a[14]! };
}

/**
 * Forward of spike-conv images i0..i1-1 straight into channels-first out
 * [N, o, OH, OW]: spikeConvForwardImages, one spikeConvForwardImage per image (the very loop
 * of the single-thread op). `s` holds the images' words, image i at i imgWords.
 */
export function spikeConvForwardRange(
  s: Uint32Array, wpr: number, c: number, g: ConvGeom, wT: FloatArray, o: number, out: FloatArray, imgWords: number, i0: number, i1: number,
): void {
  spikeConvForwardImages(s, wpr, c, g, wT, o, out, imgWords, i0, i1);
}

/**
 * Weight gradient rows of input channels c0..c1-1: for every image in batch
 * order, {@link spikeConvWeightGradChannels} with that image's channels-last
 * output gradient (gT holds them all, [N, OH OW, o]).
 */
export function spikeConvWeightRange(
  s: Uint32Array, wpr: number, c: number, g: ConvGeom, gT: FloatArray, o: number, accW: Float64Array, imgWords: number, n: number,
  c0: number, c1: number,
): void {
  spikeConvWeightImages(s, imgWords, n, wpr, c, c0, c1, g, gT, false, o, accW);
}

/** Worker part of the spike-conv forward: buffers s (as Float32), wT, out. */
export function spikeConvForwardTask(a: ArrayLike<number>, b: readonly FloatArray[]): void {
  const o = SPIKE_CONV_ARGS;
  const [imgWords, sB, wB, outB, i0, i1] = [a[o]!, a[o + 1]!, a[o + 2]!, a[o + 3]!, a[o + 4]!, a[o + 5]!];
  spikeConvForwardRange(wordsView(b[0]!, sB), a[1]!, a[0]!, decodeGeom(a), from(b[1]!, wB), a[2]!, from(b[2]!, outB), imgWords, i0, i1);
}

/** Worker part of the spike-conv weight gradient: buffers s (as Float32), gT, accW (float64). */
export function spikeConvWeightTask(a: ArrayLike<number>, b: readonly FloatArray[]): void {
  const o = SPIKE_CONV_ARGS;
  const [imgWords, n, sB, gB, accB, c0, c1] = [a[o]!, a[o + 1]!, a[o + 2]!, a[o + 3]!, a[o + 4]!, a[o + 5]!, a[o + 6]!];
  spikeConvWeightRange(
    wordsView(b[0]!, sB), a[1]!, a[0]!, decodeGeom(a), from(b[1]!, gB), a[2]!, from(b[2]!, accB) as Float64Array, imgWords, n, c0, c1,
  );
}

/** Batch-norm passes a channel task can run (see {@link channelTask}). */
export const BN_MEAN_VAR = 0;
export const BN_AFFINE = 1;
export const BN_GRAD_SUMS = 2;
export const BN_GRAD_INPUT = 3;

/**
 * One batch-norm pass over channels c0..c1-1 of x [n, c, s]. `vec` packs the
 * per-channel float64 vectors as five segments of length c:
 * mean-var: mean, varB (out); affine: scale, shift; grad sums: mean, invStd,
 * sumG, sumGX (out); grad input: mean, invStd, k, a, b.
 */
export function channelPass(
  kind: number, x: FloatArray, g: FloatArray, out: FloatArray, vec: Float64Array, n: number, c: number, s: number, c0: number, c1: number,
): void {
  const v = (j: number): Float64Array => vec.subarray(j * c, (j + 1) * c);
  if (kind === BN_MEAN_VAR) channelMeanVarRange(x, n, c, s, c0, c1, v(0), v(1));
  else if (kind === BN_AFFINE) channelAffineRange(x, out, n, c, s, c0, c1, v(0), v(1));
  else if (kind === BN_GRAD_SUMS) channelGradSumsRange(g, x, n, c, s, c0, c1, v(0), v(1), v(2), v(3));
  else channelGradInputRange(g, x, out, n, c, s, c0, c1, v(0), v(1), v(2), v(3), v(4));
}

/** Worker part of a batch-norm pass: args kind, n, c, s, c0, c1, bases of x, g, out, vec; buffers x, g, out, vec. */
export function channelTask(a: ArrayLike<number>, b: readonly FloatArray[]): void {
  channelPass(a[0]!, from(b[0]!, a[6]!), from(b[1]!, a[7]!), from(b[2]!, a[8]!), from(b[3]!, a[9]!) as Float64Array, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!);
}

/** Spike / counts linear pieces a linear task can run (see {@link linearPart}). */
export const LIN_SPIKE_GATHER = 0;
export const LIN_COUNTS_GATHER = 1;
export const LIN_SPIKE_SCATTER = 2;
export const LIN_COUNTS_SCATTER = 3;

/**
 * One piece of an event-driven linear. Gathers (forward) run rows r0..r1-1 of
 * C [m, n] = A Wᵀ (A spikes [m, wpr words] or counts [m, k], W given as
 * Wᵀ [k, n]); scatters (weight gradient) run the accumulator rows of spike
 * words r0..r1-1 (spikes) or of columns r0..r1-1 (counts) of acc [k, n] += Aᵀ G.
 * Offsets locate row 0 of each array.
 */
export function linearPart(
  kind: number, a: FloatArray, aOff: number, b: FloatArray, bOff: number, c: FloatArray, cOff: number,
  m: number, k: number, n: number, wpr: number, r0: number, r1: number, accumulate: boolean,
): void {
  if (kind === LIN_SPIKE_GATHER) spikeGatherAdd(wordsView(a, 0), aOff + r0 * wpr, wpr, b, bOff, c, cOff + r0 * n, r1 - r0, n, accumulate);
  else if (kind === LIN_COUNTS_GATHER) countsGatherAdd(a, aOff + r0 * k, b, bOff, c, cOff + r0 * n, r1 - r0, k, n, accumulate);
  else if (kind === LIN_SPIKE_SCATTER) spikeScatterRowsWords(wordsView(a, 0), aOff, wpr, r0, r1, b, bOff, c, cOff, m, n);
  else countsScatterRowsCols(a, aOff, b, bOff, c, cOff, m, k, r0, r1, n);
}

/** Worker part of a linear piece: args kind, aOff, bOff, cOff, m, k, n, wpr, r0, r1, accumulate; buffers a, b, c. */
export function linearTask(a: ArrayLike<number>, b: readonly FloatArray[]): void {
  linearPart(a[0]!, b[0]!, a[1]!, b[1]!, a[2]!, b[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!, a[10] === 1);
}

/** Slots of a max-pool task's arguments holding the geometry; task arguments follow. */
export const POOL_ARGS = 11;

export function encodePool(g: PoolGeometry): number[] {
  return [g.planes, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow];
}

/** Worker part of a spike max-pool: args geometry, hasArgmax, bases of src, dst, argmax, p0, p1; buffers src, dst, argmax (all as Float32). */
export function maxPoolTask(a: ArrayLike<number>, b: readonly FloatArray[]): void {
  const g: PoolGeometry = { planes: a[0]!, h: a[1]!, w: a[2]!, kh: a[3]!, kw: a[4]!, sh: a[5]!, sw: a[6]!, ph: a[7]!, pw: a[8]!, oh: a[9]!, ow: a[10]! };
  const o = POOL_ARGS;
  const am = a[o] === 1 ? new Int32Array(b[2]!.buffer, b[2]!.byteOffset + a[o + 3]! * 4, b[2]!.length - a[o + 3]!) : null;
  maxPoolBitsRange(wordsView(b[0]!, a[o + 1]!), wordsView(b[1]!, a[o + 2]!), am, g, a[o + 4]!, a[o + 5]!);
}
