/**
 * Gradient checks: analytic gradients (autograd) against float64 central
 * differences, with the tolerance of the issue: |a - n| <= atol + rtol |n|.
 */
import { expect } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { backward, noGrad } from "../../src/autograd/tape.js";
import { sum } from "../../src/ops/reduce.js";
import { mul } from "../../src/ops/elementwise.js";

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
}

/** A random float64 leaf tensor. */
export function rand64(shape: readonly number[], rng: Rng, low = -1, high = 1): Tensor {
  return Tensor.uniform(shape, rng, low, high, "float64").requireGrad();
}

/**
 * Checks d(sum(f(inputs) * w))/d input for every input that requires grad,
 * against central differences, where w is a fixed random weight (so every
 * output element contributes differently). Returns the max abs error seen.
 */
export function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): number {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-6;
  const rtol = opts.rtol ?? 1e-4;
  for (const x of inputs) {
    if (x.dtype !== "float64") throw new Error("gradcheck needs float64 inputs");
    x.grad = null;
  }
  const out0 = f(...inputs);
  const w = Tensor.uniform(out0.shape, new Rng(12345), 0.5, 1.5, "float64");
  const objective = (): number => noGrad(() => {
    const o = f(...inputs);
    let s = 0;
    for (let i = 0; i < o.data.length; i++) s += o.data[i]! * w.data[i]!;
    return s;
  });
  const loss = sum(mul(out0, w));
  if (loss.requiresGrad) backward(loss);
  let worst = 0;
  inputs.forEach((x, xi) => {
    if (!x.requiresGrad) return;
    for (let i = 0; i < x.data.length; i++) {
      const orig = x.data[i]!;
      x.data[i] = orig + eps;
      const fp = objective();
      x.data[i] = orig - eps;
      const fm = objective();
      x.data[i] = orig;
      const numeric = (fp - fm) / (2 * eps);
      const analytic = x.grad ? x.grad.data[i]! : 0;
      const err = Math.abs(analytic - numeric);
      worst = Math.max(worst, err);
      if (err > atol + rtol * Math.abs(numeric)) {
        expect.fail(`input ${xi} element ${i}: analytic ${analytic} vs numeric ${numeric} (shape [${x.shape.join(", ")}])`);
      }
    }
  });
  return worst;
}

/** fast-check arbitrary for a small shape of rank in [minRank, maxRank]. */
export function arbShape(minRank = 0, maxRank = 3, maxDim = 4): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });
}

/**
 * fast-check arbitrary for two shapes that broadcast against each other: a base
 * shape, and a second one made by dropping leading axes and setting some to 1.
 */
export function arbBroadcastPair(maxRank = 3, maxDim = 4): fc.Arbitrary<[number[], number[]]> {
  return fc
    .tuple(arbShape(0, maxRank, maxDim), fc.nat({ max: maxRank }), fc.array(fc.boolean(), { minLength: maxRank, maxLength: maxRank }), fc.boolean())
    .map(([base, drop, ones, swap]) => {
      const other = base.slice(Math.min(drop, base.length)).map((d, i) => (ones[i] ? 1 : d));
      return swap ? [other, base] : [base, other];
    });
}

/** Number of fast-check runs for gradient properties (kept small: each run is O(size) forwards). */
export const GRAD_RUNS = 25;
