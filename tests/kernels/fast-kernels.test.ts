/**
 * The fast kernels equal their plain `...Reference` versions bit for bit
 * (ragged sizes, rows that are not a multiple of 32 bits, non-zero starting
 * accumulators, float32 and float64 operands).
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Rng } from "../../src/tensor/random.js";
import type { ConvGeom } from "../../src/kernels/conv/conv.js";
import { packRows, wordsFor } from "../../src/tensor/bits.js";
import {
  countsConvForwardImage, countsConvScatter, countsConvScatterReference, countsConvWeightGradChannels, countsConvWeightGradReference,
  spikeConvForwardImage, spikeConvScatter, spikeConvScatterReference, spikeConvWeightGrad, spikeConvWeightGradReference,
} from "../../src/kernels/spike-conv/spike-conv.js";
import {
  countsScatterRows, countsScatterRowsReference, SCATTER_BLOCK_ROWS, spikeScatterRows, spikeScatterRowsReference, spikeScatterRowsWords,
} from "../../src/kernels/spike-sum/spike-sum.js";
import { channelGradSums, channelGradSumsReference, channelMeanVar, channelMeanVarReference } from "../../src/kernels/norm/norm.js";
import { kernelFields, kernelFits } from "../helpers/conv-geom.js";

/** Asserts identical bits element by element (Object.is: -0 != +0, NaN == NaN). */
function expectSameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) expect.fail(`${what} element ${i}: ${a[i]} vs ${b[i]}`);
  }
}

function randFloats(n: number, rng: Rng, f32: boolean): Float32Array | Float64Array {
  const a = f32 ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform() * 2 - 1;
  return a;
}

/** Random packed bits for `rows` rows of `cols` columns, density p, pad bits zero. */
function randBits(rows: number, cols: number, p: number, rng: Rng): Uint32Array {
  const wpr = wordsFor(cols);
  const s = new Uint32Array(rows * wpr);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) if (rng.uniform() < p) s[r * wpr + (c >>> 5)]! |= 1 << (c & 31);
  return s;
}

const arbGeom = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    c: fc.integer({ min: 1, max: 4 }),
    o: fc.integer({ min: 1, max: 37 }),
    h: fc.integer({ min: 1, max: 7 }),
    w: fc.integer({ min: 1, max: 70 }),
    ...kernelFields,
    p: fc.double({ min: 0, max: 1, noNaN: true }),
    f32: fc.boolean(),
    // With float32 sources, float32 accumulators too (the float32 family) or float64 ones.
    acc32: fc.boolean(),
    seed: fc.integer(),
  })
  .filter(kernelFits);

