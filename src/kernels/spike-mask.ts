/** Gradients that a packed spike mask gates (reference kernels for spike logic ops). */
import type { FloatArray } from "../tensor/tensor.js";
import { wordsFor } from "../tensor/bits.js";

/**
 * out[i] = scale * g[i] * m[i], where m is the packed bit (rows x cols), or
 * its complement 1 - bit when `complement`. g and out are row-major [rows, cols].
 */
export function maskedScale(g: FloatArray, words: Uint32Array, rows: number, cols: number, complement: boolean, scale: number, out: FloatArray): void {
  const wpr = wordsFor(cols);
  const flip = complement ? 1 : 0;
  for (let r = 0; r < rows; r++) {
    const go = r * cols;
    const wo = r * wpr;
    for (let c = 0; c < cols; c++) {
      const bit = ((words[wo + (c >>> 5)]! >>> (c & 31)) & 1) ^ flip;
      out[go + c] = bit === 1 ? scale * g[go + c]! : 0;
    }
  }
}
