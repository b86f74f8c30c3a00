/**
 * Threaded twin of the array sum (./elementwise.ts): the elements split
 * between threads, each summed once by one thread, so the bits are the same
 * for any split. A memory-bound pass: arrays not in the heap (never the
 * engine's own) stay on the calling thread rather than be staged.
 */
import { inHeap } from "../../tensor/heap.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { addArraysRange } from "./elementwise.js";
import { defineTask, from } from "../../parallel/registry.js";
import { runSplit, sabBase } from "../../parallel/pool.js";

// Args bases of a, b, out, i0, i1; buffers a, b, out.
const OP_ADD = defineTask("elementwise.add", import.meta.url, (_raw, x, b) =>
  addArraysRange(from(b[0]!, x[0]!), from(b[1]!, x[1]!), from(b[2]!, x[2]!), x[3]!, x[4]!),
);

/** Whole cache lines per part, so two threads never write one line. */
const LINE = 16;

/**
 * out[i] = a[i] + b[i] for i < out.length (out may be a or b), split over
 * `threads` threads (default: by size and the pool).
 */
export function addArraysThreads(a: FloatArray, b: FloatArray, out: FloatArray, threads?: number): void {
  const n = out.length;
  const at = (u: number): number => Math.min(n, u * LINE);
  runSplit(
    "add", Math.ceil(n / LINE), n, threads, inHeap(a) && inHeap(b) && inHeap(out), OP_ADD, [a, b, out],
    (u0, u1) => [sabBase(a), sabBase(b), sabBase(out), at(u0), at(u1)],
    (u0, u1) => addArraysRange(a, b, out, at(u0), at(u1)),
  );
}
