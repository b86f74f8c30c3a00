/**
 * Threaded twins of the bias kernels (./bias.ts): the add splits the outer
 * rows, the per-channel sum the channels (each channel summed whole by one
 * thread, in the same order), so the bits are the same for any split.
 *
 * Both are memory-bound single sweeps: staging a foreign array in and out of
 * the pool's scratch would cost about what the sweep does, so arrays not in
 * the heap (never the engine's own tensors) stay on the calling thread.
 */
import { inHeap } from "../../tensor/heap.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { addChannelBiasRange, sumPerChannelRange } from "./bias.js";
import { defineTask, from } from "../../parallel/registry.js";
import { runSplit, sabBase, wholePart, type Part } from "../../parallel/pool.js";

const BIAS_ADD = 0;
const BIAS_SUM = 1;

/** One thread's range of a bias pass: the add on outer rows, the sum on channels u0..u1-1. */
function biasPart(kind: number, data: FloatArray, vec: FloatArray, outer: number, channels: number, inner: number, u0: number, u1: number): void {
  if (kind === BIAS_ADD) addChannelBiasRange(data, vec, outer, channels, inner, u0, u1);
  else sumPerChannelRange(data, vec, outer, channels, inner, u0, u1);
}

// Args kind, bases of data and vec, outer, channels, inner, u0, u1; buffers data, vec.
const OP_BIAS = defineTask("bias.range", import.meta.url, (_raw, a, b) =>
  biasPart(a[0]!, from(b[0]!, a[1]!), from(b[1]!, a[2]!), a[3]!, a[4]!, a[5]!, a[6]!, a[7]!),
);

/** A bias pass's units (outer rows to add, channels to sum) and its task's arguments for units u0..u1-1. */
function split(kind: number, data: FloatArray, vec: FloatArray, outer: number, channels: number, inner: number) {
  return {
    units: kind === BIAS_ADD ? outer : channels,
    shared: inHeap(data) && inHeap(vec),
    args: (u0: number, u1: number) => [kind, sabBase(data), sabBase(vec), outer, channels, inner, u0, u1],
  };
}

function run(kind: number, data: FloatArray, vec: FloatArray, outer: number, channels: number, inner: number, threads: number | undefined): void {
  const { units, shared, args } = split(kind, data, vec, outer, channels, inner);
  runSplit("bias", units, outer * channels * inner, threads, shared, OP_BIAS, [data, vec], args, (u0, u1) => biasPart(kind, data, vec, outer, channels, inner, u0, u1));
}

/** {@link addChannelBias} (same bits), the outer rows split over `threads` threads (default: by size and the pool). */
export function addChannelBiasThreads(out: FloatArray, bias: FloatArray, outer: number, channels: number, inner: number, threads?: number): void {
  run(BIAS_ADD, out, bias, outer, channels, inner, threads);
}

/** {@link sumPerChannel} (same bits), the channels split over `threads` threads (default: by size and the pool). */
export function sumPerChannelThreads(g: FloatArray, dst: FloatArray, outer: number, channels: number, inner: number, threads?: number): void {
  run(BIAS_SUM, g, dst, outer, channels, inner, threads);
}

/** The whole of {@link sumPerChannelThreads} as one worker's part (runBesideOr in src/parallel/pool.ts); null where an array is not in the heap. */
export function sumPerChannelPart(g: FloatArray, dst: FloatArray, outer: number, channels: number, inner: number): Part | null {
  const { units, shared, args } = split(BIAS_SUM, g, dst, outer, channels, inner);
  return wholePart(units, shared, OP_BIAS, [g, dst], args);
}
