/**
 * Threaded twins of the attention head loops (ssa.ts): the heads are split
 * between threads, each running the unchanged range on its heads, so the
 * result is bit-identical for any split. Arrays outside the heap keep the work
 * on the calling thread (nothing is staged).
 */
import { inHeap } from "../../tensor/heap.js";
import { wordsFor } from "../../tensor/bits.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { partsFor, runParts, sabBase, usableThreads, type Part } from "../../parallel/pool.js";
import { defineTask, from, wordsView as words } from "../../parallel/registry.js";
import { sampledRowBits, weightedCuts } from "../../parallel/balance.js";
import { ssaBackwardRange, ssaForwardRange, type SsaDims } from "./ssa.js";

const f32 = (w: Uint32Array): Float32Array => new Float32Array(w.buffer, w.byteOffset, w.length);

// Arguments: n, d, order (1 = q_kv), scale (a float: read raw), b0, b1, then element offsets.
const decode = (raw: Float64Array, a: readonly number[]): SsaDims => ({ n: a[0]!, d: a[1]!, order: a[2] === 1 ? "q_kv" : "qk_v", scale: raw[3]! });
const encode = (dm: SsaDims): number[] => [dm.n, dm.d, dm.order === "q_kv" ? 1 : 0, dm.scale];

/** One thread's heads of the forward: buffers q, k, v (words as float32), out. */
const SSA_FORWARD = defineTask("ssa.forward", import.meta.url, (raw, a, b) =>
  ssaForwardRange(words(b[0]!, a[6]!), words(b[1]!, a[7]!), words(b[2]!, a[8]!), from(b[3]!, a[9]!), decode(raw, a), a[4]!, a[5]!),
);

/** One thread's heads of the backward: buffers q, k, v, g, gq, gk, gv (a flag says which gradients exist). */
const SSA_BACKWARD = defineTask("ssa.backward", import.meta.url, (raw, a, b) => {
  const has = a[14]!;
  ssaBackwardRange(
    words(b[0]!, a[6]!), words(b[1]!, a[7]!), words(b[2]!, a[8]!), from(b[3]!, a[9]!),
    has & 1 ? from(b[4]!, a[10]!) : null, has & 2 ? from(b[5]!, a[11]!) : null, has & 4 ? from(b[6]!, a[12]!) : null,
    decode(raw, a), a[4]!, a[5]!,
  );
});

/** Work of one head in the pool's multiply-add units (word ANDs and adds, upper bounds at full density). */
function headWork(dm: SsaDims): number {
  return dm.order === "qk_v" ? dm.n * dm.n * (dm.d / 32 + dm.d) : dm.d * dm.d * (dm.n / 32 + dm.n) + 2 * dm.n * dm.d;
}

/**
 * Cuts of `heads` into p ranges balanced by their work: a part that follows each head's spikes (q, k
 * and v bits) and one that does not (the AND-popcount product, the bit transposes, writing and scaling
 * the n x d output). Heads are time-major and the first time steps fire less. The weights are
 * measured, not derived: with a bit worth d / 4 against n d (2 + d / 32) a head, the calling thread's
 * part of the MNIST b64 and CIFAR b8 steps took 1.0-1.26x the worker's; with the fixed part counted as
 * n alone, 2.1-2.5x (it has the early steps); with no spike term, 0.84-0.87x. Since dQ's dense product
 * has its WASM twin, the fixed part weighs 1.5x that: own part / worker's (bench/pool-split.ts) 1.10-1.13x
 * -> 1.01x (2x: 0.96-0.97x).
 */
function headCuts(q: Uint32Array, k: Uint32Array, v: Uint32Array, dm: SsaDims, heads: number, p: number): number[] {
  const matWords = dm.n * wordsFor(dm.d);
  const fixed = 1.5 * dm.n * dm.d * (2 + dm.d / 32);
  // Bits of up to 256 sampled heads, each standing for its block of neighbours (same time step): counting
  // every head's took 9 ms of the calling thread a MNIST b64 step (2,048 heads of 49 words, 4 calls).
  const [bq, bk, bv] = [q, k, v].map((x) => sampledRowBits(x, 0, heads, matWords)) as [Float64Array, Float64Array, Float64Array];
  const cost = new Float64Array(heads);
  for (let h = 0; h < heads; h++) cost[h] = ((bq[h]! + bk[h]! + bv[h]!) * dm.d) / 4 + fixed;
  return weightedCuts(cost, p);
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
  const cuts = headCuts(q, k, v, dm, heads, p);
  const [fq, fk, fv] = [f32(q), f32(k), f32(v)];
  const jobs: Part[] = [];
  for (let j = 1; j < p; j++) {
    jobs.push({ op: SSA_FORWARD, args: [...encode(dm), cuts[j]!, cuts[j + 1]!, sabBase(fq), sabBase(fk), sabBase(fv), sabBase(out)], bufs: [fq, fk, fv, out] });
  }
  runParts("spikingSelfAttention", jobs, () => ssaForwardRange(q, k, v, out, dm, 0, cuts[1]!));
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
  const cuts = headCuts(q, k, v, dm, heads, p);
  const [fq, fk, fv] = [f32(q), f32(k), f32(v)];
  const has = (gq ? 1 : 0) | (gk ? 2 : 0) | (gv ? 4 : 0);
  const [wq, wk, wv] = [gq ?? g, gk ?? g, gv ?? g];
  const jobs: Part[] = [];
  for (let j = 1; j < p; j++) {
    jobs.push({
      op: SSA_BACKWARD,
      args: [...encode(dm), cuts[j]!, cuts[j + 1]!, sabBase(fq), sabBase(fk), sabBase(fv), sabBase(g), sabBase(wq), sabBase(wk), sabBase(wv), 0, has],
      bufs: [fq, fk, fv, g, wq, wk, wv],
    });
  }
  runParts("spikingSelfAttention", jobs, () => ssaBackwardRange(q, k, v, g, gq, gk, gv, dm, 0, cuts[1]!));
}
