import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { allocFloat, type FloatArray } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { wordsFor } from "../../src/tensor/bits.js";
import { LEAK_DIV, LEAK_MUL, LEAK_NONE, neuronBackward, neuronForward, type NeuronKernelParams } from "../../src/kernels/neuron/neuron.js";
import {
  countsConvForwardImage, countsConvWeightGradChannels, fillBuckets, outputBand, spikeConvForwardImage, spikeConvWeightGrad,
} from "../../src/kernels/spike-conv/spike-conv.js";
import { channelsFirstBitsWasm, fillBucketsWasm } from "../../src/kernels/spike-conv/wasm.js";
import { channelsFirstBitsReference } from "../../src/kernels/spike-conv/norm-lif.js";
import { heapArray } from "../../src/tensor/heap.js";
import { countsGatherAdd, countsScatterRows, spikeGatherAdd, spikeScatterRows } from "../../src/kernels/spike-sum/spike-sum.js";
import { transpose } from "../../src/kernels/transpose/transpose.js";
import {
  countsGatherAddThreads, countsScatterPart, countsScatterRowsThreads, spikeGatherAddThreads, spikeScatterPart, spikeScatterRowsThreads,
} from "../../src/kernels/spike-sum/threads.js";
import type { ConvGeom } from "../../src/kernels/conv/conv.js";
import { neuronBackwardThreads } from "../../src/kernels/neuron/threads.js";
import { spikeConvForwardThreads, spikeConvWeightPart, spikeConvWeightThreads } from "../../src/kernels/spike-conv/threads.js";
import { besidePending, poolInfo, runBesideOr } from "../../src/parallel/pool.js";
import { gemm } from "../../src/kernels/gemm/gemm.js";
import { gemmThreads } from "../../src/kernels/gemm/threads.js";
import { evenCuts, partCosts, popcountRange, sampledDensity, sampledRowBits, sampledRowNonzeros, weightedCuts } from "../../src/parallel/balance.js";
import { claimCuts, claimedRanges, postClaims } from "../../src/parallel/claims.js";
import { setKernelBackend } from "../../src/wasm/backend.js";
import { sigmoidSurrogate, surrogateDerivative } from "../../src/ops/spike/surrogate.js";
import { channelMeanVar } from "../../src/kernels/norm/norm.js";
import { channelMeanVarThreads } from "../../src/kernels/norm/threads.js";
import { skewedSpeeds, useSplittingPool, withSpeeds } from "../helpers/pool.js";
import { randArray, sameBits } from "../helpers/arrays.js";

/** Same bits (NaN payloads aside, none arise here). */

/** Spike words in the heap (which the workers share, and the WASM kernels read in place), or not. */
function words(n: number, shared: boolean): Uint32Array {
  return shared ? heapArray(Uint32Array, n) : new Uint32Array(n);
}

/** Random spikes: `rows` rows of `cols` bits (pad bits zero), each bit set with probability `rate`. */
function randSpikes(rows: number, cols: number, rate: number, rng: Rng, shared: boolean): Uint32Array {
  const wpr = wordsFor(cols);
  const w = words(rows * wpr, shared);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) if (rng.uniform() < rate) w[r * wpr + (c >>> 5)]! |= 1 << (c & 31);
  return w;
}

useSplittingPool();

/**
 * A pass to run beside a weight gradient (runBeside in src/parallel/pool.ts): a claimed gemm (heap float32,
 * 16 x 16 x 8) on `threads` threads, checked against its one-thread bits. Returns whether the gradient's part
 * was offered and then taken by the gemm's claims.
 */
function besideGemm(threads: number): () => boolean {
  const rng = new Rng(5);
  const a = randArray(false, 16 * 8, rng, true), b = randArray(false, 8 * 16, rng, true);
  const want = new Float32Array(16 * 16);
  gemm(a, 0, false, b, 0, false, want, 0, 16, 16, 8, false);
  return () => {
    const offered = besidePending();
    const c = allocFloat("float32", 16 * 16, true);
    gemmThreads(a, 0, false, b, 0, false, c, 0, 16, 16, 8, false, threads);
    if (!sameBits(c, want)) throw new Error("the gemm beside a weight gradient lost its bits");
    return offered && !besidePending();
  };
}

const neuronCase = fc.record({
  steps: fc.integer({ min: 1, max: 4 }), rows: fc.integer({ min: 1, max: 5 }), cols: fc.integer({ min: 1, max: 100 }),
  leak: fc.constantFrom(LEAK_NONE, LEAK_DIV, LEAK_MUL), decayInput: fc.boolean(), hard: fc.boolean(), detach: fc.boolean(),
  f64: fc.boolean(), shared: fc.boolean(), keepH: fc.boolean(), seed: fc.integer(),
});

function params(c: { steps: number; rows: number; cols: number; leak: number; decayInput: boolean; hard: boolean; detach: boolean; f64: boolean }): NeuronKernelParams {
  const r = c.f64 ? (v: number) => v : Math.fround;
  return {
    steps: c.steps, rows: c.rows, cols: c.cols, leak: c.leak, tau: r(2), k: c.leak === LEAK_MUL ? r(0.37) : c.leak === LEAK_DIV ? 0.5 : 0,
    decayInput: c.decayInput, vTh: r(0.6), vReset: c.hard ? r(0.1) : 0, hardReset: c.hard, detachReset: c.detach, f32: !c.f64,
  };
}

