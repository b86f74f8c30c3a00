import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import { execFileSync } from "node:child_process";
import { gemm, gemmJs, gemmReference, gemmWasm } from "../../src/kernels/gemm/gemm.js";
import { getKernelBackend, setKernelBackend, wasmKernelsEnabled, wasmSimdAvailable } from "../../src/wasm/backend.js";
import { gemmKernelModule, gemmScratchBytes, gemmWasmRuns } from "../../src/kernels/gemm/wasm.js";
import { heapStats } from "../../src/tensor/heap.js";
import { Code, emitModule, I32, sleb, uleb } from "../../src/wasm/emit.js";
import { wasmApi } from "../../src/wasm/runtime.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { Rng } from "../../src/tensor/random.js";
import { model32 } from "../helpers/gemm-model.js";
import { placed } from "../helpers/placed.js";
import { randArray, sameBits } from "../helpers/arrays.js";

const simd = wasmSimdAvailable();
const startBackend = getKernelBackend(); // from BITSPIKE_KERNELS, "auto" when unset
const noSimd = "WebAssembly SIMD is unavailable in this runtime: the WASM twins cannot run";


describe("the WebAssembly emitter", () => {
  it("encodes unsigned LEB128 at the byte boundaries and at 2^32 - 1", () => {
    expect(uleb(0)).toEqual([0x00]);
    expect(uleb(1)).toEqual([0x01]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(16383)).toEqual([0xff, 0x7f]);
    expect(uleb(16384)).toEqual([0x80, 0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(uleb(0x7fffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x07]);
    expect(uleb(0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(() => uleb(-1)).toThrow(RangeError);
    expect(() => uleb(2 ** 32)).toThrow(RangeError);
    expect(() => uleb(1.5)).toThrow(RangeError);
  });

  it("encodes signed LEB128 around the sign-bit boundaries and at the i32 extremes", () => {
    expect(sleb(0)).toEqual([0x00]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]); // bit 6 set would read as negative: one more byte
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(-64)).toEqual([0x40]);
    expect(sleb(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(sleb(0x7fffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x07]);
    expect(sleb(-0x80000000)).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
    expect(() => sleb(0x80000000)).toThrow(RangeError);
  });

  it("LEB128 round-trips every u32 / i32 it is given", () => {
    const du = (b: number[]) => b.reduceRight((v, x) => v * 128 + (x & 0x7f), 0);
    const ds = (b: number[]) => {
      const u = du(b);
      const bits = 7 * b.length;
      return b[b.length - 1]! & 0x40 ? u - 2 ** bits : u;
    };
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => du(uleb(n)) === n));
    fc.assert(fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), (n) => ds(sleb(n)) === n));
  });

  it.skipIf(!simd)("emits modules that validate; a corrupted module does not", () => {
    const api = wasmApi()!;
    const bytes = gemmKernelModule();
    expect(api.validate(bytes)).toBe(true);
    expect(gemmKernelModule()).toEqual(bytes); // deterministic
    const bad = bytes.slice();
    bad[0] = 0x01; // magic
    expect(api.validate(bad)).toBe(false);
    const truncated = bytes.slice(0, bytes.length - 3);
    expect(api.validate(truncated)).toBe(false);
    // An ill-typed body: i32.add with an empty stack.
    const illTyped = emitModule({ minPages: 1, funcs: [{ name: "f", params: [], results: [I32], locals: [], body: new Code().i32Add() }] });
    expect(api.validate(illTyped)).toBe(false);
    // The same shape, well typed, validates (so it is the body that was refused).
    const ok = emitModule({ minPages: 1, funcs: [{ name: "f", params: [], results: [I32], locals: [], body: new Code().i32Const(1).i32Const(2).i32Add() }] });
    expect(api.validate(ok)).toBe(true);
  });
});

