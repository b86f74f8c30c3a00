/**
 * The exact (erf) GELU, PyTorch's default `approximate='none'`, and its
 * derivative: element by element, so a range of elements is a unit of work
 * and any split gives the same bits (./threads.ts).
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { normalCdf } from "../unary.js";

const INV_SQRT_2PI = 0.3989422804014327;

/** out[i] = x Phi(x) for i in [i0, i1). */
export function geluForwardRange(x: FloatArray, out: FloatArray, i0: number, i1: number): void {
  for (let i = i0; i < i1; i++) {
    const v = x[i]!;
    out[i] = v * normalCdf(v);
  }
}

/** dx[i] = g[i] (Phi(x) + x phi(x)), the derivative of x Phi(x), for i in [i0, i1). */
export function geluBackwardRange(x: FloatArray, g: FloatArray, dx: FloatArray, i0: number, i1: number): void {
  for (let i = i0; i < i1; i++) {
    const v = x[i]!;
    dx[i] = g[i]! * (normalCdf(v) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
  }
}
