/**
 * Threaded twins of the event-driven spike convolution loops of
 * src/ops/spike/spike-conv.ts. The forward splits the batch (each image is
 * computed whole by one thread, by the same per-image kernel). The weight
 * gradient splits the input channels: the rows of the accumulator
 * accW [C kh kw, O] of channels c0..c1-1 are a contiguous block fed only by
 * the spikes of those channels, and each thread still visits every image in
 * batch order and its bits in (c, y, x) order, so each accumulator element
 * sees the same additions in the same order as the single-thread loop.
 * Results are bit-identical for any thread count. The counts convolution
 * (values [N, C, H, W] whose nonzeros are the words' bits) splits the same way.
 */
import { inHeap } from "../../tensor/heap.js";
import type { FloatArray } from "../../tensor/tensor.js";
import type { ConvGeom } from "../conv/conv.js";
import { spikeConvForwardRange, spikeConvWeightRange } from "./spike-conv.js";
import { spikeConvNormLifRange } from "./norm-lif.js";
import { lifKernelParams, type NeuronKernelParams } from "../neuron/neuron.js";
import { asFloats, defineTask, from, wordsView } from "../../parallel/registry.js";
import { partShares, partsFor, runParts, sabBase, scratchViews, usableThreads, type Part } from "../../parallel/pool.js";
import { eachSampledRow, partCosts, popcountRange, weightedCuts } from "../../parallel/balance.js";
import { claimedRanges, runClaimed, unitRange, type UnitRanges } from "../../parallel/claims.js";


/** Slots of a spike-conv task's arguments holding c, wpr, o and the geometry; task arguments follow. */
const SPIKE_CONV_ARGS = 15;

function encodeSpikeConv(c: number, wpr: number, o: number, g: ConvGeom): number[] {
  return [c, wpr, o, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.oh, g.ow];
}

function decodeGeom(a: ArrayLike<number>): ConvGeom {
  return { h: a[3]!, w: a[4]!, kh: a[5]!, kw: a[6]!, sh: a[7]!, sw: a[8]!, ph: a[9]!, pw: a[10]!, dh: a[11]!, dw: a[12]!, oh: a[13]!, ow: a[14]! };
}

/** The counts a task was handed: buffer 3 from element `xB`, or none when xB < 0. */
function countsOf(b: readonly FloatArray[], xB: number): FloatArray | null {
  return xB < 0 ? null : from(b[3]!, xB);
}

/** Worker part of the spike-conv forward: buffers s (as Float32), wT (or W when outIn), out, counts. */
function spikeConvForwardTask(a: ArrayLike<number>, b: readonly FloatArray[]): void {
  const o = SPIKE_CONV_ARGS;
  const [imgWords, sB, wB, outB, i0, i1, xB, outIn, claims] = [a[o]!, a[o + 1]!, a[o + 2]!, a[o + 3]!, a[o + 4]!, a[o + 5]!, a[o + 6]!, a[o + 7]!, a[o + 8]!];
  spikeConvForwardRange(
    wordsView(b[0]!, sB), a[1]!, a[0]!, decodeGeom(a), from(b[1]!, wB), a[2]!, from(b[2]!, outB), imgWords, i0, i1, countsOf(b, xB), outIn === 1,
    claims > 0 ? claimedRanges(claims) : unitRange(i0, i1),
  );
}

/** Worker part of the spike-conv weight gradient: buffers s (as Float32), gy (channels-first), accW, counts; `fresh`: its accW rows zeroed first. */
function spikeConvWeightTask(a: ArrayLike<number>, b: readonly FloatArray[]): void {
  const o = SPIKE_CONV_ARGS;
  const [imgWords, n, sB, gB, accB, c0, c1, xB, fresh] = [a[o]!, a[o + 1]!, a[o + 2]!, a[o + 3]!, a[o + 4]!, a[o + 5]!, a[o + 6]!, a[o + 7]!, a[o + 8]!];
  const g = decodeGeom(a), acc = from(b[2]!, accB);
  if (fresh === 1) zeroChannelRows(acc, c0, c1, g, a[2]!);
  spikeConvWeightRange(wordsView(b[0]!, sB), imgWords, n, a[1]!, a[0]!, c0, c1, g, from(b[1]!, gB), true, a[2]!, acc, countsOf(b, xB));
}

/**
 * Worker part of the fused conv -> BN -> LIF forward: buffers s (as Float32), w, out words (as Float32),
 * vec; the LIF's float constants in the raw arguments.
 */