describe.skipIf(!simd)(`WASM SIMD gemm twin${simd ? "" : ` (skipped: ${noSimd})`}`, () => {
  afterEach(() => {
    setKernelBackend(startBackend);
  });

  it("matches on products with several column blocks and large k, and on k = 0", () => {
    const rng = new Rng(11);
    for (const [m, n, k, ta, tb] of [[37, 300, 260, false, true], [9, 1100, 70, true, false], [66, 45, 1500, true, true]] as const) {
      for (const f64 of [false, true]) {
        const a = randArray(f64, m * k, rng, false), b = randArray(f64, k * n, rng, false);
        const c0 = randArray(f64, m * n, rng, false);
        for (const acc of [false, true]) {
          const cw = c0.slice(), cr = c0.slice();
          gemmWasm(a, 0, ta, b, 0, tb, cw, 0, m, n, k, acc);
          gemmReference(a, 0, ta, b, 0, tb, cr, 0, m, n, k, acc);
          expect(sameBits(cw, cr)).toBe(true);
        }
      }
    }
    const c = new Float32Array([1, 2, 3, 4]);
    gemmWasm(new Float32Array(0), 0, false, new Float32Array(0), 0, false, c, 0, 2, 2, 0, true);
    expect([...c]).toEqual([1, 2, 3, 4]);
    gemmWasm(new Float32Array(0), 0, false, new Float32Array(0), 0, false, c, 0, 2, 2, 0, false);
    expect([...c]).toEqual([0, 0, 0, 0]);
  });

  it("keeps special values as the reference does (infinities, signed zeros, huge and tiny magnitudes)", () => {
    const vals = [0, -0, 1, -1, Infinity, -Infinity, 1e308, -1e308, 5e-324, 3.4e38, 1e-45];
    const vals32 = [0, -0, 1, -1, Infinity, -Infinity, 3.4e38, -3.4e38, 1e-45, -1e-45, 1.2e-38, 1e19, 1e-19];
    const rng = new Rng(4);
    const m = 5, n = 7, k = 6;
    const pick = (len: number, f32: boolean) => {
      const v = f32 ? vals32 : vals;
      const out = f32 ? new Float32Array(len) : new Float64Array(len);
      for (let i = 0; i < len; i++) out[i] = v[Math.floor(rng.uniform() * v.length)]!;
      return out;
    };
    for (let t = 0; t < 100; t++) {
      const f32 = t % 2 === 1; // both families: float32 overflows, underflows and denormals too
      const a = pick(m * k, f32), b = pick(k * n, f32), c0 = pick(m * n, f32);
      for (const acc of [false, true]) {
        const cw = c0.slice(), cr = c0.slice(), cj = c0.slice();
        gemmWasm(a, 0, false, b, 0, false, cw, 0, m, n, k, acc);
        gemmReference(a, 0, false, b, 0, false, cr, 0, m, n, k, acc);
        gemmJs(a, 0, false, b, 0, false, cj, 0, m, n, k, acc);
        // NaN payloads may differ between engines' SIMD units; compare NaN-ness, and everything else exactly.
        for (let i = 0; i < cw.length; i++) {
          if (Number.isNaN(cr[i]!)) expect(Number.isNaN(cw[i]!) && Number.isNaN(cj[i]!)).toBe(true);
          else expect(Object.is(cw[i], cr[i]) && Object.is(cj[i], cr[i])).toBe(true);
        }
      }
    }
  });

  it("reads and writes heap operands in place: running on heap arrays stages 0 bytes; foreign ones are staged and counted", () => {
    const rng = new Rng(9);
    // Whole tiles only, a ragged right edge, a ragged bottom edge, both; several column blocks (n 1100).
    for (const [m, n, k] of [[16, 32, 24], [12, 29, 7], [13, 40, 9], [37, 300, 260], [9, 1100, 70], [1, 1, 130]] as const) {
      for (const f64 of [false, true]) {
        for (const [ta, tb, acc] of [[false, false, false], [true, true, true], [false, true, true], [true, false, false]] as const) {
          const a = randArray(f64, m * k, rng, true), b = randArray(f64, k * n, rng, true), c0 = randArray(f64, m * n, rng, true);
          const cr = c0.slice();
          gemmReference(a, 0, ta, b, 0, tb, cr, 0, m, n, k, acc);
          const before = heapStats().stagedBytes;
          const cw = placed(c0, true);
          gemmWasm(a, 0, ta, b, 0, tb, cw, 0, m, n, k, acc);
          expect(heapStats().stagedBytes).toBe(before);
          expect(sameBits(cw, cr)).toBe(true);
          // The same operands foreign: the float32 family stages A, B and C in (when accumulating) and C out; the float64 one packs from JS.
          const cf = placed(c0, false);
          gemmWasm(placed(a, false), 0, ta, placed(b, false), 0, tb, cf, 0, m, n, k, acc);
          const staged = f64 ? 0 : 4 * (m * k + k * n + m * n * (acc ? 2 : 1));
          expect(heapStats().stagedBytes - before).toBe(staged);
          expect(sameBits(cf, cr)).toBe(true);
        }
      }
    }
  });

  it("grows its heap scratch on demand and stays right across big, small and big products", () => {
    const rng = new Rng(5);
    const run = (m: number, n: number, k: number, f64 = false, heap = true, ta = false) => {
      const a = randArray(f64, m * k, rng, heap), b = randArray(f64, k * n, rng, heap);
      const cw = new Float32Array(m * n), cj = new Float32Array(m * n);
      gemmWasm(a, 0, ta, b, 0, false, cw, 0, m, n, k, false);
      gemmJs(a, 0, ta, b, 0, false, cj, 0, m, n, k, false);
      expect(sameBits(cw, cj)).toBe(true);
    };
    run(8, 8, 8);
    const before = gemmScratchBytes();
    // Heap operands, A [m, k] as it is: its tiles read it in place, so the scratch holds a block of B and no copy of A.
    run(600, 300, 700);
    expect(gemmScratchBytes()).toBeLessThan(600 * 700 * 4);
    // Transposed A: the scratch holds packed A (600 * 700 * 4 bytes = 1.7 MB) and a block of B, not A or B themselves.
    run(600, 300, 700, false, true, true);
    const grown = gemmScratchBytes();
    expect(grown).toBeGreaterThan(before);
    expect(grown).toBeGreaterThanOrEqual(600 * 700 * 4);
    run(5, 3, 2);
    run(900, 200, 800, false, false, true); // foreign: staged A and B too, and packed A; grows again (old views would be stale)
    expect(gemmScratchBytes()).toBeGreaterThanOrEqual(2 * 900 * 800 * 4);
    run(900, 200, 800, false, false); // foreign, A as it is: its staged copy is read in place
    run(7, 9, 11);
    run(1000, 300, 1000, true); // float64: packed A alone is 1000 * 1000 * 8 bytes
    expect(gemmScratchBytes()).toBeGreaterThanOrEqual(1000 * 1000 * 8);
    run(7, 9, 11);
  });

  it("gemm honours the backend switch: js never runs the WASM kernel, wasm and auto do above the size threshold", () => {
    const rng = new Rng(6);
    const m = 40, n = 50, k = 30;
    for (const f64 of [true, false]) {
      const a = randArray(f64, m * k, rng, false), b = randArray(f64, k * n, rng, false);
      const like = (len: number) => (f64 ? new Float64Array(len) : new Float32Array(len));
      const want = like(m * n);
      gemmReference(a, 0, false, b, 0, false, want, 0, m, n, k, false);
      const results: Record<string, number> = {};
      for (const be of ["js", "wasm", "auto"] as const) {
        expect(setKernelBackend(be)).toBeDefined();
        expect(getKernelBackend()).toBe(be);
        expect(wasmKernelsEnabled()).toBe(be !== "js");
        const runs = gemmWasmRuns();
        const c = like(m * n);
        gemm(a, 0, false, b, 0, false, c, 0, m, n, k, false);
        results[be] = gemmWasmRuns() - runs;
        expect(sameBits(c, want)).toBe(true);
      }
      expect(results.js).toBe(0);
      expect(results.wasm).toBeGreaterThan(0);
      expect(results.auto).toBeGreaterThan(0);
      // Tiny products stay on the reference loop whatever the backend (below 512 multiply-adds for float64, 128 for float32).
      setKernelBackend("wasm");
      const runs = gemmWasmRuns();
      gemm(a, 0, false, b, 0, false, like(16), 0, 4, 4, f64 ? 4 : 2, false);
      expect(gemmWasmRuns()).toBe(runs);
    }
  });

  it("float32 family: equals an independent float32 model, where float64 accumulation would differ, without fused multiply-adds", () => {
    // Ragged shapes across column blocks and both transposes, with accumulate.
    const rng = new Rng(12);
    for (const [m, n, k, ta, tb] of [[13, 29, 37, false, false], [6, 70, 5, true, true], [37, 300, 260, true, false], [66, 45, 1500, false, true]] as const) {
      const a = randArray(false, m * k + 2, rng, false) as Float32Array, b = randArray(false, k * n + 1, rng, false) as Float32Array;
      const c0 = randArray(false, m * n + 5, rng, false) as Float32Array;
      for (const acc of [false, true]) {
        const cw = c0.slice();
        gemmWasm(a, 2, ta, b, 1, tb, cw, 3, m, n, k, acc);
        expect(sameBits(cw, model32(a, 2, ta, b, 1, tb, c0, 3, m, n, k, acc))).toBe(true);
      }
    }
    // 1 + 2^-24 + 2^-24 + ...: stays 1 in float32 (ties to even), not in float64.
    const m = 6, n = 10, k = 40;
    const a = new Float32Array(m * k).fill(2 ** -24);
    for (let i = 0; i < m; i++) a[i * k] = 1;
    const ones = new Float32Array(k * n).fill(1);
    const c32 = new Float32Array(m * n), c64 = new Float64Array(m * n);
    gemmWasm(a, 0, false, ones, 0, false, c32, 0, m, n, k, false);
    gemmWasm(a, 0, false, ones, 0, false, c64, 0, m, n, k, false);
    expect([...new Set(c32)]).toEqual([1]);
    expect([...new Set(c64)]).toEqual([1 + 39 * 2 ** -24]);
    // (1 + 2^-12)^2 rounds to 1 + 2^-11 before C = -(1 + 2^-11) is added: +0 (a fused multiply-add gives 2^-24).
    const x = new Float32Array(16).fill(1 + 2 ** -12);
    const c = new Float32Array(256).fill(-(1 + 2 ** -11));
    gemmWasm(x, 0, false, x, 0, false, c, 0, 16, 16, 1, true);
    for (const v of c) expect(Object.is(v, 0)).toBe(true);
  });

  it("setKernelBackend returns the old setting and refuses unknown names", () => {
    const old = setKernelBackend("js");
    expect(old).toBe(startBackend);
    expect(setKernelBackend("auto")).toBe("js");
    expect(() => setKernelBackend("gpu" as never)).toThrow(BitspikeError);
    expect(getKernelBackend()).toBe("auto");
  });

  it("reads BITSPIKE_KERNELS once at start-up and refuses a bad value", () => {
    const script = 'import { getKernelBackend, wasmKernelsEnabled } from "./src/wasm/backend.ts"; console.log(getKernelBackend(), wasmKernelsEnabled());';
    const run = (value: string) => execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      env: { ...process.env, BITSPIKE_KERNELS: value }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"],
    }).trim();
    expect(run("js")).toBe("js false");
    expect(run("wasm")).toBe("wasm true");
    expect(run("")).toBe("auto true");
    expect(() => run("gpu")).toThrow(/BITSPIKE_KERNELS must be "js", "wasm" or "auto"/);
  });
});
