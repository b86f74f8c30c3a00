import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { adamwRange, adamwRangeReference, adamwRangeWasm, type AdamWStep } from "../../src/kernels/optim/adamw.js";
import { adamwThreads } from "../../src/kernels/optim/threads.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { Rng } from "../../src/tensor/random.js";
import { inHeap } from "../../src/tensor/heap.js";
import { wasmSimdAvailable } from "../../src/wasm/backend.js";
import { placed } from "../helpers/placed.js";
import { describeTwins } from "../helpers/twins.js";

/**
 * AdamW updates of ragged lengths (SIMD pairs and a lone last element), float32 or float64, heap or
 * foreign arrays; gradients and moments over many binades with zeros of both signs and a few
 * infinities; the step's constants as the optimizer makes them, from its first step to late ones,
 * with and without weight decay.
 */
interface AdamWCase { p: Float32Array | Float64Array; g: Float32Array | Float64Array; m: Float32Array | Float64Array; v: Float32Array | Float64Array; s: AdamWStep; heap: boolean }

const arbAdamW: fc.Arbitrary<AdamWCase> = fc
  .record({
    n: fc.integer({ min: 0, max: 70 }), f32: fc.boolean(), heap: fc.boolean(), seed: fc.integer(),
    t: fc.integer({ min: 1, max: 5000 }), lr: fc.double({ min: 1e-6, max: 0.1, noNaN: true }), wd: fc.constantFrom(0, 0.01, 0.05),
    b1: fc.constantFrom(0.9, 0.8), b2: fc.constantFrom(0.999, 0.95), eps: fc.constantFrom(1e-8, 1e-6),
  })
  .map((o) => {
    const rng = new Rng(o.seed);
    const make = (positive: boolean) => {
      const x = o.f32 ? new Float32Array(o.n) : new Float64Array(o.n);
      for (let i = 0; i < o.n; i++) {
        const u = rng.uniform();
        const mag = 2 ** (rng.int(60) - 40);
        x[i] = u < 0.04 ? (positive ? 0 : -0) : u < 0.06 ? 0 : u < 0.07 ? Infinity : (positive ? rng.uniform() : rng.uniform() - 0.5) * mag;
      }
      return placed(x, o.heap);
    };
    const s: AdamWStep = {
      b1: o.b1, b2: o.b2, decay: 1 - o.lr * o.wd, stepSize: o.lr / (1 - Math.pow(o.b1, o.t)), sqrtBc2: Math.sqrt(1 - Math.pow(o.b2, o.t)), eps: o.eps,
    };
    return { p: make(false), g: make(false), m: make(false), v: make(true), s, heap: o.heap };
  });

/** Runs a twin on copies of the case's arrays; returns the parameter and both moments. */
const run = (f: (p: AdamWCase["p"], g: AdamWCase["g"], m: AdamWCase["m"], v: AdamWCase["v"], s: AdamWStep) => void) => (c: AdamWCase) => {
  const [p, m, v] = [c.p, c.m, c.v].map((a) => placed(a, c.heap));
  f(p!, c.g, m!, v!, c.s);
  return [p!, m!, v!];
};

/** A range twin over two ranges (the first ending on an odd element, so the second starts mid-pair). */
const halves = (f: typeof adamwRangeReference) => run((p, g, m, v, s) => {
  const k = Math.min(p.length, Math.floor(p.length / 2) | 1);
  f(p, g, m, v, s, 0, k);
  f(p, g, m, v, s, k, p.length);
});

describeTwins("AdamW update", arbAdamW, {
  reference: run((p, g, m, v, s) => adamwRangeReference(p, g, m, v, s, 0, p.length)),
  js: halves(adamwRangeReference),
  // The WASM twin takes float32 heap arrays only (the dispatch keeps the others on the loop).
  wasm: halves((p, g, m, v, s, i0, i1) =>
    ([p, g, m, v].every((a) => a instanceof Float32Array && inHeap(a)) ? adamwRangeWasm : adamwRangeReference)(p, g, m, v, s, i0, i1)),
  dispatch: halves(adamwRange),
  threads: (c, t) => run((p, g, m, v, s) => adamwThreads(p, g, m, v, s, t))(c),
}, 150);

describe("AdamW update: the WASM twin's refusals", () => {
  it.skipIf(!wasmSimdAvailable())("refuses float64 or foreign arrays with the op's name", () => {
    const s: AdamWStep = { b1: 0.9, b2: 0.999, decay: 1, stepSize: 1e-3, sqrtBc2: 1, eps: 1e-8 };
    const heap32 = () => placed(new Float32Array(4), true);
    expect(() => adamwRangeWasm(placed(new Float64Array(4), true), heap32(), heap32(), heap32(), s, 0, 4)).toThrow(BitspikeError);
    expect(() => adamwRangeWasm(heap32(), new Float32Array(4), heap32(), heap32(), s, 0, 4)).toThrow(/adamwRangeWasm: needs float32 arrays in the heap/);
  });
});
