/**
 * Threaded twins of the im2col + gemm convolution loops of src/ops/conv.ts.
 * The forward pass and the input gradient split the batch (each image is
 * computed whole by one thread); the weight gradient splits the output
 * channels (rows of dW), each thread summing over every image in batch order,
 * so each element sees exactly the additions, in exactly the order, of the
 * single-thread loop. Results are bit-identical for any thread count.
 */
import { inHeap } from "../../tensor/heap.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { defineTask } from "../../parallel/registry.js";
import { partShares, partsFor, usableThreads, runParts, sabBase, scratchViews, type Part } from "../../parallel/pool.js";
import { claimedRanges, runClaimed } from "../../parallel/claims.js";
import { evenCuts, partCosts } from "../../parallel/balance.js";
import { convDataRange, convForwardRange, dataImagesPerChunk, convWeightRange, decodeConv, encodeConv, CONV_DIM_ARGS, type ConvDims } from "./ranges.js";

export type { ConvDims } from "./ranges.js";

const noTick = (): void => {};


// One thread's range of images (forward, input gradient) or of weight-gradient rows; arguments: the dims, then offsets and the range.
const o = CONV_DIM_ARGS;
const OP_CONV_FORWARD = defineTask("conv.forward", import.meta.url, (_raw, a, b, tick) =>
  convForwardRange(decodeConv(a), b[0]!, a[o]!, b[1]!, a[o + 1]!, b[2]!, a[o + 2]!, a[o + 3]!, a[o + 4]!, tick),
);
// The input gradient's last argument: where its claims are posted (0: the range's images).
const OP_CONV_DATA = defineTask("conv.data", import.meta.url, (_raw, a, b, tick) =>
  convDataRange(
    decodeConv(a), b[0]!, a[o]!, b[1]!, a[o + 1]!, b[2]!, a[o + 2]!, a[o + 3]!, a[o + 4]!, tick, a[o + 5]! > 0 ? claimedRanges(a[o + 5]!) : undefined,
  ),
);
const OP_CONV_WEIGHT = defineTask("conv.weight", import.meta.url, (_raw, a, b, tick) =>
  convWeightRange(decodeConv(a), b[0]!, a[o]!, b[1]!, a[o + 1]!, b[2]!, a[o + 2]!, a[o + 3]!, a[o + 4]!, tick),
);

/** Multiply-adds of one pass (forward, data or weight gradient). */
function work(d: ConvDims): number {
  return d.n * d.o * (d.cIn / d.groups) * d.g.kh * d.g.kw * d.g.oh * d.g.ow;
}

function dimArgs(d: ConvDims): number[] {
  const a = new Float64Array(CONV_DIM_ARGS);
  encodeConv(d, a);
  return Array.from(a);
}

/** A shared array to hand a worker: the array itself if shared, else a scratch view. */
function pick(src: FloatArray, staged: FloatArray): FloatArray {
  return inHeap(src) ? src : staged;
}

/**
 * y [N, o, oh, ow] = conv(x [N, cIn, h, w], w [o, cIn/groups, kh, kw]) without
 * bias, the batch split over `threads` threads (default: by size and pool).
 */
export function convForwardThreads(d: ConvDims, x: FloatArray, w: FloatArray, y: FloatArray, threads?: number): void {
  const parts = threads ?? partsFor(work(d), d.n);
  let p = Math.min(parts, d.n);
  if (p > 1) p = Math.min(p, usableThreads());
  if (p <= 1) {
    convForwardRange(d, x, 0, w, 0, y, 0, 0, d.n, noTick);
    return;
  }
  const cuts = evenCuts(d.n, p, partShares(p));
  const mine = cuts[1]!;
  const xImg = d.cIn * d.g.h * d.g.w, yImg = d.o * d.g.oh * d.g.ow;
  const rest = d.n - mine;
  const [sx, sw, sy] = scratchViews([
    [x instanceof Float64Array, inHeap(x) ? 0 : rest * xImg],
    [w instanceof Float64Array, inHeap(w) ? 0 : w.length],
    [y instanceof Float64Array, inHeap(y) ? 0 : rest * yImg],
  ]) as [FloatArray, FloatArray, FloatArray];
  if (!inHeap(x)) sx.set(x.subarray(mine * xImg, d.n * xImg));
  if (!inHeap(w)) sw.set(w);
  const wx = pick(x, sx), ww = pick(w, sw), wy = pick(y, sy);
  // Offsets of image 0 in the worker views (staged arrays start at image `mine`).
  const xBase = inHeap(x) ? sabBase(x) : sabBase(sx) - mine * xImg;
  const yBase = inHeap(y) ? sabBase(y) : sabBase(sy) - mine * yImg;
  const dims = dimArgs(d);
  const jobs: Part[] = [];
  for (let j = 1; j < p; j++) {
    jobs.push({ op: OP_CONV_FORWARD, args: [...dims, xBase, sabBase(ww), yBase, cuts[j]!, cuts[j + 1]!], bufs: [wx, ww, wy] });
  }
  runParts("conv2d.forward", jobs, () => convForwardRange(d, x, 0, w, 0, y, 0, 0, mine, noTick), partCosts(null, cuts));
  if (!inHeap(y)) y.set(sy.subarray(0, rest * yImg), mine * yImg);
}

