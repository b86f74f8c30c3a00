import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import { F23, F43, winogradDataRange, winogradFits, winogradVariant, type WinogradVariant } from "../../src/kernels/winograd/winograd.js";
import { winograd23Module } from "../../src/kernels/winograd/f23-wasm.js";
import { winograd43Module } from "../../src/kernels/winograd/f43-wasm.js";
import { winogradWasmRuns } from "../../src/kernels/winograd/wasm-common.js";
import { INPUT, OUTPUT, runProgram, transform2d, WEIGHT } from "../../src/kernels/winograd/transforms.js";
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

/**
 * The input gradient into a NaN-filled gx (every element must be written): through convDataRange (Winograd
 * where it fits, the shape's variant), or by `variant` when given.
 */
function data(d: ConvDims, gy: Float32Array, w: Float32Array, heap = true, i0 = 0, i1 = d.n, variant?: WinogradVariant): Float32Array {
  const gx = allocFloat("float32", d.n * d.cIn * d.g.h * d.g.w, heap) as Float32Array;
  gx.fill(NaN);
  if (variant === undefined) convDataRange(d, gy, 0, w, 0, gx, 0, i0, i1, noTick);
  else winogradDataRange(d, gy, 0, w, 0, gx, 0, i0, i1, noTick, null, variant);
  return gx;
}

const VARIANTS = [F23, F43] as const;

/** Shapes that take the Winograd path: odd sizes and tile rows that are not multiples of 4 included. */
const shape = fc.record({
  n: fc.integer({ min: 1, max: 3 }), cIn: fc.integer({ min: 16, max: 64 }), o: fc.integer({ min: 16, max: 64 }),
  h: fc.integer({ min: 1, max: 13 }), w: fc.integer({ min: 1, max: 19 }), seed: fc.integer(),
}).filter((s) => s.cIn * s.o * s.h * s.w >= 65536);

