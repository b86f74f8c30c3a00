/**
 * Threaded twins of the batch-norm channel passes (src/kernels/norm/norm.ts):
 * the channels are split between threads, each thread running the unchanged
 * pass on its channels, so each channel's sums keep their additions and their
 * order: results are bit-identical for any thread count.
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
import { channelAffine, channelGradInput, channelGradSums, channelMeanVar, channelMeanVarRange, channelAffineRange, channelGradSumsRange, channelGradInputRange } from "./norm.js";
import { defineTask, from } from "../../parallel/registry.js";
import { evenCuts } from "../../parallel/balance.js";
import { partsFor, runParts, sabBase, scratchViews, usableThreads, type Part } from "../../parallel/pool.js";


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
 * Runs pass `kind` on `parts` threads. ins: the per-channel input vectors (in
 * segment order), outs: the output vectors (the segments after them).
 */
function threaded(
  kind: number, parts: number, x: FloatArray, g: FloatArray | null, out: FloatArray | null, n: number, c: number, s: number,
  ins: readonly Float64Array[], outs: readonly Float64Array[], blocks = 1,
): void {
  if (outs.length === 0 && n >= ROW_SPLIT_MIN * parts && inHeap(x) && (g === null || inHeap(g)) && (out === null || inHeap(out))) {
    threadedRows(kind, parts, x, g, out, n, c, s, ins, n % blocks === 0 && n / blocks >= ROW_SPLIT_MIN * parts ? blocks : 1);
    return;
  }
  const cuts = evenCuts(c, parts);
  const mine = cuts[1]!;
  const len = n * c * s;
  const stX = !inHeap(x), stG = g !== null && !inHeap(g), stO = out !== null && !inHeap(out);
  const [sx, sg, so, vec] = scratchViews([
    [x instanceof Float64Array, stX ? len : 0], [g instanceof Float64Array, stG ? len : 0],
    [out instanceof Float64Array, stO ? len : 0], [true, 5 * c, true],
  ]) as [FloatArray, FloatArray, FloatArray, Float64Array];
  if (stX) stageChannels(x, sx, n, c, s, mine);
  if (stG) stageChannels(g!, sg, n, c, s, mine);
  for (let j = 0; j < ins.length; j++) vec.set(ins[j]!.subarray(0, c), j * c);
  const wx = stX ? sx : x, wg = g === null ? wx : stG ? sg : g, wo = out === null ? wx : stO ? so : out;
  const jobs: Part[] = [];
  for (let j = 1; j < parts; j++) {
    jobs.push({
      op: OP_CHANNEL_NORM,
      args: [kind, n, c, s, cuts[j]!, cuts[j + 1]!, sabBase(wx), sabBase(wg), sabBase(wo), sabBase(vec), 1, 0],
      bufs: [wx, wg, wo, vec],
    });
  }
  // The calling thread works on the originals, with its own copy of the vectors laid out as the workers' segments.
  const local = new Float64Array(5 * c);
  local.set(vec.subarray(0, ins.length * c));
  runParts(PASS_NAMES[kind]!, jobs, () => channelPass(kind, x, g ?? x, out ?? x, local, n, c, s, 0, mine));
  for (let j = 0; j < outs.length; j++) {
    const seg = (ins.length + j) * c;
    const o = outs[j]!;
    o.set(local.subarray(seg, seg + mine), 0);
    o.set(vec.subarray(seg + mine, seg + c), mine);
  }
  if (stO) {
    // Only the workers' channels: every sample's run of channels mine..c-1 (element by element when the runs are short).
    const sm = mine * s, row = c * s;
    if (row - sm < 256) {
      const o = out!;
      for (let i = 0; i < n; i++) for (let e = i * row + sm, end = (i + 1) * row; e < end; e++) o[e] = so[e]!;
    } else {
      for (let i = 0; i < n; i++) out!.set(so.subarray(i * row + sm, (i + 1) * row), i * row + sm);
    }
  }
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
  const cuts = evenCuts(run, parts);
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
  });
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
function partsOf(kind: number, n: number, c: number, s: number, threads: number | undefined, big: readonly (FloatArray | null)[]): number {
  if (threads === undefined && big.some((a) => a !== null && !inHeap(a))) return 1;
  let p = Math.min(threads ?? partsFor(n * c * s * COST[kind]!, c), c);
  if (p > 1) p = Math.min(p, usableThreads());
  return p;
}

/** {@link channelMeanVar}, channels split over `threads` threads (default: by size and the pool, when x is shared). */
export function channelMeanVarThreads(x: FloatArray, n: number, c: number, s: number, mean: Float64Array, varB: Float64Array, threads?: number): void {
  const p = partsOf(BN_MEAN_VAR, n, c, s, threads, [x]);
  if (p <= 1) channelMeanVar(x, n, c, s, mean, varB);
  else threaded(BN_MEAN_VAR, p, x, null, null, n, c, s, [], [mean, varB]);
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
  else threaded(BN_AFFINE, p, x, null, out, n, c, s, [scale, shift], [], blocks);
}

/** {@link channelGradSums}, channels split over threads when big enough and its arrays are shared. */
export function channelGradSumsThreads(
  g: FloatArray, x: FloatArray, n: number, c: number, s: number,
  mean: Float64Array, invStd: Float64Array, sumG: Float64Array, sumGX: Float64Array, threads?: number,
): void {
  const p = partsOf(BN_GRAD_SUMS, n, c, s, threads, [g, x]);
  if (p <= 1) channelGradSums(g, x, n, c, s, mean, invStd, sumG, sumGX);
  else threaded(BN_GRAD_SUMS, p, x, g, null, n, c, s, [mean, invStd], [sumG, sumGX]);
}

/** {@link channelGradInput}, split over threads as {@link channelAffineThreads} is. */
export function channelGradInputThreads(
  g: FloatArray, x: FloatArray, dx: FloatArray, n: number, c: number, s: number,
  mean: Float64Array, invStd: Float64Array, k: Float64Array, a: Float64Array, b: Float64Array, threads?: number, blocks = 1,
): void {
  const p = partsOf(BN_GRAD_INPUT, n, c, s, threads, [g, x, dx]);
  if (p <= 1) channelGradInput(g, x, dx, n, c, s, mean, invStd, k, a, b);
  else threaded(BN_GRAD_INPUT, p, x, g, dx, n, c, s, [mean, invStd, k, a, b], [], blocks);
}
