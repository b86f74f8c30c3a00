/**
 * e^x as fdlibm computes it (the algorithm of V8's Math.exp, FreeBSD msun's
 * e_exp.c), written out with float64 operations only, so a WebAssembly twin
 * doing the same operations in the same order gives the same bits. Kernels
 * that need exp and have a WASM twin call this instead of Math.exp: the
 * platform's exp is not something WASM can reproduce, this is.
 *
 * The method: reduce x = k ln2 + r with |r| <= ln2 / 2 (ln2 split in a high
 * part with trailing zeros, so k ln2_hi is exact, and a low part), approximate
 * e^r by a rational form around a degree-5 Remez polynomial in r^2, then scale
 * by 2^k. The tests check it equals Math.exp on V8 bit for bit.
 */

/** Doubles with the given high word and a zero low word (the thresholds fdlibm tests on the high word). */
function fromHighWord(hw: number): number {
  const f = new Float64Array(1);
  new Uint32Array(f.buffer)[1] = hw;
  return f[0]!;
}

/**
 * fdlibm's constants. Its branches test the high word of |x| against
 * 0x3FD62E42 (0.5 ln2), 0x3FF0A2B2 (1.5 ln2) and 0x3E300000 (2^-28); for
 * non-negative doubles the bit patterns order like the values, so each test is
 * written here as a comparison of |x| with the double of that high word
 * (plus one where the test is strict), which WASM can do per lane.
 */
export const EXP = {
  LN2_HI: 6.93147180369123816490e-01, // 0x3FE62E42 FEE00000: trailing zeros, so k LN2_HI is exact
  LN2_LO: 1.90821492927058770002e-10,
  INV_LN2: 1.44269504088896338700e+00,
  P1: 1.66666666666666019037e-01,
  P2: -2.77777777770155933842e-03,
  P3: 6.61375632143793436117e-05,
  P4: -1.65339022054652515390e-06,
  P5: 4.13813679705723846039e-08,
  /** Above OVER e^x overflows; below UNDER it is 0. */
  OVER: 7.09782712893383973096e+02,
  UNDER: -7.45133219101941108420e+02,
  /** |x| >= REDUCE: reduce by k ln2 (high word > 0x3FD62E42). */
  REDUCE: fromHighWord(0x3fd62e43),
  /** |x| < NEAR (and >= REDUCE): k = +-1 (high word < 0x3FF0A2B2). */
  NEAR: fromHighWord(0x3ff0a2b2),
  /** |x| < TINY: e^x = 1 + x (high word < 0x3E300000, i.e. 2^-28). */
  TINY: fromHighWord(0x3e300000),
  /** e rounded: the reduction gets exp(1) one ulp off, so it is answered directly (as V8 does). */
  E: 2.718281828459045,
  TWO_M1000: 2 ** -1000,
  TWO_1023: 2 ** 1023,
} as const;

// Module-level copies: V8 folds these into the code, which property loads from EXP it does not.
const { LN2_HI, LN2_LO, INV_LN2, P1, P2, P3, P4, P5, OVER, UNDER, REDUCE, NEAR, TINY, E, TWO_M1000, TWO_1023 } = EXP;

/** POW2[n + 1022] = 2^n for the integers n in [-1022, 1023] (exact: built from exponent bits). */
const POW2 = (() => {
  const t = new Float64Array(2046);
  const u32 = new Uint32Array(t.buffer);
  for (let n = -1022; n <= 1023; n++) u32[2 * (n + 1022) + 1] = (0x3ff + n) << 20;
  return t;
})();

/** e^x, bit-identical to fdlibm's exp (and to V8's Math.exp). */
export function expFdlibm(x: number): number {
  if (x !== x) return x + x;
  if (x > OVER) return Infinity;
  if (x < UNDER) return 0;
  const ax = Math.abs(x);
  if (ax < TINY) return 1 + x;
  let hi = 0, lo = 0, k = 0;
  if (ax >= REDUCE) {
    if (ax < NEAR) {
      if (x === 1) return E;
      k = x < 0 ? -1 : 1;
    } else {
      k = Math.trunc(INV_LN2 * x + (x < 0 ? -0.5 : 0.5));
    }
    hi = x - k * LN2_HI;
    lo = k * LN2_LO;
    x = hi - lo;
  }
  const t = x * x;
  const c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k === 0) return 1 - ((x * c) / (c - 2) - x);
  const y = 1 - ((lo - (x * c) / (2 - c)) - hi);
  if (k === 1024) return y * 2 * TWO_1023; // 2^1024 itself is not a double
  return k >= -1021 ? y * POW2[k + 1022]! : y * POW2[k + 2022]! * TWO_M1000;
}

