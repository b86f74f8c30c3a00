import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor, type DType } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { backward } from "../../src/autograd/tape.js";
import { countsConv2d, spikeConv1d, spikeConv2d } from "../../src/ops/spike/spike-conv.js";
import { countsLinear, spikeLinear } from "../../src/ops/spike/spike-linear.js";
import { spikeConvForwardRange, spikeConvWeightRange, sumBucketsJs, sumBucketsWasm } from "../../src/kernels/spike-conv/spike-conv.js";
import {
  countsGatherAddJs, countsGatherAddWasm, countsScatterRowsCols, SCATTER_BLOCK_ROWS,
  spikeGatherAddJs, spikeGatherAddWasm, spikeScatterRowsWords,
} from "../../src/kernels/spike-sum/spike-sum.js";
import { packRows, wordsFor } from "../../src/tensor/bits.js";
import { gemmReference } from "../../src/kernels/gemm/gemm.js";
import { setKernelBackend, wasmSimdAvailable } from "../../src/wasm/backend.js";
import { ROW_TILE, setPanelThresholds, setPanelTiles, spikeSumModule, spikeSumWasmRuns } from "../../src/kernels/spike-sum/wasm.js";
import { wasmApi } from "../../src/wasm/runtime.js";
import { expectBitEqual, leaf, randCounts, randSpikes } from "../helpers/random-spikes.js";
import { expectSameBits } from "../helpers/arrays.js";
import { bitRows } from "../helpers/random-spikes.js";
import { placed } from "../helpers/placed.js";
import { heapStats } from "../../src/tensor/heap.js";
import type { FloatArray } from "../../src/tensor/tensor.js";

const simd = wasmSimdAvailable();

/** Float values with varied exponents and signs (so rounding order matters), some exact zeros and negative zeros. */
function values(n: number, rng: Rng, f32: boolean): Float32Array | Float64Array {
  const a = f32 ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    a[i] = u < 0.05 ? 0 : u < 0.08 ? -0 : (rng.uniform() - 0.5) * 2 ** (rng.int(40) - 20);
  }
  return a;
}

afterEach(() => {
  setKernelBackend("auto");
});

/**
 * Panel [block, tile] heights the tests force: one source row a block and a few (every bucket cut
 * into many runs, most of them empty), tiles of 1-2 destination rows (rows in many tiles), and the
 * defaults (most sums one block, one tile).
 */
const PANEL_BLOCKS: [number, number][] = [[1, 2], [3, 1], [256, 256]];

/** Runs `f` with every float32 WASM sum from panels (forced), in blocks and tiles of those heights. */
function withPanels<T>([blockRows, tileRows]: [number, number], f: () => T): T {
  const old = setPanelThresholds(0, 0), oldTiles = setPanelTiles(blockRows, tileRows);
  try {
    return f();
  } finally {
    setPanelThresholds(...old);
    setPanelTiles(...oldTiles);
  }
}