describe("threaded neuron", () => {
  it("backward equals neuronBackward bit for bit (the split sigmoid path and the general one) for 1, 2 and 3 threads", () => {
    const before = poolInfo().workerParts;
    const sur = sigmoidSurrogate(4);
    fc.assert(
      fc.property(neuronCase, fc.boolean(), (c, wantK) => {
        const p = params(c);
        const rng = new Rng(c.seed);
        const n = c.rows * c.cols, nw = c.steps * c.rows * wordsFor(c.cols);
        const x = randArray(c.f64, c.steps * n, rng, c.shared, 1.5);
        const h = allocFloat(c.f64 ? "float64" : "float32", c.steps * n, c.shared);
        const w = words(nw, c.shared);
        neuronForward(x, p, h, w, allocFloat(c.f64 ? "float64" : "float32", n));
        const gS = randArray(c.f64, c.steps * n, rng, c.shared);
        const xk = wantK ? x : null;
        const gx0 = allocFloat(c.f64 ? "float64" : "float32", c.steps * n);
        const k0 = neuronBackward(gS, h, w, xk, p, surrogateDerivative(sur, p.f32), gx0, new Float64Array(n), sur.sigmoidAlpha);
        for (const t of [1, 2, 3]) {
          const gx = allocFloat(c.f64 ? "float64" : "float32", c.steps * n, c.shared);
          const gv = new Float64Array(n).fill(7); // stale scratch must not matter
          const k = neuronBackwardThreads(gS, h, w, xk, p, surrogateDerivative(sur, p.f32), gx, gv, sur.sigmoidAlpha, t);
          if (!sameBits(gx, gx0) || !Object.is(k, k0)) return false;
        }
        return true;
      }),
      { numRuns: 80 },
    );
    expect(poolInfo().workerParts).toBeGreaterThan(before);
  });
});

const convCase = fc.record({
  n: fc.integer({ min: 1, max: 5 }), c: fc.integer({ min: 1, max: 5 }), o: fc.integer({ min: 1, max: 9 }),
  h: fc.integer({ min: 1, max: 9 }), w: fc.integer({ min: 1, max: 40 }), kh: fc.integer({ min: 1, max: 3 }), kw: fc.integer({ min: 1, max: 3 }),
  sh: fc.integer({ min: 1, max: 2 }), sw: fc.integer({ min: 1, max: 2 }), ph: fc.integer({ min: 0, max: 2 }), pw: fc.integer({ min: 0, max: 2 }),
  dh: fc.integer({ min: 1, max: 2 }), dw: fc.integer({ min: 1, max: 2 }), rate: fc.constantFrom(0.1, 0.5, 0.9),
  f64: fc.boolean(), shared: fc.boolean(), seed: fc.integer(),
});

function geom(c: { h: number; w: number; kh: number; kw: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number }): ConvGeom | null {
  const oh = Math.floor((c.h + 2 * c.ph - c.dh * (c.kh - 1) - 1) / c.sh) + 1;
  const ow = Math.floor((c.w + 2 * c.pw - c.dw * (c.kw - 1) - 1) / c.sw) + 1;
  if (oh < 1 || ow < 1) return null;
  return { ...c, oh, ow };
}

