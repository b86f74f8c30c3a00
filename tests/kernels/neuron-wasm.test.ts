import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import { expFdlibm, expNonPositiveF32, sigmoidGradF32 } from "../../src/kernels/neuron/exp.js";
import {
  hardDetachedBackwardRange, hardDetachedBackwardRangeJs, hardDetachedSigmoidBackwardRangeWasm,
  LEAK_DIV, LEAK_MUL, LEAK_NONE, lifForwardRangeWasm, neuronForwardRange, type NeuronKernelParams,
} from "../../src/kernels/neuron/neuron.js";
import { wordsFor } from "../../src/tensor/bits.js";
import { Rng } from "../../src/tensor/random.js";
import { setKernelBackend, wasmSimdAvailable } from "../../src/wasm/backend.js";
import { expF32Wasm, neuronKernelModule, neuronWasmRuns } from "../../src/kernels/neuron/wasm.js";
import { wasmApi } from "../../src/wasm/runtime.js";
import { expectSameBits } from "../helpers/arrays.js";
import { allocFloat } from "../../src/tensor/tensor.js";
import { Spikes } from "../../src/tensor/spikes.js";
import { heapStats } from "../../src/tensor/heap.js";

const simd = wasmSimdAvailable();

/** Where a test puts the kernels' arrays: all in the heap (run in place), all foreign (staged), or each at random. */
const PLACES = ["heap", "foreign", "mixed"] as const;
type Place = (typeof PLACES)[number];
/** A chooser of heap (true) or foreign (false) for each array of one case. */
const placer = (place: Place, rng: Rng) => (): boolean => (place === "mixed" ? rng.uniform() < 0.5 : place === "heap");
/** Initial values: copied from an array, or made per index (typed-array map() would make a foreign array). */
type Init = ArrayLike<number> | ((i: number) => number);
function fill<A extends Float32Array | Uint32Array>(a: A, init?: Init): A {
  if (typeof init === "function") for (let i = 0; i < a.length; i++) a[i] = init(i);
  else if (init) a.set(init);
  return a;
}
/** A float32 array of `n` values (zeros unless `init`) in the heap or foreign. */
const f32 = (n: number, heap: boolean, init?: Init): Float32Array => fill(allocFloat("float32", n, heap) as Float32Array, init);
/** A word array (zeros unless `init`) in the heap or foreign. */
const u32 = (n: number, heap: boolean, init?: Init): Uint32Array => fill(heap ? Spikes.allocWords(n) : new Uint32Array(n), init);

afterEach(() => {
  setKernelBackend("auto");
});

/** Inputs at every branch of fdlibm's exp: its thresholds and their neighbours, specials, and the subnormal range. */
const EXP_EDGES = [
  0, -0, 1, -1, 0.5, -0.5, 2 ** -28, -(2 ** -28), 2 ** -29, 1e-300, -1e-300, 5e-324,
  Math.LN2 / 2, -Math.LN2 / 2, 0.34657359027997264, 0.3465735902799727, 1.5 * Math.LN2, -1.5 * Math.LN2, 1.0397207708399179,
  709.782712893384, 709.7827128933841, 709.78, 709, 708.4, -708.39, -708.4, -709, -740, -745.1332191019411, -745.14, -746,
  NaN, Infinity, -Infinity, Number.MAX_VALUE, -Number.MAX_VALUE,
];

describe("expFdlibm: the exp the sigmoid surrogate uses", () => {
  it("equals V8's Math.exp bit for bit on arbitrary doubles and on every branch's edges", () => {
    for (const x of EXP_EDGES) expect(Object.is(expFdlibm(x), Math.exp(x)), `x = ${x}`).toBe(true);
    fc.assert(fc.property(fc.double(), (x) => Object.is(expFdlibm(x), Math.exp(x))), { numRuns: 20000 });
    fc.assert(fc.property(fc.double({ min: -750, max: 750, noNaN: true }), (x) => Object.is(expFdlibm(x), Math.exp(x))), { numRuns: 20000 });
  });

  it("is e^x: exp(0) = 1, exp(1) = e, exp(-inf) = 0, and within 1 ulp-ish of e^a e^b = e^(a+b)", () => {
    expect(expFdlibm(0)).toBe(1);
    expect(expFdlibm(1)).toBe(Math.E);
    expect(expFdlibm(-Infinity)).toBe(0);
    expect(expFdlibm(710)).toBe(Infinity);
    fc.assert(fc.property(fc.double({ min: -20, max: 20, noNaN: true }), fc.double({ min: -20, max: 20, noNaN: true }), (a, b) =>
      Math.abs(expFdlibm(a) * expFdlibm(b) - expFdlibm(a + b)) <= 1e-14 * expFdlibm(a + b) + 1e-300,
    ));
  });
});

