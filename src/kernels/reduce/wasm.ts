/**
 * The WebAssembly twin of sumTo's runs (./reduce.ts) where the innermost axis is kept and the one before it
 * reduced (a mean over tokens, e.g. the Spikformer head's over time steps and tokens): `rows` float32 rows
 * of `inner` values added into one float64 row, row after row, so each sum takes its terms in sumTo's
 * order; float32 values widen exactly (f64x2.promote_low_f32x4) and each f64x2 lane adds one at a time.
 *
 *   addRowsF64(acc, src, rows, inner): acc[j] += src[r inner + j] for r = 0..rows-1 in turn, j < inner
 *
 * acc (float64) and src (float32): byte offsets in the heap.
 *
 * And the finite check of firstNonFinite (./reduce.ts): x - x is 0 for a finite x and NaN for NaN and
 * the infinities, in float32 as in float64, so a lane whose difference differs from itself is not finite.
 *
 *   firstNonFinite32(src, n) -> the index of src's first non-finite float32 (-1 when none): blocks of 16
 *   in f32x4 lanes until one holds one, then one value at a time from that block's start
 */
import { Code, emitModule, frame, F32, F64, I32, V128, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";

/** Columns held in registers over the rows: 4 f64x2 accumulators. */
const COLS = 8;

function addRowsFunc(): FuncDef {
  const f = frame(
    [["acc", I32], ["src", I32], ["rows", I32], ["inner", I32]] as const,
    [["j", I32], ["r", I32], ["p", I32], ["stride", I32], ["a", I32], ["s", F64], ["v0", V128], ["v1", V128], ["v2", V128], ["v3", V128]] as const,
  );
  const L = f.idx;
  const v = [L.v0, L.v1, L.v2, L.v3];
  const c = new Code();
  c.get(L.inner).i32Const(2).i32Shl().set(L.stride);
  c.i32Const(0).set(L.j);
  // Blocks of 8 columns: their sums in registers over all the rows.
  c.block().loop();
  c.get(L.inner).get(L.j).i32Const(COLS).i32Add().i32LtU().brIf(1);
  c.get(L.acc).get(L.j).i32Const(3).i32Shl().i32Add().set(L.a);
  for (let k = 0; k < 4; k++) c.get(L.a).v128Load(16 * k).set(v[k]!);
  c.get(L.src).get(L.j).i32Const(2).i32Shl().i32Add().set(L.p);
  c.i32Const(0).set(L.r);
  c.whileLtU(L.r, L.rows, () => {
    for (let k = 0; k < 4; k++) c.get(v[k]!).get(L.p).v128Load64Zero(8 * k).f64x2PromoteLowF32x4().f64x2Add().set(v[k]!);
    c.get(L.p).get(L.stride).i32Add().set(L.p);
    c.get(L.r).i32Const(1).i32Add().set(L.r);
  });
  for (let k = 0; k < 4; k++) c.get(L.a).get(v[k]!).v128Store(16 * k);
  c.get(L.j).i32Const(COLS).i32Add().set(L.j);
  c.br(0).end().end();
  // The columns left, one at a time.
  c.whileLtU(L.j, L.inner, () => {
    c.get(L.acc).get(L.j).i32Const(3).i32Shl().i32Add().set(L.a);
    c.get(L.a).f64Load().set(L.s);
    c.get(L.src).get(L.j).i32Const(2).i32Shl().i32Add().set(L.p);
    c.i32Const(0).set(L.r);
    c.whileLtU(L.r, L.rows, () => {
      c.get(L.s).get(L.p).f32Load().f64PromoteF32().f64Add().set(L.s);
      c.get(L.p).get(L.stride).i32Add().set(L.p);
      c.get(L.r).i32Const(1).i32Add().set(L.r);
    });
    c.get(L.a).get(L.s).f64Store();
    c.get(L.j).i32Const(1).i32Add().set(L.j);
  });
  return { name: "addRowsF64", params: f.params, results: [], locals: f.locals, body: c };
}

function firstNonFiniteFunc(): FuncDef {
  const f = frame(
    [["src", I32], ["n", I32]] as const,
    [["i", I32], ["nV", I32], ["p", I32], ["r", I32], ["x", V128], ["d", V128], ["xs", F32], ["ds", F32]] as const,
  );
  const L = f.idx;
  const c = new Code();
  c.i32Const(-1).set(L.r);
  c.get(L.src).set(L.p);
  c.get(L.n).i32Const(-16).i32And().set(L.nV);
  // Whole blocks of 16 while every value is finite (the loop exits at a block holding a non-finite one).
  c.whileLtU(L.i, L.nV, () => {
    for (let k = 0; k < 4; k++) {
      c.get(L.p).v128Load(16 * k).set(L.x);
      c.get(L.x).get(L.x).f32x4Sub().tee(L.d).get(L.d).f32x4Ne();
      if (k > 0) c.v128Or();
    }
    c.v128AnyTrue().brIf(1);
    c.get(L.i).i32Const(16).i32Add().set(L.i);
    c.get(L.p).i32Const(64).i32Add().set(L.p);
  });
  // From there one at a time: the first non-finite value, or the tail's.
  c.whileLtU(L.i, L.n, () => {
    c.get(L.p).f32Load(0).set(L.xs);
    c.get(L.xs).get(L.xs).f32Sub().tee(L.ds).get(L.ds).f32Ne().if();
    c.get(L.i).set(L.r);
    c.br(2).end();
    c.get(L.i).i32Const(1).i32Add().set(L.i);
    c.get(L.p).i32Const(4).i32Add().set(L.p);
  });
  c.get(L.r);
  return { name: "firstNonFinite32", params: f.params, results: [I32], locals: f.locals, body: c };
}

/** The module's bytes (emitted from TypeScript, deterministic). */
export function reduceKernelModule(): Uint8Array {
  return emitModule({ minPages: 1, shared: true, funcs: [addRowsFunc(), firstNonFiniteFunc()] });
}

const kernel = new HeapKernel(reduceKernelModule);

/** Runs addRowsF64 (byte offsets in the heap; see the file comment). */
export function addRowsF64Wasm(acc: number, src: number, rows: number, inner: number): void {
  (kernel.exports().addRowsF64 as (...a: number[]) => void)(acc, src, rows, inner);
}

/** Runs firstNonFinite32 on `n` float32 values at heap byte offset src: the first non-finite one's index, or -1. */
export function firstNonFinite32Wasm(src: number, n: number): number {
  return (kernel.exports().firstNonFinite32 as (a: number, b: number) => number)(src, n);
}