function spikeConvNormLifTask(raw: ArrayLike<number>, a: ArrayLike<number>, b: readonly FloatArray[]): void {
  const at = (i: number): number => a[SPIKE_CONV_ARGS + i]!;
  const [imgWords, sB, wB, outB, b0, b1, claims, batch, vecB, T] = [at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7), at(8), at(9)];
  const [tau, vTh, vReset, hard] = [10, 11, 12, 13].map((i) => raw[SPIKE_CONV_ARGS + i]!) as [number, number, number, number];
  const g = decodeGeom(a), o = a[2]!;
  spikeConvNormLifRange(
    wordsView(b[0]!, sB), a[1]!, a[0]!, g, from(b[1]!, wB) as Float32Array, o, imgWords, batch, from(b[3]!, vecB) as Float32Array,
    lifKernelParams(T, g.oh * g.ow, o, { tau, vTh, vReset, hardReset: hard === 1 }), wordsView(b[2]!, outB), claims > 0 ? claimedRanges(claims) : unitRange(b0, b1),
    at(14),
  );
}

/** Zeroes accW's rows of input channels c0..c1-1 (each kh kw rows of o values). */
function zeroChannelRows(accW: FloatArray, c0: number, c1: number, g: ConvGeom, o: number): void {
  const perChannel = g.kh * g.kw * o;
  accW.fill(0, c0 * perChannel, c1 * perChannel);
}

// One thread's range of images (forward) or of input channels (weight gradient).
const OP_SPIKE_CONV_FORWARD = defineTask("spikeConv.forward", import.meta.url, (_raw, a, b) => spikeConvForwardTask(a, b));
const OP_SPIKE_CONV_WEIGHT = defineTask("spikeConv.weight", import.meta.url, (_raw, a, b) => spikeConvWeightTask(a, b));
const OP_SPIKE_CONV_NORM_LIF = defineTask("spikeConv.normLif", import.meta.url, (raw, a, b) => spikeConvNormLifTask(raw, a, b));
/** A spike convolution as the twins see it: spikes [n, c, h, w] packed along w (wpr words per row), weight [o, c, kh, kw]. */
export interface SpikeConvDims {
  n: number;
  c: number;
  o: number;
  wpr: number;
  g: ConvGeom;
}

/** The balancing costs count the set bits of every COST_STRIDE-th spike word (an estimate: the split, not the bits, depends on it). */
const COST_STRIDE = 4;
/** The weight gradient's channel costs are counted on this many images at most (spread over the batch). */
const COST_IMAGES = 32;

/**
 * What a forward output position costs, in set-bit taps (one weight row added each): its window's buckets
 * and its output row. At 1 the calling thread's images took 1.15x / 1.19x the worker's time (CIFAR b8 /
 * MNIST b64 training steps, whose first time step is nearly silent; each part timed after the other on one
 * thread, bench/pool-split.ts, which favours the second by about 4%); at 24, 1.04x / 0.94x (16: 1.05x /
 * 1.0x, 32: 0.98x / 0.93x).
 */
const OUTPUT_COST = 24;

/**
 * The fused inference forward's threads claim units as they go from this many a thread on (a thread can end
 * up to one unit after the other, against the cost model's error), else cut the batch elements by their cost.
 * MNIST b64 (64 elements) inference on two threads: the calling thread's wait for the worker 6.2 -> 0.3-0.7 ms
 * a pass; CIFAR b8's 8 elements (each 12% of the work) claimed whole, 1.2 -> 2.8-5.7 ms, so a small batch's
 * elements are cut into bands of output rows first (see FUSED_BAND_POSITIONS).
 */
const FUSED_CLAIM_UNITS_PER_THREAD = 8;

/**
 * A small batch's elements are cut into bands of output rows of at least this many positions, until there
 * are FUSED_CLAIM_UNITS_PER_THREAD units a thread: CIFAR b8 inference on two threads, its four stem and RPE
 * convs (8 elements; 2 bands each) claimed instead of cut, 116.3 -> 103.0 ms a pass (paired median of 24
 * alternations in one process; shorter runs: from 128 positions, which leaves the 8 x 8 RPE whole, 0.91-0.94x
 * of the cuts; 16 positions and 16 units a thread 0.89x, within the noise of 32 and 8).
 */
const FUSED_BAND_POSITIONS = 32;

/**
 * The training forward's threads claim images (each one a unit) from this many images a thread on. CIFAR b8's
 * 32 images (3% of the work each) claimed instead of cut by their cost: the op's time in a two-thread training
 * step 103.5 -> 91.7 ms (from 8 images a thread: 94.1; medians of eight steps, alternating in one process).
 */