/** Float32 inputs at the float32 exp's edges: zeros, the clamp, tiny, around ln2 / 2, and far below. */
const EXPF_EDGES = [0, -0, -1e-30, -1e-7, -0.34657359, -0.3465736, -0.5, -1, -10, -86.99, -87, -87.01, -88, -103.9, -200, -3e38, -Infinity];

describe("expNonPositiveF32 and sigmoidGradF32: the float32 sigmoid surrogate", () => {
  it("expNonPositiveF32 is within 1 float32 ulp of e^x on [-87, 0], 1 at 0, e^-87 below (the clamp)", () => {
    const ulp = (v: number) => 2 ** (Math.floor(Math.log2(v)) - 23);
    fc.assert(fc.property(fc.float({ min: -87, max: 0, noNaN: true }), (x) => {
      const t = Math.exp(x);
      return Math.fround(expNonPositiveF32(x)) === expNonPositiveF32(x) && Math.abs(expNonPositiveF32(x) - t) <= ulp(t);
    }), { numRuns: 20000 });
    expect(expNonPositiveF32(0)).toBe(1);
    expect(expNonPositiveF32(-1000)).toBe(expNonPositiveF32(-87));
    expect(expNonPositiveF32(-Infinity)).toBe(expNonPositiveF32(-87));
    expect(expNonPositiveF32(NaN)).toBeNaN();
  });

  it("sigmoidGradF32 is alpha s (1 - s) within float32 error, a float32 value, even in z, alpha / 4 at 0", () => {
    fc.assert(fc.property(fc.float({ min: -15, max: 15, noNaN: true }), fc.constantFrom(4, 1, 2.5, 0.3), (z, alpha) => {
      // alpha s (1 - s) = alpha e / (1 + e)^2, e = e^-|alpha z|, in float64 (1 - s itself cancels for large |z|)
      const a = Math.abs(alpha * z), e = Math.exp(-a);
      const want = (alpha * e) / (1 + e) ** 2, got = sigmoidGradF32(alpha, z);
      // the float32 product alpha z carries a relative error up to 2^-24, which e^-a turns into a times that
      const tol = (1e-6 + a * 2 ** -23) * want;
      return Math.fround(got) === got && Math.abs(got - want) <= tol && got === sigmoidGradF32(alpha, -z);
    }), { numRuns: 5000 });
    expect(sigmoidGradF32(4, 0)).toBe(1);
    expect(sigmoidGradF32(4, NaN)).toBeNaN();
  });
});

