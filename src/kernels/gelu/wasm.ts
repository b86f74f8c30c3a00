/**
 * The WebAssembly SIMD twin of the float32 GELU (geluForwardRangeF32 and
 * geluBackwardRangeF32 in ./gelu.ts): four elements in the f32x4 lanes, each
 * lane doing the TypeScript twin's float32 operations in its order (the exp
 * is the neurons' lane-wise float32 exp), so the same bits.
 *
 *   gelu(x, g, out, quads, backward, consts)  x, g, out: byte offsets of float32
 *   arrays in the heap; 4 quads elements; forward out = x Phi(x) (g unused),
 *   backward out = g (Phi(x) + x phi(x)); consts: the thread's constant table (see ConstTable).
 */
import { Code, ConstTable, emitModule, I32, V128, withConstLocals, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";
import { EXP_TEMPS, emitExpF32, f32x4 } from "../neuron/wasm.js";
import { NORMAL_CDF_F32 } from "../unary.js";

/** The v128 constants of the GELU module (see ConstTable), filled as the module is emitted. */
const GELU_CONSTS = new ConstTable();

function geluFunc(): FuncDef {
  return withConstLocals(
    "gelu",
    [["x", I32], ["g", I32], ["out", I32], ["quads", I32], ["backward", I32]],
    [["end", I32], ["v", V128], ["z", V128], ["a", V128], ["t", V128], ["poly", V128], ["e", V128], ["cdf", V128],
      ...EXP_TEMPS.map((n) => [n, V128] as const)],
    GELU_CONSTS,
    (c: Code, L, kc) => {
      const k = (v: number) => c.get(kc(f32x4(v)));
      c.get(L.x!).get(L.quads!).i32Const(4).i32Shl().i32Add().set(L.end!);
      c.whileLtU(L.x!, L.end!, () => {
        c.get(L.x!).v128Load(0).set(L.v!);
        // z = x (-1/sqrt 2); a = |z|; t = 1 / (1 + 0.5 a)
        c.get(L.v!); k(NORMAL_CDF_F32.NEG_INV_SQRT2); c.f32x4Mul().tee(L.z!).f32x4Abs().set(L.a!);
        k(1); k(1); k(0.5); c.get(L.a!).f32x4Mul().f32x4Add().f32x4Div().set(L.t!);
        // p = c0 + t (c1 + ... t c9); e = exp(p - a a); r = t e
        const cs = NORMAL_CDF_F32.C;
        k(cs[9]!); c.set(L.poly!);
        for (let j = 8; j >= 0; j--) { c.get(L.poly!).get(L.t!).f32x4Mul(); k(cs[j]!); c.f32x4Add().set(L.poly!); }
        c.get(L.poly!).get(L.a!).get(L.a!).f32x4Mul().f32x4Sub().set(L.e!);
        emitExpF32(c, L, kc, L.e!, L.e!);
        c.get(L.t!).get(L.e!).f32x4Mul().set(L.e!);
        // Phi = 0.5 (z >= 0 ? r : 2 - r)
        k(0.5); c.get(L.e!); k(2); c.get(L.e!).f32x4Sub(); c.get(L.z!); k(0); c.f32x4Ge().v128Bitselect().f32x4Mul().set(L.cdf!);
        c.get(L.backward!).if();
        // out = g (Phi + x phi), phi = exp(-0.5 (x x)) / sqrt(2 pi)
        k(-0.5); c.get(L.v!).get(L.v!).f32x4Mul().f32x4Mul().set(L.e!);
        emitExpF32(c, L, kc, L.e!, L.e!);
        c.get(L.out!).get(L.g!).v128Load(0);
        c.get(L.cdf!).get(L.v!).get(L.e!); k(NORMAL_CDF_F32.INV_SQRT_2PI); c.f32x4Mul().f32x4Mul().f32x4Add();
        c.f32x4Mul().v128Store(0);
        c.else();
        c.get(L.out!).get(L.v!).get(L.cdf!).f32x4Mul().v128Store(0);
        c.end();
        for (const q of [L.x!, L.g!, L.out!]) c.get(q).i32Const(16).i32Add().set(q);
      });
    },
  );
}

/** The GELU module's bytes (emitted from TypeScript, deterministic). */
export function geluModule(): Uint8Array {
  return emitModule({ minPages: 1, shared: true, funcs: [geluFunc()] });
}

const kernel = new HeapKernel(geluModule, GELU_CONSTS);
let runs = 0;

/** Runs the float32 GELU on n elements at heap byte offsets: 4-element groups in WASM, the last n % 4 by the caller. */
export function geluWasmCall(backward: boolean, x: number, g: number, out: number, quads: number): void {
  runs++;
  (kernel.exports().gelu as (...a: number[]) => void)(x, g, out, quads, backward ? 1 : 0, kernel.constants());
}

/** How many times this thread has run the WASM GELU (lets tests see which backend ran). */
export function geluWasmRuns(): number {
  return runs;
}
