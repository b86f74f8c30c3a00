/**
 * Threaded twin of the AdamW update (./adamw.ts): the elements split between
 * threads, each updated once by one thread, so the bits are the same for any
 * split. Arrays not in the heap stay on the calling thread.
 */
import { inHeap } from "../../tensor/heap.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { adamwRange, type AdamWStep } from "./adamw.js";
import { defineTask, from } from "../../parallel/registry.js";
import { runSplit, sabBase } from "../../parallel/pool.js";

// Args bases of p, g, m, v, i0, i1, then b1, b2, decay, stepSize, sqrtBc2, eps (float64: read from the raw
// arguments); buffers p, g, m, v.
const OP_ADAMW = defineTask("optim.adamw", import.meta.url, (raw, x, b) => {
  const s: AdamWStep = { b1: raw[6]!, b2: raw[7]!, decay: raw[8]!, stepSize: raw[9]!, sqrtBc2: raw[10]!, eps: raw[11]! };
  adamwRange(from(b[0]!, x[0]!), from(b[1]!, x[1]!), from(b[2]!, x[2]!), from(b[3]!, x[3]!), s, x[4]!, x[5]!);
});

/** Whole cache lines of float32 per part, so two threads never write one line. */
const LINE = 16;

/**
 * Multiply-adds an element counts as when the pool sizes the split: one, so two threads take a tensor from
 * about 260,000 elements. A part that small is a tenth of a millisecond, about what waking a worker costs:
 * at 82,944 elements (the main job's largest tensor) two threads took 3.3 ns an element, one 2.2; at
 * 589,824, 1.5 and 2.3 (bench/optim.bench.ts).
 */
const ELEMENT_WORK = 1;

/** {@link adamwRange} over every element of p (g, m and v as long), split over `threads` threads (default: by size and the pool). */
export function adamwThreads(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, s: AdamWStep, threads?: number): void {
  const n = p.length;
  const at = (u: number): number => Math.min(n, u * LINE);
  runSplit(
    "adamw", Math.ceil(n / LINE), n * ELEMENT_WORK, threads, [p, g, m, v].every((a) => inHeap(a)), OP_ADAMW, [p, g, m, v],
    (u0, u1) => [sabBase(p), sabBase(g), sabBase(m), sabBase(v), at(u0), at(u1), s.b1, s.b2, s.decay, s.stepSize, s.sqrtBc2, s.eps],
    (u0, u1) => adamwRange(p, g, m, v, s, at(u0), at(u1)),
  );
}