/**
 * The input gradient's threads claim images as they go (a worker that starts late, or whose images cost
 * more on its core, leaves them to the other), in chunks of at least one Winograd gemm's images, from this
 * many such chunks a thread on, every operand in the heap; else even cuts. Cuts left the calling thread's
 * part 1.08-1.09x half the work in CIFAR b8 and MNIST b64 training steps (bench/pool-split.ts); claims in
 * chunks of any size made thinner gemms (CIFAR b8's 8 x 8 and 16 x 16 planes: 4-5% more work in all).
 */
const CLAIM_DATA_CHUNKS_PER_THREAD = 4;

/**
 * gx [N, cIn, h, w] = the input gradient for output gradient gy [N, o, oh, ow]
 * (gx is overwritten), the batch split over threads.
 */
export function convDataThreads(d: ConvDims, gy: FloatArray, w: FloatArray, gx: FloatArray, threads?: number): void {
  const parts = threads ?? partsFor(work(d), d.n);
  let p = Math.min(parts, d.n);
  if (p > 1) p = Math.min(p, usableThreads());
  if (p <= 1) {
    convDataRange(d, gy, 0, w, 0, gx, 0, 0, d.n, noTick);
    return;
  }
  const chunk = dataImagesPerChunk(d, gy, w, gx);
  if (d.n >= CLAIM_DATA_CHUNKS_PER_THREAD * chunk * p && inHeap(gy) && inHeap(w) && inHeap(gx)) {
    const args = [...dimArgs(d), sabBase(gy), sabBase(w), sabBase(gx), 0, 0];
    runClaimed("conv2d.data", d.n, p, chunk, (at) => ({ op: OP_CONV_DATA, args: [...args, at], bufs: [gy, w, gx] }), (images) =>
      convDataRange(d, gy, 0, w, 0, gx, 0, 0, 0, noTick, images));
    return;
  }
  const cuts = evenCuts(d.n, p, partShares(p));
  const mine = cuts[1]!;
  const xImg = d.cIn * d.g.h * d.g.w, yImg = d.o * d.g.oh * d.g.ow;
  const rest = d.n - mine;
  const [sgy, sw, sgx] = scratchViews([
    [gy instanceof Float64Array, inHeap(gy) ? 0 : rest * yImg],
    [w instanceof Float64Array, inHeap(w) ? 0 : w.length],
    [gx instanceof Float64Array, inHeap(gx) ? 0 : rest * xImg],
  ]) as [FloatArray, FloatArray, FloatArray];
  if (!inHeap(gy)) sgy.set(gy.subarray(mine * yImg, d.n * yImg));
  if (!inHeap(w)) sw.set(w);
  const wgy = pick(gy, sgy), ww = pick(w, sw), wgx = pick(gx, sgx);
  const gyBase = inHeap(gy) ? sabBase(gy) : sabBase(sgy) - mine * yImg;
  const gxBase = inHeap(gx) ? sabBase(gx) : sabBase(sgx) - mine * xImg;
  const dims = dimArgs(d);
  const jobs: Part[] = [];
  for (let j = 1; j < p; j++) {
    jobs.push({ op: OP_CONV_DATA, args: [...dims, gyBase, sabBase(ww), gxBase, cuts[j]!, cuts[j + 1]!, 0], bufs: [wgy, ww, wgx] });
  }
  runParts("conv2d.data", jobs, () => convDataRange(d, gy, 0, w, 0, gx, 0, 0, mine, noTick), partCosts(null, cuts));
  if (!inHeap(gx)) gx.set(sgx.subarray(0, rest * xImg), mine * xImg);
}

/**
 * acc [o, cIn/groups kh kw] += the weight gradient summed over the batch in
 * order (gemm's family: float32 adds when gy, x and acc are float32), the
 * output channels split over threads.
 */
export function convWeightThreads(d: ConvDims, gy: FloatArray, x: FloatArray, acc: FloatArray, threads?: number): void {
  const parts = threads ?? partsFor(work(d), d.o);
  let p = Math.min(parts, d.o);
  if (p > 1) p = Math.min(p, usableThreads());
  if (p <= 1) {
    convWeightRange(d, gy, 0, x, 0, acc, 0, 0, d.o, noTick);
    return;
  }
  const cuts = evenCuts(d.o, p, partShares(p));
  const mine = cuts[1]!;
  const kk = (d.cIn / d.groups) * d.g.kh * d.g.kw;
  const [sgy, sx, sacc] = scratchViews([
    [gy instanceof Float64Array, inHeap(gy) ? 0 : gy.length],
    [x instanceof Float64Array, inHeap(x) ? 0 : x.length],
    [acc instanceof Float64Array, inHeap(acc) ? 0 : (d.o - mine) * kk],
  ]);
  if (!inHeap(gy)) sgy.set(gy);
  if (!inHeap(x)) sx.set(x);
  if (!inHeap(acc)) sacc.set(acc.subarray(mine * kk, d.o * kk));
  const wgy = pick(gy, sgy), wx = pick(x, sx), wacc = pick(acc, sacc);
  const accBase = inHeap(acc) ? sabBase(acc) : sabBase(sacc) - mine * kk;
  const dims = dimArgs(d);
  const jobs: Part[] = [];
  for (let j = 1; j < p; j++) {
    jobs.push({ op: OP_CONV_WEIGHT, args: [...dims, sabBase(wgy), sabBase(wx), accBase, cuts[j]!, cuts[j + 1]!], bufs: [wgy, wx, wacc] });
  }
  runParts("conv2d.weight", jobs, () => convWeightRange(d, gy, 0, x, 0, acc, 0, 0, mine, noTick), partCosts(null, cuts));
  if (!inHeap(acc)) acc.set(sacc.subarray(0, (d.o - mine) * kk), mine * kk);
}
