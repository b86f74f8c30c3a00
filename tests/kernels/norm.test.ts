import { afterEach, describe, expect, it } from "vitest";
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

/**
 * Token ([rows, C], s = 1) and conv ([N, C, S]) layouts, ragged C and S, values with varied exponents (the
 * summation order shows). The sums' blocks (sumBlocks) are 512 values of a channel: `long` token-like
 * cases take 1031-1080 samples, so s = 1, 2, 3 span 3, 5 and 7 blocks, the last one short.
 */
const arbNorm: fc.Arbitrary<NormCase> = fc
  .record({
    n: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 16, max: 50 })), long: fc.boolean(), c: fc.integer({ min: 1, max: 37 }),
    s: fc.constantFrom(1, 1, 2, 3, 16, 49, 300), f64: fc.boolean(), heap: fc.boolean(), seed: fc.integer(),
  })
  .map(({ long, ...q }) => ({ ...q, n: long && q.s <= 3 ? 1030 + q.n : q.n }))
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
    // The element-wise passes on two channel ranges (their threads' split with few samples), so the strided walk is what runs.
    const h = c >> 1;
    const both = (f: (c0: number, c1: number) => void) => { f(0, h); f(h, c); };
    return passes(
      p,
      (_x, m, v) => channelMeanVarWasm(x, n, c, s, m, v),
      (m, sg, sgx) => channelGradSumsWasm(g, x, n, c, s, m, p.invStd, sg, sgx),
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

describe("batch-norm statistics from shifted sums (one pass)", () => {
  /** The two-pass float64 mean and biased variance of one channel: the textbook oracle. */
  const twoPass = (v: number[]): [number, number] => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    return [m, v.reduce((a, b) => a + (b - m) * (b - m), 0) / v.length];
  };

  it("agree with the two-pass mean and variance far below float32's precision, offsets and outliers first included", () => {
    const arb = fc.record({
      n: fc.integer({ min: 2, max: 40 }), c: fc.integer({ min: 1, max: 5 }), s: fc.constantFrom(1, 7, 64),
      offset: fc.constantFrom(0, 1, -300, 1e4, 1e6), spread: fc.constantFrom(1e-3, 1, 50), outlier: fc.constantFrom(0, 1e3, -1e5),
      constant: fc.boolean(), seed: fc.integer(),
    });
    fc.assert(fc.property(arb, ({ n, c, s, offset, spread, outlier, constant, seed }) => {
      const rng = new Rng(seed);
      const x = new Float32Array(n * c * s).map(() => (constant ? offset : offset + spread * (rng.uniform() - 0.5)));
      for (let ch = 0; ch < c; ch++) x[ch * s] += outlier; // the shift k is each channel's first value
      const mean = new Float64Array(c), varB = new Float64Array(c);
      channelMeanVarReference(x, n, c, s, mean, varB);
      for (let ch = 0; ch < c; ch++) {
        const v: number[] = [];
        for (let i = 0; i < n; i++) for (let q = 0; q < s; q++) v.push(x[(i * c + ch) * s + q]!);
        const [m2, v2] = twoPass(v);
        expect(varB[ch]).toBeGreaterThanOrEqual(0);
        if (v.every((e) => e === v[0])) {
          expect([mean[ch], varB[ch]]).toEqual([v[0], 0]);
          continue;
        }
        expect(Math.abs(varB[ch]! - v2)).toBeLessThanOrEqual(1e-9 * v2);
        expect(Math.abs(mean[ch]! - m2)).toBeLessThanOrEqual(1e-12 * (Math.abs(m2) + Math.sqrt(v2)));
      }
    }), { numRuns: 300 });
  });
});
