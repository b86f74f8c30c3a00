/**
 * Gamma and Beta samples from the seeded {@link Rng} (for mixup's lambda).
 */
import { fail } from "../tensor/errors.js";
import type { Rng } from "../tensor/random.js";

/**
 * A Gamma(shape, 1) sample by Marsaglia and Tsang's squeeze method; for
 * shape < 1 it boosts to shape + 1 and multiplies by U^(1/shape).
 */
export function sampleGamma(rng: Rng, shape: number): number {
  if (!(shape > 0) || !Number.isFinite(shape)) fail("sampleGamma", `shape must be a finite number > 0, got ${shape}`);
  if (shape < 1) {
    let u = 0;
    while (u === 0) u = rng.uniform();
    return sampleGamma(rng, shape + 1) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = rng.normal();
    const t = 1 + c * x;
    if (t <= 0) continue;
    const v = t * t * t;
    const u = rng.uniform();
    const x2 = x * x;
    if (u < 1 - 0.0331 * x2 * x2) return d * v;
    if (u > 0 && Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A Beta(a, b) sample as X / (X + Y), X ~ Gamma(a), Y ~ Gamma(b). */
export function sampleBeta(rng: Rng, a: number, b: number): number {
  const x = sampleGamma(rng, a);
  const y = sampleGamma(rng, b);
  // Both tiny (possible for very small shapes): fall back to a fair coin rather than 0/0.
  if (x + y === 0) return rng.uniform() < a / (a + b) ? 1 : 0;
  return x / (x + y);
}
