/**
 * Per-channel bias kernels for data laid out [outer, channels, inner]
 * (linear: inner = 1; conv: inner = spatial size): the forward add and the
 * bias gradient's per-channel sum. Ranges: the add over outer rows o0..o1-1,
 * the sum over channels c0..c1-1 (each channel's additions in the same order
 * whatever the range), so a split changes no bits.
 */
import type { FloatArray } from "../../tensor/tensor.js";

/** out[o, c, s] += bias[c] for outer rows o0..o1-1: the plain loop that defines the result. */
export function addChannelBiasRangeReference(out: FloatArray, bias: FloatArray, outer: number, channels: number, inner: number, o0: number, o1: number): void {
  void outer;
  for (let o = o0; o < o1; o++) for (let c = 0; c < channels; c++) for (let s = 0; s < inner; s++) out[(o * channels + c) * inner + s]! += bias[c]!;
}

/** The TypeScript twin of {@link addChannelBiasRangeReference}. */
export function addChannelBiasRangeJs(out: FloatArray, bias: FloatArray, outer: number, channels: number, inner: number, o0: number, o1: number): void {
  void outer;
  let i = o0 * channels * inner;
  if (inner === 1) {
    // Linear outputs: a one-element inner loop per channel costs more than the add (measured 4.3 -> 2.7 ns).
    for (let o = o0; o < o1; o++) for (let c = 0; c < channels; c++, i++) out[i] = out[i]! + bias[c]!;
    return;
  }
  for (let o = o0; o < o1; o++) {
    for (let c = 0; c < channels; c++) {
      const v = bias[c]!;
      const end = i + inner;
      for (; i < end; i++) out[i]! += v;
    }
  }
}

/** One thread's dispatch of the add on outer rows o0..o1-1 (the TypeScript twin; no WASM twin). */
export const addChannelBiasRange = addChannelBiasRangeJs;

/** out[o, c, s] += bias[c], on this thread. */
export function addChannelBias(out: FloatArray, bias: FloatArray, outer: number, channels: number, inner: number): void {
  addChannelBiasRangeJs(out, bias, outer, channels, inner, 0, outer);
}

/**
 * dst[c] = sum over o, s of g[o, c, s] for channels c0..c1-1: per channel and
 * outer row a sum over s in order, added in outer order to a float64
 * accumulator starting at 0 (the bias gradient; deterministic). The plain loop.
 */
export function sumPerChannelRangeReference(g: FloatArray, dst: FloatArray, outer: number, channels: number, inner: number, c0: number, c1: number): void {
  for (let c = c0; c < c1; c++) {
    let acc = 0;
    for (let o = 0; o < outer; o++) {
      let t = 0;
      for (let s = 0; s < inner; s++) t += g[(o * channels + c) * inner + s]!;
      acc += t;
    }
    dst[c] = acc;
  }
}

/** The TypeScript twin of {@link sumPerChannelRangeReference}: rows swept in memory order, one accumulator per channel. */
export function sumPerChannelRangeJs(g: FloatArray, dst: FloatArray, outer: number, channels: number, inner: number, c0: number, c1: number): void {
  const acc = new Float64Array(c1 - c0);
  if (inner === 1) {
    // The same additions (0 + g = g exactly) without a one-element inner loop (measured 4.1 -> 1.6 ns).
    for (let o = 0; o < outer; o++) {
      const row = o * channels;
      for (let c = c0; c < c1; c++) acc[c - c0] = acc[c - c0]! + g[row + c]!;
    }
  } else {
    for (let o = 0; o < outer; o++) {
      let i = (o * channels + c0) * inner;
      for (let c = c0; c < c1; c++) {
        let t = 0;
        const end = i + inner;
        for (; i < end; i++) t += g[i]!;
        acc[c - c0]! += t;
      }
    }
  }
  for (let c = c0; c < c1; c++) dst[c] = acc[c - c0]!;
}

/** One thread's dispatch of the per-channel sum on channels c0..c1-1 (the TypeScript twin; no WASM twin). */
export const sumPerChannelRange = sumPerChannelRangeJs;

/** dst[c] = sum over o, s of g[o, c, s] (float64 accumulators, in source order), on this thread. */
export function sumPerChannel(g: FloatArray, dst: FloatArray, outer: number, channels: number, inner: number): void {
  sumPerChannelRangeJs(g, dst, outer, channels, inner, 0, channels);
}