describe("threaded spike conv", () => {
  it("forward and weight gradient (spikes, and counts 1 / 2 at the set bits) equal the per-image kernels bit for bit for 1, 2 and 3 threads, cut at any thread speeds, beside a pass or not", () => {
    const before = poolInfo().workerParts;
    let ran = 0, taken = 0;
    fc.assert(
      fc.property(convCase, fc.boolean(), skewedSpeeds, (cs, withCounts, speeds) => withSpeeds(speeds, () => {
        const g = geom(cs);
        if (g === null) return true;
        ran++;
        const { n, c, o } = cs;
        const rng = new Rng(cs.seed);
        const wpr = wordsFor(g.w);
        const imgWords = c * g.h * wpr;
        const s = randSpikes(n * c * g.h, g.w, cs.rate, rng, cs.shared);
        let x: ReturnType<typeof allocFloat> | null = null;
        if (withCounts) {
          x = allocFloat(cs.f64 ? "float64" : "float32", n * c * g.h * g.w, cs.shared);
          for (let r = 0; r < n * c * g.h; r++) for (let j = 0; j < g.w; j++) if ((s[r * wpr + (j >>> 5)]! >>> (j & 31)) & 1) x[r * g.w + j] = 1 + rng.int(2);
        }
        const xImg = c * g.h * g.w;
        const kk = c * g.kh * g.kw, ohw = g.oh * g.ow;
        const wT = randArray(cs.f64, kk * o, rng, cs.shared);
        const gy = randArray(cs.f64, n * o * ohw, rng, cs.shared);
        // The accumulator in the op's dtype (float32 adds when it and gy are float32), or float64 with float32 data.
        const acc64 = cs.f64 || (cs.seed & 1) === 1;
        const acc0 = randArray(acc64, kk * o, rng, false);
        // Reference: the op's original loops.
        const out0 = allocFloat(cs.f64 ? "float64" : "float32", n * o * ohw);
        for (let i = 0; i < n; i++) {
          if (x) countsConvForwardImage(s, i * imgWords, wpr, c, g, x, i * xImg, wT, o, out0, i * o * ohw);
          else spikeConvForwardImage(s, i * imgWords, wpr, c, g, wT, o, out0, i * o * ohw);
        }
        // From acc0 (accumulating) and from zeros (a fresh accumulator).
        const accRef = acc0.slice(), freshRef = allocFloat(acc64 ? "float64" : "float32", kk * o);
        const gT = allocFloat(cs.f64 ? "float64" : "float32", ohw * o);
        for (let i = 0; i < n; i++) {
          transpose(gy, i * o * ohw, o, ohw, gT, 0);
          for (const a of [accRef, freshRef]) {
            if (x) countsConvWeightGradChannels(s, i * imgWords, wpr, c, 0, c, g, x, i * xImg, gT, o, a);
            else spikeConvWeightGrad(s, i * imgWords, wpr, c, g, gT, o, a);
          }
        }
        // The weight as the conv stores it, [O, C kh kw], for the forward from it (outIn).
        const w = allocFloat(cs.f64 ? "float64" : "float32", kk * o, cs.shared);
        for (let p = 0; p < kk; p++) for (let j = 0; j < o; j++) w[j * kk + p] = wT[p * o + j]!;
        const d = { n, c, o, wpr, g };
        for (const t of [1, 2, 3]) {
          const out = allocFloat(cs.f64 ? "float64" : "float32", n * o * ohw, cs.shared);
          spikeConvForwardThreads(d, s, wT, out, t, x);
          if (!sameBits(out, out0)) return false;
          out.fill(Number.NaN);
          spikeConvForwardThreads(d, s, w, out, t, x, true);
          if (!sameBits(out, out0)) return false;
          const acc = allocFloat(acc64 ? "float64" : "float32", kk * o, cs.shared);
          acc.set(acc0);
          spikeConvWeightThreads(d, s, gy, acc, t, x);
          if (!sameBits(acc, accRef)) return false;
          // Fresh: whatever the accumulator held.
          acc.fill(Number.NaN);
          spikeConvWeightThreads(d, s, gy, acc, t, x, true);
          if (!sameBits(acc, freshRef)) return false;
          // Whole on a worker beside a claimed gemm (heap operands, 2 or 3 threads), else split after it.
          const pass = besideGemm(t);
          acc.fill(Number.NaN);
          runBesideOr([spikeConvWeightPart(d, s, gy, acc, x, true)], () => void (taken += pass() ? 1 : 0), () => spikeConvWeightThreads(d, s, gy, acc, t, x, true));
          if (!sameBits(acc, freshRef)) return false;
        }
        return true;
      })),
      { numRuns: 120 },
    );
    expect(ran).toBeGreaterThan(30);
    expect(poolInfo().workerParts).toBeGreaterThan(before);
    expect(taken).toBeGreaterThan(10);
  });

  it("forward of many images (claimed in chunks) equals the per-image kernels bit for bit on 2 and 3 threads, WASM and JS kernels", () => {
    const g: ConvGeom = { h: 6, w: 10, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: 6, ow: 10 };
    const [n, c, o] = [100, 3, 5];
    const wpr = wordsFor(g.w), imgWords = c * g.h * wpr, xImg = c * g.h * g.w, ohw = g.oh * g.ow;
    for (const [f64, withCounts, js] of [[false, false, false], [false, true, false], [true, false, false], [true, true, true], [false, false, true]] as const) {
      const rng = new Rng(n + (f64 ? 1 : 0) + (withCounts ? 2 : 0));
      // Rates that grow over the images, as the time steps' do.
      const s = randSpikes(n * c * g.h, g.w, 0.3, rng, true);
      for (let i = 0; i < n / 2; i++) s.fill(0, i * imgWords, i * imgWords + Math.floor(imgWords / 2));
      let x: FloatArray | null = null;
      if (withCounts) {
        x = allocFloat(f64 ? "float64" : "float32", n * xImg, true);
        for (let r = 0; r < n * c * g.h; r++) for (let j = 0; j < g.w; j++) if ((s[r * wpr + (j >>> 5)]! >>> (j & 31)) & 1) x[r * g.w + j] = 1 + rng.int(2);
      }
      const wT = randArray(f64, c * g.kh * g.kw * o, rng, true);
      const out0 = allocFloat(f64 ? "float64" : "float32", n * o * ohw);
      for (let i = 0; i < n; i++) {
        if (x) countsConvForwardImage(s, i * imgWords, wpr, c, g, x, i * xImg, wT, o, out0, i * o * ohw);
        else spikeConvForwardImage(s, i * imgWords, wpr, c, g, wT, o, out0, i * o * ohw);
      }
      setKernelBackend(js ? "js" : "auto");
      try {
        // Repeated: which thread claims which images varies from run to run; every run must give the same bits.
        for (let rep = 0; rep < 3; rep++) {
          for (const t of [2, 3]) {
            const out = allocFloat(f64 ? "float64" : "float32", n * o * ohw, true).fill(Number.NaN);
            spikeConvForwardThreads({ n, c, o, wpr, g }, s, wT, out, t, x);
            expect(sameBits(out, out0), `${f64 ? "float64" : "float32"}${withCounts ? " counts" : ""}${js ? " js" : ""}, ${t} threads`).toBe(true);
          }
        }
      } finally {
        setKernelBackend("auto");
      }
    }
  });
});

