/**
 * Strided copies: the one loop behind permute, slice, concat, pad and expand.
 * A view is (offset, strides) over a flat array; stride 0 repeats (broadcast).
 * Ranges are rows of the copy: row u is the index over every axis but the
 * last (row-major), each row one run along the last axis; every element is
 * written once, by one row, so any split of the rows gives the same bits.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { inHeap } from "../../tensor/heap.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { copyWasmCall, copyWasmCall3 } from "./wasm.js";

/** Rows of a copy of `shape`: the product of all axes but the last (1 for rank 0 and 1). */
export function copyRows(shape: readonly number[]): number {
  let rows = 1;
  for (let d = 0; d < shape.length - 1; d++) rows *= shape[d]!;
  return rows;
}

/**
 * A position in a strided copy: the index over axes 0..axes-1 of `shape` and
 * its source and destination offsets, started at the `u`-th such index
 * (row-major), stepped by {@link step}.
 */
class Odometer {
  readonly idx: number[];
  s: number;
  o: number;

  constructor(
    private readonly shape: readonly number[], private readonly ss: readonly number[], private readonly ds: readonly number[],
    srcOff: number, dstOff: number, u: number, axes: number,
  ) {
    this.idx = new Array<number>(shape.length).fill(0);
    this.s = srcOff;
    this.o = dstOff;
    for (let d = axes - 1, rest = u; d >= 0; d--) {
      const i = rest % shape[d]!;
      rest = (rest - i) / shape[d]!;
      this.idx[d] = i;
      this.s += i * ss[d]!;
      this.o += i * ds[d]!;
    }
  }

  /** Advances axis `d` by one, carrying into the axes before it. */
  step(d: number): void {
    const { idx, shape, ss, ds } = this;
    for (; d >= 0; d--) {
      idx[d]!++;
      this.s += ss[d]!;
      this.o += ds[d]!;
      if (idx[d]! < shape[d]!) return;
      this.s -= ss[d]! * shape[d]!;
      this.o -= ds[d]! * shape[d]!;
      idx[d] = 0;
    }
  }

  /** Back to index 0 along axis `d`. */
  rewind(d: number): void {
    this.s -= this.idx[d]! * this.ss[d]!;
    this.o -= this.idx[d]! * this.ds[d]!;
    this.idx[d] = 0;
  }
}

/**
 * dst[dstOff + idx . dstStrides] = src[srcOff + idx . srcStrides] for every
 * index idx of `shape` in rows u0..u1-1, each element's offsets computed from
 * its flat index: the plain loop that defines the result.
 */
export function copyStridedRangeReference(
  src: FloatArray, srcOff: number, srcStrides: readonly number[],
  dst: FloatArray, dstOff: number, dstStrides: readonly number[],
  shape: readonly number[], u0: number, u1: number,
): void {
  const rank = shape.length;
  const inner = rank === 0 ? 1 : shape[rank - 1]!;
  for (let e = u0 * inner; e < u1 * inner; e++) {
    const at = new Odometer(shape, srcStrides, dstStrides, srcOff, dstOff, e, rank);
    dst[at.o] = src[at.s]!;
  }
}

/**
 * {@link copyStridedRangeReference} with the innermost axis as a tight loop
 * and the outer axes advancing an odometer (started at row u0).
 */
export function copyStridedRangeJs(
  src: FloatArray, srcOff: number, srcStrides: readonly number[],
  dst: FloatArray, dstOff: number, dstStrides: readonly number[],
  shape: readonly number[], u0: number, u1: number,
): void {
  const rank = shape.length;
  if (rank === 0) {
    if (u0 < u1) dst[dstOff] = src[srcOff]!;
    return;
  }
  const inner = shape[rank - 1]!;
  if (u1 <= u0 || inner === 0) return;
  const ss = srcStrides[rank - 1]!;
  const ds = dstStrides[rank - 1]!;
  const at = new Odometer(shape, srcStrides, dstStrides, srcOff, dstOff, u0, rank - 1);
  for (let u = u0; u < u1; u++) {
    const s = at.s, o = at.o;
    if (ss === 1 && ds === 1) {
      for (let j = 0; j < inner; j++) dst[o + j] = src[s + j]!;
    } else {
      for (let j = 0; j < inner; j++) dst[o + j * ds] = src[s + j * ss]!;
    }
    at.step(rank - 2);
  }
}

