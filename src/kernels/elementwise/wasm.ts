/**
 * The WebAssembly SIMD twin of the array sum (./elementwise.ts):
 * out = a + b four float32 (f32x4.add) or two float64 (f64x2.add) lanes at a
 * time, the tail one at a time. Each lane is the IEEE addition of the same
 * two numbers JS adds (a float32 sum computed in float64 and rounded on the
 * store is the float32 sum), so the bits are the same.
 *
 *   add32 / add64(a, b, out, n)
 *
 * a, b, out: byte offsets in the heap (out may be a or b); n elements. And
 * the float32 rows summed into float64 accumulators (the bias gradient):
 *
 *   accF32(acc, x, n): acc[i] += x[i] (float64 acc, float32 x; two lanes a step)
 */
import { Code, emitModule, frame, I32, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";

function addFunc(name: string, es: number, lanes: (c: Code) => void, one: (c: Code, a: number, b: number, o: number) => void): FuncDef {
  const f = frame([["a", I32], ["b", I32], ["out", I32], ["n", I32]] as const, [["end", I32], ["end16", I32]] as const);
  const L = f.idx;
  const c = new Code();
  const whileLt = (x: number, end: number, body: () => void) => {
    c.block().loop();
    c.get(x).get(end).i32LtU().i32Eqz().brIf(1);
    body();
    c.br(0).end().end();
  };
  const step = (by: number) => {
    for (const p of [L.a, L.b, L.out]) c.get(p).i32Const(by).i32Add().set(p);
  };
  c.get(L.a).get(L.n).i32Const(es).i32Mul().i32Add().set(L.end);
  c.get(L.a).get(L.n).i32Const(es).i32Mul().i32Const(-16).i32And().i32Add().set(L.end16);
  whileLt(L.a, L.end16, () => {
    c.get(L.out).get(L.a).v128Load(0).get(L.b).v128Load(0);
    lanes(c);
    c.v128Store(0);
    step(16);
  });
  whileLt(L.a, L.end, () => {
    one(c, L.a, L.b, L.out);
    step(es);
  });
  return { name, params: f.params, results: [], locals: f.locals, body: c };
}

/** accF32: float64 acc += float32 x, promoted two at a time (exact), added as JS adds them. */
function accF32Func(): FuncDef {
  const f = frame([["acc", I32], ["x", I32], ["n", I32]] as const, [["end", I32], ["end8", I32]] as const);
  const L = f.idx;
  const c = new Code();
  const whileLt = (x: number, end: number, body: () => void) => {
    c.block().loop();
    c.get(x).get(end).i32LtU().i32Eqz().brIf(1);
    body();
    c.br(0).end().end();
  };
  const step = (acc: number, x: number) => {
    c.get(L.acc).i32Const(acc).i32Add().set(L.acc);
    c.get(L.x).i32Const(x).i32Add().set(L.x);
  };
  c.get(L.x).get(L.n).i32Const(4).i32Mul().i32Add().set(L.end);
  c.get(L.x).get(L.n).i32Const(4).i32Mul().i32Const(-8).i32And().i32Add().set(L.end8);
  whileLt(L.x, L.end8, () => {
    c.get(L.acc).get(L.acc).v128Load(0).get(L.x).v128Load64Zero(0).f64x2PromoteLowF32x4().f64x2Add().v128Store(0);
    step(16, 8);
  });
  whileLt(L.x, L.end, () => {
    c.get(L.acc).get(L.acc).f64Load(0).get(L.x).f32Load(0).f64PromoteF32().f64Add().f64Store(0);
    step(8, 4);
  });
  return { name: "accF32", params: f.params, results: [], locals: f.locals, body: c };
}

/** The module's bytes (emitted from TypeScript, deterministic). */
export function elementwiseKernelModule(): Uint8Array {
  return emitModule({
    minPages: 1, shared: true, funcs: [
      addFunc("add32", 4, (c) => c.f32x4Add(), (c, a, b, o) => c.get(o).get(a).f32Load(0).get(b).f32Load(0).f32Add().f32Store(0)),
      addFunc("add64", 8, (c) => c.f64x2Add(), (c, a, b, o) => c.get(o).get(a).f64Load(0).get(b).f64Load(0).f64Add().f64Store(0)),
      accF32Func(),
    ],
  });
}

/** This thread's instance, over the heap. */
export const elementwiseKernel = new HeapKernel(elementwiseKernelModule);

/** Runs out = a + b on `n` elements at heap byte offsets; `f64` picks the lane type. */
export function addWasmCall(f64: boolean, a: number, b: number, out: number, n: number): void {
  (elementwiseKernel.exports()[f64 ? "add64" : "add32"] as (...x: number[]) => void)(a, b, out, n);
}

/** Runs acc += x on `n` elements (acc float64, x float32) at heap byte offsets. */
export function accF32WasmCall(acc: number, x: number, n: number): void {
  (elementwiseKernel.exports().accF32 as (...a: number[]) => void)(acc, x, n);
}