const FORWARD_CLAIM_IMAGES_PER_THREAD = 4;

/** Work estimate: dense multiply-adds over 8 (the scatter only runs for set bits; firing rates are ~10-20%). */
function work(d: SpikeConvDims): number {
  return (d.n * d.c * d.g.h * d.g.w * d.g.kh * d.g.kw * d.o) / 8;
}

function partsOf(d: SpikeConvDims, units: number, threads: number | undefined): number {
  let p = threads ?? partsFor(work(d), units);
  p = Math.min(p, units);
  if (p > 1) p = Math.min(p, usableThreads());
  return p;
}

/**
 * out [n, o, OH, OW] = the spike convolution of `words` with wT [C kh kw, O]
 * (the transposed weight; with `outIn`, the weight as the conv stores it,
 * [O, C kh kw], which each thread packs or transposes as its sums read it),
 * one image per spikeConvForwardImage call, the
 * batch split over threads (default: by size and the pool). With `counts`
 * (values [n, C, H, W] whose nonzeros are the bits of `words`): the counts
 * convolution.
 */
export function spikeConvForwardThreads(
  d: SpikeConvDims, words: Uint32Array, wT: FloatArray, out: FloatArray, threads?: number, counts: FloatArray | null = null, outIn = false,
): void {
  const { n, c, o, wpr, g } = d;
  const imgWords = c * g.h * wpr;
  const p = partsOf(d, n, threads);
  if (p <= 1) {
    spikeConvForwardRange(words, wpr, c, g, wT, o, out, imgWords, 0, n, counts, outIn);
    return;
  }
  const dims = encodeSpikeConv(c, wpr, o, g);
  if (n >= FORWARD_CLAIM_IMAGES_PER_THREAD * p && inHeap(words) && inHeap(wT) && inHeap(out) && (counts === null || inHeap(counts))) {
    // Many images and every operand where the workers see it: the threads claim chunks of images as they go
    // (see the spike gathers), which absorbs a wrong estimate and a worker that starts late.
    const fw = asFloats(words), xB = counts === null ? -1 : sabBase(counts);
    runClaimed("spikeConv2d.forward", n, p, 1, (at) => ({
      op: OP_SPIKE_CONV_FORWARD, args: [...dims, imgWords, sabBase(fw), sabBase(wT), sabBase(out), 0, 0, xB, outIn ? 1 : 0, at], bufs: [fw, wT, out, counts ?? wT],
    }), (images) => spikeConvForwardRange(words, wpr, c, g, wT, o, out, imgWords, 0, 0, counts, outIn, images));
    return;
  }
  // Balanced by work: an image costs its set bits times the taps, plus its output positions (their buckets and rows).
  const khw = g.kh * g.kw, ohw = g.oh * g.ow;
  const cost = new Float64Array(n);
  for (let i = 0; i < n; i++) cost[i] = popcountRange(words, i * imgWords, (i + 1) * imgWords, COST_STRIDE) * khw + ohw * OUTPUT_COST;
  const cuts = weightedCuts(cost, p, partShares(p));
  const mine = cuts[1]!;
  const outImg = o * ohw;
  const stS = !inHeap(words), stW = !inHeap(wT), stO = !inHeap(out), stX = counts !== null && !inHeap(counts);
  const f64 = out instanceof Float64Array;
  const [ss, sw, so, sx] = scratchViews([
    [false, stS ? n * imgWords : 0], [wT instanceof Float64Array, stW ? wT.length : 0], [f64, stO ? n * outImg : 0],
    [counts instanceof Float64Array, stX ? counts!.length : 0],
  ]) as [Float32Array, FloatArray, FloatArray, FloatArray];
  if (stS) new Uint32Array(ss.buffer, ss.byteOffset, ss.length).set(words.subarray(mine * imgWords, n * imgWords), mine * imgWords);
  if (stW) sw.set(wT);
  if (stX) sx.set(counts!);
  const ws = stS ? ss : asFloats(words);
  const ww = stW ? sw : wT, wo = stO ? so : out;
  const wx = counts === null ? ww : stX ? sx : counts;
  const xB = counts === null ? -1 : sabBase(wx);
  const jobs: Part[] = [];
  for (let j = 1; j < p; j++) {
    jobs.push({
      op: OP_SPIKE_CONV_FORWARD, args: [...dims, imgWords, sabBase(ws), sabBase(ww), sabBase(wo), cuts[j]!, cuts[j + 1]!, xB, outIn ? 1 : 0], bufs: [ws, ww, wo, wx],
    });
  }
  runParts("spikeConv2d.forward", jobs, () => spikeConvForwardRange(words, wpr, c, g, wT, o, out, imgWords, 0, mine, counts, outIn), partCosts(cost, cuts));
  if (stO) out.set(so.subarray(mine * outImg, n * outImg), mine * outImg);
}

