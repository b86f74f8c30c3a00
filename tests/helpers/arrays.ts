/** Typed-array helpers shared by the kernel tests: random inputs and bit-exact comparison. */
import { expect } from "vitest";
import { allocFloat, type FloatArray } from "../../src/tensor/tensor.js";
import type { Rng } from "../../src/tensor/random.js";

/** n uniform values in [-scale, scale), float32 or float64, optionally on a SharedArrayBuffer. */
export function randArray(f64: boolean, n: number, rng: Rng, shared: boolean, scale = 1): FloatArray {
  const a = allocFloat(f64 ? "float64" : "float32", n, shared);
  for (let i = 0; i < n; i++) a[i] = (rng.uniform() * 2 - 1) * scale;
  return a;
}

/** Same length, same element type and identical values (Object.is per element, so -0 != +0). */
export function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length || a.constructor !== b.constructor) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** Asserts two arrays have the same length and identical values, naming the first differing element. */
export function expectSameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) expect.fail(`${what} element ${i}: ${a[i]} vs ${b[i]}`);
}