describe("Winograd input gradient (F(2x2, 3x3) and F(4x4, 3x3))", () => {
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
    // The variant, by shape: F(4x4, 3x3) from 24 x 24 images.
    expect(winogradVariant(dims(2, 32, 64, 28, 28))).toBe(F43);
    expect(winogradVariant(dims(2, 48, 96, 32, 32))).toBe(F43);
    expect(winogradVariant(dims(2, 16, 32, 28, 28))).toBe(F43);
    expect(winogradVariant(dims(2, 64, 128, 14, 14))).toBe(F23);
    expect(winogradVariant(dims(2, 192, 384, 16, 16))).toBe(F23);
    expect(winogradVariant(dims(2, 384, 384, 8, 8))).toBe(F23);
    expect(winogradVariant(dims(2, 32, 64, 28, 23))).toBe(F23);
  });

  // Observed max |error| / (the same sum over |gy| and |w|), 40 random shapes: F(2x2) 1.1e-7, F(4x4) 2.6e-6
  // (its transforms' constants reach 5 and 8, and 1/6 and 1/24 are rounded); the bound keeps 7x room.
  it.each(VARIANTS)("$name equals the float64 direct input gradient within float32 error, every element written (odd sizes, tile rows not multiples of 4; both backends)", (variant) => {
    fc.assert(fc.property(shape, fc.constantFrom("js" as const, "auto" as const), (s, backend) => {
      const d = dims(s.n, s.cIn, s.o, s.h, s.w);
      const { gy, w } = operands(d, new Rng(s.seed));
      setKernelBackend(backend);
      const gx = data(d, gy, w, true, 0, d.n, variant);
      setKernelBackend("auto");
      // The float64 direct path (im2col + gemm + col2im), and the same on |gy|, |w| for the size of the terms.
      const exact = new Float64Array(gx.length), bound = new Float64Array(gx.length);
      convDataRange(d, Float64Array.from(gy), 0, Float64Array.from(w), 0, exact, 0, 0, d.n, noTick);
      convDataRange(d, Float64Array.from(gy, Math.abs), 0, Float64Array.from(w, Math.abs), 0, bound, 0, 0, d.n, noTick);
      for (let i = 0; i < gx.length; i++) {
        if (!(Math.abs(gx[i]! - exact[i]!) <= 2e-5 * bound[i]! + 1e-30)) {
          expect.fail(`${variant.name} ${JSON.stringify(s)}: gx[${i}] = ${gx[i]} vs ${exact[i]} (terms up to ${bound[i]})`);
        }
      }
    }), { numRuns: 40 });
  });

  it.skipIf(!simd).each(VARIANTS)("$name: WASM transforms equal the TypeScript ones bit for bit (image ranges, heap and foreign arrays)", (variant) => {
    for (const module of [winograd23Module(), winograd43Module()]) expect(wasmApi()!.validate(module)).toBe(true);
    fc.assert(fc.property(shape, fc.nat(), fc.boolean(), (s, a, heap) => {
      const d = dims(s.n, s.cIn, s.o, s.h, s.w);
      const { gy, w } = operands(d, new Rng(s.seed), heap);
      const i0 = a % d.n, i1 = d.n;
      setKernelBackend("js");
      const before = winogradWasmRuns();
      const js = data(d, gy, w, heap, i0, i1, variant);
      expect(winogradWasmRuns()).toBe(before);
      setKernelBackend("wasm");
      const wasm = data(d, gy, w, heap, i0, i1, variant);
      if (heap) expect(winogradWasmRuns()).toBeGreaterThan(before);
      expectSameBits(wasm, js, `${variant.name} ${JSON.stringify(s)}`);
    }), { numRuns: 40 });
  });

  it("F(4x4, 3x3)'s transform programs are B^T, G and A^T (float64 inputs that keep every step exact), and one tile is the direct correlation", () => {
    const rng = new Rng(3);
    const BT = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]];
    const AT = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]];
    const G = [[0.25, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]];
    for (let trial = 0; trial < 20; trial++) {
      for (const [p, mat] of [[INPUT, BT], [OUTPUT, AT]] as const) {
        const x = Array.from({ length: 6 }, () => rng.int(200) - 100); // small integers: every float32 step exact
        const y = new Float64Array(mat.length);
        runProgram(p, x, 0, 1, y, 0, 1);
        mat.forEach((row, i) => expect(y[i]).toBe(row.reduce((acc, m, j) => acc + m * x[j]!, 0)));
      }
      const f = Array.from({ length: 3 }, () => rng.int(200) - 100), g = new Float64Array(6);
      runProgram(WEIGHT, f, 0, 1, g, 0, 1);
      G.forEach((row, i) => expect(Math.abs(g[i]! - row.reduce((acc, m, j) => acc + m * f[j]!, 0))).toBeLessThanOrEqual(1e-5 * 300));
    }
    // One 6x6 tile and 3x3 kernel: A^T ((G F G^T) . (B^T d B)) A is the 4x4 correlation of d with F.
    const d = Array.from({ length: 36 }, () => rng.uniform() * 2 - 1), f = Array.from({ length: 9 }, () => rng.uniform() * 2 - 1);
    const V = new Float64Array(36), U = new Float64Array(36), Y = new Float64Array(16);
    transform2d(INPUT, d, 0, 6, V, 0, 6, 1, new Float64Array(36));
    transform2d(WEIGHT, f, 0, 3, U, 0, 6, 1, new Float64Array(18));
    transform2d(OUTPUT, V.map((x, i) => x * U[i]!), 0, 6, Y, 0, 4, 1, new Float64Array(24));
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        let direct = 0;
        for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) direct += f[3 * a + b]! * d[6 * (i + a) + j + b]!;
        expect(Math.abs(Y[4 * i + j]! - direct)).toBeLessThan(2e-5);
      }
    }
  });

  it("threaded over images (1, 2 and 3 threads; the weight transform split by input channel) gives the one-thread bits, heap or foreign operands", () => {
    const rng = new Rng(7);
    // The last two shapes take F(4x4, 3x3).
    for (const [n, h, w, heap] of [[5, 9, 11, true], [3, 16, 16, true], [7, 7, 7, true], [4, 8, 9, false], [3, 24, 26, true], [2, 25, 24, false]] as const) {
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
