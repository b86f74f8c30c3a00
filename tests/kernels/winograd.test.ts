import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import { winogradDataRange, winogradFits } from "../../src/kernels/winograd/winograd.js";
import { arrayStage, f32, transformInput, transformKernel, transformOutput } from "../../src/kernels/winograd/transforms.js";
import { winogradModule, winogradWasmRuns } from "../../src/kernels/winograd/wasm.js";
import { convDataRange, type ConvDims } from "../../src/kernels/conv/ranges.js";
import { convDataThreads } from "../../src/kernels/conv/threads.js";
import { setKernelBackend, wasmSimdAvailable } from "../../src/wasm/backend.js";
import { wasmApi } from "../../src/wasm/runtime.js";
import { allocFloat } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { expectSameBits } from "../helpers/arrays.js";
import { useSplittingPool } from "../helpers/pool.js";
import { OP_ECHO_ARGS } from "../helpers/echo-task.js";
import { runBeside, sabBase, type Part } from "../../src/parallel/pool.js";

const simd = wasmSimdAvailable();
useSplittingPool(3);
const noTick = (): void => {};

afterEach(() => {
  setKernelBackend("auto");
});

/** F(4x4, 3x3)'s matrices as Lavin & Gray (2016) print them: the factorings of src/kernels/winograd/transforms.ts must agree. */
const BT = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]];
const G = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]];
const AT = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]];

type Mat = number[][];
const mul = (x: Mat, y: Mat): Mat => x.map((row) => y[0]!.map((_, j) => row.reduce((s, v, k) => s + v * y[k]![j]!, 0)));
const tr = (x: Mat): Mat => x[0]!.map((_, j) => x.map((row) => row[j]!));
const abs = (x: Mat): Mat => x.map((row) => row.map(Math.abs));
/** X Y X^T: a 2D transform by X. */
const both = (x: Mat, y: Mat): Mat => mul(mul(x, y), tr(x));
const rows = (flat: readonly number[], width: number): Mat => Array.from({ length: flat.length / width }, (_, i) => flat.slice(i * width, (i + 1) * width));

/**
 * Higham's gamma_k = k u / (1 - k u), u = 2^-24 (float32, round to nearest): a value that went through k
 * roundings, each of a sum or product whose terms' magnitudes sum to S, is within gamma_k S of the exact one
 * (Accuracy and Stability of Numerical Algorithms, 2002, lemma 3.1). Multiplying by 2, 4 or 8 is exact.
 */
const gamma = (k: number): number => (k * 2 ** -24) / (1 - k * 2 ** -24);

/**
 * The most roundings on a path from a weight and a gradient value to an input-gradient value (each counted in
 * transforms.ts): U = G' F G'^T then a division: 2 + 2 + 1; V = B^T d B: 2 + 2; the product U V: 1; the gemm's
 * float32 sum over o from +0: o - 1; A^T M A: 3 + 3.
 */
const depth = (o: number): number => 5 + 4 + 1 + (o - 1) + 6;

/** A 3x3 stride-1 pad-1 convolution of n images, cIn -> o channels, h x w. */
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

/** The input gradient of images i0..i1-1 by winogradDataRange (whatever winogradFits says) into a NaN-filled gx: every element must be written. */
function data(d: ConvDims, gy: Float32Array, w: Float32Array, heap = true, i0 = 0, i1 = d.n): Float32Array {
  const gx = allocFloat("float32", d.n * d.cIn * d.g.h * d.g.w, heap) as Float32Array;
  gx.fill(NaN);
  winogradDataRange(d, gy, 0, w, 0, gx, 0, i0, i1, noTick);
  return gx;
}

/**
 * Per element of gx, float64: |A^T| (sum_o (|G| |F| |G|^T) . (|B^T| |d| |B|)) |A| over the tile holding it,
 * the sums of the Winograd path with every matrix, weight and gradient value by its magnitude. Every rounding
 * on the float32 path is of a partial sum bounded by a part of this, so gamma(depth(o)) times it bounds the error.
 */