/**
 * accW [C kh kw, O] += the weight gradient for output gradient gy [n, o, OH, OW]
 * (channels-first; `fresh`: accW = it, whatever accW held, each thread zeroing
 * its channels' rows before it sums into them), summed over the batch in order, the input channels split
 * over threads. Every thread runs the op's one-thread loop on its channels: per image, the gradient
 * transposed (channels last) into its own scratch, then scattered. Each thread transposes every image,
 * but reads it while it is in its cache: with chunks of images transposed first by all threads and then
 * read by each, the parts summed to 1.0-1.6x the one-thread loop's work (now 1.0-1.2x,
 * bench/spike-conv-weight.ts), and the op took 104 -> 90 ms a MNIST b64 and 103 -> 86 ms a CIFAR b8
 * two-thread training step (medians of eight, the two alternating in one process).
 * With `counts`: the counts convolution's weight gradient.
 */
export function spikeConvWeightThreads(
  d: SpikeConvDims, words: Uint32Array, gy: FloatArray, accW: FloatArray, threads?: number, counts: FloatArray | null = null, fresh = false,
): void {
  const { n, c, o, wpr, g } = d;
  const imgWords = c * g.h * wpr;
  const f64 = gy instanceof Float64Array;
  const p = partsOf(d, c, threads);
  if (p <= 1) {
    if (fresh) accW.fill(0);
    spikeConvWeightRange(words, imgWords, n, wpr, c, 0, c, g, gy, true, o, accW, counts);
    return;
  }
  // Balanced by work: a channel costs its set bits (over the batch) times the taps, plus scanning its words;
  // counted on up to COST_IMAGES images spread over the batch (every image's: 61k calls a MNIST b64 step).
  const khw = g.kh * g.kw;
  const plane = g.h * wpr;
  const cost = new Float64Array(c);
  eachSampledRow(n, COST_IMAGES, (i) => {
    for (let ci = 0; ci < c; ci++) cost[ci] += popcountRange(words, i * imgWords + ci * plane, i * imgWords + (ci + 1) * plane, COST_STRIDE) * khw + plane;
  });
  const cuts = weightedCuts(cost, p, partShares(p));
  const mine = cuts[1]!;
  const stS = !inHeap(words), stG = !inHeap(gy), stA = !inHeap(accW), stX = counts !== null && !inHeap(counts);
  const [ss, sg, sa, sx] = scratchViews([
    [false, stS ? n * imgWords : 0], [f64, stG ? gy.length : 0], [accW instanceof Float64Array, stA ? accW.length : 0],
    [counts instanceof Float64Array, stX ? counts!.length : 0],
  ]) as [Float32Array, FloatArray, FloatArray, FloatArray];
  if (stS) new Uint32Array(ss.buffer, ss.byteOffset, ss.length).set(words);
  if (stG) sg.set(gy);
  if (stX) sx.set(counts!);
  const rowLo = mine * khw * o;
  if (stA && !fresh) sa.set(accW.subarray(rowLo), rowLo);
  const ws = stS ? ss : asFloats(words), wg = stG ? sg : gy, wa = stA ? sa : accW;
  const wx = counts === null ? null : stX ? sx : counts;
  const jobs: Part[] = [];
  for (let j = 1; j < p; j++) jobs.push(weightJob(d, ws, wg, wa, wx, cuts[j]!, cuts[j + 1]!, fresh));
  runParts("spikeConv2d.weight", jobs, () => {
    if (fresh) zeroChannelRows(accW, 0, mine, g, o);
    spikeConvWeightRange(words, imgWords, n, wpr, c, 0, mine, g, gy, true, o, accW, counts);
  }, partCosts(cost, cuts));
  if (stA) accW.set(sa.subarray(rowLo, accW.length), rowLo);
}

/**
 * The whole of {@link spikeConvWeightThreads} as one worker's part, to run beside the input gradient's claims
 * (runBesideOr in src/parallel/pool.ts); null where an array is not in the heap.
 */
export function spikeConvWeightPart(d: SpikeConvDims, words: Uint32Array, gy: FloatArray, accW: FloatArray, counts: FloatArray | null, fresh: boolean): Part | null {
  if (!inHeap(words) || !inHeap(gy) || !inHeap(accW) || (counts !== null && !inHeap(counts))) return null;
  return weightJob(d, asFloats(words), gy, accW, counts, 0, d.c, fresh);
}

