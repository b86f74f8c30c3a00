/**
 * The WebAssembly SIMD twin of the attention backward's dense product
 * dQ = s g (Vᵀ K) (./ssa.ts, order q_kv): float32 rows g [m][k] times a
 * float64 matrix B [k][n] (the integer Vᵀ K), each output
 * `acc = +0; for p = 0..k-1 in order: acc += f64(g[i][p]) B[p][j]` in float64,
 * then f32(s acc): the float64 gemm's sums (src/kernels/gemm/gemm.ts) and
 * the scaling's one rounding, so the same bits as gemm + scale. Per head the
 * product is small (64 x 32 x 32 on CIFAR), where the gemm's packing in
 * TypeScript cost more than the sums; here eight columns at a time ride in
 * four f64x2 accumulators, then two, then one.
 *
 *   rowsTimesF64(a, b, c, m, k, n, s, cs)  a: f32 [m][k], b: f64 [k][n], c: f32 rows of n, cs apart (byte offsets in the heap)
 *
 * And the heads' last step, the scaling of a float64 product into the output:
 *
 *   scaleF64(src, dst, rows, cols, s, f32, ds, srcF32)  dst[r ds + j] = src[r cols + j] s (f64.mul), rounded to
 *                                  float32 when f32 != 0 (f32x4.demote, as a JS store into a Float32Array); src
 *                                  float64, or float32 widened exactly when srcF32 != 0 (f64x2.promote_low, as JS
 *                                  reads a Float32Array); dst float32 or float64, its rows ds elements apart (a head's
 *                                  rows among other heads')
 */
import { Code, emitModule, F64, I32, V128 } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";
import type { FloatArray } from "../../tensor/tensor.js";

const P = { a: 0, b: 1, c: 2, m: 3, k: 4, n: 5, s: 6, cs: 7 } as const;
/** Accumulators of the widest column block (two columns each). */
const WIDE = 4;
const L = { rowA: 8, endA: 9, rowC: 10, j: 11, pa: 12, pb: 13, endP: 14, nb: 15, s2: 16, av: 17, acc0: 18, acc: 18 + WIDE } as const;
const ZERO = new Array<number>(16).fill(0);

function whileLt(c: Code, x: number, end: number, body: () => void): void {
  c.block().loop();
  c.get(x).get(end).i32LtU().i32Eqz().brIf(1);
  body();
  c.br(0).end().end();
}

/** while (j + w <= n): the `w`-column block at column j of this row (w = 2 accs, or 1 for the scalar last column). */
function columnBlocks(c: Code, accs: number): void {
  const w = accs === 0 ? 1 : 2 * accs;
  c.block().loop();
  c.get(P.n).get(L.j).i32Const(w).i32Add().i32LtU().brIf(1); // n < j + w
  // pb = b + 8 j; pa = rowA; the accumulators at +0
  c.get(P.b).get(L.j).i32Const(3).i32Shl().i32Add().set(L.pb);
  c.get(L.rowA).set(L.pa);
  if (accs === 0) c.f64Const(0).set(L.acc);
  else for (let q = 0; q < accs; q++) c.v128Const(ZERO).set(L.acc0 + q);
  whileLt(c, L.pa, L.endP, () => {
    if (accs === 0) {
      c.get(L.acc).get(L.pa).f32Load().f64PromoteF32().get(L.pb).f64Load().f64Mul().f64Add().set(L.acc);
    } else {
      c.get(L.pa).f32Load().f64PromoteF32().f64x2Splat().set(L.av);
      for (let q = 0; q < accs; q++) c.get(L.acc0 + q).get(L.av).get(L.pb).v128Load(16 * q).f64x2Mul().f64x2Add().set(L.acc0 + q);
    }
    c.get(L.pa).i32Const(4).i32Add().set(L.pa);
    c.get(L.pb).get(L.nb).i32Add().set(L.pb);
  });
  // c[i][j ..] = f32(s acc)
  if (accs === 0) {
    c.get(L.rowC).get(L.j).i32Const(2).i32Shl().i32Add().get(L.acc).get(P.s).f64Mul().f32DemoteF64().f32Store();
  } else {
    for (let q = 0; q < accs; q++) {
      c.get(L.rowC).get(L.j).i32Const(2).i32Shl().i32Add().get(L.acc0 + q).get(L.s2).f64x2Mul().f32x4DemoteF64x2Zero().v128Store64Lane(0, 8 * q);
    }
  }
  c.get(L.j).i32Const(w).i32Add().set(L.j);
  c.br(0).end().end();
}

function rowsTimesF64(): Code {
  const c = new Code();
  c.get(P.s).f64x2Splat().set(L.s2);
  c.get(P.n).i32Const(3).i32Shl().set(L.nb);
  c.get(P.a).get(P.m).get(P.k).i32Mul().i32Const(2).i32Shl().i32Add().set(L.endA);
  c.get(P.a).set(L.rowA).get(P.c).set(L.rowC);
  whileLt(c, L.rowA, L.endA, () => {
    c.get(L.rowA).get(P.k).i32Const(2).i32Shl().i32Add().set(L.endP);
    c.i32Const(0).set(L.j);
    columnBlocks(c, WIDE);
    columnBlocks(c, 1);
    columnBlocks(c, 0);
    c.get(L.endP).set(L.rowA);
    c.get(L.rowC).get(P.cs).i32Const(2).i32Shl().i32Add().set(L.rowC);
  });
  return c;
}

