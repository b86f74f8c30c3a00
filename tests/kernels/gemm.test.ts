import { gemm, gemmJs, gemmReference, gemmWasm } from "../../src/kernels/gemm/gemm.js";
import { gemmThreads } from "../../src/kernels/gemm/threads.js";
import { arbGemmCase, type GemmCase } from "../helpers/gemm-model.js";
import { placed } from "../helpers/placed.js";
import { describeTwins } from "../helpers/twins.js";

type GemmFn = typeof gemmReference;

/** Runs one gemm twin on a fresh copy of C (placed in the heap or not as the case says): every element checked, slack included. */
const run = (f: GemmFn) => ({ m, n, k, ta, tb, acc, ao, bo, co, heapC, a, b, c }: GemmCase) => {
  const out = placed(c, heapC);
  f(a, ao, ta, b, bo, tb, out, co, m, n, k, acc);
  return [out];
};

// Ragged sizes 1..70, every transpose, offsets, accumulate, float32 and float64 families, operands in the heap or foreign.
describeTwins("gemm", arbGemmCase(), {
  reference: run(gemmReference),
  js: run(gemmJs),
  wasm: run(gemmWasm),
  dispatch: run(gemm),
  threads: (g, t) => run((a, ao, ta, b, bo, tb, c, co, m, n, k, acc) => gemmThreads(a, ao, ta, b, bo, tb, c, co, m, n, k, acc, t))(g),
}, 150);
