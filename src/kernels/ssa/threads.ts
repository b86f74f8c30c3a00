/**
 * Threaded twins of the attention head loops (ssa.ts): the threads claim
 * chunks of heads as they go (src/parallel/claims.ts), each running the
 * unchanged range on its heads, so the result is bit-identical whoever
 * computes which. Arrays outside the heap keep the work on the calling thread
 * (nothing is staged).
 */
import { inHeap } from "../../tensor/heap.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { partsFor, sabBase, usableThreads } from "../../parallel/pool.js";
import { asFloats, defineTask, from, wordsView as words } from "../../parallel/registry.js";
import { claimedRanges, runClaimed } from "../../parallel/claims.js";
import { ssaBackwardRange, ssaForwardRange, type SsaDims } from "./ssa.js";

// Arguments: n, d, order (1 = q_kv), scale (a float: read raw), heads a float row, the heads' claim schedule
// (its heap index), then element offsets.
const decode = (raw: Float64Array, a: readonly number[]): SsaDims => ({ n: a[0]!, d: a[1]!, order: a[2] === 1 ? "q_kv" : "qk_v", scale: raw[3]!, rowHeads: a[4]! });
const encode = (dm: SsaDims): number[] => [dm.n, dm.d, dm.order === "q_kv" ? 1 : 0, dm.scale, dm.rowHeads ?? 1];

/** One thread's claimed heads of the forward: buffers q, k, v (words as float32), out. */
const SSA_FORWARD = defineTask("ssa.forward", import.meta.url, (raw, a, b) => {
  const [q, k, v, out, dm] = [words(b[0]!, a[6]!), words(b[1]!, a[7]!), words(b[2]!, a[8]!), from(b[3]!, a[9]!), decode(raw, a)];
  claimedRanges(a[5]!)((h0, h1) => ssaForwardRange(q, k, v, out, dm, h0, h1));
});

/** One thread's claimed heads of the backward: buffers q, k, v, g, gq, gk, gv (a flag says which gradients exist). */
const SSA_BACKWARD = defineTask("ssa.backward", import.meta.url, (raw, a, b) => {
  const has = a[13]!;
  const [q, k, v, g] = [words(b[0]!, a[6]!), words(b[1]!, a[7]!), words(b[2]!, a[8]!), from(b[3]!, a[9]!)];
  const [gq, gk, gv] = [has & 1 ? from(b[4]!, a[10]!) : null, has & 2 ? from(b[5]!, a[11]!) : null, has & 4 ? from(b[6]!, a[12]!) : null];
  const dm = decode(raw, a);
  claimedRanges(a[5]!)((h0, h1) => ssaBackwardRange(q, k, v, g, gq, gk, gv, dm, h0, h1));
});

/**
 * The fewest heads a thread claims at once: how far apart the threads can end (a head of the CIFAR b8 and
 * MNIST b64 models takes about 10 us), against a claim's cost (an atomic add and the range's setup). The
 * claims replaced cuts from a cost model of sampled spike counts, after which the calling thread still
 * waited 4 ms a MNIST b64 inference pass for the worker (two calls; bench/pool-split.ts).
 */
const CLAIM_HEADS = 8;

/** Work of one head in the pool's multiply-add units (word ANDs and adds, upper bounds at full density). */
function headWork(dm: SsaDims): number {
  return dm.order === "qk_v" ? dm.n * dm.n * (dm.d / 32 + dm.d) : dm.d * dm.d * (dm.n / 32 + dm.n) + 2 * dm.n * dm.d;
}

function partsOf(heads: number, dm: SsaDims, arrays: readonly (ArrayBufferView | null)[], threads: number | undefined): number {
  if (arrays.some((x) => x !== null && !inHeap(x))) return 1;
  const p = Math.min(threads ?? partsFor(heads * headWork(dm), heads), heads);
  return p > 1 ? Math.min(p, usableThreads()) : 1;
}

/** {@link ssaForwardRange} over all `heads`, split over threads when it pays (or over `threads`). */
export function ssaForwardThreads(q: Uint32Array, k: Uint32Array, v: Uint32Array, out: FloatArray, dm: SsaDims, heads: number, threads?: number): void {
  const p = partsOf(heads, dm, [q, k, v, out], threads);
  if (p <= 1) {
    ssaForwardRange(q, k, v, out, dm, 0, heads);
    return;
  }
  const [fq, fk, fv] = [asFloats(q), asFloats(k), asFloats(v)];
  runClaimed("spikingSelfAttention", heads, p, CLAIM_HEADS, (at) => ({
    op: SSA_FORWARD, args: [...encode(dm), at, sabBase(fq), sabBase(fk), sabBase(fv), sabBase(out)], bufs: [fq, fk, fv, out],
  }), (heads) => heads((h0, h1) => ssaForwardRange(q, k, v, out, dm, h0, h1)));
}

/** {@link ssaBackwardRange} over all `heads`, split over threads when it pays (or over `threads`). */
export function ssaBackwardThreads(
  q: Uint32Array, k: Uint32Array, v: Uint32Array, g: FloatArray, gq: FloatArray | null, gk: FloatArray | null, gv: FloatArray | null,
  dm: SsaDims, heads: number, threads?: number,
): void {
  const p = partsOf(heads, dm, [q, k, v, g, gq, gk, gv], threads);
  if (p <= 1) {
    ssaBackwardRange(q, k, v, g, gq, gk, gv, dm, 0, heads);
    return;
  }
  const [fq, fk, fv] = [asFloats(q), asFloats(k), asFloats(v)];
  const has = (gq ? 1 : 0) | (gk ? 2 : 0) | (gv ? 4 : 0);
  const [wq, wk, wv] = [gq ?? g, gk ?? g, gv ?? g];
  runClaimed("spikingSelfAttention", heads, p, CLAIM_HEADS, (at) => ({
    op: SSA_BACKWARD,
    args: [...encode(dm), at, sabBase(fq), sabBase(fk), sabBase(fv), sabBase(g), sabBase(wq), sabBase(wk), sabBase(wv), has],
    bufs: [fq, fk, fv, g, wq, wk, wv],
  }), (heads) => heads((h0, h1) => ssaBackwardRange(q, k, v, g, gq, gk, gv, dm, h0, h1)));
}
