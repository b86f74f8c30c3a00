import { afterEach } from "vitest";
import fc from "fast-check";
import {
  channelAffine, channelAffineWasm, channelGradInput, channelGradInputWasm, channelGradSums, channelGradSumsReference,
  channelGradSumsWasm, channelMeanVar, channelMeanVarReference, channelMeanVarWasm,
} from "../../src/kernels/norm/norm.js";
import {
  channelAffineThreads, channelGradInputThreads, channelGradSumsThreads, channelMeanVarThreads,
} from "../../src/kernels/norm/threads.js";
import { setKernelBackend, type KernelBackend } from "../../src/wasm/backend.js";
import { Rng } from "../../src/tensor/random.js";
import { allocFloat, type FloatArray } from "../../src/tensor/tensor.js";
import { describeTwins } from "../helpers/twins.js";

/** One batch-norm problem: x, g [n, c, s] (float32 or float64, in the heap or not) and the per-channel vectors the passes take. */
interface NormCase {
  n: number; c: number; s: number; f64: boolean; heap: boolean;
  x: FloatArray; g: FloatArray; invStd: Float64Array; scale: Float64Array; shift: Float64Array; k: Float64Array; a: Float64Array; b: Float64Array;
}

/** Token ([rows, C], s = 1) and conv ([N, C, S]) layouts, ragged C and S, values with varied exponents (the summation order shows). */
const arbNorm: fc.Arbitrary<NormCase> = fc
  .record({ n: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 16, max: 50 })), c: fc.integer({ min: 1, max: 37 }), s: fc.constantFrom(1, 1, 2, 3, 16, 49, 300), f64: fc.boolean(), heap: fc.boolean(), seed: fc.integer() })
  .map(({ seed, ...p }) => {
    const rng = new Rng(seed);
    const arr = (): FloatArray => {
      const a = allocFloat(p.f64 ? "float64" : "float32", p.n * p.c * p.s, p.heap);
      for (let i = 0; i < a.length; i++) a[i] = rng.uniform() < 0.05 ? 0 : (rng.uniform() - 0.3) * 2 ** (rng.int(20) - 10);
      return a;
    };
    const vec = (lo: number) => Float64Array.from({ length: p.c }, () => lo + rng.uniform());
    return { ...p, x: arr(), g: arr(), invStd: vec(0.5), scale: vec(-0.5), shift: vec(-0.5), k: vec(0.1), a: vec(-0.5), b: vec(-0.5) };
  });

/** The four passes through the given functions; returns every output (mean, var, sums, affine, input gradient). */
function passes(
  p: NormCase,
  meanVar: (x: FloatArray, m: Float64Array, v: Float64Array) => void,
  gradSums: (m: Float64Array, sg: Float64Array, sgx: Float64Array) => void,
  affine: (out: FloatArray) => void,
  gradInput: (m: Float64Array, dx: FloatArray) => void,
): ArrayLike<number>[] {
  const { c, x } = p;
  const mean = new Float64Array(c).fill(9), varB = new Float64Array(c).fill(9), sg = new Float64Array(c).fill(9), sgx = new Float64Array(c).fill(9);
  meanVar(x, mean, varB);
  gradSums(mean, sg, sgx);
  const out = allocFloat(p.f64 ? "float64" : "float32", x.length, p.heap), dx = allocFloat(p.f64 ? "float64" : "float32", x.length, p.heap);
  affine(out);
  gradInput(mean, dx);
  return [mean, varB, sg, sgx, out, dx, p.x, p.g];
}

/** The dispatching passes under a kernel backend ("js": the TypeScript twins). */
const byBackend = (backend: KernelBackend) => (p: NormCase): ArrayLike<number>[] => {
  setKernelBackend(backend);
  const { n, c, s, x, g } = p;
  return passes(
    p,
    (x, m, v) => channelMeanVar(x, n, c, s, m, v),
    (m, sg, sgx) => channelGradSums(g, x, n, c, s, m, p.invStd, sg, sgx),
    (out) => channelAffine(x, out, n, c, s, p.scale, p.shift),
    (m, dx) => channelGradInput(g, x, dx, n, c, s, m, p.invStd, p.k, p.a, p.b),
  );
};

/** Runs of samples for the blocked split: 3 or 2 when n divides, else 1. */
const blocksOf = (n: number): number => (n % 3 === 0 ? 3 : n % 2 === 0 ? 2 : 1);

afterEach(() => {
  setKernelBackend("auto");
});

describeTwins("batch-norm passes", arbNorm, {
  // The definition: the reference sums, and the TypeScript element-wise loops (which are their own reference).
  reference: (p) => {
    const { n, c, s, x, g } = p;
    setKernelBackend("js");
    return passes(
      p,
      (x, m, v) => channelMeanVarReference(x, n, c, s, m, v),
      (m, sg, sgx) => channelGradSumsReference(g, x, n, c, s, m, p.invStd, sg, sgx),
      (out) => channelAffine(x, out, n, c, s, p.scale, p.shift),
      (m, dx) => channelGradInput(g, x, dx, n, c, s, m, p.invStd, p.k, p.a, p.b),
    );
  },
  js: byBackend("js"),
  wasm: (p) => {
    fc.pre(!p.f64); // the WASM twins are float32
    const { n, c, s } = p;
    const [x, g] = [p.x as Float32Array, p.g as Float32Array];
    // Two channel ranges (the threads' split), so the strided walk is what runs.
    const h = c >> 1;
    const both = (f: (c0: number, c1: number) => void) => { f(0, h); f(h, c); };
    return passes(
      p,
      (_x, m, v) => both((c0, c1) => channelMeanVarWasm(x, n, c, s, m, v, c0, c1)),
      (m, sg, sgx) => both((c0, c1) => channelGradSumsWasm(g, x, n, c, s, m, p.invStd, sg, sgx, c0, c1)),
      (out) => both((c0, c1) => channelAffineWasm(x, out as Float32Array, n, c, s, p.scale, p.shift, c0, c1)),
      (m, dx) => both((c0, c1) => channelGradInputWasm(g, x, dx as Float32Array, n, c, s, m, p.invStd, p.k, p.a, p.b, c0, c1)),
    );
  },
  dispatch: byBackend("auto"),
  threads: (p, t) => {
    const { n, c, s, x, g } = p;
    return passes(
      p,
      (x, m, v) => channelMeanVarThreads(x, n, c, s, m, v, t),
      (m, sg, sgx) => channelGradSumsThreads(g, x, n, c, s, m, p.invStd, sg, sgx, t),
      // The elementwise passes also with the samples as runs (time steps) each split alike.
      (out) => channelAffineThreads(x, out, n, c, s, p.scale, p.shift, t, blocksOf(n)),
      (m, dx) => channelGradInputThreads(g, x, dx, n, c, s, m, p.invStd, p.k, p.a, p.b, t, blocksOf(n)),
    );
  },
}, 80);
