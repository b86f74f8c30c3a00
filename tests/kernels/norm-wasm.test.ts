import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  channelAffine, channelAffineWasm, channelGradInput, channelGradInputWasm, channelGradSumsReference,
  channelGradSumsWasm, channelMeanVar, channelMeanVarReference, channelMeanVarWasm,
} from "../../src/kernels/norm/norm.js";
import { Rng } from "../../src/tensor/random.js";
import { setKernelBackend, wasmSimdAvailable } from "../../src/wasm/backend.js";
import { normKernelModule, normWasmRuns } from "../../src/kernels/norm/wasm.js";
import { wasmApi } from "../../src/wasm/runtime.js";
import { expectSameBits } from "../helpers/arrays.js";
import { allocFloat } from "../../src/tensor/tensor.js";
import { heapStats } from "../../src/tensor/heap.js";

const simd = wasmSimdAvailable();

afterEach(() => {
  setKernelBackend("auto");
});

/** Values with varied exponents and signs (so the summation order shows in the bits). */
function values(n: number, rng: Rng): Float32Array {
  return new Float32Array(n).map(() => (rng.uniform() < 0.05 ? 0 : (rng.uniform() - 0.3) * 2 ** (rng.int(20) - 10)));
}
const vec = (c: number, rng: Rng, lo: number) => new Float64Array(c).map(() => lo + rng.uniform());
/** A float32 copy of `a` (or n zeros) in the heap (the passes run in place) or foreign (staged). */
function placed(heap: boolean, a: Float32Array | number): Float32Array {
  const out = allocFloat("float32", typeof a === "number" ? a : a.length, heap) as Float32Array;
  if (typeof a !== "number") out.set(a);
  return out;
}

describe.skipIf(!simd)(`WASM SIMD batch-norm passes${simd ? "" : " (skipped: WebAssembly SIMD is unavailable in this runtime)"}`, () => {
  it("the module validates", () => {
    expect(wasmApi()!.validate(normKernelModule())).toBe(true);
  });

  it("mean/var, gradient sums, affine and input gradient equal the JS passes bit for bit ([rows, C] and [N, C, S]; ragged C and S; small and large; heap and foreign arrays)", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 37 }), fc.constantFrom(1, 1, 2, 3, 16, 49), fc.boolean(), fc.integer(), fc.constantFrom("heap", "foreign", "mixed"), (n0, c, s, many, seed, place) => {
      const rng = new Rng(seed);
      const n = many ? n0 * Math.ceil(211 / s) : n0; // large: hundreds to thousands of values a channel
      const x = values(n * c * s, rng), g = values(n * c * s, rng);
      // The WASM twins' arrays in the heap (in place), foreign (staged), or each at random.
      const at = (): boolean => (place === "mixed" ? rng.uniform() < 0.5 : place === "heap");
      const xW = placed(at(), x), gW = placed(at(), g);
      const mean = new Float64Array(c), varB = new Float64Array(c), mw = new Float64Array(c), vw = new Float64Array(c);
      channelMeanVarReference(x, n, c, s, mean, varB);
      channelMeanVarWasm(xW, n, c, s, mw, vw);
      expectSameBits(mw, mean, "mean");
      expectSameBits(vw, varB, "var");
      const invStd = vec(c, rng, 0.5);
      const sg = new Float64Array(c), sgx = new Float64Array(c), sgw = new Float64Array(c), sgxw = new Float64Array(c);
      channelGradSumsReference(g, x, n, c, s, mean, invStd, sg, sgx);
      channelGradSumsWasm(gW, xW, n, c, s, mean, invStd, sgw, sgxw);
      expectSameBits(sgw, sg, "sum g");
      expectSameBits(sgxw, sgx, "sum g xhat");
      const scale = vec(c, rng, -0.5), shift = vec(c, rng, -0.5), k = vec(c, rng, 0.1), a = vec(c, rng, -0.5), b = vec(c, rng, -0.5);
      setKernelBackend("js");
      const out = new Float32Array(n * c * s), dx = new Float32Array(n * c * s);
      channelAffine(x, out, n, c, s, scale, shift);
      channelGradInput(g, x, dx, n, c, s, mean, invStd, k, a, b);
      const outW = placed(at(), n * c * s), dxW = placed(at(), n * c * s);
      channelAffineWasm(xW, outW, n, c, s, scale, shift);
      channelGradInputWasm(gW, xW, dxW, n, c, s, mean, invStd, k, a, b);
      expectSameBits(outW, out, "affine");
      expectSameBits(dxW, dx, "grad input");
      expectSameBits(xW, x, "x unchanged");
      expectSameBits(gW, g, "g unchanged");
    }), { numRuns: 120 });
  });

  it("on heap arrays every pass runs in place: no staged bytes; foreign arrays are staged and counted", () => {
    const rng = new Rng(2);
    for (const [n, c, s] of [[37, 9, 1], [5, 7, 13]] as const) {
      const staged = (heap: boolean): number => {
        const x = placed(heap, values(n * c * s, rng)), g = placed(heap, values(n * c * s, rng)), out = placed(heap, n * c * s);
        const m = new Float64Array(c), v = vec(c, rng, 0.5), before = heapStats().stagedBytes;
        channelMeanVarWasm(x, n, c, s, m, new Float64Array(c));
        channelGradSumsWasm(g, x, n, c, s, m, v, new Float64Array(c), new Float64Array(c));
        channelAffineWasm(x, out, n, c, s, v, v);
        channelGradInputWasm(g, x, out, n, c, s, m, v, v, v, v);
        return heapStats().stagedBytes - before;
      };
      expect(staged(true), `[${n}, ${c}, ${s}]`).toBe(0);
      expect(staged(false), `[${n}, ${c}, ${s}]`).toBeGreaterThan(0);
    }
  });

  it("the passes take the WASM twin for float32 tensors that are not tiny, and follow the backend", () => {
    const rng = new Rng(1);
    const runs = (n: number, c: number, s: number, backend: "js" | "wasm"): number => {
      setKernelBackend(backend);
      const before = normWasmRuns();
      channelMeanVar(values(n * c * s, rng), n, c, s, new Float64Array(c), new Float64Array(c));
      return normWasmRuns() - before;
    };
    expect(runs(64, 32, 1, "wasm")).toBe(2); // sums, then squared deviations
    expect(runs(64, 32, 1, "js")).toBe(0);
    expect(runs(4, 8, 1, "wasm")).toBe(0); // tiny: the call costs more than the loop
    expect(runs(8, 32, 16, "wasm")).toBe(2); // [N, C, S]: the run form
    expect(runs(2, 4, 16, "wasm")).toBe(0);
  });
});
