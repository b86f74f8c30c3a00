/**
 * The exact (erf) GELU, PyTorch's default `approximate='none'`, and its
 * derivative: element by element, so a range of elements is a unit of work
 * and any split gives the same bits (./threads.ts).
 *
 * Float64 data: x Phi(x) with erfc to about 1e-15 (../unary.ts). Float32
 * data: float32 arithmetic, as PyTorch computes a float32 GELU, so the WASM
 * twin (./wasm.ts, f32x4 lanes) can do the same operations: Phi by
 * {@link normalCdfF32} (../unary.ts), phi with the neurons' float32 exp
 * ({@link expNonPositiveF32}). Every operation is one float32 operation, in
 * the order written.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { inHeap } from "../../tensor/heap.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { normalCdf, normalCdfF32, NORMAL_CDF_F32 } from "../unary.js";
import { expNonPositiveF32 } from "../neuron/exp.js";
import { geluWasmCall } from "./wasm.js";

const INV_SQRT_2PI = 0.3989422804014327;
const INV_SQRT_2PI_32 = NORMAL_CDF_F32.INV_SQRT_2PI;
const fr = Math.fround;

/** out[i] = x Phi(x) in float32 arithmetic for i in [i0, i1): the TypeScript twin of the WASM lanes. */
export function geluForwardRangeF32(x: FloatArray, out: FloatArray, i0: number, i1: number): void {
  for (let i = i0; i < i1; i++) {
    const v = x[i]!;
    out[i] = fr(v * normalCdfF32(v));
  }
}

/** dx[i] = g[i] (Phi(x) + x phi(x)) in float32 arithmetic for i in [i0, i1): the TypeScript twin of the WASM lanes. */
export function geluBackwardRangeF32(x: FloatArray, g: FloatArray, dx: FloatArray, i0: number, i1: number): void {
  for (let i = i0; i < i1; i++) {
    const v = x[i]!;
    const phi = fr(expNonPositiveF32(fr(-0.5 * fr(v * v))) * INV_SQRT_2PI_32);
    dx[i] = fr(g[i]! * fr(normalCdfF32(v) + fr(v * phi)));
  }
}

/** Float32 data (all arrays): the float32 GELU; in WASM where enabled and the arrays are in the heap. */
function f32Kind(arrays: readonly FloatArray[]): "wasm" | "js" | null {
  if (!arrays.every((a) => a instanceof Float32Array)) return null;
  return wasmKernelsEnabled() && arrays.every((a) => inHeap(a)) ? "wasm" : "js";
}

/** out[i] = x Phi(x) for i in [i0, i1): float32 arithmetic on float32 data, else float64. */
export function geluForwardRange(x: FloatArray, out: FloatArray, i0: number, i1: number): void {
  const k = f32Kind([x, out]);
  if (k === "wasm") return geluRangeWasm(false, x, x, out, i0, i1);
  if (k === "js") return geluForwardRangeF32(x, out, i0, i1);
  for (let i = i0; i < i1; i++) {
    const v = x[i]!;
    out[i] = v * normalCdf(v);
  }
}

/** dx[i] = g[i] (Phi(x) + x phi(x)), the derivative of x Phi(x), for i in [i0, i1): float32 arithmetic on float32 data, else float64. */
export function geluBackwardRange(x: FloatArray, g: FloatArray, dx: FloatArray, i0: number, i1: number): void {
  const k = f32Kind([x, g, dx]);
  if (k === "wasm") return geluRangeWasm(true, x, g, dx, i0, i1);
  if (k === "js") return geluBackwardRangeF32(x, g, dx, i0, i1);
  for (let i = i0; i < i1; i++) {
    const v = x[i]!;
    dx[i] = g[i]! * (normalCdf(v) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
  }
}

/**
 * The float32 GELU (backward: dx = g GELU'(x); forward: out = GELU(x), g unused)
 * by the WASM twin on elements i0..i1-1, four at a time; float32 heap arrays only.
 */
export function geluRangeWasm(backward: boolean, x: FloatArray, g: FloatArray, out: FloatArray, i0: number, i1: number): void {
  if (![x, g, out].every((a) => a instanceof Float32Array && inHeap(a))) throw new Error("geluRangeWasm: needs float32 heap arrays");
  if (i1 <= i0) return;
  const quads = (i1 - i0) >> 2, tail = i0 + 4 * quads;
  if (quads > 0) geluWasmCall(backward, x.byteOffset + 4 * i0, g.byteOffset + 4 * i0, out.byteOffset + 4 * i0, quads);
  // The last 1-3 elements by the TypeScript twin: the same operations, so the same bits.
  if (backward) geluBackwardRangeF32(x, g, out, tail, i1);
  else geluForwardRangeF32(x, out, tail, i1);
}
