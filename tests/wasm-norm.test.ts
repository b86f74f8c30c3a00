import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  channelAffine, channelAffineWasm, channelGradInput, channelGradInputWasm, channelGradSumsReference,
  channelGradSumsWasm, channelMeanVar, channelMeanVarReference, channelMeanVarWasm,
} from "../src/kernels/norm.js";
import { Rng } from "../src/tensor/random.js";
import { setKernelBackend, wasmSimdAvailable } from "../src/wasm/backend.js";
import { normKernelModule, normWasmRuns } from "../src/wasm/norm-kernel.js";
import { wasmApi } from "../src/wasm/runtime.js";
import { expectSameBits } from "./helpers/arrays.js";

const simd = wasmSimdAvailable();

afterEach(() => {
  setKernelBackend("auto");
});

/** Values with varied exponents and signs (so the summation order shows in the bits). */
function values(n: number, rng: Rng): Float32Array {
  return new Float32Array(n).map(() => (rng.uniform() < 0.05 ? 0 : (rng.uniform() - 0.3) * 2 ** (rng.int(20) - 10)));
}
const vec = (c: number, rng: Rng, lo: number) => new Float64Array(c).map(() => lo + rng.uniform());

describe.skipIf(!simd)(`WASM SIMD batch-norm passes${simd ? "" : " (skipped: WebAssembly SIMD is unavailable in this runtime)"}`, () => {
  it("the module validates", () => {
    expect(wasmApi()!.validate(normKernelModule())).toBe(true);
  });

  it("mean/var, gradient sums, affine and input gradient equal the JS passes bit for bit ([rows, C] and [N, C, S]; ragged C and S; one or many blocks)", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 37 }), fc.constantFrom(1, 1, 2, 3, 16, 49), fc.boolean(), fc.integer(), (n0, c, s, many, seed) => {
      const rng = new Rng(seed);
      const n = many ? n0 * Math.ceil(211 / s) : n0; // then n C S values run past the 16,384-value block
      const x = values(n * c * s, rng), g = values(n * c * s, rng);
      const mean = new Float64Array(c), varB = new Float64Array(c), mw = new Float64Array(c), vw = new Float64Array(c);
      channelMeanVarReference(x, n, c, s, mean, varB);
      channelMeanVarWasm(x, n, c, s, mw, vw);
      expectSameBits(mw, mean, "mean");
      expectSameBits(vw, varB, "var");
      const invStd = vec(c, rng, 0.5);
      const sg = new Float64Array(c), sgx = new Float64Array(c), sgw = new Float64Array(c), sgxw = new Float64Array(c);
      channelGradSumsReference(g, x, n, c, s, mean, invStd, sg, sgx);
      channelGradSumsWasm(g, x, n, c, s, mean, invStd, sgw, sgxw);
      expectSameBits(sgw, sg, "sum g");
      expectSameBits(sgxw, sgx, "sum g xhat");
      const scale = vec(c, rng, -0.5), shift = vec(c, rng, -0.5), k = vec(c, rng, 0.1), a = vec(c, rng, -0.5), b = vec(c, rng, -0.5);
      setKernelBackend("js");
      const out = new Float32Array(n * c * s), dx = new Float32Array(n * c * s);
      channelAffine(x, out, n, c, s, scale, shift);
      channelGradInput(g, x, dx, n, c, s, mean, invStd, k, a, b);
      const outW = new Float32Array(n * c * s), dxW = new Float32Array(n * c * s);
      channelAffineWasm(x, outW, n, c, s, scale, shift);
      channelGradInputWasm(g, x, dxW, n, c, s, mean, invStd, k, a, b);
      expectSameBits(outW, out, "affine");
      expectSameBits(dxW, dx, "grad input");
    }), { numRuns: 120 });
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