describe.skipIf(!simd)(`WASM SIMD gather-add twins${simd ? "" : " (skipped: WebAssembly SIMD is unavailable in this runtime)"}`, () => {
  it("the module validates", () => {
    expect(wasmApi()!.validate(spikeSumModule())).toBe(true);
  });

  it("sumBucketsWasm equals sumBucketsJs (ragged o, bucket counts 0..>16, up to three row tiles, both families, f32 / f64 sources, dst offsets, heap or foreign)", () => {
    const before = spikeSumWasmRuns();
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 7 }), fc.integer({ min: ROW_TILE - 1, max: 2 * ROW_TILE + 3 })), fc.integer({ min: 1, max: 21 }), fc.integer({ min: 1, max: 41 }),
        fc.integer({ min: 1, max: 9 }), fc.boolean(), fc.boolean(), fc.nat({ max: 7 }), fc.boolean(), fc.boolean(), fc.integer(),
        (nb, cap, o, srcRows, f32, acc32, dstOff, srcHeap, dstHeap, seed) => {
          const rng = new Rng(seed);
          const srcShift = rng.int(3); // entries need not be whole rows apart
          const src = placed(values(srcRows * o + srcShift, rng, f32), srcHeap);
          const cnt = new Int32Array(nb);
          const idx = new Int32Array(nb * cap);
          for (let r = 0; r < nb; r++) {
            cnt[r] = rng.uniform() < 0.2 ? 0 : rng.uniform() < 0.3 ? cap : rng.int(cap + 1);
            for (let t = 0; t < cnt[r]!; t++) idx[r * cap + t] = rng.int(srcRows) * o + rng.int(srcShift + 1);
          }
          // Float32 family (float32 src and dst) or float64 (float64 dst).
          const dst = values(dstOff + nb * o + 3, rng, f32 && acc32);
          const dj = dst.slice(), dw = placed(dst, dstHeap);
          sumBucketsJs(nb, cap, cnt, idx, src, o, dj, dstOff);
          sumBucketsWasm(nb, cap, cnt, idx, src, o, dw, dstOff);
          expectSameBits(dw, dj, "dst");
        },
      ),
      { numRuns: 400 },
    );
    expect(spikeSumWasmRuns()).toBeGreaterThan(before);
  });

  const arbGeom = fc
    .record({
      n: fc.integer({ min: 1, max: 3 }),
      c: fc.integer({ min: 1, max: 5 }),
      o: fc.integer({ min: 1, max: 37 }),
      h: fc.integer({ min: 3, max: 9 }),
      w: fc.integer({ min: 3, max: 40 }),
      kh: fc.integer({ min: 1, max: 3 }),
      kw: fc.integer({ min: 1, max: 3 }),
      sh: fc.integer({ min: 1, max: 2 }),
      sw: fc.integer({ min: 1, max: 2 }),
      ph: fc.integer({ min: 0, max: 2 }),
      pw: fc.integer({ min: 0, max: 2 }),
      dh: fc.integer({ min: 1, max: 2 }),
      dw: fc.integer({ min: 1, max: 2 }),
      rate: fc.double({ min: 0, max: 1, noNaN: true }),
      f32: fc.boolean(),
      acc32: fc.boolean(),
      seed: fc.integer(),
    })
    .filter((c) => c.h + 2 * c.ph >= c.dh * (c.kh - 1) + 1 && c.w + 2 * c.pw >= c.dw * (c.kw - 1) + 1);

  function geomOf(c: { h: number; w: number; kh: number; kw: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number }) {
    const oh = Math.floor((c.h + 2 * c.ph - c.dh * (c.kh - 1) - 1) / c.sh) + 1;
    const ow = Math.floor((c.w + 2 * c.pw - c.dw * (c.kw - 1) - 1) / c.sw) + 1;
    return { h: c.h, w: c.w, kh: c.kh, kw: c.kw, sh: c.sh, sw: c.sw, ph: c.ph, pw: c.pw, dh: c.dh, dw: c.dw, oh, ow };
  }

  it("the spike-conv and counts-conv forward and weight-gradient batch loops give the same bits on both backends", () => {
    fc.assert(
      fc.property(arbGeom, fc.nat({ max: 4 }), fc.nat({ max: 4 }), fc.boolean(), fc.boolean(), fc.constantFrom("spikes", "counts32", "counts64"), (cfg, a, b, channelsFirst, heap, input) => {
        const rng = new Rng(cfg.seed);
        const g = geomOf(cfg);
        const { n, c, o } = cfg;
        const wpr = wordsFor(cfg.w);
        const imgWords = c * cfg.h * wpr;
        // Operands in the heap (used in place) or foreign (staged). Counts: values with varied exponents, their nonzeros as the bits.
        let counts: FloatArray | null = null;
        let s: Uint32Array;
        if (input === "spikes") {
          s = placed(bitRows(n * c * cfg.h, cfg.w, cfg.rate, rng), heap);
        } else {
          const x = values(n * c * cfg.h * cfg.w, rng, input === "counts32");
          for (let i = 0; i < x.length; i++) if (rng.uniform() > cfg.rate) x[i] = 0;
          const bits = new Uint32Array(n * c * cfg.h * wpr);
          packRows(x, n * c * cfg.h, cfg.w, bits);
          counts = placed(x, heap);
          s = placed(bits, heap);
        }
        const kk = c * cfg.kh * cfg.kw;
        const ohw = g.oh * g.ow;
        const wT = placed(values(kk * o, rng, cfg.f32), heap);
        const gy = placed(values(n * ohw * o, rng, cfg.f32), heap);
        const c0 = Math.min(a, c - 1), c1 = Math.max(c0 + 1, Math.min(c, c0 + b + 1));
        const run = (be: "js" | "wasm") => {
          setKernelBackend(be);
          const out = placed(cfg.f32 ? new Float32Array(n * o * ohw) : new Float64Array(n * o * ohw), heap);
          spikeConvForwardRange(s, wpr, c, g, wT, o, out, imgWords, 0, n, counts);
          const accW = placed(values(kk * o, new Rng(cfg.seed + 1), cfg.f32 && cfg.acc32 && input !== "counts64"), heap);
          spikeConvWeightRange(s, imgWords, n, wpr, c, c0, c1, g, gy, channelsFirst, o, accW, counts);
          return [out, accW] as const;
        };
        const before = spikeSumWasmRuns();
        const [oj, aj] = run("js");
        expect(spikeSumWasmRuns()).toBe(before);
        const [ow, aw] = run("wasm");
        if (o * ohw >= 256) expect(spikeSumWasmRuns()).toBeGreaterThan(before);
        expectSameBits(ow, oj, "out");
        expectSameBits(aw, aj, "accW");
        // The forward from wT and the weight gradient from gy packed in panels (the float32 family's path for a
        // large wT / gradient image, forced here).
        for (const rows of PANEL_BLOCKS) {
          const [op, ap] = withPanels(rows, () => run("wasm"));
          expectSameBits(op, oj, `out (panels, blocks and tiles of ${rows} rows)`);
          expectSameBits(ap, aj, `accW (panels, blocks and tiles of ${rows} rows)`);
        }
        // And from the weight as the conv stores it, [O, C kh kw] (outIn): both backends, rows and panels.
        const wt = cfg.f32 ? new Float32Array(kk * o) : new Float64Array(kk * o);
        for (let p = 0; p < kk; p++) for (let j = 0; j < o; j++) wt[j * kk + p] = wT[p * o + j]!;
        const w = placed(wt, heap);
        const fromW = (be: "js" | "wasm"): FloatArray => {
          setKernelBackend(be);
          const out = placed(cfg.f32 ? new Float32Array(n * o * ohw) : new Float64Array(n * o * ohw), heap);
          spikeConvForwardRange(s, wpr, c, g, w, o, out, imgWords, 0, n, counts, true);
          return out;
        };
        expectSameBits(fromW("js"), oj, "out from W (js)");
        expectSameBits(fromW("wasm"), oj, "out from W (wasm)");
        for (const rows of PANEL_BLOCKS) expectSameBits(withPanels(rows, () => fromW("wasm")), oj, `out from W (panels, blocks and tiles of ${rows} rows)`);
      }),
      { numRuns: 150 },
    );
  });

  it("the spike scatter's WASM buckets: blocks of rows and panels give the JS twin's bits", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 37 }), fc.double({ min: 0, max: 0.6, noNaN: true }), fc.integer(), (m, k, n, rate, seed) => {
      const rng = new Rng(seed);
      const wpr = wordsFor(k);
      const s = placed(bitRows(m, k, rate, rng), true), g = placed(values(m * n, rng, true), true);
      const q0 = rng.int(wpr), q1 = q0 + 1 + rng.int(wpr - q0);
      const a0 = values(k * n + 3, rng, true);
      const aj = a0.slice();
      spikeScatterRowsWords(s, 0, wpr, q0, q1, g, 0, aj, 0, m, n, "js");
      for (const rows of [null, ...PANEL_BLOCKS]) {
        const aw = placed(a0.slice(), true);
        const run = () => spikeScatterRowsWords(s, 0, wpr, q0, q1, g, 0, aw, 0, m, n, "wasm");
        if (rows === null) run(); else withPanels(rows, run);
        expectSameBits(aw, aj, `words ${q0}..${q1} of ${wpr}, ${m} rows${rows === null ? "" : `, panels in blocks and tiles of ${rows} rows`}`);
      }
    }), { numRuns: 60 });
  });

  it("gather-add twins (spike and counts rows, column-bucket scatters) equal their JS twins, both families", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 37 }),
        fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.nat({ max: 3 }), fc.nat({ max: 31 }), fc.integer(),
        (m, k, n, rate, f32, acc32, countsF32, accumulate, off, heap, seed) => {
          const rng = new Rng(seed);
          const wpr = wordsFor(k);
          // heap bits 0-4: s, w, x, g and the outputs in the heap (used in place) or foreign (staged).
          const inHeapBit = (i: number) => ((heap >> i) & 1) !== 0;
          const out = <T extends FloatArray>(a: T): T => placed(a, inHeapBit(4));
          const s = placed(bitRows(m + off, k, rate, rng), inHeapBit(0));
          const w = placed(values(off + k * n, rng, f32), inHeapBit(1));
          // Float32 family only when every float operand is float32; float32 sources with float64 outputs are the float64 family.
          const x = placed((countsF32 ? Float32Array : Float64Array).from(randCounts(off + m * k, rate, rng)), inHeapBit(2));
          const g = placed(values(off + m * n, rng, f32), inHeapBit(3));
          const c0 = values(off + m * n + 2, rng, f32 && acc32);
          const cj = c0.slice(), cw = out(c0);
          spikeGatherAddJs(s, off * wpr, wpr, w, off, cj, off, m, n, accumulate);
          spikeGatherAddWasm(s, off * wpr, wpr, w, off, cw, off, m, n, accumulate);
          expectSameBits(cw, cj, "spikeGatherAdd");
          const dj = c0.slice(), dw = out(c0);
          countsGatherAddJs(x, off, w, off, dj, off, m, k, n, accumulate);
          countsGatherAddWasm(x, off, w, off, dw, off, m, k, n, accumulate);
          expectSameBits(dw, dj, "countsGatherAdd");
          // The same sums from W packed in panels (the float32 family's path for large W, forced here).
          for (const rows of PANEL_BLOCKS) {
            withPanels(rows, () => {
              const cp = out(c0), dp = out(c0);
              spikeGatherAddWasm(s, off * wpr, wpr, w, off, cp, off, m, n, accumulate);
              countsGatherAddWasm(x, off, w, off, dp, off, m, k, n, accumulate);
              expectSameBits(cp, cj, `spikeGatherAdd (panels, blocks and tiles of ${rows} rows)`);
              expectSameBits(dp, dj, `countsGatherAdd (panels, blocks and tiles of ${rows} rows)`);
            });
          }
          // The same sums from the weight as Linear stores it, W [n, k] (transposed or packed into panels as read).
          const wt = w instanceof Float32Array ? new Float32Array(off + n * k) : new Float64Array(off + n * k);
          for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) wt[off + j * k + p] = w[off + p * n + j]!;
          const wOutIn = placed(wt, inHeapBit(1));
          for (const rows of [null, ...PANEL_BLOCKS]) {
            const fromOutIn = (): void => {
              const c1 = c0.slice(), c2 = out(c0), d1 = c0.slice(), d2 = out(c0);
              spikeGatherAddJs(s, off * wpr, wpr, wOutIn, off, c1, off, m, n, accumulate, k);
              spikeGatherAddWasm(s, off * wpr, wpr, wOutIn, off, c2, off, m, n, accumulate, k);
              countsGatherAddJs(x, off, wOutIn, off, d1, off, m, k, n, accumulate, true);
              countsGatherAddWasm(x, off, wOutIn, off, d2, off, m, k, n, accumulate, true);
              for (const [got, want, what] of [[c1, cj, "spikeGatherAddJs"], [c2, cj, "spikeGatherAddWasm"], [d1, dj, "countsGatherAddJs"], [d2, dj, "countsGatherAddWasm"]] as const) {
                expectSameBits(got, want, `${what} from W [n, k]${rows !== null ? ` (panels, blocks and tiles of ${rows} rows)` : ""}`);
              }
            };
            if (rows === null) fromOutIn();
            else withPanels(rows, fromOutIn);
          }
          if (!accumulate) {
            // From +0, skipping the zero terms changes nothing: the dense gemm of the
            // same family (float32 iff every operand is) on the 0/1 values and counts.
            // (w, g and c0 share one element type here, so a01 of w's type puts gemm in the kernels' family.)
            const a01 = w instanceof Float32Array ? new Float32Array(off + m * k) : new Float64Array(off + m * k);
            for (let r = 0; r < m; r++) for (let p = 0; p < k; p++) a01[off + r * k + p] = (s[(off + r) * wpr + (p >>> 5)]! >>> (p & 31)) & 1;
            const sj = c0.slice(), xj = c0.slice();
            gemmReference(a01, off, false, w, off, false, sj, off, m, n, k, false);
            gemmReference(x, off, false, w, off, false, xj, off, m, n, k, false);
            expectSameBits(cj, sj, "spikeGatherAdd = gemm");
            expectSameBits(dj, xj, "countsGatherAdd = gemm");
            // Scatters into zeros = gemm of the transposed 0/1 values / counts with G.
            const z = g instanceof Float32Array && c0 instanceof Float32Array ? new Float32Array(off + k * n) : new Float64Array(off + k * n);
            const zs = out(z), zsRef = z.slice();
            spikeScatterRowsWords(s, off * wpr, wpr, 0, wpr, g, off, zs, off, m, n, "wasm");
            gemmReference(a01, off, true, g, off, false, zsRef, off, k, n, m, false);
            expectSameBits(zs, zsRef, "spikeScatterRows = gemm");
            if (!(z instanceof Float32Array) || x instanceof Float32Array) {
              const zc = out(z), zcRef = z.slice();
              countsScatterRowsCols(x, off, g, off, zc, off, m, k, 0, k, n, "wasm");
              gemmReference(x, off, true, g, off, false, zcRef, off, k, n, m, false);
              expectSameBits(zc, zcRef, "countsScatterRows = gemm");
            }
          }
          // Column buckets: the whole range and a sub-range of spike words / count columns.
          const q0 = rng.int(wpr), q1 = q0 + 1 + rng.int(wpr - q0);
          const p0 = rng.int(k), p1 = p0 + 1 + rng.int(k - p0);
          for (const [lo, hi, plo, phi] of [[0, wpr, 0, k], [q0, q1, p0, p1]] as const) {
            const a0 = values(off + k * n, rng, f32 && acc32 && countsF32);
            const aj = a0.slice(), aw = out(a0);
            spikeScatterRowsWords(s, off * wpr, wpr, lo, hi, g, off, aj, off, m, n, "js");
            spikeScatterRowsWords(s, off * wpr, wpr, lo, hi, g, off, aw, off, m, n, "wasm");
            expectSameBits(aw, aj, "spikeScatterRows");
            const bj = a0.slice(), bw = out(a0);
            countsScatterRowsCols(x, off, g, off, bj, off, m, k, plo, phi, n, "js");
            countsScatterRowsCols(x, off, g, off, bw, off, m, k, plo, phi, n, "wasm");
            expectSameBits(bw, bj, "countsScatterRows");
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a gather's bias: the float32 WASM sums add it to each row once its terms end (panels in one block or many, rows with no terms), the same bits as the JS twin and a bias pass; other families add it after", () => {
    const before = spikeSumWasmRuns();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 8, max: 45 }),
        fc.double({ min: 0, max: 0.6, noNaN: true }), fc.boolean(), fc.boolean(), fc.integer(),
        (m, k, n, rate, f32, biasInHeap, seed) => {
          const rng = new Rng(seed);
          const wpr = wordsFor(k);
          const s = placed(bitRows(m, k, rate, rng), true);
          s.fill(0, 0, wpr); // row 0 without terms: its output is the bias
          const w = placed(values(k * n, rng, f32), true);
          const x = placed((f32 ? Float32Array : Float64Array).from(randCounts(m * k, rate, rng)), true);
          x.fill(0, 0, k);
          const bias = placed(values(n, rng, f32), biasInHeap);
          const c0 = values(m * n, rng, f32);
          const plusBias = (c: FloatArray): FloatArray => {
            for (let i = 0; i < m * n; i++) c[i] = c[i]! + bias[i % n]!;
            return c;
          };
          const sj = c0.slice(), cj = c0.slice();
          spikeGatherAddJs(s, 0, wpr, w, 0, sj, 0, m, n, false);
          countsGatherAddJs(x, 0, w, 0, cj, 0, m, k, n, false);
          plusBias(sj);
          plusBias(cj);
          for (const rows of [null, ...PANEL_BLOCKS]) {
            const run = (): void => {
              const sw = placed(c0.slice(), true), cw = placed(c0.slice(), true);
              spikeGatherAddWasm(s, 0, wpr, w, 0, sw, 0, m, n, false, 0, bias);
              countsGatherAddWasm(x, 0, w, 0, cw, 0, m, k, n, false, false, bias);
              const how = rows === null ? "" : ` (panels, blocks and tiles of ${rows} rows)`;
              expectSameBits(sw, sj, `spikeGatherAdd with bias${how}`);
              expectSameBits(cw, cj, `countsGatherAdd with bias${how}`);
            };
            if (rows === null) run();
            else withPanels(rows, run);
          }
        },
      ),
      { numRuns: 60 },
    );
    expect(spikeSumWasmRuns()).toBeGreaterThan(before);
    expect(() => spikeGatherAddWasm(new Uint32Array(4), 0, 1, new Float32Array(32), 0, new Float32Array(32), 0, 4, 8, true, 0, new Float32Array(8)))
      .toThrow(/spikeGatherAddWasm: a bias needs accumulate = false/);
  });

  it("the float32 counts gather's WASM table scan lists the nonzeros of every row in order (-0 a zero, tails of 1-3 columns)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 23 }), fc.integer({ min: 1, max: 19 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer(), (m, k, n, rate, seed) => {
        const rng = new Rng(seed);
        const x = placed(Float32Array.from({ length: m * k }, () => { const u = rng.uniform(); return u < rate ? 1 + rng.int(3) : u < rate + 0.1 ? -0 : 0; }), true);
        const w = placed(values(k * n, rng, true), true);
        const cj = new Float32Array(m * n), cw = placed(new Float32Array(m * n), true);
        countsGatherAddJs(x, 0, w, 0, cj, 0, m, k, n, false);
        countsGatherAddWasm(x, 0, w, 0, cw, 0, m, k, n, false);
        expectSameBits(cw, cj, "countsGatherAdd");
      }),
      { numRuns: 200 },
    );
  });

  it("the float32 counts scatter's WASM row blocks and column buckets equal the JS loops (several blocks, column sub-ranges, -0 and NaN)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 * SCATTER_BLOCK_ROWS + 5 }), fc.integer({ min: 1, max: 23 }), fc.integer({ min: 1, max: 37 }),
        fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean(), fc.nat({ max: 3 }), fc.integer(),
        (m, k, n, rate, gInHeap, off, seed) => {
          const rng = new Rng(seed);
          const x = placed(Float32Array.from({ length: off + m * k }, () => {
            const u = rng.uniform();
            return u < rate ? 1 + rng.int(3) : u < rate + 0.05 ? -0 : u < rate + 0.06 ? NaN : 0;
          }), true);
          const g = placed(values(off + m * n, rng, true) as Float32Array, gInHeap);
          const p0 = rng.int(k), p1 = p0 + 1 + rng.int(k - p0);
          const a0 = values(off + k * n, rng, true);
          const aj = a0.slice(), aw = placed(a0.slice(), true);
          countsScatterRowsCols(x, off, g, off, aj, off, m, k, p0, p1, n, "js");
          countsScatterRowsCols(x, off, g, off, aw, off, m, k, p0, p1, n, "wasm");
          expectSameBits(aw, aj, "countsScatterRows");
          // Each block's rows of G in panels (forced here; the path of wide G).
          for (const rows of PANEL_BLOCKS) {
            const ap = placed(a0.slice(), true);
            withPanels(rows, () => countsScatterRowsCols(x, off, g, off, ap, off, m, k, p0, p1, n, "wasm"));
            expectSameBits(ap, aj, `countsScatterRows (panels, blocks and tiles of ${rows} rows)`);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("on heap operands the gathers, scatters and conv loops stage nothing (0 staged bytes); foreign operands are staged and counted", () => {
    setKernelBackend("wasm");
    const rng = new Rng(12);
    const m = 37, k = 70, n = 29, wpr = wordsFor(k);
    const g = { h: 9, w: 11, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: 9, ow: 11 };
    const c = 3, o = 13, imgs = 2, cw = wordsFor(g.w), ohw = g.oh * g.ow;
    const run = (heap: boolean, f32: boolean, out32: boolean): number => {
      const before = heapStats().stagedBytes;
      const s = placed(bitRows(m, k, 0.3, rng), heap);
      const w = placed(values(k * n, rng, f32), heap);
      const x = placed((f32 ? Float32Array : Float64Array).from(randCounts(m * k, 0.3, rng)), heap);
      const gr = placed(values(m * n, rng, f32), heap);
      // out32 with float64 sources: a float32 output of the float64 family (summed in a float64 scratch, converted once).
      const y = placed(values(m * n, rng, out32), heap);
      const setup = heapStats().stagedBytes;
      spikeGatherAddWasm(s, 0, wpr, w, 0, y, 0, m, n, true);
      countsGatherAddWasm(x, 0, w, 0, y, 0, m, k, n, false);
      const acc = placed(values(k * n, rng, f32 && out32), heap);
      spikeScatterRowsWords(s, 0, wpr, 0, wpr, gr, 0, acc, 0, m, n, "wasm");
      countsScatterRowsCols(x, 0, gr, 0, acc, 0, m, k, 0, k, n, "wasm");
      const si = placed(bitRows(imgs * c * g.h, g.w, 0.3, rng), heap);
      const wT = placed(values(c * 9 * o, rng, f32), heap);
      const gy = placed(values(imgs * ohw * o, rng, f32), heap);
      const outC = placed(values(imgs * o * ohw, rng, f32 && out32), heap);
      const accW = placed(values(c * 9 * o, rng, f32 && out32), heap);
      spikeConvForwardRange(si, cw, c, g, wT, o, outC, c * g.h * cw, 0, imgs);
      for (const channelsFirst of [false, true]) spikeConvWeightRange(si, c * g.h * cw, imgs, cw, c, 0, c, g, gy, channelsFirst, o, accW);
      // The counts conv: its values (here 1 at every set bit) read in place too.
      const xc = new (f32 && out32 ? Float32Array : Float64Array)(imgs * c * g.h * g.w);
      for (let r = 0; r < imgs * c * g.h; r++) for (let j = 0; j < g.w; j++) if ((si[r * cw + (j >>> 5)]! >>> (j & 31)) & 1) xc[r * g.w + j] = 1;
      const xcp = placed(xc, heap);
      spikeConvForwardRange(si, cw, c, g, wT, o, outC, c * g.h * cw, 0, imgs, xcp);
      for (const channelsFirst of [false, true]) spikeConvWeightRange(si, c * g.h * cw, imgs, cw, c, 0, c, g, gy, channelsFirst, o, accW, xcp);
      const cnt = Int32Array.from({ length: 5 }, () => rng.int(4));
      const idx = Int32Array.from({ length: 5 * 3 }, () => rng.int(k) * n);
      sumBucketsWasm(5, 3, cnt, idx, w, n, acc, 0);
      expect(setup).toBe(before);
      return heapStats().stagedBytes - setup;
    };
    for (const f32 of [true, false]) {
      for (const out32 of [true, false]) {
        expect(run(true, f32, out32)).toBe(0);
        expect(run(false, f32, out32)).toBeGreaterThan(0);
      }
    }
  });

  it("whole ops (spikeConv2d / countsConv2d / spikeConv1d / spikeLinear / countsLinear) forward and backward: js === wasm", () => {
    const cases: { dtype: DType; seed: number }[] = [{ dtype: "float32", seed: 1 }, { dtype: "float64", seed: 2 }, { dtype: "float32", seed: 3 }];
    for (const { dtype, seed } of cases) {
      const run = (be: "js" | "wasm") => {
        setKernelBackend(be);
        const rng = new Rng(seed);
        const out: Tensor[] = [];
        // Conv 2-D: o not a multiple of 4, stride 1 and 2.
        for (const [c, o, h, st] of [[3, 13, 12, 1], [4, 18, 9, 2], [6, 33, 7, 1]] as const) {
          const s = leaf(randSpikes([2, c, h, h + 3], 0.3, rng, dtype));
          const w = leaf(Tensor.uniform([o, c, 3, 3], rng, -1, 1, dtype));
          const b = leaf(Tensor.uniform([o], rng, -1, 1, dtype));
          const y = spikeConv2d(s, w, b, { stride: st, padding: 1 });
          backward(y, Tensor.uniform(y.shape, new Rng(seed + 7), -1, 1, dtype));
          out.push(y, w.grad!, b.grad!, s.grad!);
          // The same convolution of SEW-ADD-like counts (0, 1, 2), sparse enough for the event-driven forward and weight gradient.
          const x = leaf(Tensor.from(randCounts(2 * c * h * (h + 3), 0.15, rng).map((v) => Math.min(v, 2)), [2, c, h, h + 3], dtype));
          const wc = leaf(Tensor.uniform([o, c, 3, 3], rng, -1, 1, dtype));
          const yc = countsConv2d(x, wc, null, { stride: st, padding: 1 });
          backward(yc, Tensor.uniform(yc.shape, new Rng(seed + 11), -1, 1, dtype));
          out.push(yc, wc.grad!, x.grad!);
        }
        {
          const s = leaf(randSpikes([3, 10, 45], 0.2, rng, dtype));
          const w = leaf(Tensor.uniform([22, 10, 1], rng, -1, 1, dtype));
          const y = spikeConv1d(s, w, null);
          backward(y, Tensor.uniform(y.shape, new Rng(seed + 8), -1, 1, dtype));
          out.push(y, w.grad!);
        }
        {
          const s = leaf(randSpikes([37, 70], 0.2, rng, dtype));
          const w = leaf(Tensor.uniform([27, 70], rng, -1, 1, dtype));
          const b = leaf(Tensor.uniform([27], rng, -1, 1, dtype));
          const y = spikeLinear(s, w, b);
          backward(y, Tensor.uniform(y.shape, new Rng(seed + 9), -1, 1, dtype));
          out.push(y, w.grad!, b.grad!);
        }
        {
          const x = leaf(Tensor.from(randCounts(41 * 50, 0.3, rng), [41, 50], dtype));
          const w = leaf(Tensor.uniform([19, 50], rng, -1, 1, dtype));
          const y = countsLinear(x, w, null);
          backward(y, Tensor.uniform(y.shape, new Rng(seed + 10), -1, 1, dtype));
          out.push(y, w.grad!, x.grad!);
        }
        return out;
      };
      const before = spikeSumWasmRuns();
      const js = run("js");
      const mid = spikeSumWasmRuns();
      expect(mid).toBe(before);
      const wasm = run("wasm");
      expect(spikeSumWasmRuns()).toBeGreaterThan(mid);
      expect(wasm.length).toBe(js.length);
      for (let i = 0; i < js.length; i++) expectBitEqual(wasm[i]!, js[i]!, `${dtype} #${i}`);
    }
  });
});