describe("batch-norm passes by default", () => {
  it("stay on the calling thread for unshared arrays and split shared ones, with the same bits", () => {
    const rng = new Rng(3);
    const [n, c, s] = [40, 5, 40]; // 4 blocks of the sums (sumBlocks: 12 samples each)
    for (const shared of [false, true]) {
      const x = randArray(false, n * c * s, rng, shared, 2);
      const m0 = new Float64Array(c), v0 = new Float64Array(c), m = new Float64Array(c), v = new Float64Array(c);
      channelMeanVar(x, n, c, s, m0, v0);
      const before = poolInfo().workerParts;
      channelMeanVarThreads(x, n, c, s, m, v);
      expect(poolInfo().workerParts > before).toBe(shared);
      expect(sameBits(m, m0) && sameBits(v, v0)).toBe(true);
    }
  });
});

describe("threaded spike / counts linear", () => {
  it("gathers and scatters equal the kernels bit for bit for 1, 2 and 3 threads (both families), cut at any thread speeds, beside a pass or not", () => {
    const before = poolInfo().workerParts;
    let taken = 0;
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 1, max: 13 }), k: fc.integer({ min: 1, max: 100 }), n: fc.integer({ min: 1, max: 9 }),
          rate: fc.constantFrom(0.1, 0.5), accumulate: fc.boolean(), f64: fc.boolean(), acc32: fc.boolean(), shared: fc.boolean(),
          off: fc.integer({ min: 0, max: 3 }), seed: fc.integer(), speeds: skewedSpeeds,
        }),
        ({ m, k, n, rate, accumulate, f64, acc32, shared, off, seed, speeds }) => withSpeeds(speeds, () => {
          // Scatter accumulators: float32 (the float32 family, with float32 data) or float64.
          const accType = !f64 && acc32 ? "float32" : "float64";
          const rng = new Rng(seed);
          const wpr = wordsFor(k);
          const sw = randSpikes(m, k, rate, rng, shared);
          const s = words(off + m * wpr, shared);
          s.set(sw, off);
          const x = randArray(f64, off + m * k, rng, shared, 2);
          for (let i = off; i < x.length; i++) if (rng.uniform() > rate) x[i] = 0;
          const w = randArray(f64, off + k * n, rng, shared);
          const g = randArray(f64, off + m * n, rng, shared);
          const c0 = randArray(f64, off + m * n, rng, shared);
          const acc0 = randArray(accType === "float64", off + k * n, rng, false);
          const cs = c0.slice(), cc = c0.slice(), as = acc0.slice(), ac = acc0.slice();
          spikeGatherAdd(s, off, wpr, w, off, cs, off, m, n, accumulate);
          countsGatherAdd(x, off, w, off, cc, off, m, k, n, accumulate);
          // A fresh gather's bias: each row's sums, then + bias in C's type.
          const bias = randArray(f64, n, rng, shared);
          const withBias = (c: FloatArray): FloatArray => {
            const b = c.slice();
            for (let i = 0; i < m * n; i++) b[off + i] = b[off + i]! + bias[i % n]!;
            return b;
          };
          const csb = withBias(cs), ccb = withBias(cc);
          spikeScatterRows(s, off, wpr, g, off, as, off, m, n);
          countsScatterRows(x, off, g, off, ac, off, m, k, n);
          // Into zeros (the fresh scatters' result), the offset part as in acc0.
          const fs = acc0.slice(), fc0 = acc0.slice();
          fs.fill(0, off);
          fc0.fill(0, off);
          spikeScatterRows(s, off, wpr, g, off, fs, off, m, n);
          countsScatterRows(x, off, g, off, fc0, off, m, k, n);
          for (const t of [1, 2, 3]) {
            const c1 = allocFloat(f64 ? "float64" : "float32", c0.length, shared), c2 = allocFloat(f64 ? "float64" : "float32", c0.length, shared);
            c1.set(c0);
            c2.set(c0);
            const a1 = allocFloat(accType, acc0.length, shared), a2 = allocFloat(accType, acc0.length, shared);
            a1.set(acc0);
            a2.set(acc0);
            spikeGatherAddThreads(s, off, wpr, w, off, c1, off, m, k, n, accumulate, t);
            countsGatherAddThreads(x, off, w, off, c2, off, m, k, n, accumulate, t);
            spikeScatterRowsThreads(s, off, wpr, g, off, a1, off, m, k, n, t);
            countsScatterRowsThreads(x, off, g, off, a2, off, m, k, n, t);
            if (!sameBits(c1, cs) || !sameBits(c2, cc) || !sameBits(a1, as) || !sameBits(a2, ac)) return false;
            // Fresh scatters: the accumulator's values (NaN here, offset part aside) replaced, as scatters into zeros.
            a1.fill(Number.NaN, off);
            a2.fill(Number.NaN, off);
            spikeScatterRowsThreads(s, off, wpr, g, off, a1, off, m, k, n, t, true);
            countsScatterRowsThreads(x, off, g, off, a2, off, m, k, n, t, true);
            if (!sameBits(a1, fs) || !sameBits(a2, fc0)) return false;
            // Whole on a worker beside a claimed gemm (heap operands, 2 or 3 threads), else split after it; the same bits.
            const pass = besideGemm(t);
            a1.fill(Number.NaN, off);
            a2.fill(Number.NaN, off);
            runBesideOr([spikeScatterPart(s, off, wpr, g, off, a1, off, m, k, n, true)], () => void (taken += pass() ? 1 : 0), () =>
              spikeScatterRowsThreads(s, off, wpr, g, off, a1, off, m, k, n, t, true));
            runBesideOr([countsScatterPart(x, off, g, off, a2, off, m, k, n, true)], () => void (taken += pass() ? 1 : 0), () =>
              countsScatterRowsThreads(x, off, g, off, a2, off, m, k, n, t, true));
            if (!sameBits(a1, fs) || !sameBits(a2, fc0)) return false;
            // The gathers from the weight as Linear stores it, W [n, k] (outIn).
            const wOutIn = allocFloat(f64 ? "float64" : "float32", off + n * k, shared);
            for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) wOutIn[off + j * k + p] = w[off + p * n + j]!;
            c1.set(c0);
            c2.set(c0);
            spikeGatherAddThreads(s, off, wpr, wOutIn, off, c1, off, m, k, n, accumulate, t, true);
            countsGatherAddThreads(x, off, wOutIn, off, c2, off, m, k, n, accumulate, t, true);
            if (!sameBits(c1, cs) || !sameBits(c2, cc)) return false;
            if (!accumulate) {
              spikeGatherAddThreads(s, off, wpr, wOutIn, off, c1, off, m, k, n, false, t, true, bias);
              countsGatherAddThreads(x, off, wOutIn, off, c2, off, m, k, n, false, t, true, bias);
              if (!sameBits(c1, csb) || !sameBits(c2, ccb)) return false;
            }
          }
          return true;
        }),
      ),
      { numRuns: 80 },
    );
    expect(poolInfo().workerParts).toBeGreaterThan(before);
    expect(taken).toBeGreaterThan(20);
  });
});

