/**
 * The WebAssembly twin of the spike unpack-add (./spike-cast.ts): rows of
 * packed bits unpacked to float32 / float64 0/1, alone, added to a float base
 * (a float32 or float64 add of the same two numbers JS adds), or added to
 * another spike tensor's 0/1 (an exact small integer either way).
 *
 *   unpack{32,64}{,F,B}(base, s, out, cols, wpr, rows, consts)
 *
 * suffix F: float base, B: spike base, none: no base (base ignored). Byte
 * offsets in the heap of row 0 of each array; consts: the thread's copy of
 * the module's constant table (spikeCastKernel.constants()).
 */
import { Code, ConstTable, emitModule, frame, I32, i32x4Bytes, V128, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";

type Base = "" | "F" | "B";

/** The module's v128 constants (see ConstTable: a v128.const would be rebuilt at every use in the loop). */
const SPIKE_CAST_CONSTS = new ConstTable();

function unpackFunc(f64: boolean, base: Base): FuncDef {
  const es = f64 ? 8 : 4;
  const f = frame(
    [["base", I32], ["s", I32], ["out", I32], ["cols", I32], ["wpr", I32], ["rows", I32], ["consts", I32]] as const,
    [["r", I32], ["col", I32], ["bit", I32], ["end4", I32], ["laneBits", V128], ["zero", V128], ["one", V128], ["m", V128]] as const,
  );
  const L = f.idx;
  const c = new Code();
  c.get(L.consts).v128Load(SPIKE_CAST_CONSTS.offset(i32x4Bytes([1, 2, 4, 8]))).set(L.laneBits).v128Const(i32x4Bytes([0, 0, 0, 0])).set(L.zero);
  c.get(L.consts).v128Load(SPIKE_CAST_CONSTS.offset(i32x4Bytes([0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000]))).set(L.one); // float32 1
  /** Pushes columns col..col+3 of the row at `words` as float32 0 / 1 lanes (col a multiple of 4: one nibble of a word). */
  const nibble = (words: number): void => {
    c.get(words).get(L.col).i32Const(5).i32ShrU().i32Const(2).i32Shl().i32Add().i32Load(0).get(L.col).i32ShrU().i32x4Splat();
    c.get(L.laneBits).v128And().get(L.zero).i32x4Eq().set(L.m);
    c.get(L.zero).get(L.one).get(L.m).v128Bitselect(); // 0 where the bit is clear, 1 where set
  };
  /** Pushes bit `col` of the row at `words` (i32.shr_u takes the shift mod 32). */
  const bitOf = (words: number) => c.get(words).get(L.col).i32Const(5).i32ShrU().i32Const(2).i32Shl().i32Add().i32Load(0).get(L.col).i32ShrU().i32Const(1).i32And();
  const toFloat = (): Code => (f64 ? c.f64ConvertI32S() : c.f32ConvertI32S());
  c.i32Const(0).set(L.r);
  c.get(L.cols).i32Const(-4).i32And().set(L.end4);
  c.whileLtU(L.r, L.rows, () => {
    c.i32Const(0).set(L.col);
    if (!f64) {
      // Float32: four columns at a time (the same 0 / 1 values and the same float32 adds), then the rest one by one.
      c.whileLtU(L.col, L.end4, () => {
        c.get(L.out);
        nibble(L.s);
        if (base === "F") c.get(L.base).v128Load(0).f32x4Add();
        if (base === "B") { nibble(L.base); c.f32x4Add(); }
        c.v128Store(0);
        c.get(L.out).i32Const(16).i32Add().set(L.out);
        if (base === "F") c.get(L.base).i32Const(16).i32Add().set(L.base);
        c.get(L.col).i32Const(4).i32Add().set(L.col);
      });
    }
    c.whileLtU(L.col, L.cols, () => {
      c.get(L.out);
      if (base === "F") {
        c.get(L.base);
        if (f64) c.f64Load(0);
        else c.f32Load(0);
      }
      if (base === "B") {
        bitOf(L.base);
        toFloat();
      }
      bitOf(L.s);
      toFloat();
      if (base !== "") {
        if (f64) c.f64Add();
        else c.f32Add();
      }
      if (f64) c.f64Store(0);
      else c.f32Store(0);
      c.get(L.out).i32Const(es).i32Add().set(L.out);
      if (base === "F") c.get(L.base).i32Const(es).i32Add().set(L.base);
      c.get(L.col).i32Const(1).i32Add().set(L.col);
    });
    c.get(L.s).get(L.wpr).i32Const(2).i32Shl().i32Add().set(L.s);
    if (base === "B") c.get(L.base).get(L.wpr).i32Const(2).i32Shl().i32Add().set(L.base);
    c.get(L.r).i32Const(1).i32Add().set(L.r);
  });
  return { name: `unpack${f64 ? 64 : 32}${base}`, params: f.params, results: [], locals: f.locals, body: c };
}

/** The module's bytes (emitted from TypeScript, deterministic). */
export function spikeCastKernelModule(): Uint8Array {
  return emitModule({ minPages: 1, shared: true, funcs: [false, true].flatMap((f64) => (["", "F", "B"] as const).map((b) => unpackFunc(f64, b))) });
}

/** This thread's instance, over the heap. */
export const spikeCastKernel = new HeapKernel(spikeCastKernelModule, SPIKE_CAST_CONSTS);

/** Runs rows of the unpack-add at heap byte offsets (base ignored when `kind` is ""). */
export function unpackWasmCall(f64: boolean, kind: Base, base: number, s: number, out: number, cols: number, wpr: number, rows: number): void {
  (spikeCastKernel.exports()[`unpack${f64 ? 64 : 32}${kind}`] as (...a: number[]) => void)(base, s, out, cols, wpr, rows, spikeCastKernel.constants());
}