function winogradMagnitude(d: ConvDims, gy: Float32Array, w: Float32Array): Float64Array {
  const { n, cIn: c, o, g: { h, w: wd } } = d;
  const th = Math.ceil(h / 4), tw = Math.ceil(wd / 4);
  const u = Array.from({ length: c * o }, (_, k) => {
    const ci = Math.floor(k / o), oi = k % o, at = (oi * c + ci) * 9;
    const flipped = [[8, 7, 6], [5, 4, 3], [2, 1, 0]].map((row) => row.map((j) => Math.abs(w[at + j]!)));
    return both(abs(G), flipped).flat();
  });
  const mag = new Float64Array(n * c * h * wd);
  for (let img = 0; img < n; img++) {
    const v = Array.from({ length: o * th * tw }, (_, k) => {
      const oi = Math.floor(k / (th * tw)), ty = Math.floor((k % (th * tw)) / tw), tx = k % tw;
      const at = (y: number, x: number): number => (y >= 0 && y < h && x >= 0 && x < wd ? Math.abs(gy[((img * o + oi) * h + y) * wd + x]!) : 0);
      return both(abs(BT), Array.from({ length: 6 }, (_, r) => Array.from({ length: 6 }, (_, s) => at(4 * ty + r - 1, 4 * tx + s - 1)))).flat();
    });
    for (let ci = 0; ci < c; ci++) {
      for (let k = 0; k < th * tw; k++) {
        const sum = new Array<number>(36).fill(0);
        for (let oi = 0; oi < o; oi++) for (let e = 0; e < 36; e++) sum[e] += u[ci * o + oi]![e]! * v[oi * th * tw + k]![e]!;
        const y = both(abs(AT), rows(sum, 6)), ty = Math.floor(k / tw), tx = k % tw;
        for (let i = 0; i < 4 && 4 * ty + i < h; i++) {
          for (let j = 0; j < 4 && 4 * tx + j < wd; j++) mag[((img * c + ci) * h + 4 * ty + i) * wd + 4 * tx + j] = y[i]![j]!;
        }
      }
    }
  }
  return mag;
}

/** Sides 1..19, multiples of 4 often (whole tiles: the WASM output transform writes gx in place where the tiles fill lane groups). */
const side = fc.oneof(fc.integer({ min: 1, max: 19 }), fc.constantFrom(4, 8, 12, 16));

/** Shapes for the kernel itself (it runs whatever winogradFits says): sides 1..19 (tile rows not whole, tiles past the image), odd channel counts. */
const shape = fc.record({
  n: fc.integer({ min: 1, max: 3 }), cIn: fc.integer({ min: 1, max: 40 }), o: fc.integer({ min: 1, max: 40 }),
  h: side, w: side, seed: fc.integer(),
});

