/**
 * The WebAssembly twin of the spike max-pool's gradient (./spike-pool.ts):
 * per plane, each output's gradient added onto the input element its argmax
 * names, outputs in order; each addition a float32 (or float64) add of the
 * same two numbers as the JS `gx[e] += g[i]`, so the bits are the same.
 *
 *   grad32 / grad64(g, argmax, gx, inPlane, outPlane, planes)
 *
 * g, argmax (int32), gx: byte offsets in the heap of the first plane to run.
 */
import { Code, emitModule, frame, I32, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";

function gradFunc(name: string, es: number, add: (c: Code, addr: number, g: number) => void): FuncDef {
  const f = frame(
    [["g", I32], ["am", I32], ["gx", I32], ["inPlane", I32], ["outPlane", I32], ["planes", I32]] as const,
    [["p", I32], ["end", I32], ["addr", I32]] as const,
  );
  const L = f.idx;
  const c = new Code();
  c.i32Const(0).set(L.p);
  c.whileLtU(L.p, L.planes, () => {
    c.get(L.am).get(L.outPlane).i32Const(4).i32Mul().i32Add().set(L.end);
    c.whileLtU(L.am, L.end, () => {
      c.get(L.gx).get(L.am).i32Load(0).i32Const(es).i32Mul().i32Add().set(L.addr);
      add(c, L.addr, L.g);
      c.get(L.am).i32Const(4).i32Add().set(L.am);
      c.get(L.g).i32Const(es).i32Add().set(L.g);
    });
    c.get(L.gx).get(L.inPlane).i32Const(es).i32Mul().i32Add().set(L.gx);
    c.get(L.p).i32Const(1).i32Add().set(L.p);
  });
  return { name, params: f.params, results: [], locals: f.locals, body: c };
}

/** The module's bytes (emitted from TypeScript, deterministic). */
export function spikePoolKernelModule(): Uint8Array {
  return emitModule({
    minPages: 1, shared: true, funcs: [
      gradFunc("grad32", 4, (c, a, g) => c.get(a).get(a).f32Load(0).get(g).f32Load(0).f32Add().f32Store(0)),
      gradFunc("grad64", 8, (c, a, g) => c.get(a).get(a).f64Load(0).get(g).f64Load(0).f64Add().f64Store(0)),
    ],
  });
}

/** This thread's instance, over the heap. */
export const spikePoolKernel = new HeapKernel(spikePoolKernelModule);

/** Runs `planes` planes of the gradient at heap byte offsets; `f64` picks the element type. */
export function maxPoolGradWasmCall(f64: boolean, g: number, argmax: number, gx: number, inPlane: number, outPlane: number, planes: number): void {
  (spikePoolKernel.exports()[f64 ? "grad64" : "grad32"] as (...a: number[]) => void)(g, argmax, gx, inPlane, outPlane, planes);
}
