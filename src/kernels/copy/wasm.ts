/**
 * The WebAssembly twin of the strided copy (./copy.ts) for its three innermost
 * axes: `n2` blocks of `n1` runs of `inner` elements, the source and destination
 * advancing by their strides (in elements) along each. Elements move as 4- or 8-byte
 * values (runs contiguous on both sides as 16-byte vectors first), a bit-exact
 * copy; the TypeScript caller walks the outer axes.
 *
 *   copy4 / copy8(src, dst, n2, n1, inner, ss2, ds2, ss1, ds1, ss, ds)
 *
 * src, dst: byte offsets in the heap of the block's first element.
 */
import { Code, emitModule, frame, I32, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";

function copyFunc(name: string, es: number, move: (c: Code, s: number, d: number) => void): FuncDef {
  const f = frame(
    [["src", I32], ["dst", I32], ["n2", I32], ["n1", I32], ["inner", I32], ["ss2", I32], ["ds2", I32], ["ss1", I32], ["ds1", I32], ["ss", I32], ["ds", I32]] as const,
    [["i", I32], ["j", I32], ["s", I32], ["d", I32], ["vecs", I32], ["b", I32], ["s1", I32], ["d1", I32]] as const,
  );
  const L = f.idx;
  const c = new Code();
  // Contiguous runs (both inner strides 1, nearly every call: Winograd's padded planes, layout changes) move
  // 16 bytes at a time, whole vectors first (a v128 load and store move the bits as they are); the rest element
  // by element. A 64 x 28 x 28 pad copy: 0.54 -> 0.28-0.30 ns an element (66M elements a MNIST b64 training step).
  c.i32Const(0).set(L.vecs);
  c.get(L.ss).i32Const(1).i32Eq().get(L.ds).i32Const(1).i32Eq().i32And().if();
  c.get(L.inner).i32Const(es === 4 ? 2 : 1).i32ShrU().set(L.vecs);
  c.end();
  // Strides to bytes once.
  for (const st of [L.ss2, L.ds2, L.ss1, L.ds1, L.ss, L.ds]) c.get(st).i32Const(es).i32Mul().set(st);
  // Blocks along the third axis: one call for many where a call was a token's (MNIST b64's head permutes
  // [256, 49, 4, 32]: 0.68-1.0 -> 0.54-0.57 ms each; the calls' JavaScript in a one-thread training step, profiled,
  // 10.9 -> 3.1 ms).
  c.i32Const(0).set(L.b);
  c.whileLtU(L.b, L.n2, () => {
    c.get(L.src).set(L.s1).get(L.dst).set(L.d1);
    c.i32Const(0).set(L.i);
    c.whileLtU(L.i, L.n1, () => {
      c.get(L.s1).set(L.s).get(L.d1).set(L.d).i32Const(0).set(L.j);
      c.whileLtU(L.j, L.vecs, () => {
        c.get(L.d).get(L.s).v128Load(0).v128Store(0);
        c.get(L.s).i32Const(16).i32Add().set(L.s);
        c.get(L.d).i32Const(16).i32Add().set(L.d);
        c.get(L.j).i32Const(1).i32Add().set(L.j);
      });
      c.get(L.vecs).i32Const(16 / es).i32Mul().set(L.j);
      c.whileLtU(L.j, L.inner, () => {
        move(c, L.s, L.d);
        c.get(L.s).get(L.ss).i32Add().set(L.s);
        c.get(L.d).get(L.ds).i32Add().set(L.d);
        c.get(L.j).i32Const(1).i32Add().set(L.j);
      });
      c.get(L.s1).get(L.ss1).i32Add().set(L.s1);
      c.get(L.d1).get(L.ds1).i32Add().set(L.d1);
      c.get(L.i).i32Const(1).i32Add().set(L.i);
    });
    c.get(L.src).get(L.ss2).i32Add().set(L.src);
    c.get(L.dst).get(L.ds2).i32Add().set(L.dst);
    c.get(L.b).i32Const(1).i32Add().set(L.b);
  });
  return { name, params: f.params, results: [], locals: f.locals, body: c };
}

/** The module's bytes (emitted from TypeScript, deterministic). */
export function copyKernelModule(): Uint8Array {
  return emitModule({
    minPages: 1, shared: true, funcs: [
      copyFunc("copy4", 4, (c, s, d) => c.get(d).get(s).i32Load(0).i32Store(0)),
      copyFunc("copy8", 8, (c, s, d) => c.get(d).get(s).f64Load(0).f64Store(0)),
    ],
  });
}

/** This thread's instance, over the heap. */
export const copyKernel = new HeapKernel(copyKernelModule);

/** Runs one two-axis block (byte offsets; strides in elements). */
export function copyWasmCall(
  f64: boolean, src: number, dst: number, n1: number, inner: number, ss1: number, ds1: number, ss: number, ds: number,
): void {
  copyWasmCall3(f64, src, dst, 1, n1, inner, 0, 0, ss1, ds1, ss, ds);
}

/** Runs `n2` two-axis blocks `ss2` / `ds2` elements apart (byte offsets; strides in elements). */
export function copyWasmCall3(
  f64: boolean, src: number, dst: number, n2: number, n1: number, inner: number, ss2: number, ds2: number, ss1: number, ds1: number, ss: number, ds: number,
): void {
  (copyKernel.exports()[f64 ? "copy8" : "copy4"] as (...a: number[]) => void)(src, dst, n2, n1, inner, ss2, ds2, ss1, ds1, ss, ds);
}
