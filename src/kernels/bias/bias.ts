/**
 * Per-channel bias kernels for data laid out [outer, channels, inner]
 * (linear: inner = 1; conv: inner = spatial size): the forward add and the
 * bias gradient's per-channel sum. Ranges: the add over outer rows o0..o1-1,
 * the sum over channels c0..c1-1 (each channel's additions in the same order
 * whatever the range), so a split changes no bits. The linear layout
 * (inner = 1) has WASM SIMD twins, built on the elementwise family's row sums.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { heapF64, inHeap, Scratch } from "../../tensor/heap.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { addWasmCall } from "../elementwise/wasm.js";
import { normPassWasm } from "../norm/wasm.js";

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

/** The WASM twin's case: the linear layout, out and bias heap arrays of one float type. */
function wasmBias(out: FloatArray, bias: FloatArray, inner: number): boolean {
  return inner === 1 && out instanceof Float64Array === bias instanceof Float64Array && inHeap(out) && inHeap(bias);
}

/**
 * {@link addChannelBiasRangeReference} by WASM SIMD: each row is out_row + bias
 * (the elementwise family's add32 / add64, the same additions). Cases other
 * than {@link wasmBias}'s (conv layouts, foreign arrays) run the TypeScript twin.
 */
export function addChannelBiasRangeWasm(out: FloatArray, bias: FloatArray, outer: number, channels: number, inner: number, o0: number, o1: number): void {
  if (!wasmBias(out, bias, inner)) {
    addChannelBiasRangeJs(out, bias, outer, channels, inner, o0, o1);
    return;
  }
  const es = out.BYTES_PER_ELEMENT, f64 = es === 8;
  for (let o = o0; o < o1; o++) {
    const row = out.byteOffset + o * channels * es;
    addWasmCall(f64, row, bias.byteOffset, row, channels);
  }
}

/** Channels below which a row's WASM call costs more than its adds. */
const WASM_MIN_CHANNELS = 16;

/** One thread's dispatch of the add on outer rows o0..o1-1: the WASM twin for wide linear rows where the backend allows, else the TypeScript twin. */
export function addChannelBiasRange(out: FloatArray, bias: FloatArray, outer: number, channels: number, inner: number, o0: number, o1: number): void {
  if (channels >= WASM_MIN_CHANNELS && wasmKernelsEnabled() && wasmBias(out, bias, inner)) addChannelBiasRangeWasm(out, bias, outer, channels, inner, o0, o1);
  else addChannelBiasRangeJs(out, bias, outer, channels, inner, o0, o1);
}

/** out[o, c, s] += bias[c], on this thread. */
export function addChannelBias(out: FloatArray, bias: FloatArray, outer: number, channels: number, inner: number): void {
  addChannelBiasRange(out, bias, outer, channels, inner, 0, outer);
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

/** This thread's float64 accumulators of the WASM per-channel sum. */
const accScratch = new Scratch();

/**
 * {@link sumPerChannelRangeReference} by WASM SIMD for the linear layout: each
 * row's channels c0..c1-1 added into float64 accumulators (float32 rows
 * promoted, exactly), rows in order, as the TypeScript twin adds them. Other
 * cases (conv layouts, a foreign g) run the TypeScript twin.
 */
export function sumPerChannelRangeWasm(g: FloatArray, dst: FloatArray, outer: number, channels: number, inner: number, c0: number, c1: number): void {
  if (inner !== 1 || !inHeap(g) || c1 <= c0) {
    sumPerChannelRangeJs(g, dst, outer, channels, inner, c0, c1);
    return;
  }
  // Sized for every channel, not this range's: a split's ranges move with the threads' speeds (src/parallel/speeds.ts).
  const n = c1 - c0, acc = accScratch.take(channels * 8), es = g.BYTES_PER_ELEMENT;
  const h = heapF64();
  h.fill(0, acc / 8, acc / 8 + n);
  if (es === 4) {
    // One call for all rows: the batch norm's row-form sum (acc[ch] += x[r, ch], float32 widened exactly, rows in
    // order) is the same addition; a call per row cost more than its adds on narrow rows.
    normPassWasm("sums", g.byteOffset + c0 * es, outer, n, channels, acc);
  } else {
    for (let o = 0; o < outer; o++) {
      const row = g.byteOffset + (o * channels + c0) * es;
      addWasmCall(true, acc, row, acc, n);
    }
  }
  for (let c = 0; c < n; c++) dst[c0 + c] = h[acc / 8 + c]!;
}

/** One thread's dispatch of the per-channel sum on channels c0..c1-1: the WASM twin for wide linear rows where the backend allows, else the TypeScript twin. */
export function sumPerChannelRange(g: FloatArray, dst: FloatArray, outer: number, channels: number, inner: number, c0: number, c1: number): void {
  if (c1 - c0 >= WASM_MIN_CHANNELS && inner === 1 && wasmKernelsEnabled() && inHeap(g)) sumPerChannelRangeWasm(g, dst, outer, channels, inner, c0, c1);
  else sumPerChannelRangeJs(g, dst, outer, channels, inner, c0, c1);
}

/** dst[c] = sum over o, s of g[o, c, s] (float64 accumulators, in source order), on this thread. */
export function sumPerChannel(g: FloatArray, dst: FloatArray, outer: number, channels: number, inner: number): void {
  sumPerChannelRange(g, dst, outer, channels, inner, 0, channels);
}
