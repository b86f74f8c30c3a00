/**
 * Threaded twin of the spike max-pool (src/kernels/spike-layout.ts): the
 * planes (N C) are split between threads, each running the unchanged kernel
 * on its planes, so the output bits and argmax are the same for any thread
 * count. Arrays not in the heap are staged in the pool's scratch.
 */
import { inHeap } from "../../tensor/heap.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { wordsFor } from "../../tensor/bits.js";
import { maxPoolBits, maxPoolBitsRange, maxPoolGradRange, type PoolGeometry } from "./spike-pool.js";
import { asFloats, defineTask, from, wordsView } from "../../parallel/registry.js";
import { evenCuts, partCosts } from "../../parallel/balance.js";
import { partShares, partsFor, runParts, runSplit, sabBase, scratchViews, usableThreads, type Part } from "../../parallel/pool.js";


/** Slots of a max-pool task's arguments holding the geometry; task arguments follow. */
const POOL_ARGS = 11;

function encodePool(g: PoolGeometry): number[] {
  return [g.planes, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow];
}

/** Worker part of a spike max-pool: args geometry, hasArgmax, bases of src, dst, argmax, p0, p1; buffers src, dst, argmax (all as Float32). */
function maxPoolTask(a: ArrayLike<number>, b: readonly FloatArray[]): void {
  const g: PoolGeometry = { planes: a[0]!, h: a[1]!, w: a[2]!, kh: a[3]!, kw: a[4]!, sh: a[5]!, sw: a[6]!, ph: a[7]!, pw: a[8]!, oh: a[9]!, ow: a[10]! };
  const o = POOL_ARGS;
  const am = a[o] === 1 ? new Int32Array(b[2]!.buffer, b[2]!.byteOffset + a[o + 3]! * 4, b[2]!.length - a[o + 3]!) : null;
  maxPoolBitsRange(wordsView(b[0]!, a[o + 1]!), wordsView(b[1]!, a[o + 2]!), am, g, a[o + 4]!, a[o + 5]!);
}

// One thread's range of planes.
const OP_MAX_POOL_BITS = defineTask("spikePool.max", import.meta.url, (_raw, a, b) => maxPoolTask(a, b));
/** {@link maxPoolBits} (dst zeroed), planes split over `threads` threads (default: by size and the pool). */
export function maxPoolBitsThreads(src: Uint32Array, dst: Uint32Array, argmax: Int32Array | null, g: PoolGeometry, threads?: number): void {
  // ~4 window probes per output, about a multiply-add each.
  let p = Math.min(threads ?? partsFor(g.planes * g.oh * g.ow * 4, g.planes), g.planes);
  if (p > 1) p = Math.min(p, usableThreads());
  if (p <= 1) {
    maxPoolBits(src, dst, argmax, g);
    return;
  }
  const cuts = evenCuts(g.planes, p, partShares(p));
  const mine = cuts[1]!;
  const sPlane = g.h * wordsFor(g.w), dPlane = g.oh * wordsFor(g.ow), aPlane = g.oh * g.ow;
  const stS = !inHeap(src), stD = !inHeap(dst), stA = argmax !== null && !inHeap(argmax);
  const [ss, sd, sa] = scratchViews([[false, stS ? g.planes * sPlane : 0], [false, stD ? g.planes * dPlane : 0], [false, stA ? g.planes * aPlane : 0]]);
  const us = new Uint32Array(ss!.buffer, ss!.byteOffset, ss!.length), ud = new Uint32Array(sd!.buffer, sd!.byteOffset, sd!.length);
  if (stS) us.set(src.subarray(mine * sPlane, g.planes * sPlane), mine * sPlane);
  if (stD) ud.fill(0, mine * dPlane, g.planes * dPlane);
  const ws = stS ? ss! : asFloats(src), wd = stD ? sd! : asFloats(dst), wa = argmax === null ? ws : stA ? sa! : asFloats(argmax);
  const geo = encodePool(g);
  const jobs: Part[] = [];
  for (let j = 1; j < p; j++) {
    jobs.push({
      op: OP_MAX_POOL_BITS,
      args: [...geo, argmax === null ? 0 : 1, sabBase(ws), sabBase(wd), sabBase(wa), cuts[j]!, cuts[j + 1]!],
      bufs: [ws, wd, wa],
    });
  }
  runParts("maxPool2dSpikes", jobs, () => maxPoolBitsRange(src, dst, argmax, g, 0, mine), partCosts(null, cuts));
  if (stD) dst.set(ud.subarray(mine * dPlane, g.planes * dPlane), mine * dPlane);
  if (stA) argmax!.set(new Int32Array(sa!.buffer, sa!.byteOffset, sa!.length).subarray(mine * aPlane, g.planes * aPlane), mine * aPlane);
}

/** Worker part of a max-pool gradient: args bases of g, argmax, gx, inPlane, outPlane, p0, p1; buffers g, argmax (as Float32), gx. */
function maxPoolGradTask(a: ArrayLike<number>, b: readonly FloatArray[]): void {
  const am = new Int32Array(b[1]!.buffer, b[1]!.byteOffset + a[1]! * 4, b[1]!.length - a[1]!);
  gradPlanes(from(b[0]!, a[0]!), am, from(b[2]!, a[2]!), a[3]!, a[4]!, a[5]!, a[6]!);
}

// One thread's range of planes of the gradient.
const OP_MAX_POOL_GRAD = defineTask("spikePool.grad", import.meta.url, (_raw, a, b) => maxPoolGradTask(a, b));

/** Planes p0..p1-1 of gx zeroed, then {@link maxPoolGradRange} onto them: the thread that scatters zeroes, while the lines are its own. */
function gradPlanes(g: FloatArray, argmax: Int32Array, gx: FloatArray, inPlane: number, outPlane: number, p0: number, p1: number): void {
  gx.fill(0, p0 * inPlane, p1 * inPlane);
  maxPoolGradRange(g, argmax, gx, inPlane, outPlane, p0, p1);
}

/**
 * {@link maxPoolGradRange} over all `planes`, writing gx whole (each range's
 * planes zeroed first, by the thread that scatters onto them: no serial zero
 * fill before), planes split over `threads` threads (default: by size and the
 * pool) when every array is in the heap: a scatter of one add per output,
 * memory-bound, so foreign arrays (never the engine's own) stay on the calling
 * thread rather than be staged.
 */
export function maxPoolGradThreads(
  g: FloatArray, argmax: Int32Array, gx: FloatArray, planes: number, inPlane: number, outPlane: number, threads?: number,
): void {
  runSplit(
    "maxPool2dSpikes", planes, planes * outPlane, threads, inHeap(g) && inHeap(argmax) && inHeap(gx), OP_MAX_POOL_GRAD, [g, asFloats(argmax), gx],
    (p0, p1) => [sabBase(g), argmax.byteOffset / 4, sabBase(gx), inPlane, outPlane, p0, p1],
    (p0, p1) => gradPlanes(g, argmax, gx, inPlane, outPlane, p0, p1),
  );
}
