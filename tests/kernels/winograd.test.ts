import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import { winogradDataRange, winogradFits } from "../../src/kernels/winograd/winograd.js";
import { winogradModule, winogradWasmRuns } from "../../src/kernels/winograd/wasm.js";
import { convDataRange, type ConvDims } from "../../src/kernels/conv/ranges.js";
import { convDataThreads } from "../../src/kernels/conv/threads.js";
import { setKernelBackend, wasmSimdAvailable } from "../../src/wasm/backend.js";
import { wasmApi } from "../../src/wasm/runtime.js";
import { allocFloat } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { expectSameBits } from "../helpers/arrays.js";
import { useSplittingPool } from "../helpers/pool.js";

const simd = wasmSimdAvailable();
useSplittingPool(3);
const noTick = (): void => {};

afterEach(() => {
  setKernelBackend("auto");
});

/** A 3x3, stride-1, pad-1 convolution of n images, cIn -> o channels, h x w. */
function dims(n: number, cIn: number, o: number, h: number, w: number): ConvDims {
  return { n, cIn, o, groups: 1, g: { h, w, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: h, ow: w } };
}

/** Random gy [n, o, h, w] and weight [o, cIn, 3, 3] (float32, in the heap unless `heap` is false). */
function operands(d: ConvDims, rng: Rng, heap = true): { gy: Float32Array; w: Float32Array } {
  const gy = allocFloat("float32", d.n * d.o * d.g.h * d.g.w, heap) as Float32Array;
  const w = allocFloat("float32", d.o * d.cIn * 9, heap) as Float32Array;
  for (let i = 0; i < gy.length; i++) gy[i] = rng.uniform() * 2 - 1;
  for (let i = 0; i < w.length; i++) w[i] = (rng.uniform() * 2 - 1) * 0.2;
  return { gy, w };
}

/** The input gradient through convDataRange (Winograd where it fits) into a NaN-filled gx: every element must be written. */
function data(d: ConvDims, gy: Float32Array, w: Float32Array, heap = true, i0 = 0, i1 = d.n): Float32Array {
  const gx = allocFloat("float32", d.n * d.cIn * d.g.h * d.g.w, heap) as Float32Array;
  gx.fill(NaN);
  convDataRange(d, gy, 0, w, 0, gx, 0, i0, i1, noTick);
  return gx;
}

/** Shapes that take the Winograd path: odd sizes and tile rows that are not multiples of 4 included. */
const shape = fc.record({
  n: fc.integer({ min: 1, max: 3 }), cIn: fc.integer({ min: 16, max: 64 }), o: fc.integer({ min: 16, max: 64 }),
  h: fc.integer({ min: 1, max: 13 }), w: fc.integer({ min: 1, max: 19 }), seed: fc.integer(),
}).filter((s) => s.cIn * s.o * s.h * s.w >= 65536);

describe("Winograd F(2x2, 3x3) input gradient", () => {
  it("is chosen by shape and dtype only: float32, groups 1, 3x3 stride 1 pad 1 dilation 1, >= 16 channels each side, c o h w >= 2^16", () => {
    const d = dims(2, 16, 16, 16, 16);
    expect(winogradFits(dims(2, 16, 16, 15, 16), true)).toBe(false);
    expect(winogradFits(d, true)).toBe(true);
    expect(winogradFits(d, false)).toBe(false);
    expect(winogradFits(dims(2, 15, 32, 16, 16), true)).toBe(false);
    expect(winogradFits(dims(2, 32, 8, 16, 16), true)).toBe(false);
    expect(winogradFits({ ...d, groups: 2 }, true)).toBe(false);
    expect(winogradFits({ ...d, g: { ...d.g, sh: 2, oh: 8 } }, true)).toBe(false);
    expect(winogradFits({ ...d, g: { ...d.g, kh: 1, kw: 1, ph: 0, pw: 0 } }, true)).toBe(false);
    expect(winogradFits({ ...d, g: { ...d.g, dh: 2, ph: 2 } }, true)).toBe(false);
  });

  it("equals the float64 direct input gradient within float32 error, every element written (odd sizes, tile rows not multiples of 4; both backends)", () => {
    fc.assert(fc.property(shape, fc.constantFrom("js" as const, "auto" as const), (s, backend) => {
      const d = dims(s.n, s.cIn, s.o, s.h, s.w);
      const { gy, w } = operands(d, new Rng(s.seed));
      setKernelBackend(backend);
      const gx = data(d, gy, w);
      setKernelBackend("auto");
      // The float64 direct path (im2col + gemm + col2im), and the same on |gy|, |w| for the size of the terms.
      const exact = new Float64Array(gx.length), bound = new Float64Array(gx.length);
      convDataRange(d, Float64Array.from(gy), 0, Float64Array.from(w), 0, exact, 0, 0, d.n, noTick);
      convDataRange(d, Float64Array.from(gy, Math.abs), 0, Float64Array.from(w, Math.abs), 0, bound, 0, 0, d.n, noTick);
      for (let i = 0; i < gx.length; i++) {
        if (!(Math.abs(gx[i]! - exact[i]!) <= 2e-5 * bound[i]! + 1e-30)) {
          expect.fail(`${JSON.stringify(s)}: gx[${i}] = ${gx[i]} vs ${exact[i]} (terms up to ${bound[i]})`);
        }
      }
    }), { numRuns: 60 });
  });

  it.skipIf(!simd)("WASM transforms equal the TypeScript ones bit for bit (image ranges, heap and foreign arrays)", () => {
    expect(wasmApi()!.validate(winogradModule())).toBe(true);
    fc.assert(fc.property(shape, fc.nat(), fc.boolean(), (s, a, heap) => {
      const d = dims(s.n, s.cIn, s.o, s.h, s.w);
      const { gy, w } = operands(d, new Rng(s.seed), heap);
      const i0 = a % d.n, i1 = d.n;
      setKernelBackend("js");
      const before = winogradWasmRuns();
      const js = data(d, gy, w, heap, i0, i1);
      expect(winogradWasmRuns()).toBe(before);
      setKernelBackend("wasm");
      const wasm = data(d, gy, w, heap, i0, i1);
      if (heap) expect(winogradWasmRuns()).toBeGreaterThan(before);
      expectSameBits(wasm, js, JSON.stringify(s));
    }), { numRuns: 60 });
  });

  it("threaded over images (1, 2 and 3 threads; the weight transform split by input channel) gives the one-thread bits, heap or foreign operands", () => {
    const rng = new Rng(7);
    for (const [n, h, w, heap] of [[5, 9, 11, true], [3, 16, 16, true], [7, 7, 7, true], [4, 8, 9, false]] as const) {
      const d = dims(n, 32, 48, h, w);
      expect(winogradFits(d, true)).toBe(true);
      const { gy, w: wt } = operands(d, rng, heap);
      const one = data(d, gy, wt, heap);
      for (const t of [1, 2, 3]) {
        const gx = allocFloat("float32", one.length, heap) as Float32Array;
        convDataThreads(d, gy, wt, gx, t);
        expectSameBits(gx, one, `${n}x${h}x${w}${heap ? "" : " foreign"}, ${t} threads`);
      }
    }
  });
});