describe("Winograd F(4x4, 3x3) input gradient", () => {
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

  it("convDataRange takes it where it fits (the WASM transforms run)", () => {
    const d = dims(2, 16, 16, 16, 16);
    const { gy, w } = operands(d, new Rng(1));
    const gx = allocFloat("float32", d.n * d.cIn * 256, true) as Float32Array;
    const before = winogradWasmRuns();
    convDataRange(d, gy, 0, w, 0, gx, 0, 0, d.n, noTick);
    if (simd) expect(winogradWasmRuns()).toBeGreaterThan(before);
    expectSameBits(gx, data(d, gy, w), "convDataRange vs winogradDataRange");
  });

  it("its 1D factorings compute the paper's B^T d B, G F G^T and A^T M A within their roundings' bounds", () => {
    fc.assert(fc.property(fc.integer(), (seed) => {
      const rng = new Rng(seed);
      const rand = (r: number, c: number): Mat => Array.from({ length: r }, () => Array.from({ length: c }, () => Math.fround(rng.uniform() * 2 - 1)));
      const check = (got: Mat, exact: Mat, bound: Mat, what: string): void => {
        got.forEach((row, i) => row.forEach((x, j) => {
          if (!(Math.abs(x - exact[i]![j]!) <= bound[i]![j]!)) expect.fail(`${what}[${i}][${j}] = ${x} vs ${exact[i]![j]} (bound ${bound[i]![j]})`);
        }));
      };
      const d = rand(6, 6), m = rand(6, 6), w = rand(3, 3);
      const flipped = w.map((row) => [...row].reverse()).reverse();
      const v: number[] = [], u: number[] = [], y: Mat = [[], [], [], []];
      transformInput(f32, (r) => d[r]!, arrayStage(), (e, x) => (v[e] = x));
      transformKernel(f32, w.flat(), (e, x) => (u[e] = x));
      transformOutput(f32, (e) => m[Math.floor(e / 6)]![e % 6]!, arrayStage(), (i, j, x) => (y[i]![j] = x));
      check(rows(v, 6), both(BT, d), both(abs(BT), abs(d)).map((r) => r.map((x) => gamma(4) * x)), "B^T d B");
      check(rows(u, 6), both(G, flipped), both(abs(G), abs(flipped)).map((r) => r.map((x) => gamma(5) * x)), "G F G^T");
      check(y, both(AT, m), both(abs(AT), abs(m)).map((r) => r.map((x) => gamma(6) * x)), "A^T M A");
    }), { numRuns: 300 });
  });

  it("equals the float64 direct input gradient within the rounding bound of its sums, every element written (ragged sizes; both backends)", () => {
    fc.assert(fc.property(shape, fc.constantFrom("js" as const, "auto" as const), (s, backend) => {
      const d = dims(s.n, s.cIn, s.o, s.h, s.w);
      const { gy, w } = operands(d, new Rng(s.seed));
      setKernelBackend(backend);
      const gx = data(d, gy, w);
      setKernelBackend("auto");
      // The float64 direct path (im2col + gemm + col2im).
      const exact = new Float64Array(gx.length);
      convDataRange(d, Float64Array.from(gy), 0, Float64Array.from(w), 0, exact, 0, 0, d.n, noTick);
      const mag = winogradMagnitude(d, gy, w), tol = gamma(depth(d.o));
      for (let i = 0; i < gx.length; i++) {
        if (!(Math.abs(gx[i]! - exact[i]!) <= tol * mag[i]!)) {
          expect.fail(`${JSON.stringify(s)}: gx[${i}] = ${gx[i]} vs ${exact[i]} (bound ${tol * mag[i]!})`);
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
      // weights, then per image the input and output transforms
      if (heap) expect(winogradWasmRuns()).toBe(before + 1 + 2 * (i1 - i0));
      expectSameBits(wasm, js, JSON.stringify(s));
    }), { numRuns: 100 });
  });

  it("threaded over images (1, 2 and 3 threads; cut, or claimed in chunks of a gemm's images: 25 of 32 x 32), beside a part or not, gives the one-thread bits", () => {
    const rng = new Rng(7);
    const mark = allocFloat("float64", 8, true) as Float64Array;
    const part: Part = { op: OP_ECHO_ARGS, args: [sabBase(mark), 1], bufs: [mark] };
    for (const [n, h, w] of [[5, 9, 11], [3, 16, 16], [7, 7, 7], [25, 32, 32]] as const) {
      const d = dims(n, 32, 48, h, w);
      expect(winogradFits(d, true)).toBe(true);
      const { gy, w: wt } = operands(d, rng);
      const one = data(d, gy, wt);
      for (const t of [1, 2, 3]) {
        const gx = allocFloat("float32", one.length, true) as Float32Array;
        gx.fill(NaN);
        convDataThreads(d, gy, wt, gx, t);
        expectSameBits(gx, one, `${n}x${h}x${w}, ${t} threads`);
        // With a part offered beside it (runBeside): taken where the images are claimed (25 of 32 x 32), run first where not.
        gx.fill(NaN);
        mark.fill(0);
        const claimed = t > 1 && n === 25;
        expect(runBeside(part, () => convDataThreads(d, gy, wt, gx, t))).toBe(claimed);
        expect(mark[1]).toBe(claimed ? 1 : 0);
        expectSameBits(gx, one, `${n}x${h}x${w}, ${t} threads, beside a part`);
      }
    }
  });

  it("the direct path (float64, or a 5 x 5 kernel) claimed over threads gives the one-thread bits", () => {
    const rng = new Rng(8);
    for (const [f64, k] of [[true, 3], [false, 5]] as const) {
      const d: ConvDims = { n: 14, cIn: 3, o: 5, groups: 1, g: { h: 9, w: 10, kh: k, kw: k, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: 11 - k, ow: 12 - k } };
      expect(winogradFits(d, !f64)).toBe(false);
      const dtype = f64 ? "float64" : "float32";
      const gy = allocFloat(dtype, d.n * d.o * d.g.oh * d.g.ow, true), wt = allocFloat(dtype, d.o * d.cIn * k * k, true);
      for (let i = 0; i < gy.length; i++) gy[i] = rng.uniform() * 2 - 1;
      for (let i = 0; i < wt.length; i++) wt[i] = rng.uniform() - 0.5;
      const one = allocFloat(dtype, d.n * d.cIn * d.g.h * d.g.w, true);
      convDataRange(d, gy, 0, wt, 0, one, 0, 0, d.n, noTick);
      for (const t of [2, 3]) {
        const gx = allocFloat(dtype, one.length, true);
        gx.fill(NaN);
        convDataThreads(d, gy, wt, gx, t);
        expectSameBits(gx, one, `${dtype} ${k}x${k}, ${t} threads`);
      }
    }
  });
});
