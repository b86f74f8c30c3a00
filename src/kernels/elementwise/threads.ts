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
import { evenCuts } from "../../parallel/balance.js";
import { partsFor, runParts, sabBase, usableThreads, type Part } from "../../parallel/pool.js";

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
  const n = out.length, units = Math.ceil(n / LINE);
  let p = Math.min(threads ?? partsFor(n, units), units);
  if (p > 1) p = Math.min(p, usableThreads());
  if (p <= 1 || !inHeap(a) || !inHeap(b) || !inHeap(out)) {
    addArraysRange(a, b, out, 0, n);
    return;
  }
  const cuts = evenCuts(units, p).map((u) => Math.min(n, u * LINE));
  const jobs: Part[] = [];
  for (let j = 1; j < p; j++) jobs.push({ op: OP_ADD, args: [sabBase(a), sabBase(b), sabBase(out), cuts[j]!, cuts[j + 1]!], bufs: [a, b, out] });
  runParts("add", jobs, () => addArraysRange(a, b, out, 0, cuts[1]!));
}
