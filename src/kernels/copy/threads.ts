/**
 * Threaded twin of the strided copy (./copy.ts): the rows (all axes but the
 * last) split between threads; each element is written once, by one thread,
 * so the bits are the same for any split. A memory-bound pass: arrays not in
 * the heap (never the engine's own) stay on the calling thread rather than be
 * staged.
 */
import { inHeap } from "../../tensor/heap.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { copyRows, copyStridedRange } from "./copy.js";
import { defineTask, from } from "../../parallel/registry.js";
import { runSplit, sabBase } from "../../parallel/pool.js";

// Args rank, bases of src and dst (offsets included), u0, u1, then shape, src strides, dst strides (rank each); buffers src, dst.
const OP_COPY = defineTask("copy.rows", import.meta.url, (_raw, a, b) => {
  const r = a[0]!;
  const shape = Array.from({ length: r }, (_, d) => a[5 + d]!);
  const ss = Array.from({ length: r }, (_, d) => a[5 + r + d]!);
  const ds = Array.from({ length: r }, (_, d) => a[5 + 2 * r + d]!);
  copyStridedRange(from(b[0]!, a[1]!), 0, ss, from(b[1]!, a[2]!), 0, ds, shape, a[3]!, a[4]!);
});

/**
 * {@link copyStrided} (same bits), its rows split over `threads` threads
 * (default: by size and the pool). Strides must not be negative (a worker
 * gets its views from the offsets on) and dst's must address each element
 * once (else two threads could write one element).
 */
export function copyStridedThreads(
  src: FloatArray, srcOff: number, srcStrides: readonly number[],
  dst: FloatArray, dstOff: number, dstStrides: readonly number[],
  shape: readonly number[], threads?: number,
): void {
  let total = 1;
  for (const n of shape) total *= n;
  if (total === 0) return;
  runSplit(
    "copy", copyRows(shape), total, threads, inHeap(src) && inHeap(dst), OP_COPY, [src, dst],
    (u0, u1) => [shape.length, sabBase(src) + srcOff, sabBase(dst) + dstOff, u0, u1, ...shape, ...srcStrides, ...dstStrides],
    (u0, u1) => copyStridedRange(src, srcOff, srcStrides, dst, dstOff, dstStrides, shape, u0, u1),
  );
}
