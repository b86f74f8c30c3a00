/**
 * The constants of fdlibm's exp (src/kernels/exp.ts has the algorithm), here
 * below both of its twins: the TypeScript one (src/kernels/exp.ts) and the
 * WASM lanes (src/wasm/neuron-kernel.ts) read the same numbers.
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
