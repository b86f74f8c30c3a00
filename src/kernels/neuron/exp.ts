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

import { EXP } from "./exp-constants.js";

export { EXP };

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
