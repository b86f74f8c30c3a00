/**
 * Threaded twins of the batch-norm channel passes (src/kernels/norm/norm.ts).
 * The sums passes (mean-var, gradient sums) split the sums' blocks of samples
 * (sumBlocks: fixed by the shape) between threads, each block's sums computed
 * whole by one thread and combined in block order by the calling thread; the
 * element-wise passes split samples (or, with few samples, channels). Every
 * value is the same operation whichever thread runs it: results are
 * bit-identical for any thread count.
 *
 * The passes are memory-bound (one or two sweeps of x and g). Staging a
 * worker's share in and out of the pool's shared scratch costs about as much
 * as computing it (measured: no gain on the main thread, more total work), so
 * by default a pass is split only when x, g and the output are already in
 * the heap (as every tensor the engine makes is); an explicit `threads` count
 * always splits (staging what is not in the heap; the tests use this). The small per-channel float64 vectors
 * always travel through the scratch.
 */
import { inHeap } from "../../tensor/heap.js";
import type { FloatArray } from "../../tensor/tensor.js";
import {
  channelAffine, channelGradInput, channelGradSums, channelMeanVar, channelAffineRange, channelGradInputRange,
  gradSumsBy, meanVarBy, sumBlocks, sumsPartials, type SumsPass,
} from "./norm.js";
import { defineTask, from } from "../../parallel/registry.js";
import { evenCuts, partCosts } from "../../parallel/balance.js";
import { claimedRanges, runClaimed } from "../../parallel/claims.js";
import { partShares, partsFor, runParts, sabBase, scratchViews, usableThreads, type Part } from "../../parallel/pool.js";


/** Batch-norm passes a channel task can run (see {@link channelTask}). */
export const BN_MEAN_VAR = 0;
export const BN_AFFINE = 1;
export const BN_GRAD_SUMS = 2;
export const BN_GRAD_INPUT = 3;

/**
 * One element-wise batch-norm pass (affine or input gradient) over channels c0..c1-1 of x [n, c, s]. `vec`
 * packs the per-channel float64 vectors as segments of length c: affine: scale, shift; grad input: mean,
 * invStd, k, a, b.
 */
export function channelPass(
  kind: number, x: FloatArray, g: FloatArray, out: FloatArray, vec: Float64Array, n: number, c: number, s: number, c0: number, c1: number,
): void {
  const v = (j: number): Float64Array => vec.subarray(j * c, (j + 1) * c);
  if (kind === BN_AFFINE) channelAffineRange(x, out, n, c, s, c0, c1, v(0), v(1));
  else if (kind === BN_GRAD_INPUT) channelGradInputRange(g, x, out, n, c, s, c0, c1, v(0), v(1), v(2), v(3), v(4));
  else throw new Error(`channelPass: internal: pass ${kind} is not element-wise`);
}

/**
 * Worker part of a batch-norm pass: args kind, n, c, s, c0, c1, bases of x, g, out, vec, then blocks and
 * stride: the pass runs on `blocks` runs of n samples, `stride` values apart (1 and 0: one run); buffers x, g, out, vec.
 */
function channelTask(a: ArrayLike<number>, b: readonly FloatArray[]): void {
  const vec = from(b[3]!, a[9]!) as Float64Array;
  for (let k = 0, o = 0; k < a[10]!; k++, o += a[11]!) {
    channelPass(a[0]!, from(b[0]!, a[6]! + o), from(b[1]!, a[7]! + o), from(b[2]!, a[8]! + o), vec, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!);
  }
}


// One thread's range of channels of a pass.
const OP_CHANNEL_NORM = defineTask("norm.channels", import.meta.url, (_raw, a, b) => channelTask(a, b));
/** Work per element of a pass, in the pool's multiply-add units (a streaming pass ~ 1; mean-var keeps two sums an element). */
const COST = [2, 1, 1, 1];
/** Each pass's name in the pool's profile (bench/pool-split.ts) and errors. */
const PASS_NAMES = ["batchNorm.meanVar", "batchNorm.affine", "batchNorm.gradSums", "batchNorm.gradInput"];

