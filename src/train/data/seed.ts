/**
 * Derives independent 32-bit seeds from a tuple (seed, epoch, stream, ...), so
 * any point of a run (an epoch's order, one batch's augmentation) can be
 * regenerated from its coordinates alone; that is what makes resuming exact.
 */

/** A 32-bit seed mixing every part (murmur3-style finaliser per part). */
export function deriveSeed(...parts: readonly number[]): number {
  let h = 0x2545f491;
  for (const p of parts) {
    // Fold values beyond 32 bits (epochs and counters stay far below 2^53).
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    for (const w of [lo, hi]) {
      let k = Math.imul(w, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
