/**
 * Reference bit kernels. Bits are packed LSB-first into 32-bit words along the
 * last axis; every row starts on a word boundary and pad bits are zero, so
 * AND-popcounts need no tail correction.
 */

/** Number of set bits of a 32-bit word (SWAR). */
export function popcnt32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Index of the lowest set bit of a non-zero word. */
export function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Words needed for `n` bits. */
export function wordsFor(n: number): number {
  return (n + 31) >>> 5;
}

/** Mask of the valid bits of the last word of a row of `cols` bits (all ones when cols % 32 == 0). */
export function tailMask(cols: number): number {
  const r = cols & 31;
  return r === 0 ? 0xffffffff : ((1 << r) - 1) >>> 0;
}

/** Packs 0/1 values (row-major, `rows` x `cols`) into words. Nonzero counts as 1. */
export function packRows(values: ArrayLike<number>, rows: number, cols: number, out: Uint32Array): void {
  const wpr = wordsFor(cols);
  for (let r = 0; r < rows; r++) {
    const vo = r * cols;
    const wo = r * wpr;
    // Each word built in a register and stored once (pad bits stay zero).
    for (let q = 0; q < wpr; q++) {
      const c0 = q << 5, n = Math.min(32, cols - c0);
      let word = 0;
      // No branch per value (a nonzero share near a half would mispredict every other one).
      for (let b = 0; b < n; b++) word |= (values[vo + c0 + b] !== 0 ? 1 : 0) << b;
      out[wo + q] = word;
    }
  }
}

/** Unpacks words into 0/1 values. */
export function unpackRows(words: Uint32Array, rows: number, cols: number, out: { [i: number]: number }): void {
  const wpr = wordsFor(cols);
  for (let r = 0; r < rows; r++) {
    const vo = r * cols;
    const wo = r * wpr;
    for (let c = 0; c < cols; c++) out[vo + c] = (words[wo + (c >>> 5)]! >>> (c & 31)) & 1;
  }
}

/** Total set bits. */
export function popcountAll(words: Uint32Array): number {
  let n = 0;
  for (let i = 0; i < words.length; i++) n += popcnt32(words[i]!);
  return n;
}

/**
 * Transposes each of `batch` bit matrices [rows, cols] into [cols, rows]. Work
 * follows the set bits.
 */
export function transposeBits(src: Uint32Array, batch: number, rows: number, cols: number, dst: Uint32Array): void {
  const swpr = wordsFor(cols);
  const dwpr = wordsFor(rows);
  dst.fill(0);
  for (let b = 0; b < batch; b++) {
    const so = b * rows * swpr;
    const dOff = b * cols * dwpr;
    for (let r = 0; r < rows; r++) {
      const rw = r >>> 5;
      const rb = 1 << (r & 31);
      for (let w = 0; w < swpr; w++) {
        let x = src[so + r * swpr + w]!;
        while (x !== 0) {
          const c = (w << 5) + ctz32(x);
          x &= x - 1;
          dst[dOff + c * dwpr + rw]! |= rb;
        }
      }
    }
  }
}