describe.skipIf(!simd)(`WASM SIMD neuron kernels${simd ? "" : " (skipped: WebAssembly SIMD is unavailable in this runtime)"}`, () => {
  it("the module validates", () => {
    expect(wasmApi()!.validate(neuronKernelModule())).toBe(true);
  });

  it("exp lanes equal expNonPositiveF32 bit for bit (float32 values <= 0, the clamp below -87, odd counts)", () => {
    const edges = Float32Array.from(EXPF_EDGES);
    expectSameBits(expF32Wasm(edges), edges.map(expNonPositiveF32), "edges");
    fc.assert(fc.property(fc.array(fc.float({ max: 0, noNaN: true }), { minLength: 1, maxLength: 41 }), fc.array(fc.float({ min: -120, max: 0, noNaN: true }), { maxLength: 9 }), (xs, ys) => {
      const all = Float32Array.from([...xs, ...ys]);
      expectSameBits(expF32Wasm(all), all.map(expNonPositiveF32), "non-positive");
    }), { numRuns: 300 });
    expect(expF32Wasm(Float32Array.of(NaN))[0]).toBeNaN();
  });

  it("sigmoid backward: WASM twin equals the JS twin bit for bit on ragged shapes, unit ranges, leaks, thresholds and extreme H", () => {
    fc.assert(fc.property(
      fc.record({
        steps: fc.integer({ min: 1, max: 4 }), rows: fc.integer({ min: 1, max: 5 }), cols: fc.integer({ min: 1, max: 70 }),
        leak: fc.constantFrom(LEAK_NONE, LEAK_DIV, LEAK_MUL), decayInput: fc.boolean(),
        vTh: fc.constantFrom(1, 0.5, Math.fround(0.3)), alpha: fc.constantFrom(4, 1, 2.5, 0, -0, -1.5, Infinity),
        rate: fc.constantFrom(0, 0.2, 0.7), zeroRuns: fc.boolean(), specials: fc.boolean(),
        scale: fc.constantFrom(3, 400), seed: fc.integer(), a: fc.nat(), b: fc.nat(),
        place: fc.constantFrom(...PLACES), alias: fc.boolean(),
      }),
      (o) => {
        const rng = new Rng(o.seed);
        const n = o.rows * o.cols, wpr = wordsFor(o.cols), units = o.rows * wpr;
        const p: NeuronKernelParams = {
          steps: o.steps, rows: o.rows, cols: o.cols, leak: o.leak, tau: 2, k: o.leak === LEAK_MUL ? 0.37 : 0.5,
          decayInput: o.decayInput, vTh: o.vTh, vReset: 0, hardReset: true, detachReset: true, f32: true,
        };
        const gS = new Float32Array(o.steps * n), h = new Float32Array(o.steps * n);
        // zeroRuns: gS +-0 over runs of up to 40 (the kernel's exp-free path: a unit's 16-value halves, a row's last groups); specials:
        // H at NaN and +-Infinity now and then (a NaN alpha (h - vTh) must take the exp's way)
        let zeros = 0;
        for (let i = 0; i < gS.length; i++) {
          const u = rng.uniform();
          if (o.zeroRuns && zeros === 0 && u < 0.1) zeros = 1 + Math.floor(rng.uniform() * 40);
          gS[i] = zeros > 0 ? (rng.uniform() < 0.5 ? 0 : -0) : u < 0.15 ? 0 : u < 0.2 ? -0 : rng.uniform() - 0.5; // -0: gH's zero takes gV (1 - S)'s sign
          if (zeros > 0) zeros--;
          h[i] = (rng.uniform() - 0.6) * o.scale; // scale 400: alpha (h - vTh) far below -87, the exp's clamp
          if (o.specials && rng.uniform() < 0.02) h[i] = [NaN, Infinity, -Infinity][Math.floor(rng.uniform() * 3)]!;
        }
        const words = new Uint32Array(o.steps * units);
        for (let i = 0; i < words.length; i++) for (let bit = 0; bit < 32; bit++) if (rng.uniform() < o.rate) words[i]! |= 1 << bit;
        const u0 = o.a % (units + 1), u1 = u0 + (o.b % (units - u0 + 1));
        // The WASM twin's arrays in the heap (in place) or foreign (staged); with `alias`, gx is gS (written over it).
        const at = placer(o.place, rng);
        const gSW = f32(gS.length, at(), gS), hW = f32(h.length, at(), h), wordsW = u32(words.length, at(), words);
        const gxJ = o.alias ? gS.slice() : new Float32Array(o.steps * n).fill(7);
        const gxW = o.alias ? gSW : f32(o.steps * n, at(), gxJ);
        hardDetachedBackwardRangeJs(o.alias ? gxJ : gS, h, words, p, o.alpha, gxJ, new Float64Array(n), u0, u1);
        hardDetachedSigmoidBackwardRangeWasm(gSW, hW, wordsW, p, o.alpha, gxW, u0, u1);
        expectSameBits(gxW, gxJ, `units ${u0}..${u1} of ${units}, ${o.place}`); // also: nothing outside the range written
        expectSameBits(hW, h, "H unchanged");
        expectSameBits(wordsW, words, "words unchanged");
      },
    ), { numRuns: 400 });
  });

  it("long rows run in place in one call with the same bits; the dispatcher follows the backend", () => {
    const rng = new Rng(3);
    const steps = 2, rows = 3, cols = 6001, n = rows * cols, wpr = wordsFor(cols);
    const p: NeuronKernelParams = { steps, rows, cols, leak: LEAK_DIV, tau: 2, k: 0.5, decayInput: true, vTh: 1, vReset: 0, hardReset: true, detachReset: true, f32: true };
    const gS = f32(steps * n, true, () => rng.uniform() - 0.5);
    const h = f32(steps * n, true, () => rng.uniform() * 2 - 0.5);
    const words = u32(steps * rows * wpr, true, () => (rng.uniform() * 2 ** 32) >>> 0);
    const run = (backend: "js" | "wasm"): { gx: Float32Array; wasmRuns: number } => {
      setKernelBackend(backend);
      const gx = f32(steps * n, true), before = neuronWasmRuns();
      hardDetachedBackwardRange(gS, h, words, p, 4, gx, new Float64Array(n), 0, rows * wpr);
      return { gx, wasmRuns: neuronWasmRuns() - before };
    };
    const js = run("js"), wasm = run("wasm");
    expect(js.wasmRuns).toBe(0);
    expect(wasm.wasmRuns).toBe(1); // 18,003 elements a step, all steps: one call
    expectSameBits(wasm.gx, js.gx, "long rows");
  });

  it("LIF forward runs the WASM twin only for float32 constants; otherwise the JS twin, and the WASM twin refuses", () => {
    const p: NeuronKernelParams = { steps: 2, rows: 2, cols: 40, leak: LEAK_DIV, tau: 2, k: 0.5, decayInput: true, vTh: 1, vReset: 0, hardReset: true, detachReset: true, f32: true };
    const x = new Float32Array(160).map((_, i) => (i % 7) * 0.4);
    const runs = (q: NeuronKernelParams): number => {
      setKernelBackend("wasm");
      const before = neuronWasmRuns();
      neuronForwardRange(x, q, null, new Uint32Array(8), new Float32Array(80), 0, 4);
      return neuronWasmRuns() - before;
    };
    expect(runs(p)).toBe(1);
    expect(runs({ ...p, tau: 1.3 })).toBe(0); // 1.3 is not a float32 value: the lanes would use another tau
    expect(() => lifForwardRangeWasm(x, { ...p, vTh: 0.1 }, null, new Uint32Array(8), new Float32Array(80), 0, 4))
      .toThrow(/lifForwardRangeWasm: needs a float32 LIF or PLIF .* vTh 0\.1/);
  });

  it("sigmoid backward runs the WASM twin only for float32 constants; otherwise the JS twin, and the WASM twin refuses", () => {
    const p: NeuronKernelParams = { steps: 2, rows: 2, cols: 40, leak: LEAK_DIV, tau: 2, k: 0.5, decayInput: true, vTh: 1, vReset: 0, hardReset: true, detachReset: true, f32: true };
    const gS = new Float32Array(160).map((_, i) => (i % 5) * 0.1 - 0.2), h = new Float32Array(160).map((_, i) => (i % 7) * 0.4);
    const runs = (q: NeuronKernelParams, alpha: number): number => {
      setKernelBackend("wasm");
      const before = neuronWasmRuns();
      hardDetachedBackwardRange(gS, h, new Uint32Array(8), q, alpha, new Float32Array(160), new Float64Array(80), 0, 4);
      return neuronWasmRuns() - before;
    };
    expect(runs(p, 4)).toBe(1);
    expect(runs({ ...p, vTh: 0.3 }, 4)).toBe(0); // 0.3 is not a float32 value: the lanes would use another threshold
    expect(runs(p, 1.3)).toBe(0);
    expect(runs({ ...p, f32: false }, 4)).toBe(0);
    expect(() => hardDetachedSigmoidBackwardRangeWasm(gS, h, new Uint32Array(8), { ...p, vTh: 0.3 }, 4, new Float32Array(160), 0, 4))
      .toThrow(/hardDetachedSigmoidBackwardRangeWasm: needs .*vTh 0\.3/);
  });

  it("on heap arrays both kernels run in place: no staged bytes; foreign arrays are staged and counted", () => {
    const rng = new Rng(5);
    const steps = 3, rows = 7, cols = 45, n = rows * cols, wpr = wordsFor(cols), units = rows * wpr;
    const p: NeuronKernelParams = { steps, rows, cols, leak: LEAK_DIV, tau: 2, k: 0.5, decayInput: true, vTh: 1, vReset: 0, hardReset: true, detachReset: true, f32: true };
    const staged = (heap: boolean): number => {
      const x = f32(steps * n, heap, () => rng.uniform() * 3 - 1), h = f32(steps * n, heap), v = f32(n, heap), gx = f32(steps * n, heap);
      const words = u32(steps * units, heap);
      const before = heapStats().stagedBytes;
      lifForwardRangeWasm(x, p, h, words, v, 0, units);
      hardDetachedSigmoidBackwardRangeWasm(x, h, words, p, 4, gx, 1, units);
      return heapStats().stagedBytes - before;
    };
    expect(staged(true)).toBe(0);
    expect(staged(false)).toBeGreaterThan(0);
  });

  it("errors name the kernel", () => {
    const p: NeuronKernelParams = { steps: 1, rows: 1, cols: 2, leak: LEAK_DIV, tau: 2, k: 0.5, decayInput: true, vTh: 1, vReset: 0, hardReset: true, detachReset: true, f32: false };
    expect(() => hardDetachedSigmoidBackwardRangeWasm(new Float32Array(2), new Float32Array(2), new Uint32Array(1), p, 4, new Float32Array(2), 0, 1))
      .toThrow(/hardDetachedSigmoidBackwardRangeWasm: .*float32/);
  });
});
