/** Random spike tensors and bit-exact comparison helpers for the spike-arithmetic tests. */
import { expect } from "vitest";
import { Spikes } from "../../src/tensor/spikes.js";
import type { DType, Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { packRows, wordsFor } from "../../src/tensor/bits.js";

/** Spikes of a shape with each bit set with probability `density`. */
export function randSpikes(shape: readonly number[], density: number, rng: Rng, dtype: DType = "float32"): Spikes {
  const n = shape.reduce((a, b) => a * b, 1);
  const vals = new Uint8Array(n);
  for (let i = 0; i < n; i++) vals[i] = rng.uniform() < density ? 1 : 0;
  return Spikes.fromValues(vals, shape, dtype);
}

/** Small non-negative integers, zero with probability 1 - density (a residual-stream-like tensor). */
export function randCounts(n: number, density: number, rng: Rng): number[] {
  return Array.from({ length: n }, () => (rng.uniform() < density ? 1 + rng.int(3) : 0));
}

/** Asserts two tensors have the same shape and identical bits (Object.is per element, so -0 != +0). */
export function expectBitEqual(a: Tensor, b: Tensor, what = ""): void {
  expect(a.shape, what).toEqual(b.shape);
  expect(a.dtype, what).toBe(b.dtype);
  for (let i = 0; i < a.data.length; i++) {
    if (!Object.is(a.data[i], b.data[i])) expect.fail(`${what} element ${i}: ${a.data[i]} vs ${b.data[i]} (shape [${a.shape.join(", ")}])`);
  }
}

/** Asserts |a - b| <= atol + rtol |b| elementwise. */
export function expectClose(a: Tensor, b: Tensor, rtol: number, atol: number, what = ""): void {
  expect(a.shape, what).toEqual(b.shape);
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i]!, y = b.data[i]!;
    if (!(Math.abs(x - y) <= atol + rtol * Math.abs(y))) expect.fail(`${what} element ${i}: ${x} vs ${y} (shape [${a.shape.join(", ")}])`);
  }
}

/** Marks a value (spikes or tensor) as a gradient-collecting leaf, or not; returns it. */
export function leaf<T extends { requiresGrad: boolean }>(x: T, flag = true): T {
  x.requiresGrad = flag;
  return x;
}

/** `rows` packed bit rows of `cols` bits (pad bits zero, as Spikes keeps them), each set with probability `rate`. */
export function bitRows(rows: number, cols: number, rate: number, rng: Rng): Uint32Array {
  const v = new Uint8Array(rows * cols);
  for (let i = 0; i < v.length; i++) v[i] = rng.uniform() < rate ? 1 : 0;
  const out = new Uint32Array(rows * wordsFor(cols));
  packRows(v, rows, cols, out);
  return out;
}