describe("threaded gathers of many rows (claimed in chunks)", () => {
  it("equal the kernels bit for bit for 2 and 3 threads, WASM and JS kernels", () => {
    fc.assert(
      fc.property(
        fc.record({ m: fc.integer({ min: 60, max: 300 }), k: fc.integer({ min: 1, max: 70 }), n: fc.integer({ min: 2, max: 12 }), accumulate: fc.boolean(), bias: fc.boolean(), js: fc.boolean(), seed: fc.integer() }),
        ({ m, k, n, accumulate, bias: withBias, js, seed }) => {
          const rng = new Rng(seed);
          const wpr = wordsFor(k);
          // Rates that grow down the rows, as the time steps' do: an even split by rows would not balance.
          const rate = (r: number): number => 0.05 + (0.5 * r) / m;
          const s = words(m * wpr, true);
          const x = allocFloat("float32", m * k, true);
          for (let r = 0; r < m; r++) {
            for (let p = 0; p < k; p++) {
              if (rng.uniform() >= rate(r)) continue;
              s[r * wpr + (p >>> 5)]! |= 1 << (p & 31);
              x[r * k + p] = 1 + rng.int(3);
            }
          }
          const w = randArray(false, n * k, rng, true); // W [n, k], as Linear stores it
          const c0 = randArray(false, m * n, rng, true);
          const bias = !accumulate && withBias ? randArray(false, n, rng, true) : null;
          setKernelBackend(js ? "js" : "auto");
          try {
            const cs = c0.slice(), cc = c0.slice();
            spikeGatherAdd(s, 0, wpr, w, 0, cs, 0, m, n, accumulate, k, bias);
            countsGatherAdd(x, 0, w, 0, cc, 0, m, k, n, accumulate, true, bias);
            for (const t of [2, 3]) {
              const c1 = allocFloat("float32", m * n, true), c2 = allocFloat("float32", m * n, true);
              c1.set(c0);
              c2.set(c0);
              spikeGatherAddThreads(s, 0, wpr, w, 0, c1, 0, m, k, n, accumulate, t, true, bias);
              countsGatherAddThreads(x, 0, w, 0, c2, 0, m, k, n, accumulate, t, true, bias);
              if (!sameBits(c1, cs) || !sameBits(c2, cc)) return false;
            }
          } finally {
            setKernelBackend("auto");
          }
          return true;
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("claimed chunks", () => {
  it("cut the units from 0 to the end, no smaller than the least chunk, the first ones per thread", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 1, max: 64 }), (units, parts, minUnits) => {
        const cuts = claimCuts(units, parts, minUnits);
        const least = Math.min(units, minUnits);
        if (cuts[0] !== 0 || cuts[cuts.length - 1] !== units || cuts.length - 1 > 60) return false;
        for (let j = 1; j < cuts.length; j++) if (cuts[j]! - cuts[j - 1]! < least) return false;
        return true;
      }),
    );
    // The first chunk per thread holds 3/4 of an even share, then chunks of half the rest over the threads.
    expect(claimCuts(2048, 2, 32).slice(0, 4)).toEqual([0, 768, 1536, 1664]);
    expect(claimCuts(3, 2, 1)).toEqual([0, 1, 2, 3]);
    expect(claimCuts(1, 2, 1)).toEqual([0, 1]);
  });

  it("are each claimed once, in order, until none is left", () => {
    const cuts = claimCuts(1000, 2, 10);
    const at = postClaims(cuts);
    const seen: number[][] = [];
    claimedRanges(at)((u0, u1) => seen.push([u0, u1]));
    expect(seen).toEqual(cuts.slice(1).map((u1, j) => [cuts[j], u1]));
    claimedRanges(at)(() => { throw new Error("claimed twice"); });
    expect(() => postClaims([0])).toThrow(/postClaims: 0 chunks/);
  });
});

function sameCuts(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

describe("work-balanced cuts", () => {
  it("are strictly increasing from 0 to the unit count and follow the cost", () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 50 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 5 }), (cost, p) => {
        const parts = Math.min(p, cost.length);
        const cuts = weightedCuts(cost, parts);
        if (cuts.length !== parts + 1 || cuts[0] !== 0 || cuts[parts] !== cost.length) return false;
        for (let j = 1; j <= parts; j++) if (cuts[j]! <= cuts[j - 1]!) return false;
        return true;
      }),
    );
    expect(weightedCuts([10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 2)).toEqual([0, 1, 11]);
    expect(weightedCuts([0, 0, 0, 0], 2)).toEqual([0, 2, 4]);
  });

  it("with shares (the threads' speeds): still strictly increasing, each part's cost following its share", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 50 }), { minLength: 1, maxLength: 60 }), fc.array(fc.double({ min: 0.1, max: 10, noNaN: true }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        (cost, speeds, even) => {
          const parts = Math.min(speeds.length, cost.length);
          const cuts = even ? evenCuts(cost.length, parts, speeds) : weightedCuts(cost, parts, speeds);
          if (cuts.length !== parts + 1 || cuts[0] !== 0 || cuts[parts] !== cost.length) return false;
          for (let j = 1; j <= parts; j++) if (cuts[j]! <= cuts[j - 1]!) return false;
          // No shares: even cuts, j units / parts rounded; equal shares cut as no shares do.
          const plain = evenCuts(cost.length, parts);
          for (let j = 0; j <= parts; j++) if (plain[j] !== Math.round((j * cost.length) / parts)) return false;
          const same = new Array<number>(parts).fill(2);
          return even ? sameCuts(evenCuts(cost.length, parts, same), evenCuts(cost.length, parts)) : sameCuts(weightedCuts(cost, parts, same), weightedCuts(cost, parts));
        },
      ),
    );
    // A thread three times as fast gets three quarters of the units (of the cost).
    expect(evenCuts(100, 2, [1, 3])).toEqual([0, 25, 100]);
    expect(evenCuts(100, 3, [2, 1, 1])).toEqual([0, 50, 75, 100]);
    expect(weightedCuts([...new Array<number>(40).fill(1), ...new Array<number>(40).fill(3)], 2, [3, 1])).toEqual([0, 67, 80]); // 40 + 27 x 3 = 121 of 160
    expect(partCosts([1, 2, 3, 4, 5], [0, 2, 5])).toEqual([3, 12]);
    expect(partCosts(null, [0, 2, 5])).toEqual([2, 3]);
    // Units fewer than the shares would need: still one a part.
    expect(evenCuts(3, 3, [100, 1, 1])).toEqual([0, 1, 2, 3]);
  });
});