/**
 * {@link copyStridedRangeReference} by the WASM twin (./wasm.ts): up to the three
 * innermost axes per call (rank 1 as one run), the outer axes walked here.
 * src and dst must be heap arrays of one float type.
 */
export function copyStridedRangeWasm(
  src: FloatArray, srcOff: number, srcStrides: readonly number[],
  dst: FloatArray, dstOff: number, dstStrides: readonly number[],
  shape: readonly number[], u0: number, u1: number,
): void {
  if (!wasmCopyable(src, dst)) throw new Error("copyStridedRangeWasm: needs heap arrays of one float type");
  const rank = shape.length;
  if (rank < 2) {
    copyStridedRangeJs(src, srcOff, srcStrides, dst, dstOff, dstStrides, shape, u0, u1);
    return;
  }
  const inner = shape[rank - 1]!;
  if (u1 <= u0 || inner === 0) return;
  const es = dst.BYTES_PER_ELEMENT, f64 = es === 8;
  const n1 = shape[rank - 2]!, ss1 = srcStrides[rank - 2]!, ds1 = dstStrides[rank - 2]!, ss = srcStrides[rank - 1]!, ds = dstStrides[rank - 1]!;
  const n2 = rank >= 3 ? shape[rank - 3]! : 1, ss2 = rank >= 3 ? srcStrides[rank - 3]! : 0, ds2 = rank >= 3 ? dstStrides[rank - 3]! : 0;
  // From row u0: at the start of an axis rank-2 block, as many whole blocks of axis rank-3 as the range
  // holds in one call; else the rest of the block along axis rank-2. Then the outer odometer steps.
  const at = new Odometer(shape, srcStrides, dstStrides, srcOff, dstOff, u0, rank - 1);
  for (let u = u0; u < u1;) {
    const blocks = at.idx[rank - 2] === 0 ? Math.min(n2 - (rank >= 3 ? at.idx[rank - 3]! : 0), Math.floor((u1 - u) / n1)) : 0;
    if (blocks >= 1) {
      copyWasmCall3(f64, src.byteOffset + at.s * es, dst.byteOffset + at.o * es, blocks, n1, inner, ss2, ds2, ss1, ds1, ss, ds);
      u += blocks * n1;
      for (let b = 0; b < blocks; b++) at.step(rank - 3);
      continue;
    }
    const k = Math.min(n1 - at.idx[rank - 2]!, u1 - u);
    copyWasmCall(f64, src.byteOffset + at.s * es, dst.byteOffset + at.o * es, k, inner, ss1, ds1, ss, ds);
    u += k;
    at.rewind(rank - 2);
    at.step(rank - 3);
  }
}

function wasmCopyable(src: FloatArray, dst: FloatArray): boolean {
  return src instanceof Float64Array === dst instanceof Float64Array && inHeap(src) && inHeap(dst);
}

/** One thread's dispatch on rows u0..u1-1: the WASM twin for heap arrays of one type where the backend allows, else the TypeScript twin. */
export function copyStridedRange(
  src: FloatArray, srcOff: number, srcStrides: readonly number[],
  dst: FloatArray, dstOff: number, dstStrides: readonly number[],
  shape: readonly number[], u0: number, u1: number,
): void {
  if (shape.length >= 2 && wasmKernelsEnabled() && wasmCopyable(src, dst)) copyStridedRangeWasm(src, srcOff, srcStrides, dst, dstOff, dstStrides, shape, u0, u1);
  else copyStridedRangeJs(src, srcOff, srcStrides, dst, dstOff, dstStrides, shape, u0, u1);
}

/** The whole copy of `shape` (see {@link copyStridedRangeReference}), on this thread. */
export function copyStrided(
  src: FloatArray, srcOff: number, srcStrides: readonly number[],
  dst: FloatArray, dstOff: number, dstStrides: readonly number[],
  shape: readonly number[],
): void {
  for (const n of shape) if (n === 0) return;
  copyStridedRange(src, srcOff, srcStrides, dst, dstOff, dstStrides, shape, 0, copyRows(shape));
}

/** The offsets idx . strides of every index of `shape`, in row-major order. */
export function offsetsOf(shape: readonly number[], strides: readonly number[]): Int32Array {
  let total = 1;
  for (const d of shape) total *= d;
  const out = new Int32Array(total);
  const at = new Odometer(shape, strides, strides, 0, 0, 0, 0);
  for (let i = 0; i < total; i++) {
    out[i] = at.s;
    at.step(shape.length - 1);
  }
  return out;
}
