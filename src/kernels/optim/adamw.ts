/**
 * The AdamW update of one parameter (PyTorch's torch.optim.AdamW, amsgrad off),
 * elements i0..i1-1, in float64 arithmetic with the moments rounded to their
 * buffers' type before use, as PyTorch does:
 *
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g g;
 *   p = p decay - (stepSize m) / (sqrt(v) / sqrtBc2 + eps)
 *
 * with the step's constants from src/train/optim.ts (decay = 1 - lr wd,
 * stepSize = lr / (1 - b1^t), sqrtBc2 = sqrt(1 - b2^t)). Each element is
 * independent: any split between threads gives the same bits. The WASM twin
 * (./wasm.ts) takes float32 heap arrays.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { inHeap } from "../../tensor/heap.js";
import { wasmKernelsEnabled, wasmSimdAvailable } from "../../wasm/backend.js";
import { BitspikeError } from "../../tensor/errors.js";
import { adamwWasmCall } from "./wasm.js";

/** One AdamW step's constants (float64). */
export interface AdamWStep {
  b1: number;
  b2: number;
  decay: number;
  stepSize: number;
  sqrtBc2: number;
  eps: number;
}

/** The plain loop that defines the update (the loop AdamW.update ran before it had twins). */
export function adamwRangeReference(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, s: AdamWStep, i0: number, i1: number): void {
  const { b1, b2, decay, stepSize, sqrtBc2, eps } = s;
  const c1 = 1 - b1, c2 = 1 - b2;
  for (let i = i0; i < i1; i++) {
    const gi = g[i]!;
    m[i] = b1 * m[i]! + c1 * gi;
    v[i] = b2 * v[i]! + c2 * gi * gi;
    p[i] = p[i]! * decay - (stepSize * m[i]!) / (Math.sqrt(v[i]!) / sqrtBc2 + eps);
  }
}

/** True when the WASM twin takes these arrays: float32, all in the heap. */
export function adamwWasmFits(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray): boolean {
  return [p, g, m, v].every((a) => a instanceof Float32Array && inHeap(a));
}

/** {@link adamwRangeReference} by the WASM SIMD twin: float32 heap arrays only. */
export function adamwRangeWasm(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, s: AdamWStep, i0: number, i1: number): void {
  if (!wasmSimdAvailable()) throw new BitspikeError("adamwRangeWasm", "this runtime has no WebAssembly SIMD");
  if (!adamwWasmFits(p, g, m, v)) throw new BitspikeError("adamwRangeWasm", "needs float32 arrays in the heap (parameter, gradient and both moments)");
  if (i1 <= i0) return;
  const at = (a: FloatArray): number => a.byteOffset + 4 * i0;
  adamwWasmCall(at(p), at(g), at(m), at(v), i1 - i0, s.b1, 1 - s.b1, s.b2, 1 - s.b2, s.decay, s.stepSize, s.sqrtBc2, s.eps);
}

/** One thread's dispatch: the WASM twin where the backend allows and the arrays fit, else the plain loop. */
export function adamwRange(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, s: AdamWStep, i0: number, i1: number): void {
  // (A few elements, a bias or a norm's scale: the loop, without a call into the module.)
  if (i1 - i0 >= 8 && wasmKernelsEnabled() && adamwWasmFits(p, g, m, v)) adamwRangeWasm(p, g, m, v, s, i0, i1);
  else adamwRangeReference(p, g, m, v, s, i0, i1);
}
