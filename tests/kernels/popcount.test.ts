import fc from "fast-check";
import { andPopcountGemm, andPopcountGemmJs } from "../../src/kernels/popcount/popcount.js";
import { andPopcountGemmWasm } from "../../src/kernels/popcount/wasm.js";
import { wordsFor } from "../../src/tensor/bits.js";
import { Rng } from "../../src/tensor/random.js";
import { bitRows } from "../helpers/random-spikes.js";
import { placed } from "../helpers/placed.js";
import { describeTwins } from "../helpers/twins.js";

/** Bit matrices A [m + off rows], B [n + 1 rows] of `cols` bits (not multiples of 32), a C type, row offsets, placements. */
interface PopCase { m: number; n: number; cols: number; ctype: "i32" | "f32" | "f64"; off: number; heap: number; a: Uint32Array; b: Uint32Array }

const arbPop: fc.Arbitrary<PopCase> = fc
  .record({
    m: fc.integer({ min: 1, max: 40 }), n: fc.integer({ min: 1, max: 40 }), cols: fc.integer({ min: 1, max: 300 }),
    ctype: fc.constantFrom("i32" as const, "f32" as const, "f64" as const), rate: fc.double({ min: 0, max: 1, noNaN: true }),
    off: fc.nat({ max: 5 }), heap: fc.nat({ max: 7 }), seed: fc.integer(),
  })
  .map(({ rate, seed, ...p }) => {
    const rng = new Rng(seed);
    // heap bits 0-2: A, B, C in the heap (used in place) or foreign (staged).
    return { ...p, a: placed(bitRows(p.m + p.off, p.cols, rate, rng), (p.heap & 1) !== 0), b: placed(bitRows(p.n + 1, p.cols, rate, rng), (p.heap & 2) !== 0) };
  });

/** A fresh C (guard values -7 around the product) for the case's type and placement. */
function cOf(p: PopCase): Int32Array | Float32Array | Float64Array {
  const len = p.m * p.n + p.off + 2;
  const c = p.ctype === "i32" ? new Int32Array(len) : p.ctype === "f32" ? new Float32Array(len) : new Float64Array(len);
  return placed(c.fill(-7), (p.heap & 4) !== 0);
}

const run = (f: typeof andPopcountGemmJs) => (p: PopCase) => {
  const words = wordsFor(p.cols), c = cOf(p);
  f(p.a, p.off * words, p.b, words, c, p.off, p.m, p.n, words); // offsets in whole rows, as SSA passes them
  return [c];
};

describeTwins("AND-popcount", arbPop, {
  // The definition: C[i, j] = the number of columns where row i of A and row j of B both hold a 1.
  reference: (p) => {
    const words = wordsFor(p.cols), c = cOf(p);
    const bit = (x: Uint32Array, row: number, col: number) => (x[row * words + (col >>> 5)]! >>> (col & 31)) & 1;
    for (let i = 0; i < p.m; i++) {
      for (let j = 0; j < p.n; j++) {
        let s = 0;
        for (let col = 0; col < p.cols; col++) s += bit(p.a, p.off + i, col) & bit(p.b, 1 + j, col);
        c[p.off + i * p.n + j] = s;
      }
    }
    return [c];
  },
  js: run(andPopcountGemmJs),
  wasm: run(andPopcountGemmWasm),
  dispatch: run(andPopcountGemm),
}, 200);