/**
 * Runs element-wise pass `kind` on `parts` threads; ins: the per-channel vectors (in segment order). By
 * samples (see threadedRows) where its arrays are shared and the samples many, else by channels.
 */
function threaded(
  kind: number, parts: number, x: FloatArray, g: FloatArray | null, out: FloatArray, n: number, c: number, s: number,
  ins: readonly Float64Array[], blocks = 1,
): void {
  if (n >= ROW_SPLIT_MIN * parts && inHeap(x) && (g === null || inHeap(g)) && inHeap(out)) {
    threadedRows(kind, parts, x, g, out, n, c, s, ins, n % blocks === 0 && n / blocks >= ROW_SPLIT_MIN * parts ? blocks : 1);
    return;
  }
  const cuts = evenCuts(c, parts, partShares(parts));
  const mine = cuts[1]!;
  const len = n * c * s;
  const stX = !inHeap(x), stG = g !== null && !inHeap(g), stO = !inHeap(out);
  const [sx, sg, so, vec] = scratchViews([
    [x instanceof Float64Array, stX ? len : 0], [g instanceof Float64Array, stG ? len : 0],
    [out instanceof Float64Array, stO ? len : 0], [true, 5 * c, true],
  ]) as [FloatArray, FloatArray, FloatArray, Float64Array];
  if (stX) stageChannels(x, sx, n, c, s, mine);
  if (stG) stageChannels(g!, sg, n, c, s, mine);
  for (let j = 0; j < ins.length; j++) vec.set(ins[j]!.subarray(0, c), j * c);
  const wx = stX ? sx : x, wg = g === null ? wx : stG ? sg : g, wo = stO ? so : out;
  const jobs: Part[] = [];
  for (let j = 1; j < parts; j++) {
    jobs.push({
      op: OP_CHANNEL_NORM,
      args: [kind, n, c, s, cuts[j]!, cuts[j + 1]!, sabBase(wx), sabBase(wg), sabBase(wo), sabBase(vec), 1, 0],
      bufs: [wx, wg, wo, vec],
    });
  }
  runParts(PASS_NAMES[kind]!, jobs, () => channelPass(kind, x, g ?? x, out, vec, n, c, s, 0, mine), partCosts(null, cuts));
  if (stO) {
    // Only the workers' channels: every sample's run of channels mine..c-1 (element by element when the runs are short).
    const sm = mine * s, row = c * s;
    if (row - sm < 256) {
      for (let i = 0; i < n; i++) for (let e = i * row + sm, end = (i + 1) * row; e < end; e++) out[e] = so[e]!;
    } else {
      for (let i = 0; i < n; i++) out.set(so.subarray(i * row + sm, (i + 1) * row), i * row + sm);
    }
  }
}

/**
 * Worker part of a sums pass: args pass (0 mean-var, 1 gradient sums), n, c, s, bases of g, x, vec, part,
 * the claims' board; buffers g, x, vec, part (float64). Claims blocks of samples ({@link sumBlocks}) and
 * writes their sums into part.
 */
function sumsTask(a: ArrayLike<number>, b: readonly FloatArray[]): void {
  const pass: SumsPass = a[0] === 0 ? "meanVar" : "gradSums";
  const [n, c, s] = [a[1]!, a[2]!, a[3]!];
  const g = from(b[0]!, a[4]!), x = from(b[1]!, a[5]!);
  const vec = from(b[2]!, a[6]!) as Float64Array, part = from(b[3]!, a[7]!) as Float64Array;
  claimedRanges(a[8]!)((b0, b1) => sumsPartials(pass, g, x, n, c, s, vec, b0, b1, part));
}

const OP_SUMS = defineTask("norm.sums", import.meta.url, (_raw, a, b) => sumsTask(a, b));