describe("sampled nonzero counts", () => {
  it("are exact when every row is counted, and see through a period in the rows", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 9 }), fc.integer(), (rows, len, seed) => {
        const rng = new Rng(seed);
        const x = Float32Array.from({ length: rows * len }, () => (rng.uniform() < 0.3 ? 1 : 0));
        const nz = x.reduce((a, v) => a + (v !== 0 ? 1 : 0), 0);
        const cost = sampledRowNonzeros(x, 0, rows, len);
        const withRowCost = sampledRowNonzeros(x, 0, rows, len, 64, 7);
        for (let i = 0; i < rows; i++) {
          expect(cost[i]).toBe(x.subarray(i * len, (i + 1) * len).reduce((a, v) => a + (v !== 0 ? 1 : 0), 1));
          expect(withRowCost[i]).toBe(cost[i]! + 6); // a row's own cost in place of 1
        }
        expect(sampledDensity(x, 0, rows, len)).toBeCloseTo(nz / (rows * len), 12);
      }),
      { numRuns: 30 },
    );
    // 64 samples of 12,544 rows (one block every 196 = 4 x 49 rows, as T B N token rows with N = 49), where
    // only token 0 of each image is all zeros and the others all ones: density 48/49, not the 0 that
    // sampling token 0 would read.
    const rows = 12544, len = 4;
    const x = new Float32Array(rows * len);
    for (let i = 0; i < rows; i++) if (i % 49 !== 0) x.fill(1, i * len, (i + 1) * len);
    expect(sampledDensity(x, 0, rows, len)).toBeGreaterThan(0.9);
    expect(sampledRowNonzeros(x, 0, rows, len).reduce((a, v) => a + v, 0) / rows).toBeGreaterThan(0.9 * (len + 1));
  });

  it("of long rows are estimated from a quarter of the values, whose phase moves so the samples see every column", () => {
    const rows = 64, len = 300;
    // Only columns 1 mod 4 are nonzero: a fixed phase 0 would read density 0 and zero costs.
    const x = new Float32Array(rows * len);
    for (let i = 0; i < rows; i++) for (let j = 1; j < len; j += 4) x[i * len + j] = 2;
    expect(sampledDensity(x, 0, rows, len)).toBeCloseTo(0.25, 2);
    const cost = sampledRowNonzeros(x, 0, rows, len, 64, 0);
    expect(cost.reduce((a, v) => a + v, 0) / rows).toBeCloseTo(75, 0);
    // Full and empty rows come out exact whatever the phase.
    const full = new Float32Array(rows * len).fill(1);
    expect(sampledDensity(full, 0, rows, len)).toBe(1);
    expect([...sampledRowNonzeros(full, 0, rows, len)]).toEqual(new Array(rows).fill(len + 1));
    expect(sampledDensity(new Float32Array(rows * len), 0, rows, len)).toBe(0);
  });

  it("of spike rows: exact when every row is counted; a block of rows takes one row's count", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 3 }), fc.integer(), (rows, wpr, off, seed) => {
        const rng = new Rng(seed);
        const words = Uint32Array.from({ length: off + rows * wpr }, () => rng.int(2 ** 31) * 2 + rng.int(2));
        const cost = sampledRowBits(words, off, rows, wpr);
        for (let i = 0; i < rows; i++) expect(cost[i]).toBe(popcountRange(words, off + i * wpr, off + (i + 1) * wpr) + 1);
      }),
      { numRuns: 30 },
    );
    // Every stride-th word, times the stride: the whole count at stride 1.
    const w = Uint32Array.from([0b1, 0b11, 0b111, 0b1111, 0b11111]);
    expect(popcountRange(w, 0, 5)).toBe(1 + 2 + 3 + 4 + 5);
    expect(popcountRange(w, 0, 5, 2)).toBe((1 + 3 + 5) * 2);
    expect(popcountRange(w, 1, 5, 3)).toBe((2 + 5) * 3);
    // 1,000 rows, 10 samples: blocks of 100 rows, each its sample's count; the first 500 rows silent.
    const words = new Uint32Array(1000).fill(0xffffffff, 500);
    const cost = sampledRowBits(words, 0, 1000, 1, 10);
    expect([...cost.subarray(0, 500)].every((v) => v === 1)).toBe(true);
    expect([...cost.subarray(500)].every((v) => v === 33)).toBe(true);
    // with a row cost of 16: a silent row is not free (the cut of a half-silent batch moves towards it)
    const costed = sampledRowBits(words, 0, 1000, 1, 10, 16);
    expect([...costed.subarray(0, 500)].every((v) => v === 16)).toBe(true);
    expect([...costed.subarray(500)].every((v) => v === 48)).toBe(true);
    expect(weightedCuts(cost, 2)[1]).toBeGreaterThan(weightedCuts(costed, 2)[1]!);
  });
});