/** scaleF64's body: per row, two values a step, then the odd last one; one loop per source type. */
function scaleF64(): Code {
  const [src, dst, rows, cols, s, f32, ds, srcF32] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [i, n2, s2, r, dRow, dBytes] = [8, 9, 10, 11, 12, 13];
  const c = new Code();
  /** dst row [at] = src[at] s (and the next value too when `pair`), rounded to float32 when f32; `wide`: a float64 source. */
  const scaled = (at: number, pair: boolean, wide: boolean): void => {
    for (const narrow of [true, false]) {
      if (narrow) c.get(f32).if(); else c.else();
      c.get(dRow).get(at).i32Const(narrow ? 2 : 3).i32Shl().i32Add();
      c.get(src).get(at).i32Const(wide ? 3 : 2).i32Shl().i32Add();
      if (pair) (wide ? c.v128Load(0) : c.v128Load64Splat(0).f64x2PromoteLowF32x4()).get(s2).f64x2Mul();
      else (wide ? c.f64Load(0) : c.f32Load(0).f64PromoteF32()).get(s).f64Mul();
      if (narrow) (pair ? c.f32x4DemoteF64x2Zero().v128Store64Lane(0) : c.f32DemoteF64().f32Store(0));
      else (pair ? c.v128Store(0) : c.f64Store(0));
    }
    c.end();
  };
  const rowsLoop = (wide: boolean): void => {
    c.i32Const(0).set(r);
    c.whileLtU(r, rows, () => {
      c.i32Const(0).set(i);
      c.whileLtU(i, n2, () => {
        scaled(i, true, wide);
        c.get(i).i32Const(2).i32Add().set(i);
      });
      c.get(n2).get(cols).i32LtU().if();
      scaled(n2, false, wide);
      c.end();
      c.get(src).get(cols).i32Const(wide ? 3 : 2).i32Shl().i32Add().set(src);
      c.get(dRow).get(dBytes).i32Add().set(dRow);
      c.get(r).i32Const(1).i32Add().set(r);
    });
  };
  c.get(s).f64x2Splat().set(s2);
  c.get(cols).i32Const(-2).i32And().set(n2);
  // dBytes: a destination row's stride in bytes
  c.get(ds).i32Const(2).i32Const(3).get(f32).select().i32Shl().set(dBytes);
  c.get(dst).set(dRow);
  c.get(srcF32).if();
  rowsLoop(false);
  c.else();
  rowsLoop(true);
  c.end();
  return c;
}

/** The module's bytes (emitted from TypeScript, deterministic). */
export function ssaModule(): Uint8Array {
  return emitModule({
    minPages: 1,
    shared: true,
    funcs: [{
      name: "rowsTimesF64",
      params: [I32, I32, I32, I32, I32, I32, F64, I32],
      results: [],
      // rowA endA rowC j pa pb endP nb, s2 av, the vector accumulators, the last column's
      locals: [I32, I32, I32, I32, I32, I32, I32, I32, V128, V128, ...new Array<typeof V128>(WIDE).fill(V128), F64],
      body: rowsTimesF64(),
    }, {
      name: "scaleF64", params: [I32, I32, I32, I32, F64, I32, I32, I32], results: [], locals: [I32, I32, V128, I32, I32, I32], body: scaleF64(),
    }],
  });
}

const kernel = new HeapKernel(ssaModule);
let runs = 0;

/**
 * c[i][j] = f32(s Σ_p f64(a[i][p]) b[p][j]) (float64 sums from +0 in p order) for float32 a [m][k],
 * float64 b [k][n] and float32 c (rows of n, `cStride` elements apart), all heap arrays, at element offsets.
 */
export function rowsTimesF64Wasm(
  a: Float32Array, aOff: number, b: Float64Array, bOff: number, c: Float32Array, cOff: number, cStride: number, m: number, k: number, n: number, s: number,
): void {
  runs++;
  (kernel.exports().rowsTimesF64 as (...x: number[]) => void)(a.byteOffset + 4 * aOff, b.byteOffset + 8 * bOff, c.byteOffset + 4 * cOff, m, k, n, s, cStride);
}

/**
 * dst[dOff + r stride + j] = src[sOff + r cols + j] s for r < rows, j < cols, rounded once to dst's type
 * (float64 or float32 src, float32 or float64 dst, heap arrays): a head's scaling, the JS loop's operations (a
 * double product, stored), its rows among other heads' when stride > cols.
 */
export function scaleF64Wasm(src: FloatArray, sOff: number, dst: FloatArray, dOff: number, rows: number, cols: number, stride: number, s: number): void {
  runs++;
  const f32 = dst instanceof Float32Array, srcF32 = src instanceof Float32Array;
  (kernel.exports().scaleF64 as (...x: number[]) => void)(
    src.byteOffset + (srcF32 ? 4 : 8) * sOff, dst.byteOffset + (f32 ? 4 : 8) * dOff, rows, cols, s, f32 ? 1 : 0, stride, srcF32 ? 1 : 0,
  );
}

/** How many times this thread has run the SSA WASM kernel (lets tests see which backend ran). */
export function ssaWasmRuns(): number {
  return runs;
}