/**
 * The blocks' sums of pass `pass` over x (and g) [n, c, s] on `parts` threads, which claim blocks as they
 * go (whole blocks: the same sums whoever computes them); returns them as {@link sumsPartials} lays them
 * out (in the pool's scratch, valid until its next use). Arrays not in the heap (an explicit thread count) are staged.
 */
function threadedSums(
  pass: SumsPass, parts: number, g: FloatArray, x: FloatArray, n: number, c: number, s: number, vec: Float64Array,
): Float64Array {
  const { count } = sumBlocks(n, s);
  const len = n * c * s;
  const stX = !inHeap(x), stG = pass === "gradSums" && !inHeap(g);
  const [sx, sg, sv, part] = scratchViews([
    [x instanceof Float64Array, stX ? len : 0], [g instanceof Float64Array, stG ? len : 0], [true, c, true], [true, 2 * c * count, true],
  ]) as [FloatArray, FloatArray, Float64Array, Float64Array];
  if (stX) sx.set(x);
  if (stG) sg.set(g);
  sv.set(vec.subarray(0, c));
  const wx = stX ? sx : x, wg = pass === "meanVar" ? wx : stG ? sg : g;
  runClaimed(
    PASS_NAMES[pass === "meanVar" ? BN_MEAN_VAR : BN_GRAD_SUMS]!, count, parts, 1,
    (at) => ({ op: OP_SUMS, args: [pass === "meanVar" ? 0 : 1, n, c, s, sabBase(wg), sabBase(wx), sabBase(sv), sabBase(part), at], bufs: [wg, wx, sv, part] }),
    (ranges) => ranges((b0, b1) => sumsPartials(pass, wg, wx, n, c, s, sv, b0, b1, part)),
  );
  return part;
}

/**
 * Samples (rows) per thread from which an elementwise pass (affine, input gradient: no per-channel
 * sums) splits by samples instead of channels: each thread then streams one contiguous block. Split
 * by channels in the token layout (s = 1) the two threads took alternate halves of every row and ran
 * slower than one thread (2048 x 384 input gradient: 0.84 ms on one thread, 2.2 ms on two).
 */
const ROW_SPLIT_MIN = 8;

/**
 * An elementwise pass (no output vectors) on `parts` threads, each on a share of the samples with all
 * channels: the same operation per element, so the same bits. The n samples are `blocks` equal runs
 * (a multi-step layer's time steps) and each thread takes the same share of every run, as the neuron
 * after the batch norm splits each step's values: a thread then reads the values it wrote itself.
 */
function threadedRows(
  kind: number, parts: number, x: FloatArray, g: FloatArray | null, out: FloatArray | null, n: number, c: number, s: number,
  ins: readonly Float64Array[], blocks: number,
): void {
  const run = n / blocks;
  const cuts = evenCuts(run, parts, partShares(parts));
  const per = c * s;
  const [vec] = scratchViews([[true, 5 * c, true]]) as [Float64Array];
  for (let j = 0; j < ins.length; j++) vec.set(ins[j]!.subarray(0, c), j * c);
  const wg = g ?? x, wo = out ?? x;
  const jobs: Part[] = [];
  for (let j = 1; j < parts; j++) {
    const at = cuts[j]! * per;
    jobs.push({
      op: OP_CHANNEL_NORM,
      args: [kind, cuts[j + 1]! - cuts[j]!, c, s, 0, c, sabBase(x) + at, sabBase(wg) + at, sabBase(wo) + at, sabBase(vec), blocks, run * per],
      bufs: [x, wg, wo, vec],
    });
  }
  const local = new Float64Array(5 * c);
  local.set(vec.subarray(0, ins.length * c));
  runParts(PASS_NAMES[kind]!, jobs, () => {
    for (let k = 0, o = 0; k < blocks; k++, o += run * per) channelPass(kind, from(x, o), from(wg, o), from(wo, o), local, cuts[1]!, c, s, 0, c);
  }, partCosts(null, cuts));
}

