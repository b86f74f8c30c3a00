/**
 * Strided copies: the one loop behind permute, slice, concat, pad and expand.
 * A view is (offset, strides) over a flat array; stride 0 repeats (broadcast).
 */
import type { FloatArray } from "../tensor/tensor.js";

/**
 * dst[dstOff + idx . dstStrides] = src[srcOff + idx . srcStrides] for every
 * index idx of `shape` (row-major). The innermost axis is a tight loop; the
 * outer axes advance an odometer.
 */
export function copyStrided(
  src: FloatArray, srcOff: number, srcStrides: readonly number[],
  dst: FloatArray, dstOff: number, dstStrides: readonly number[],
  shape: readonly number[],
): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[dstOff] = src[srcOff]!;
    return;
  }
  let total = 1;
  for (let d = 0; d < rank; d++) total *= shape[d]!;
  if (total === 0) return;
  const inner = shape[rank - 1]!;
  const ss = srcStrides[rank - 1]!;
  const ds = dstStrides[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let s = srcOff;
  let o = dstOff;
  for (let done = 0; done < total; done += inner) {
    if (ss === 1 && ds === 1) {
      for (let j = 0; j < inner; j++) dst[o + j] = src[s + j]!;
    } else {
      for (let j = 0; j < inner; j++) dst[o + j * ds] = src[s + j * ss]!;
    }
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      s += srcStrides[d]!;
      o += dstStrides[d]!;
      if (idx[d]! < shape[d]!) break;
      s -= srcStrides[d]! * shape[d]!;
      o -= dstStrides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

/** The offsets idx . strides of every index of `shape`, in row-major order. */
export function offsetsOf(shape: readonly number[], strides: readonly number[]): Int32Array {
  let total = 1;
  for (const d of shape) total *= d;
  const out = new Int32Array(total);
  if (total === 0) return out;
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let i = 0; i < total; i++) {
    out[i] = off;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      off += strides[d]!;
      if (idx[d]! < shape[d]!) break;
      off -= strides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}
