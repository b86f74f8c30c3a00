/** Reduction kernels: sums in a fixed (source) order with float64 accumulators, and the finite check; WASM twins in ./wasm.ts. */
import type { FloatArray } from "../../tensor/tensor.js";
import { freeArray, heapArray, inHeap } from "../../tensor/heap.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { addRowsF64Wasm, firstNonFinite32Wasm } from "./wasm.js";
import { BitspikeError } from "../../tensor/errors.js";

/**
 * Sums `src` (shape `srcShape`) into `dst` whose strides, seen from srcShape,
 * are `dstStrides` (0 on reduced axes). `dst` is overwritten.
 */
export function sumTo(src: FloatArray, srcShape: readonly number[], dst: FloatArray, dstStrides: readonly number[]): void {
  if (sumRowsWasm(src, srcShape, dst, dstStrides)) return;
  const acc = new Float64Array(dst.length);
  const n = src.length;
  if (n > 0) {
    const rank = srcShape.length;
    if (rank === 0) {
      acc[0] = src[0]!;
    } else {
      const inner = srcShape[rank - 1]!;
      const si = dstStrides[rank - 1]!;
      const idx = new Array<number>(rank).fill(0);
      let o = 0;
      for (let s = 0; s < n; s += inner) {
        if (si === 0) {
          let t = 0;
          for (let j = 0; j < inner; j++) t += src[s + j]!;
          acc[o]! += t;
        } else {
          for (let j = 0; j < inner; j++) acc[o + j * si]! += src[s + j]!;
        }
        o = nextRow(idx, o, srcShape, dstStrides, rank - 2);
      }
    }
  }
  for (let i = 0; i < dst.length; i++) dst[i] = acc[i]!;
}

/**
 * {@link sumTo} by the WASM row adds (./wasm.ts) where they apply: a float32 source in the heap whose
 * last axis is kept (dst stride 1) and the one before it reduced (a mean over tokens: 1.6M values in the
 * MNIST b64 head took 3.3 ms in the JS loop). Each outer index's rows go into its float64 row in source
 * order, so every sum takes its terms in the JS loop's order: the same bits. False when it does not apply.
 */
function sumRowsWasm(src: FloatArray, srcShape: readonly number[], dst: FloatArray, dstStrides: readonly number[]): boolean {
  const rank = srcShape.length;
  if (rank < 2 || !(src instanceof Float32Array) || !inHeap(src) || !wasmKernelsEnabled()) return false;
  if (dstStrides[rank - 1] !== 1 || dstStrides[rank - 2] !== 0 || src.length === 0) return false;
  const inner = srcShape[rank - 1]!, rows = srcShape[rank - 2]!;
  const acc = heapArray(Float64Array, dst.length);
  const outer = src.length / (rows * inner);
  const idx = new Array<number>(rank - 2).fill(0);
  let o = 0;
  for (let u = 0; u < outer; u++) {
    addRowsF64Wasm(acc.byteOffset + 8 * o, src.byteOffset + 4 * u * rows * inner, rows, inner);
    o = nextRow(idx, o, srcShape, dstStrides, rank - 3); // the outer axes, the last fastest (source order)
  }
  for (let i = 0; i < dst.length; i++) dst[i] = acc[i]!;
  freeArray(acc, "released by sumTo (its float64 sums)");
  return true;
}

/**
 * Steps the index `idx` over axes 0..last of `shape` (the last fastest: source order) and returns the
 * destination offset `o` moved along by `strides`.
 */
function nextRow(idx: number[], o: number, shape: readonly number[], strides: readonly number[], last: number): number {
  for (let d = last; d >= 0; d--) {
    idx[d]!++;
    o += strides[d]!;
    if (idx[d]! < shape[d]!) return o;
    o -= strides[d]! * shape[d]!;
    idx[d] = 0;
  }
  return o;
}

/** The index of the first NaN or infinity in `data`, or -1 when every value is finite: the plain loop. */
export function firstNonFiniteReference(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    // x - x is 0 for finite x and NaN for NaN and +-Infinity: one test for both.
    if (x - x !== 0) return i;
  }
  return -1;
}

/** {@link firstNonFiniteReference} by the WASM SIMD twin (./wasm.ts): a float32 heap array. */
export function firstNonFiniteWasm(data: Float32Array): number {
  if (!(data instanceof Float32Array) || !inHeap(data)) throw new BitspikeError("firstNonFiniteWasm", "needs a float32 array in the heap");
  return firstNonFinite32Wasm(data.byteOffset, data.length);
}

/**
 * The dispatch: the WASM twin for a float32 heap array where the backend allows (a training step checks every
 * gradient: the plain loop took 0.93 ns a value, 8.7 ms a Spikformer-4-384 step), else the plain loop.
 */
export function firstNonFinite(data: ArrayLike<number>): number {
  // (A few values: the loop, without a call into the module.)
  if (data instanceof Float32Array && data.length >= 64 && inHeap(data) && wasmKernelsEnabled()) return firstNonFiniteWasm(data);
  return firstNonFiniteReference(data);
}