/** Copies channels c0..c-1 of every sample of src [n, c, s] to dst (same layout); all of it when the runs are short. */
function stageChannels(src: FloatArray, dst: FloatArray, n: number, c: number, s: number, c0: number): void {
  const row = c * s, lo = c0 * s;
  if (row - lo < 256) {
    dst.set(src.subarray(0, n * row));
    return;
  }
  for (let i = 0; i < n; i++) dst.set(src.subarray(i * row + lo, (i + 1) * row), i * row + lo);
}

/**
 * Parts for a pass (1 = stay on this thread). The passes are memory-bound: a
 * worker's share staged in and out costs about as much as computing it, so by
 * default a pass is split only when its big arrays are already shared.
 */
function partsOf(
  kind: number, n: number, c: number, s: number, threads: number | undefined, big: readonly (FloatArray | null)[], units = c,
): number {
  if (threads === undefined && big.some((a) => a !== null && !inHeap(a))) return 1;
  let p = Math.min(threads ?? partsFor(n * c * s * COST[kind]!, units), units);
  if (p > 1) p = Math.min(p, usableThreads());
  return p;
}

/** {@link channelMeanVar}, its blocks of samples split over `threads` threads (default: by size and the pool, when x is shared). */
export function channelMeanVarThreads(x: FloatArray, n: number, c: number, s: number, mean: Float64Array, varB: Float64Array, threads?: number): void {
  const p = partsOf(BN_MEAN_VAR, n, c, s, threads, [x], sumBlocks(n, s).count);
  if (p <= 1) {
    channelMeanVar(x, n, c, s, mean, varB);
    return;
  }
  meanVarBy(x, n, c, s, mean, varB, (k) => threadedSums("meanVar", p, x, x, n, c, s, k));
}

/**
 * {@link channelAffine}, split over threads when big enough and its arrays are shared: by samples (the n
 * samples as `blocks` equal runs, each split alike; see threadedRows) or, with few samples, by channels.
 */
export function channelAffineThreads(
  x: FloatArray, out: FloatArray, n: number, c: number, s: number, scale: Float64Array, shift: Float64Array, threads?: number, blocks = 1,
): void {
  const p = partsOf(BN_AFFINE, n, c, s, threads, [x, out]);
  if (p <= 1) channelAffine(x, out, n, c, s, scale, shift);
  else threaded(BN_AFFINE, p, x, null, out, n, c, s, [scale, shift], blocks);
}

/** {@link channelGradSums}, its blocks of samples split over threads when big enough and its arrays are shared. */
export function channelGradSumsThreads(
  g: FloatArray, x: FloatArray, n: number, c: number, s: number,
  mean: Float64Array, invStd: Float64Array, sumG: Float64Array, sumGX: Float64Array, threads?: number,
): void {
  const p = partsOf(BN_GRAD_SUMS, n, c, s, threads, [g, x], sumBlocks(n, s).count);
  if (p <= 1) {
    channelGradSums(g, x, n, c, s, mean, invStd, sumG, sumGX);
    return;
  }
  gradSumsBy(n, c, s, invStd, sumG, sumGX, () => threadedSums("gradSums", p, g, x, n, c, s, mean));
}

/** {@link channelGradInput}, split over threads as {@link channelAffineThreads} is. */
export function channelGradInputThreads(
  g: FloatArray, x: FloatArray, dx: FloatArray, n: number, c: number, s: number,
  mean: Float64Array, invStd: Float64Array, k: Float64Array, a: Float64Array, b: Float64Array, threads?: number, blocks = 1,
): void {
  const p = partsOf(BN_GRAD_INPUT, n, c, s, threads, [g, x, dx]);
  if (p <= 1) channelGradInput(g, x, dx, n, c, s, mean, invStd, k, a, b);
  else threaded(BN_GRAD_INPUT, p, x, g, dx, n, c, s, [mean, invStd, k, a, b], blocks);
}
