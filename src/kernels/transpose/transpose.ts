/**
 * Matrix transposes: weights to their gathered layout (Wᵀ), weight-gradient
 * accumulators back to the weight's layout, per-image gradients to
 * channels-last. A transpose is a pure copy (one store of each element, rounded
 * to the destination's type when it is narrower), so every twin writes the
 * same bits; they differ only in the order of the stores.
 *
 * A batch of `batch` matrices [rows, cols] stacked one after another is
 * addressed as `batch · rows` source rows: row u is row u mod rows of matrix
 * floor(u / rows). A range of stacked rows is the unit the threads split.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { inHeap } from "../../tensor/heap.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { heapPtr, unstage } from "../../wasm/runtime.js";
import { transposeKernel, transposePath, transposeWasmCall } from "./wasm.js";

/** What a transpose copies: any float array, or int32 (argmax-like tables). */
export type TransposeArray = FloatArray | Int32Array;

/**
 * dst[b, c, r] = src[b, r, c] for stacked source rows u0..u1-1 of matrices
 * [rows, cols] (offsets locate matrix 0): the plain loop that defines the result.
 */
export function transposeRangeReference(
  src: TransposeArray, sOff: number, rows: number, cols: number, dst: TransposeArray, dOff: number, u0: number, u1: number,
): void {
  for (let u = u0; u < u1; u++) {
    const b = Math.floor(u / rows), r = u - b * rows;
    for (let c = 0; c < cols; c++) dst[dOff + b * rows * cols + c * rows + r] = src[sOff + u * cols + c]!;
  }
}

/** Tile edge of the TypeScript twin: a 32 x 32 float64 tile (8 KiB) of source rows and destination rows stays in L1. */
const TILE = 32;

/**
 * {@link transposeRangeReference} in tiles of TILE source rows by TILE
 * columns, the WASM twin's order. (In TypeScript the element accesses
 * dominate: measured about as fast as the plain loop; the WASM twin is the
 * fast one, 2.5-3x on the training step's shapes.)
 */
export function transposeRangeJs(
  src: TransposeArray, sOff: number, rows: number, cols: number, dst: TransposeArray, dOff: number, u0: number, u1: number,
): void {
  let u = u0;
  while (u < u1) {
    const b = Math.floor(u / rows), r0 = u - b * rows;
    const r1 = Math.min(rows, r0 + (u1 - u)); // this matrix's rows in the range
    const s = sOff + b * rows * cols, d = dOff + b * rows * cols;
    for (let rt = r0; rt < r1; rt += TILE) {
      const re = Math.min(r1, rt + TILE);
      for (let ct = 0; ct < cols; ct += TILE) {
        const ce = Math.min(cols, ct + TILE);
        for (let c = ct; c < ce; c++) {
          const dc = d + c * rows;
          for (let r = rt; r < re; r++) dst[dc + r] = src[s + r * cols + c]!;
        }
      }
    }
    u += r1 - r0;
  }
}

/**
 * {@link transposeRangeReference} by the WebAssembly twin (./wasm.ts), one call
 * per matrix the range touches. Foreign arrays are staged in the kernel's
 * scratch (the touched matrices of dst copied in and back, so its other
 * elements keep their values). Float32 into float64 has no WASM path: throws.
 */
export function transposeRangeWasm(
  src: TransposeArray, sOff: number, rows: number, cols: number, dst: TransposeArray, dOff: number, u0: number, u1: number,
): void {
  const path = transposePath(src, dst);
  if (path === null) throw new Error("transposeRangeWasm: float32 into float64 has no WASM path (use the JS twin)");
  if (u1 <= u0 || cols === 0) return;
  const mat = rows * cols, b0 = Math.floor(u0 / rows), b1 = Math.floor((u1 - 1) / rows) + 1;
  const sFrom = sOff + u0 * cols, sLen = (u1 - u0) * cols, dFrom = dOff + b0 * mat, dLen = (b1 - b0) * mat;
  const es = src.BYTES_PER_ELEMENT, ed = dst.BYTES_PER_ELEMENT;
  const dStage = Math.ceil((sLen * es) / 64) * 64;
  const foreign = !inHeap(src) || !inHeap(dst);
  const base = foreign ? transposeKernel.scratch.take(dStage + dLen * ed) : 0;
  // Byte offsets of matrix b0's first elements (src staged from row u0 on: shift back so row u lands where it belongs).
  const sB = heapPtr(src, sFrom, sLen, base, true) - (u0 - b0 * rows) * cols * es;
  const dB = heapPtr(dst, dFrom, dLen, base + dStage, true);
  for (let b = b0; b < b1; b++) {
    const r0 = Math.max(u0 - b * rows, 0), r1 = Math.min(u1 - b * rows, rows);
    transposeWasmCall(path, sB + (b - b0) * mat * es, dB + (b - b0) * mat * ed, rows, cols, r0, r1);
  }
  if (!inHeap(dst)) unstage(dst, dFrom, dLen, base + dStage);
}

/** Elements below which the WASM call's overhead outweighs its faster copy. */
const WASM_MIN = 1024;

/** One thread's dispatch on stacked source rows u0..u1-1: the WASM twin for heap arrays (when the backend allows and a path exists), else the TypeScript twin. */
export function transposeRange(
  src: TransposeArray, sOff: number, rows: number, cols: number, dst: TransposeArray, dOff: number, u0: number, u1: number,
): void {
  if ((u1 - u0) * cols >= WASM_MIN && wasmKernelsEnabled() && inHeap(src) && inHeap(dst) && transposePath(src, dst) !== null) {
    transposeRangeWasm(src, sOff, rows, cols, dst, dOff, u0, u1);
  } else {
    transposeRangeJs(src, sOff, rows, cols, dst, dOff, u0, u1);
  }
}

/** dst[b, c, r] = src[b, r, c] for `batch` matrices [rows, cols], on this thread. */
export function transpose(
  src: TransposeArray, sOff: number, rows: number, cols: number, dst: TransposeArray, dOff: number, batch = 1,
): void {
  transposeRange(src, sOff, rows, cols, dst, dOff, 0, batch * rows);
}

/**
 * A [rows, cols] (from off) transposed into a fresh array of a's type, by the TypeScript twin: the JS
 * event-driven kernels' reading of a weight stored [out, in] (their work is cols x rows per output row,
 * so the copy is small beside it).
 */
export function transposedCopy(a: FloatArray, off: number, rows: number, cols: number): FloatArray {
  const t = a instanceof Float32Array ? new Float32Array(rows * cols) : new Float64Array(rows * cols);
  transposeRangeJs(a, off, rows, cols, t, 0, 0, rows);
  return t;
}