function geom(g: { h: number; w: number; kh: number; kw: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number }): ConvGeom {
  const oh = Math.floor((g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh) + 1;
  const ow = Math.floor((g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw) + 1;
  return { h: g.h, w: g.w, kh: g.kh, kw: g.kw, sh: g.sh, sw: g.sw, ph: g.ph, pw: g.pw, dh: g.dh, dw: g.dw, oh, ow };
}

describe("spike conv kernels", () => {
  it("spikeConvScatter and spikeConvWeightGrad equal their references bit for bit", () => {
    fc.assert(
      fc.property(arbGeom, (cfg) => {
        const rng = new Rng(cfg.seed);
        const g = geom(cfg);
        const wpr = wordsFor(cfg.w);
        const imgWords = cfg.c * cfg.h * wpr;
        const s = randBits(cfg.n * cfg.c * cfg.h, cfg.w, cfg.p, rng);
        const kk = cfg.c * cfg.kh * cfg.kw;
        const ohw = g.oh * g.ow;
        const wT = randFloats(kk * cfg.o, rng, cfg.f32);
        // Non-zero starting accumulators: the kernels add to what is there.
        const fam32 = cfg.f32 && cfg.acc32;
        const acc0 = randFloats(ohw * cfg.o, rng, fam32);
        const accW0 = randFloats(kk * cfg.o, rng, fam32);
        const a1 = acc0.slice(), a2 = acc0.slice();
        const w1 = accW0.slice(), w2 = accW0.slice();
        for (let i = 0; i < cfg.n; i++) {
          spikeConvScatter(s, i * imgWords, wpr, cfg.c, g, wT, cfg.o, a1);
          spikeConvScatterReference(s, i * imgWords, wpr, cfg.c, g, wT, cfg.o, a2);
          const gT = randFloats(ohw * cfg.o, rng, cfg.f32);
          spikeConvWeightGrad(s, i * imgWords, wpr, cfg.c, g, gT, cfg.o, w1);
          spikeConvWeightGradReference(s, i * imgWords, wpr, cfg.c, g, gT, cfg.o, w2);
        }
        expectSameBits(a1, a2, "scatter");
        expectSameBits(w1, w2, "weight grad");
        // Channels-first forward = reference scatter into zeros of out's family, then transposed (and rounded).
        const out = cfg.f32 ? new Float32Array(3 + cfg.n * cfg.o * ohw) : new Float64Array(3 + cfg.n * cfg.o * ohw);
        const want = out.slice();
        for (let i = 0; i < cfg.n; i++) {
          spikeConvForwardImage(s, i * imgWords, wpr, cfg.c, g, wT, cfg.o, out, 3 + i * cfg.o * ohw);
          const acc = cfg.f32 ? new Float32Array(ohw * cfg.o) : new Float64Array(ohw * cfg.o);
          spikeConvScatterReference(s, i * imgWords, wpr, cfg.c, g, wT, cfg.o, acc);
          for (let pos = 0; pos < ohw; pos++) for (let j = 0; j < cfg.o; j++) want[3 + (i * cfg.o + j) * ohw + pos] = acc[pos * cfg.o + j]!;
        }
        expectSameBits(out, want, "channels-first forward");
      }),
      { numRuns: 150 },
    );
  });

  it("a dense image (every bit set) sums every tap in order", () => {
    const g = geom({ h: 5, w: 33, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1 });
    const rng = new Rng(3);
    const s = randBits(2 * 5, 33, 1, rng);
    const wT = randFloats(2 * 9 * 5, rng, true);
    const a1 = new Float64Array(g.oh * g.ow * 5), a2 = new Float64Array(g.oh * g.ow * 5);
    spikeConvScatter(s, 0, 2, 2, g, wT, 5, a1);
    spikeConvScatterReference(s, 0, 2, 2, g, wT, 5, a2);
    expectSameBits(a1, a2, "scatter");
    // The centre output of channel-summed taps: every one of the 18 weight rows contributes.
    expect(a1.some((v) => v !== 0)).toBe(true);
  });
});

describe("counts conv kernels", () => {
  /** Values [rows, cols]: 1 or 2 with probability p (a SEW ADD), or (`real`) any value; and their nonzeros as bits. */
  function countsAndBits(rows: number, cols: number, p: number, rng: Rng, f32: boolean, real: boolean): [Float32Array | Float64Array, Uint32Array] {
    const x = f32 ? new Float32Array(rows * cols) : new Float64Array(rows * cols);
    for (let i = 0; i < x.length; i++) if (rng.uniform() < p) x[i] = real ? rng.uniform() * 4 - 2 : 1 + rng.int(2);
    const s = new Uint32Array(rows * wordsFor(cols));
    packRows(x, rows, cols, s);
    return [x, s];
  }

  it("countsConvScatter, countsConvWeightGradChannels and countsConvForwardImage equal the references bit for bit", () => {
    fc.assert(
      fc.property(arbGeom, fc.boolean(), fc.boolean(), (cfg, real, x32) => {
        const rng = new Rng(cfg.seed);
        const g = geom(cfg);
        const wpr = wordsFor(cfg.w);
        const imgWords = cfg.c * cfg.h * wpr;
        const xImg = cfg.c * cfg.h * cfg.w;
        const [x, s] = countsAndBits(cfg.n * cfg.c * cfg.h, cfg.w, cfg.p, rng, x32, real);
        const kk = cfg.c * cfg.kh * cfg.kw;
        const ohw = g.oh * g.ow;
        const wT = randFloats(kk * cfg.o, rng, cfg.f32);
        const fam32 = cfg.f32 && cfg.acc32 && x32;
        const a1 = randFloats(ohw * cfg.o, rng, fam32), a2 = a1.slice();
        const w1 = randFloats(kk * cfg.o, rng, fam32), w2 = w1.slice();
        // The weight gradient in two channel ranges (as two threads would run them): the same rows' bits.
        const cut = rng.int(cfg.c + 1);
        for (let i = 0; i < cfg.n; i++) {
          countsConvScatter(s, i * imgWords, wpr, cfg.c, g, x, i * xImg, wT, cfg.o, a1);
          countsConvScatterReference(x, i * xImg, cfg.c, g, wT, cfg.o, a2);
          const gT = randFloats(ohw * cfg.o, rng, cfg.f32);
          countsConvWeightGradChannels(s, i * imgWords, wpr, cfg.c, 0, cut, g, x, i * xImg, gT, cfg.o, w1);
          countsConvWeightGradChannels(s, i * imgWords, wpr, cfg.c, cut, cfg.c, g, x, i * xImg, gT, cfg.o, w1);
          countsConvWeightGradReference(x, i * xImg, cfg.c, g, gT, cfg.o, w2);
        }
        expectSameBits(a1, a2, "scatter");
        expectSameBits(w1, w2, "weight grad");
        const out32 = cfg.f32 && x32;
        const out = out32 ? new Float32Array(3 + cfg.n * cfg.o * ohw) : new Float64Array(3 + cfg.n * cfg.o * ohw);
        const want = out.slice();
        for (let i = 0; i < cfg.n; i++) {
          countsConvForwardImage(s, i * imgWords, wpr, cfg.c, g, x, i * xImg, wT, cfg.o, out, 3 + i * cfg.o * ohw);
          const acc = out32 ? new Float32Array(ohw * cfg.o) : new Float64Array(ohw * cfg.o);
          countsConvScatterReference(x, i * xImg, cfg.c, g, wT, cfg.o, acc);
          for (let pos = 0; pos < ohw; pos++) for (let j = 0; j < cfg.o; j++) want[3 + (i * cfg.o + j) * ohw + pos] = acc[pos * cfg.o + j]!;
        }
        expectSameBits(out, want, "channels-first forward");
      }),
      { numRuns: 150 },
    );
  });

  it("a float32 accumulator with float64 counts is an error, not a float64 sum rounded every step", () => {
    const g = geom({ h: 2, w: 3, kh: 1, kw: 1, sh: 1, sw: 1, ph: 0, pw: 0, dh: 1, dw: 1 });
    const [x, s] = countsAndBits(2, 3, 1, new Rng(1), false, false);
    expect(() => countsConvScatter(s, 0, 1, 1, g, x, 0, new Float32Array(2), 2, new Float32Array(12))).toThrow(/counts conv: a float32 accumulator/);
  });
});

const arbRows = fc.record({
  // Past SCATTER_BLOCK_ROWS too: the scatters take rows in blocks.
  m: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: SCATTER_BLOCK_ROWS - 2, max: 3 * SCATTER_BLOCK_ROWS + 5 })),
  k: fc.integer({ min: 1, max: 80 }),
  n: fc.integer({ min: 1, max: 37 }),
  p: fc.double({ min: 0, max: 1, noNaN: true }),
  off: fc.integer({ min: 0, max: 5 }),
  f32: fc.boolean(),
  acc32: fc.boolean(),
  seed: fc.integer(),
});