/** The buckets of a fill: each bucket's entries (and values, where given) in order. */
function bucketLists(nb: number, cap: number, cnt: Int32Array, idx: Int32Array, val?: Float32Array): number[][] {
  return Array.from({ length: nb }, (_, b) => {
    const e = [...idx.subarray(b * cap, b * cap + cnt[b]!)];
    return val === undefined ? e : [...e, ...val.subarray(b * cap, b * cap + cnt[b]!)];
  });
}

describe("a band of a spike conv's output rows (outputBand)", () => {
  it("fills, by output, the whole image's buckets of those rows: strides, dilations and paddings, reading only its input rows", () => {
    fc.assert(
      fc.property(
        fc.record({
          c: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 12 }), w: fc.integer({ min: 1, max: 20 }), kh: fc.integer({ min: 1, max: 3 }),
          kw: fc.integer({ min: 1, max: 3 }), sh: fc.integer({ min: 1, max: 2 }), dh: fc.integer({ min: 1, max: 2 }), ph: fc.integer({ min: 0, max: 2 }),
          pw: fc.integer({ min: 0, max: 2 }), a: fc.nat(), b: fc.nat(), rate: fc.constantFrom(0.2, 0.6, 1), seed: fc.integer(),
        }),
        (cs) => {
          const g = geom({ h: cs.h, w: cs.w, kh: cs.kh, kw: cs.kw, sh: cs.sh, sw: 1, ph: cs.ph, pw: cs.pw, dh: cs.dh, dw: 1 });
          if (g === null) return true;
          const y0 = cs.a % g.oh, rows = 1 + (cs.b % (g.oh - y0));
          const s = randSpikes(cs.c * g.h, g.w, cs.rate, new Rng(cs.seed), false);
          const wpr = wordsFor(g.w), cap = cs.c * g.kh * g.kw, ohw = g.oh * g.ow, nb = rows * g.ow;
          const cnt = new Int32Array(ohw), idx = new Int32Array(ohw * cap);
          fillBuckets(s, 0, wpr, cs.c, g, 1, true, 0, cs.c, cnt, idx);
          const whole = bucketLists(ohw, cap, cnt, idx).slice(y0 * g.ow, (y0 + rows) * g.ow);
          const band = outputBand(g, y0, rows);
          expect(band.g.oh).toBe(rows);
          // Its input rows only, and every input row (the band's geometry alone): the same buckets.
          for (const [lo, hi] of [[band.yLo, band.yHi], [0, g.h]] as const) {
            const bc = new Int32Array(nb), bi = new Int32Array(nb * cap);
            fillBuckets(s, 0, wpr, cs.c, band.g, 1, true, 0, cs.c, bc, bi, null, lo, hi);
            expect(bucketLists(nb, cap, bc, bi)).toEqual(whole);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("the WASM bucket fill of a spike conv (stride 1)", () => {
  it("equals the JS fill: every bucket's entries and values in order (a 3 x 3 kernel's inside taps written out; bands of output rows)", () => {
    fc.assert(
      fc.property(
        fc.record({
          c: fc.integer({ min: 1, max: 4 }), h: fc.integer({ min: 1, max: 9 }), w: fc.integer({ min: 1, max: 40 }),
          k3: fc.boolean(), kh: fc.integer({ min: 1, max: 3 }), kw: fc.integer({ min: 1, max: 3 }), ph: fc.integer({ min: 0, max: 2 }), pw: fc.integer({ min: 0, max: 2 }),
          byOutput: fc.boolean(), counts: fc.boolean(), o: fc.integer({ min: 1, max: 5 }), rate: fc.constantFrom(0.2, 0.6, 1), seed: fc.integer(),
          band: fc.boolean(),
        }),
        (cs) => {
          const kh = cs.k3 ? 3 : cs.kh, kw = cs.k3 ? 3 : cs.kw;
          const whole = geom({ h: cs.h, w: cs.w, kh, kw, sh: 1, sw: 1, ph: cs.ph, pw: cs.pw, dh: 1, dw: 1 });
          if (whole === null) return true;
          const rng = new Rng(cs.seed);
          // By output, maybe a band of the output rows (its padding shifted, possibly negative, and its input rows).
          const y0 = cs.band && cs.byOutput ? rng.int(whole.oh) : 0;
          const { g, yLo, yHi } = outputBand(whole, y0, cs.band && cs.byOutput ? 1 + rng.int(whole.oh - y0) : whole.oh);
          const wpr = wordsFor(g.w);
          const s = randSpikes(cs.c * g.h, g.w, cs.rate, rng, true);
          const x = allocFloat("float32", cs.c * g.h * g.w, true);
          for (let r = 0; r < cs.c * g.h; r++) for (let j = 0; j < g.w; j++) if ((s[r * wpr + (j >>> 5)]! >>> (j & 31)) & 1) x[r * g.w + j] = 1 + rng.int(3);
          // By weight row: a sub-range of the channels, as the threaded weight gradient's parts take.
          const c0 = cs.byOutput ? 0 : rng.int(cs.c), c1 = cs.byOutput ? cs.c : c0 + 1 + rng.int(cs.c - c0);
          const ohw = g.oh * g.ow;
          const nb = cs.byOutput ? ohw : (c1 - c0) * kh * kw, cap = cs.byOutput ? cs.c * kh * kw : ohw;
          const jsCnt = new Int32Array(nb), jsIdx = new Int32Array(nb * cap), jsVal = new Float32Array(nb * cap);
          fillBuckets(s, 0, wpr, cs.c, g, cs.o, cs.byOutput, c0, c1, jsCnt, jsIdx, cs.counts ? { x, off: 0, val: jsVal } : null, yLo, yHi);
          const cnt = heapArray(Int32Array, nb), idx = heapArray(Int32Array, nb * cap), val = heapArray(Float32Array, nb * cap);
          cnt.fill(-1);
          fillBucketsWasm(
            cs.byOutput, s.byteOffset, wpr, c0, c1, g.h, kh, kw, g.ph, g.pw, g.oh, g.ow, cs.o, cap, nb, cnt.byteOffset, idx.byteOffset, cs.counts ? "f32" : null,
            x.byteOffset, g.w, val.byteOffset, yLo, yHi,
          );
          for (let b = 0; b < nb; b++) {
            if (cnt[b] !== jsCnt[b]) return false;
            for (let e = 0; e < cnt[b]!; e++) {
              if (idx[b * cap + e] !== jsIdx[b * cap + e]) return false;
              if (cs.counts && val[b * cap + e] !== jsVal[b * cap + e]) return false;
            }
          }
          return true;
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("the WASM channels-first layout of a fused conv's spike words", () => {
  it("equals its definition bit by bit: widths and channels on both sides of 32, silent and dense blocks, bands of rows, every word written", () => {
    fc.assert(
      fc.property(
        fc.record({
          oh: fc.integer({ min: 1, max: 5 }), ow: fc.integer({ min: 1, max: 70 }), o: fc.integer({ min: 1, max: 100 }), rate: fc.constantFrom(0, 0.02, 0.3, 1),
          below: fc.integer({ min: 0, max: 2 }), above: fc.integer({ min: 0, max: 2 }), seed: fc.integer(),
        }),
        ({ oh, ow, o, rate, below, above, seed }) => {
          const rng = new Rng(seed);
          const wo = wordsFor(o), wprOut = wordsFor(ow);
          // The rows are a band (from row `above`) of planes of planeRows rows, or (0, 0) the whole image.
          const planeRows = above + oh + below, dst = 1 + above * wprOut;
          // Channel bits past o are zero, as the LIF writes them.
          const src = heapArray(Uint32Array, oh * ow * wo);
          for (let p = 0; p < oh * ow; p++) for (let ch = 0; ch < o; ch++) if (rng.uniform() < rate) src[p * wo + (ch >>> 5)]! |= 1 << (ch & 31);
          // Every word of the band's rows written, none outside them.
          const want = new Uint32Array(o * planeRows * wprOut + 2).fill(0xdeadbeef);
          channelsFirstBitsReference(src, 0, want, dst, oh, ow, o, planeRows);
          const out = heapArray(Uint32Array, o * planeRows * wprOut + 2), stage = heapArray(Uint32Array, 32);
          out.fill(0xdeadbeef);
          channelsFirstBitsWasm(src.byteOffset, out.byteOffset + 4 * dst, oh, ow, o, wprOut, stage.byteOffset, planeRows);
          return sameBits(out, want);
        },
      ),
      { numRuns: 150 },
    );
  });
});
