import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  geluBackwardRange, geluBackwardRangeF32, geluForwardRange, geluForwardRangeF32, geluRangeWasm,
} from "../../src/kernels/gelu/gelu.js";
import { geluModule, geluWasmRuns } from "../../src/kernels/gelu/wasm.js";
import { allocFloat } from "../../src/tensor/tensor.js";
import { setKernelBackend } from "../../src/wasm/backend.js";
import { wasmApi } from "../../src/wasm/runtime.js";
import { wasmSimdAvailable } from "../../src/wasm/backend.js";
import { geluBackwardThreads, geluForwardThreads } from "../../src/kernels/gelu/threads.js";
import { Rng } from "../../src/tensor/random.js";
import { placed } from "../helpers/placed.js";
import { describeTwins } from "../helpers/twins.js";

/** x and g over both of erf's regions (|x / sqrt 2| on either side of 2.5) and the tails, float32 or float64, heap or foreign; lengths across the split's 256-element runs (and not multiples of 4). */
interface GeluCase { x: Float32Array | Float64Array; g: Float32Array | Float64Array; heap: boolean }

const arbGelu: fc.Arbitrary<GeluCase> = fc
  .record({ n: fc.integer({ min: 0, max: 1300 }), f32: fc.boolean(), heap: fc.boolean(), seed: fc.integer() })
  .map((o) => {
    const rng = new Rng(o.seed);
    const make = (scale: number) => {
      const a = o.f32 ? new Float32Array(o.n) : new Float64Array(o.n);
      for (let i = 0; i < o.n; i++) a[i] = (rng.uniform() - 0.5) * scale;
      return placed(a, o.heap);
    };
    return { x: make(16), g: make(2), heap: o.heap };
  });

/** Forward and backward through the given twins. */
const both = (fwd: (c: GeluCase, out: Float32Array | Float64Array) => void, bwd: (c: GeluCase, dx: Float32Array | Float64Array) => void) => (c: GeluCase) => {
  const out = placed(c.x.slice().fill(NaN), c.heap), dx = placed(c.x.slice().fill(NaN), c.heap);
  fwd(c, out);
  bwd(c, dx);
  return [out, dx];
};

/** The plain loops: float32 arithmetic on float32 data, float64 otherwise (the dispatch picks the same). */
const fwdJs = (c: GeluCase, out: Float32Array | Float64Array, i0: number, i1: number): void =>
  c.x instanceof Float32Array ? geluForwardRangeF32(c.x, out, i0, i1) : geluForwardRange(c.x, out, i0, i1);
const bwdJs = (c: GeluCase, dx: Float32Array | Float64Array, i0: number, i1: number): void =>
  c.x instanceof Float32Array ? geluBackwardRangeF32(c.x, c.g, dx, i0, i1) : geluBackwardRange(c.x, c.g, dx, i0, i1);

describeTwins("gelu", arbGelu, {
  reference: both((c, out) => fwdJs(c, out, 0, c.x.length), (c, dx) => bwdJs(c, dx, 0, c.x.length)),
  // The ranges in two pieces: a twin must start and stop anywhere.
  js: both(
    (c, out) => { const k = c.x.length >> 1; fwdJs(c, out, 0, k); fwdJs(c, out, k, c.x.length); },
    (c, dx) => { const k = c.x.length >> 1; bwdJs(c, dx, 0, k); bwdJs(c, dx, k, c.x.length); },
  ),
  // The WASM lanes take float32 heap arrays (the dispatch keeps the rest on the loops); odd starts and lengths.
  wasm: both(
    (c, out) => { const k = c.x.length >> 1; for (const [a, b] of [[0, k], [k, c.x.length]] as const) (wasmFits(c) ? (i0: number, i1: number) => geluRangeWasm(false, c.x, c.x, out, i0, i1) : (i0: number, i1: number) => fwdJs(c, out, i0, i1))(a, b); },
    (c, dx) => { const k = c.x.length >> 1; for (const [a, b] of [[0, k], [k, c.x.length]] as const) (wasmFits(c) ? (i0: number, i1: number) => geluRangeWasm(true, c.x, c.g, dx, i0, i1) : (i0: number, i1: number) => bwdJs(c, dx, i0, i1))(a, b); },
  ),
  dispatch: both((c, out) => geluForwardRange(c.x, out, 0, c.x.length), (c, dx) => geluBackwardRange(c.x, c.g, dx, 0, c.x.length)),
  threads: (c, t) => both((cc, out) => geluForwardThreads(cc.x, out, t), (cc, dx) => geluBackwardThreads(cc.x, cc.g, dx, t))(c),
}, 60);

function wasmFits(c: GeluCase): boolean {
  return c.heap && c.x instanceof Float32Array;
}

describe("float32 GELU", () => {
  it.skipIf(!wasmSimdAvailable())("the WASM module validates; the dispatch runs it for float32 heap arrays only", () => {
    expect(wasmApi()!.validate(geluModule())).toBe(true);
    const runs = (x: Float32Array | Float64Array, backend: "auto" | "js"): number => {
      setKernelBackend(backend);
      const before = geluWasmRuns();
      geluForwardRange(x, x, 0, x.length); // in place: out is x's kind of array
      setKernelBackend("auto");
      return geluWasmRuns() - before;
    };
    const heap32 = allocFloat("float32", 9, true) as Float32Array;
    expect(runs(heap32, "auto")).toBe(1);
    expect(runs(heap32, "js")).toBe(0);
    expect(runs(new Float32Array(9), "auto")).toBe(0); // foreign: the TypeScript twin
    expect(runs(allocFloat("float64", 9, true) as Float64Array, "auto")).toBe(0);
  });

  it("is the float64 GELU within float32 error: (6e-7 + 1.5e-7 x^2) relative forward, 1e-6 (1 + x^2 / 4) |g| backward (1e-36 absolute: below the normal range)", () => {
    fc.assert(fc.property(fc.float({ min: -20, max: 20, noNaN: true }), fc.float({ min: -2, max: 2, noNaN: true }), (x, g) => {
      const x32 = Float32Array.of(x), g32 = Float32Array.of(g), y32 = new Float32Array(1), d32 = new Float32Array(1);
      const x64 = Float64Array.of(x), g64 = Float64Array.of(g), y64 = new Float64Array(1), d64 = new Float64Array(1);
      geluForwardRangeF32(x32, y32, 0, 1);
      geluBackwardRangeF32(x32, g32, d32, 0, 1);
      geluForwardRange(x64, y64, 0, 1);
      geluBackwardRange(x64, g64, d64, 0, 1);
      const fwdOk = Math.abs(y32[0]! - y64[0]!) <= (6e-7 + 1.5e-7 * x * x) * Math.abs(y64[0]!) + 1e-36;
      const bwdOk = Math.abs(d32[0]! - d64[0]!) <= 1e-6 * (1 + (x * x) / 4) * Math.abs(g) + 1e-36;
      return fwdOk && bwdOk;
    }), { numRuns: 20000 });
  });
});