describe("spike / counts weight-gradient kernels", () => {
  it("spikeScatterRows equals its reference bit for bit (offsets, ragged rows, non-zero accumulator)", () => {
    fc.assert(
      fc.property(arbRows, ({ m, k, n, p, off, f32, acc32, seed }) => {
        const rng = new Rng(seed);
        const wpr = wordsFor(k);
        const s = new Uint32Array(off * wpr + m * wpr);
        s.set(randBits(m, k, p, rng), off * wpr);
        const g = randFloats(off + m * n, rng, f32);
        const acc = randFloats(off + wpr * 32 * n, rng, f32 && acc32);
        const a1 = acc.slice(), a2 = acc.slice(), a3 = acc.slice();
        spikeScatterRows(s, off * wpr, wpr, g, off, a1, off, m, n);
        spikeScatterRowsReference(s, off * wpr, wpr, g, off, a2, off, m, n);
        spikeScatterRowsWords(s, off * wpr, wpr, 0, wpr, g, off, a3, off, m, n, "js");
        expectSameBits(a1, a2, "spikeScatterRows");
        expectSameBits(a3, a2, "spikeScatterRows (TypeScript sums)");
      }),
      { numRuns: 150 },
    );
  });

  it("countsScatterRows equals its reference bit for bit (small counts, signed zeros, NaN, fractions)", () => {
    fc.assert(
      fc.property(arbRows, ({ m, k, n, p, off, f32, acc32, seed }) => {
        const rng = new Rng(seed);
        const x = f32 ? new Float32Array(off + m * k) : new Float64Array(off + m * k);
        for (let i = off; i < x.length; i++) {
          const u = rng.uniform();
          x[i] = u >= p ? (rng.uniform() < 0.5 ? 0 : -0) : u < p * 0.02 ? NaN : u < p * 0.3 ? rng.uniform() * 4 - 2 : 1 + rng.int(3);
        }
        const g = randFloats(off + m * n, rng, f32);
        const acc = randFloats(off + k * n, rng, f32 && acc32);
        const a1 = acc.slice(), a2 = acc.slice();
        countsScatterRows(x, off, g, off, a1, off, m, k, n);
        countsScatterRowsReference(x, off, g, off, a2, off, m, k, n);
        expectSameBits(a1, a2, "countsScatterRows");
      }),
      { numRuns: 150 },
    );
  });
});

