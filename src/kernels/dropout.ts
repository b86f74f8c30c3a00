/** Dropout masks from a seeded generator, and their application. */
import type { FloatArray } from "../tensor/tensor.js";
import type { Rng } from "../tensor/random.js";

/**
 * mask[i] = 1 with probability 1 - p (one 32-bit draw per element: keep when
 * u32 / 2^32 >= p), else 0. Consumes exactly mask.length draws.
 */
export function keepMask(rng: Rng, p: number, mask: Uint8Array): void {
  const threshold = p * 4294967296;
  for (let i = 0; i < mask.length; i++) mask[i] = rng.nextU32() >= threshold ? 1 : 0;
}

/** out[i] = mask[i] ? x[i] * scale : 0. */
export function applyMask(x: FloatArray, mask: Uint8Array, scale: number, out: FloatArray): void {
  for (let i = 0; i < x.length; i++) out[i] = mask[i] ? x[i]! * scale : 0;
}
