/**
 * The WebAssembly SIMD twin of the AdamW update on float32 arrays (./adamw.ts):
 * two parameters a step in float64 lanes (f64x2), the last one alone in
 * scalar float64. Each lane does the reference's float64 operations in its
 * order (mul and add never fused; sqrt and div correctly rounded, as
 * Math.sqrt and JS's division), and rounds to float32 exactly where a JS store
 * into a Float32Array does (f32x4.demote_f64x2_zero, f32.demote_f64: round to
 * nearest even), so the bits are the reference's.
 *
 *   adamw32(p, g, m, v, n, b1, c1, b2, c2, decay, stepSize, sqrtBc2, eps)
 *
 * p, g, m, v: byte offsets in the heap of n float32 values each; the rest are
 * the step's float64 constants (c1 = 1 - b1, c2 = 1 - b2).
 */
import { Code, emitModule, F64, frame, I32, V128, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";

const CONSTS = ["b1", "c1", "b2", "c2", "decay", "stepSize", "sqrtBc2", "eps"] as const;

function adamwFunc(): FuncDef {
  const f = frame(
    [["p", I32], ["g", I32], ["m", I32], ["v", I32], ["n", I32], ...CONSTS.map((k) => [k, F64] as const)] as const,
    [
      ["end", I32], ["endV", I32], ["gi", V128], ["mi", V128], ["vi", V128],
      ...CONSTS.map((k) => [`${k}2`, V128] as const), ["gs", F64], ["ms", F64], ["vs", F64],
    ] as const,
  );
  const L = f.idx as Record<string, number>;
  const c = new Code();
  for (const k of CONSTS) c.get(L[k]!).f64x2Splat().set(L[`${k}2`]!);
  /** Moves the four pointers on by `k` elements. */
  const step = (k: number): void => {
    for (const ptr of ["p", "g", "m", "v"]) c.get(L[ptr]!).i32Const(4 * k).i32Add().set(L[ptr]!);
  };
  c.get(L.p!).get(L.n!).i32Const(4).i32Mul().i32Add().set(L.end!);
  c.get(L.p!).get(L.n!).i32Const(-2).i32And().i32Const(4).i32Mul().i32Add().set(L.endV!);
  const k2 = (name: string): number => L[`${name}2`]!;
  c.whileLtU(L.p!, L.endV!, () => {
    // gi = g; m = f32(b1 m + c1 g), mi = m as stored; v = f32(b2 v + (c2 g) g), vi = v as stored.
    c.get(L.g!).v128Load64Zero(0).f64x2PromoteLowF32x4().set(L.gi!);
    c.get(L.m!).get(L.m!).v128Load64Zero(0).f64x2PromoteLowF32x4().get(k2("b1")).f64x2Mul().get(k2("c1")).get(L.gi!).f64x2Mul().f64x2Add()
      .f32x4DemoteF64x2Zero().v128Store64Lane(0);
    c.get(L.m!).v128Load64Zero(0).f64x2PromoteLowF32x4().set(L.mi!);
    c.get(L.v!).get(L.v!).v128Load64Zero(0).f64x2PromoteLowF32x4().get(k2("b2")).f64x2Mul().get(k2("c2")).get(L.gi!).f64x2Mul().get(L.gi!).f64x2Mul()
      .f64x2Add().f32x4DemoteF64x2Zero().v128Store64Lane(0);
    c.get(L.v!).v128Load64Zero(0).f64x2PromoteLowF32x4().set(L.vi!);
    // p = f32(p decay - (stepSize m) / (sqrt(v) / sqrtBc2 + eps))
    c.get(L.p!).get(L.p!).v128Load64Zero(0).f64x2PromoteLowF32x4().get(k2("decay")).f64x2Mul();
    c.get(k2("stepSize")).get(L.mi!).f64x2Mul().get(L.vi!).f64x2Sqrt().get(k2("sqrtBc2")).f64x2Div().get(k2("eps")).f64x2Add().f64x2Div();
    c.f64x2Sub().f32x4DemoteF64x2Zero().v128Store64Lane(0);
    step(2);
  });
  c.whileLtU(L.p!, L.end!, () => {
    c.get(L.g!).f32Load(0).f64PromoteF32().set(L.gs!);
    c.get(L.m!).get(L.b1!).get(L.m!).f32Load(0).f64PromoteF32().f64Mul().get(L.c1!).get(L.gs!).f64Mul().f64Add().f32DemoteF64().f32Store(0);
    c.get(L.m!).f32Load(0).f64PromoteF32().set(L.ms!);
    c.get(L.v!).get(L.b2!).get(L.v!).f32Load(0).f64PromoteF32().f64Mul().get(L.c2!).get(L.gs!).f64Mul().get(L.gs!).f64Mul().f64Add().f32DemoteF64().f32Store(0);
    c.get(L.v!).f32Load(0).f64PromoteF32().set(L.vs!);
    c.get(L.p!).get(L.p!).f32Load(0).f64PromoteF32().get(L.decay!).f64Mul();
    c.get(L.stepSize!).get(L.ms!).f64Mul().get(L.vs!).f64Sqrt().get(L.sqrtBc2!).f64Div().get(L.eps!).f64Add().f64Div();
    c.f64Sub().f32DemoteF64().f32Store(0);
    step(1);
  });
  return { name: "adamw32", params: f.params, results: [], locals: f.locals, body: c };
}

/** The module's bytes (emitted from TypeScript, deterministic). */
export function optimKernelModule(): Uint8Array {
  return emitModule({ minPages: 1, shared: true, funcs: [adamwFunc()] });
}

/** This thread's instance, over the heap. */
export const optimKernel = new HeapKernel(optimKernelModule);

/** Runs adamw32 on `n` float32 values at heap byte offsets p, g, m, v with the step's constants. */
export function adamwWasmCall(
  p: number, g: number, m: number, v: number, n: number,
  b1: number, c1: number, b2: number, c2: number, decay: number, stepSize: number, sqrtBc2: number, eps: number,
): void {
  (optimKernel.exports().adamw32 as (...x: number[]) => void)(p, g, m, v, n, b1, c1, b2, c2, decay, stepSize, sqrtBc2, eps);
}
