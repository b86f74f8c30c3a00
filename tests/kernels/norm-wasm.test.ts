import { placed } from "../helpers/placed.js";
import { afterEach, describe, expect, it } from "vitest";
import {
  channelAffineWasm, channelGradInputWasm, channelGradSumsWasm, channelMeanVar, channelMeanVarWasm,
} from "../../src/kernels/norm/norm.js";
import { Rng } from "../../src/tensor/random.js";
import { setKernelBackend, wasmSimdAvailable } from "../../src/wasm/backend.js";
import { normKernelModule, normWasmRuns } from "../../src/kernels/norm/wasm.js";
import { wasmApi } from "../../src/wasm/runtime.js";
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
// Bit-equality with the other twins: tests/kernels/norm.test.ts.
describe.skipIf(!simd)(`WASM SIMD batch-norm passes${simd ? "" : " (skipped: WebAssembly SIMD is unavailable in this runtime)"}`, () => {
  it("the module validates", () => {
    expect(wasmApi()!.validate(normKernelModule())).toBe(true);
  });

  it("on heap arrays every pass runs in place: no staged bytes; foreign arrays are staged and counted", () => {
    const rng = new Rng(2);
    for (const [n, c, s] of [[37, 9, 1], [5, 7, 13]] as const) {
      const staged = (heap: boolean): number => {
        const x = placed(values(n * c * s, rng), heap), g = placed(values(n * c * s, rng), heap), out = placed(new Float32Array(n * c * s), heap);
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
    expect(runs(64, 32, 1, "wasm")).toBe(1); // one pass of shifted sums
    expect(runs(64, 32, 1, "js")).toBe(0);
    expect(runs(4, 8, 1, "wasm")).toBe(0); // tiny: the call costs more than the loop
    expect(runs(8, 32, 16, "wasm")).toBe(1); // [N, C, S]: the run form
    expect(runs(2, 4, 16, "wasm")).toBe(0);
  });
});