describe("batch-norm statistics kernels", () => {
  it("channelMeanVar and channelGradSums equal their references bit for bit (S = 1 and S > 1)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 40 }), fc.constantFrom(1, 1, 2, 7, 33), fc.boolean(), fc.integer(),
        (n, c, s, f32, seed) => {
          const rng = new Rng(seed);
          const size = n * c * s;
          const x = randFloats(size, rng, f32);
          const g = randFloats(size, rng, f32);
          for (let i = 0; i < size; i++) x[i] = x[i]! * 3 + 1;
          const m1 = new Float64Array(c), v1 = new Float64Array(c), m2 = new Float64Array(c), v2 = new Float64Array(c);
          channelMeanVar(x, n, c, s, m1, v1);
          channelMeanVarReference(x, n, c, s, m2, v2);
          expectSameBits(m1, m2, "mean");
          expectSameBits(v1, v2, "var");
          const inv = new Float64Array(c).map((_, i) => 1 / Math.sqrt(v1[i]! + 1e-5));
          const g1 = new Float64Array(c), gx1 = new Float64Array(c), g2 = new Float64Array(c), gx2 = new Float64Array(c);
          channelGradSums(g, x, n, c, s, m1, inv, g1, gx1);
          channelGradSumsReference(g, x, n, c, s, m1, inv, g2, gx2);
          expectSameBits(g1, g2, "sumG");
          expectSameBits(gx1, gx2, "sumGX");
        },
      ),
      { numRuns: 150 },
    );
  });
});
