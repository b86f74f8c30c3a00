/**
 * Special functions: erf/erfc to double precision (about 1e-15) and the
 * normal CDF, and a float32 normal CDF (the exact GELU built on them is in ./gelu/).
 */
import { expNonPositiveF32 } from "./neuron/exp.js";

const fr = Math.fround;

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2 / sqrt(pi)
const INV_SQRT_PI = 0.5641895835477563; // 1 / sqrt(pi)
const INV_SQRT2 = 0.7071067811865476;
/** Below this |x| erf uses its series, above it erfc uses its continued fraction. */
const SPLIT = 2.5;

/**
 * erf(x) for 0 <= x < SPLIT by the all-positive series
 * erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (2n+1)!!,
 * which has no cancellation (unlike the Taylor series of erf itself).
 */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let s = x;
  for (let n = 0; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 3);
    s += term;
    if (term < 1e-17 * s) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * s;
}

/**
 * erfc(x) for x >= SPLIT by Laplace's continued fraction
 * erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
 * evaluated bottom-up with a depth that shrinks as x grows (it converges
 * faster for large x). Keeps full relative accuracy in the far tail.
 */
function erfcFraction(x: number): number {
  const depth = x < 3.5 ? 60 : x < 6 ? 30 : 12;
  let t = x;
  for (let k = depth; k >= 1; k--) t = x + (0.5 * k) / t;
  return (INV_SQRT_PI * Math.exp(-x * x)) / t;
}

/*
 * Fast path on [0, SPLIT): Taylor polynomials of degree ORDER around the grid
 * points c = k / STEPS, built once at load time. The coefficients are
 * erf(c) (from the series) and erf^(n)(c) / n! = 2/sqrt(pi) (-1)^(n-1)
 * H_(n-1)(c) exp(-c^2) / n! (H the physicists' Hermite polynomials, by their
 * recurrence). With |x - c| <= 1/32 the truncation error is below 1e-16, and
 * an evaluation costs one Horner pass instead of ~40 series terms.
 */
const STEPS = 16;
const ORDER = 12;
const TAYLOR = buildTaylor();

function buildTaylor(): Float64Array {
  const centers = SPLIT * STEPS + 1;
  const t = new Float64Array(centers * (ORDER + 1));
  for (let k = 0; k < centers; k++) {
    const c = k / STEPS;
    const base = k * (ORDER + 1);
    t[base] = erfSeries(c);
    const e = TWO_OVER_SQRT_PI * Math.exp(-c * c);
    let hPrev = 0; // H_(m-1)
    let h = 1; // H_m, starting at m = 0
    let fact = 1;
    for (let n = 1; n <= ORDER; n++) {
      const m = n - 1;
      fact *= n;
      t[base + n] = ((m % 2 === 0 ? 1 : -1) * h * e) / fact;
      const next = 2 * c * h - 2 * m * hPrev;
      hPrev = h;
      h = next;
    }
  }
  return t;
}

/** erf(x) for 0 <= x < SPLIT from the precomputed Taylor polynomials. */
function erfTaylor(x: number): number {
  const k = Math.round(x * STEPS);
  const d = x - k / STEPS;
  const base = k * (ORDER + 1);
  let r = TAYLOR[base + ORDER]!;
  for (let n = ORDER - 1; n >= 0; n--) r = r * d + TAYLOR[base + n]!;
  return r;
}

/** The error function, about 1e-15 accuracy (relative in the tails) over the whole line. */
export function erf(x: number): number {
  if (x !== x) return x;
  const a = Math.abs(x);
  const r = a < SPLIT ? erfTaylor(a) : 1 - erfcFraction(a);
  return x < 0 ? -r : x === 0 ? x : r; // keeps erf(-0) = -0
}

/** The complementary error function 1 - erf(x), accurate in the tail (no cancellation for large x). */
export function erfc(x: number): number {
  if (x !== x) return x;
  if (x >= SPLIT) return erfcFraction(x);
  if (x <= -SPLIT) return 2 - erfcFraction(-x);
  return 1 - (x < 0 ? -erfTaylor(-x) : erfTaylor(x));
}

/** Standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2, accurate for very negative x. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x * INV_SQRT2);
}

/**
 * The constants of {@link normalCdfF32} (float32 values): -1/sqrt 2, 1/sqrt(2 pi)
 * (for phi) and erfcc's polynomial P(t) = c0 + t (c1 + t (c2 + ... t c9)).
 */
export const NORMAL_CDF_F32 = {
  NEG_INV_SQRT2: fr(-0.7071067811865476),
  INV_SQRT_2PI: fr(0.3989422804014327),
  C: [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277].map(fr),
} as const;

/**
 * Phi(x) for a float32 x in float32 arithmetic, every operation one float32
 * operation in the order written (the GELU's WASM lanes repeat them):
 * erfc(-x / sqrt 2) / 2 with erfc(z) = t e^(-z^2 + P(t)), t = 1 / (1 + |z| / 2)
 * (Numerical Recipes' erfcc, relative error below 1.2e-7 in exact arithmetic;
 * about 1e-6 in float32, tested) and 2 - erfc(-z) for z < 0.
 */
export function normalCdfF32(x: number): number {
  const C = NORMAL_CDF_F32.C;
  const z = fr(x * NORMAL_CDF_F32.NEG_INV_SQRT2);
  const a = Math.abs(z);
  const t = fr(1 / fr(1 + fr(0.5 * a)));
  let p = C[9]!;
  for (let j = 8; j >= 0; j--) p = fr(fr(p * t) + C[j]!);
  const r = fr(t * expNonPositiveF32(fr(p - fr(a * a))));
  return fr(0.5 * (z >= 0 ? r : fr(2 - r)));
}

/** erf by the (slow) all-positive series on [0, SPLIT): the oracle the fast path is tested against. */
export function erfReference(x: number): number {
  if (!(x >= 0 && x < SPLIT)) throw new RangeError(`erfReference covers [0, ${SPLIT}), got ${x}`);
  return erfSeries(x);
}
