/**
 * Threaded twin of the transposes (./transpose.ts): the stacked source rows
 * are split between threads, each copying its rows to their destination
 * columns; a copy, so the bits are the same for any split.
 *
 * A transpose is memory-bound: staging a foreign array's share in and out of
 * the pool's scratch would cost about as much as the copy, so arrays not in
 * the heap (user arrays; never the engine's own tensors) are transposed on
 * the calling thread.
 */
import { inHeap } from "../../tensor/heap.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { transposeRange } from "./transpose.js";
import { defineTask, from } from "../../parallel/registry.js";
import { runSplit, sabBase, wholePart, type Part } from "../../parallel/pool.js";

// One thread's stacked rows: args sBase, dBase, rows, cols, u0, u1; buffers src, dst.
const OP_TRANSPOSE = defineTask("transpose.rows", import.meta.url, (_raw, a, b) =>
  transposeRange(from(b[0]!, a[0]!), 0, a[2]!, a[3]!, from(b[1]!, a[1]!), 0, a[4]!, a[5]!),
);

/**
 * dst[b, c, r] = src[b, r, c] for `batch` matrices [rows, cols] (offsets
 * locate matrix 0), split over `threads` threads (default: by size and the
 * pool) when both arrays are in the heap.
 */
export function transposeThreads(
  src: FloatArray, sOff: number, rows: number, cols: number, dst: FloatArray, dOff: number, batch = 1, threads?: number,
): void {
  const units = batch * rows;
  runSplit(
    "transpose", units, units * cols, threads, inHeap(src) && inHeap(dst), OP_TRANSPOSE, [src, dst], transposeArgs(src, sOff, rows, cols, dst, dOff),
    (u0, u1) => transposeRange(src, sOff, rows, cols, dst, dOff, u0, u1),
  );
}

/** The transpose task's arguments for stacked rows u0..u1-1. */
function transposeArgs(src: FloatArray, sOff: number, rows: number, cols: number, dst: FloatArray, dOff: number): (u0: number, u1: number) => number[] {
  return (u0, u1) => [sabBase(src) + sOff, sabBase(dst) + dOff, rows, cols, u0, u1];
}

/** The whole of {@link transposeThreads} (one matrix) as one worker's part (runBesideOr in src/parallel/pool.ts); null where an array is not in the heap. */
export function transposePart(src: FloatArray, sOff: number, rows: number, cols: number, dst: FloatArray, dOff: number): Part | null {
  return wholePart(rows, inHeap(src) && inHeap(dst), OP_TRANSPOSE, [src, dst], transposeArgs(src, sOff, rows, cols, dst, dOff));
}