/** A worker's part of the weight gradient: input channels c0..c1-1, every array a heap one (spike words as Float32). */
function weightJob(d: SpikeConvDims, ws: Float32Array, gy: FloatArray, accW: FloatArray, counts: FloatArray | null, c0: number, c1: number, fresh: boolean): Part {
  const { n, c, o, wpr, g } = d;
  return {
    op: OP_SPIKE_CONV_WEIGHT,
    args: [...encodeSpikeConv(c, wpr, o, g), c * g.h * wpr, n, sabBase(ws), sabBase(gy), sabBase(accW), c0, c1, counts === null ? -1 : sabBase(counts), fresh ? 1 : 0],
    bufs: [ws, gy, accW, counts ?? accW],
  };
}

let fusedCalls = 0;

/** How many fused conv -> BN -> LIF forwards this thread has started (lets tests see that the fused path ran). */
export function spikeConvNormLifCalls(): number {
  return fusedCalls;
}

/**
 * The fused inference forward spike conv -> batch norm -> LIF ({@link spikeConvNormLifRange}): `words`
 * holds d.n = T `batch` images [C, H, W] (image t batch + b: step t of batch element b), w the conv's
 * weight [O, C kh kw], vec the batch norm's scale and shift (affineVector), `lif` the neuron as it sees
 * one element's T steps (its tau, vTh, vReset and reset kind are used); `out` gets the spikes [T batch,
 * O, OH, OW]. The batch elements split over threads (default: by size and the pool), claimed as they go
 * when there are many (a small batch's cut into bands of output rows first), else cut by their set bits.
 * Needs what spikeConvNormLifFits says (the op checks).
 */
export function spikeConvNormLifThreads(
  d: SpikeConvDims, words: Uint32Array, w: Float32Array, batch: number, vec: Float32Array, lif: NeuronKernelParams, out: Uint32Array, threads?: number,
): void {
  fusedCalls++;
  const { c, o, wpr, g } = d;
  const T = lif.steps, ohw = g.oh * g.ow;
  const imgWords = c * g.h * wpr;
  // The fused forward's LIF over one batch element: T steps of the OH OW x O channels-last accumulators.
  const p = lifKernelParams(T, ohw, o, lif);
  const parts = partsOf(d, batch, threads);
  const range = (units: UnitRanges, bands = 1): void => spikeConvNormLifRange(words, wpr, c, g, w, o, imgWords, batch, vec, p, out, units, bands);
  if (parts <= 1) {
    range(unitRange(0, batch));
    return;
  }
  const args = (b0: number, b1: number, claims: number, bands: number): number[] => [
    ...encodeSpikeConv(c, wpr, o, g), imgWords, sabBase(asFloats(words)), sabBase(w), sabBase(asFloats(out)), b0, b1, claims, batch, sabBase(vec), T,
    p.tau, p.vTh, p.vReset, p.hardReset ? 1 : 0, bands,
  ];
  const bufs = [asFloats(words), w, asFloats(out), vec];
  const want = FUSED_CLAIM_UNITS_PER_THREAD * parts;
  const bands = Math.max(1, Math.min(Math.ceil(want / batch), Math.floor(ohw / FUSED_BAND_POSITIONS)));
  if (batch * bands >= want) {
    // Units enough: claimed as the threads go (see the forward above).
    runClaimed("spikeConvNormLif", batch * bands, parts, 1, (at) => ({ op: OP_SPIKE_CONV_NORM_LIF, args: args(0, 0, at, bands), bufs }), (units) =>
      range(units, bands));
    return;
  }
  // An element costs its T images' set bits times the taps, plus their output positions (see OUTPUT_COST).
  const cost = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < T; t++) {
      const i = t * batch + b;
      cost[b] += popcountRange(words, i * imgWords, (i + 1) * imgWords, COST_STRIDE) * g.kh * g.kw + ohw * OUTPUT_COST;
    }
  }
  const cuts = weightedCuts(cost, parts, partShares(parts));
  const jobs: Part[] = [];
  for (let j = 1; j < parts; j++) jobs.push({ op: OP_SPIKE_CONV_NORM_LIF, args: args(cuts[j]!, cuts[j + 1]!, 0, 1), bufs });
  runParts("spikeConvNormLif", jobs, () => range(unitRange(0, cuts[1]!)), partCosts(cost, cuts));
}
