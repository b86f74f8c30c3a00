/**
 * The WebAssembly SIMD twin of the array sum (./elementwise.ts):
 * out = a + b four float32 (f32x4.add) or two float64 (f64x2.add) lanes at a
 * time, the tail one at a time. Each lane is the IEEE addition of the same
 * two numbers JS adds (a float32 sum computed in float64 and rounded on the
 * store is the float32 sum), so the bits are the same.
 *
 *   add32 / add64(a, b, out, n)
 *
 * a, b, out: byte offsets in the heap (out may be a or b); n elements.
 */
import { Code, emitModule, frame, I32, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";

/**
 * out = a + b over n elements, a vector (16 bytes) a step, then one at a time.
 * `e`: bytes per element; `vec` combines the a vector on the stack with b's at
 * `b`, `one` does a single element.
 */
function addFunc(
  name: string, e: number, vec: (c: Code, b: number) => void, one: (c: Code, a: number, b: number, o: number) => void,
): FuncDef {
  const f = frame([["a", I32], ["b", I32], ["out", I32], ["n", I32]] as const, [["end", I32], ["endV", I32]] as const);
  const L = f.idx;
  const c = new Code();
  const perVec = 16 / e; // elements a vector step
  const step = (k: number) => {
    c.get(L.a).i32Const(k * e).i32Add().set(L.a);
    c.get(L.out).i32Const(k * e).i32Add().set(L.out);
    c.get(L.b).i32Const(k * e).i32Add().set(L.b);
  };
  c.get(L.b).get(L.n).i32Const(e).i32Mul().i32Add().set(L.end);
  c.get(L.b).get(L.n).i32Const(-perVec).i32And().i32Const(e).i32Mul().i32Add().set(L.endV);
  c.whileLtU(L.b, L.endV, () => {
    c.get(L.out).get(L.a).v128Load(0);
    vec(c, L.b);
    c.v128Store(0);
    step(perVec);
  });
  c.whileLtU(L.b, L.end, () => {
    one(c, L.a, L.b, L.out);
    step(1);
  });
  return { name, params: f.params, results: [], locals: f.locals, body: c };
}

/** The module's bytes (emitted from TypeScript, deterministic). */
export function elementwiseKernelModule(): Uint8Array {
  return emitModule({
    minPages: 1, shared: true, funcs: [
      addFunc("add32", 4, (c, b) => c.get(b).v128Load(0).f32x4Add(), (c, a, b, o) => c.get(o).get(a).f32Load(0).get(b).f32Load(0).f32Add().f32Store(0)),
      addFunc("add64", 8, (c, b) => c.get(b).v128Load(0).f64x2Add(), (c, a, b, o) => c.get(o).get(a).f64Load(0).get(b).f64Load(0).f64Add().f64Store(0)),
    ],
  });
}

/** This thread's instance, over the heap. */
export const elementwiseKernel = new HeapKernel(elementwiseKernelModule);

/** Runs out = a + b on `n` elements at heap byte offsets; `f64` picks the lane type. */
export function addWasmCall(f64: boolean, a: number, b: number, out: number, n: number): void {
  (elementwiseKernel.exports()[f64 ? "add64" : "add32"] as (...x: number[]) => void)(a, b, out, n);
}

