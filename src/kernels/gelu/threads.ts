/**
 * Threaded twins of the GELU kernels (./gelu.ts): the elements split into
 * ranges, each element computed by one thread exactly as on one, so the bits
 * are the same for any split. GELU is a few dozen operations an
 * element (erf's polynomial, an exp), so it pays for threads where the
 * memory-bound passes barely do; arrays not in the heap stay on the calling
 * thread.
 */
import { inHeap } from "../../tensor/heap.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { geluBackwardRange, geluForwardRange } from "./gelu.js";
import { defineTask, from } from "../../parallel/registry.js";
import { runSplit, sabBase } from "../../parallel/pool.js";

/** Elements per unit of the split (a unit is a run of elements, not one). */
const RUN = 256;
/** Work of one element in the pool's multiply-add units. */
const COST = 40;

// Args: backward flag, bases of x, g (= x for the forward) and out, n, then the unit range; buffers x, g, out.
const OP_GELU = defineTask("gelu.range", import.meta.url, (_raw, a, b) => part(a[0] === 1, from(b[0]!, a[1]!), from(b[1]!, a[2]!), from(b[2]!, a[3]!), a[4]!, a[5]!, a[6]!));

function part(backward: boolean, x: FloatArray, g: FloatArray, out: FloatArray, n: number, u0: number, u1: number): void {
  const i0 = u0 * RUN, i1 = Math.min(n, u1 * RUN);
  if (backward) geluBackwardRange(x, g, out, i0, i1);
  else geluForwardRange(x, out, i0, i1);
}

function run(backward: boolean, x: FloatArray, g: FloatArray, out: FloatArray, threads: number | undefined): void {
  const n = x.length;
  runSplit(
    "gelu", Math.ceil(n / RUN), n * COST, threads, inHeap(x) && inHeap(g) && inHeap(out), OP_GELU, [x, g, out],
    (u0, u1) => [backward ? 1 : 0, sabBase(x), sabBase(g), sabBase(out), n, u0, u1],
    (u0, u1) => part(backward, x, g, out, n, u0, u1),
  );
}

/** out = GELU(x) elementwise (same bits as {@link geluForwardRange} over all of x), split over threads. */
export function geluForwardThreads(x: FloatArray, out: FloatArray, threads?: number): void {
  run(false, x, x, out, threads);
}

/** dx = g GELU'(x) elementwise (same bits as {@link geluBackwardRange} over all of x), split over threads. */
export function geluBackwardThreads(x: FloatArray, g: FloatArray, dx: FloatArray, threads?: number): void {
  run(true, x, g, dx, threads);
}