/**
 * The float32 sigmoid surrogate's exp: e^x for x <= 0 in float32 arithmetic
 * (every operation one float32 operation, written with Math.fround), so the
 * f32x4 lanes of the WASM twin give the same bits. Cody-Waite reduction
 * x = k ln2 + r (ln2 split so k C1 is exact), a degree-7 polynomial for e^r
 * (cephes' expf coefficients, within 1 float32 ulp on [-87, 0], tested), scaled by
 * 2^k. Below FLOOR the input is clamped (e^-87 = 1.6e-38, a float32
 * normal): the sigmoid's derivative there is below 1e-37 either way. NaN stays
 * NaN.
 */
export const EXPF = {
  FLOOR: -87,
  LOG2E: Math.fround(1.44269504088896341),
  /** 1.5 2^23: t + MAGIC - MAGIC rounds t to an integer (ties to even) in float32 for |t| < 2^22. */
  MAGIC: 12582912,
  C1: 0.693359375, // 355/512: k C1 is exact for |k| < 2^15
  C2: Math.fround(-2.12194440e-4),
  P: [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1].map(Math.fround),
} as const;

const fr = Math.fround;
const [Q0, Q1, Q2, Q3, Q4, Q5] = EXPF.P as unknown as [number, number, number, number, number, number];
const { FLOOR: F_FLOOR, LOG2E: F_LOG2E, MAGIC: F_MAGIC, C1: F_C1, C2: F_C2 } = EXPF;

/** e^x for a float32 value x <= 0, in float32 arithmetic (see {@link EXPF}); the reference of the WASM lanes. */
export function expNonPositiveF32(x: number): number {
  x = Math.max(x, F_FLOOR);
  const k = fr(fr(fr(x * F_LOG2E) + F_MAGIC) - F_MAGIC);
  const r = fr(fr(x - fr(k * F_C1)) - fr(k * F_C2));
  let p = fr(fr(Q0 * r) + Q1);
  p = fr(fr(p * r) + Q2);
  p = fr(fr(p * r) + Q3);
  p = fr(fr(p * r) + Q4);
  p = fr(fr(p * r) + Q5);
  const y = fr(fr(fr(p * fr(r * r)) + r) + 1);
  return fr(y * 2 ** k); // 2^k is a float32 normal for k >= -126
}

/**
 * d/dz sigmoid(alpha z) in float32 arithmetic for a float32 z: alpha e / (1 + e)^2
 * with e = e^-|alpha z| (= alpha s (1 - s), s = sigmoid(alpha z), and even in z, so
 * one exp and one division, no branch). alpha is used rounded to float32.
 * The float32 neurons' surrogate (SpikingJelly computes it in the tensor's
 * float32 too); the kernels' JS and WASM twins do these operations in this order.
 */
export function sigmoidGradF32(alpha: number, z: number): number {
  const a32 = fr(alpha);
  const e = expNonPositiveF32(-Math.abs(fr(a32 * z)));
  const d = fr(1 + e);
  return fr(fr(a32 * e) / fr(d * d));
}

/**
 * d/dz sigmoid(alpha z) in float64: alpha s (1 - s) with s = 1 / (1 + e^-a) for
 * a = alpha z >= 0, else e^a / (1 + e^a), one {@link expFdlibm} call (no
 * overflow for large |a|). The float64 neurons' surrogate.
 */
export function sigmoidGradF64(alpha: number, z: number): number {
  const a = alpha * z;
  const e = expFdlibm(a >= 0 ? -a : a);
  const s = (a >= 0 ? 1 : e) / (1 + e);
  return alpha * s * (1 - s);
}
