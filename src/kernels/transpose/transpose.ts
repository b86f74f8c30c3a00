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
 * {@link transposeRangeReference} in tiles: the plain loop writes the
 * destination with a stride of `rows` elements and misses the cache on nearly
 * every store once a column no longer fits; a tile reads TILE source rows and
 * writes TILE destination runs of TILE contiguous elements.
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

/** One thread's dispatch on stacked source rows u0..u1-1 (the TypeScript twin: no WASM twin, a copy gains little from SIMD). */
export function transposeRange(
  src: TransposeArray, sOff: number, rows: number, cols: number, dst: TransposeArray, dOff: number, u0: number, u1: number,
): void {
  transposeRangeJs(src, sOff, rows, cols, dst, dOff, u0, u1);
}

/** dst[b, c, r] = src[b, r, c] for `batch` matrices [rows, cols], on this thread. */
export function transpose(
  src: TransposeArray, sOff: number, rows: number, cols: number, dst: TransposeArray, dOff: number, batch = 1,
): void {
  transposeRangeJs(src, sOff, rows, cols, dst, dOff, 0, batch * rows);
}
