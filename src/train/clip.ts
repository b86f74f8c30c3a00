/**
 * Gradient clipping by the global L2 norm (PyTorch's `clip_grad_norm_`).
 */
import { fail } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";

/**
 * Scales every gradient by `maxNorm / (norm + 1e-6)` when the global L2 norm
 * over all gradients exceeds `maxNorm`; returns the norm before clipping.
 * Params without a gradient are skipped. The sum of squares runs in float64, in
 * parameter order, so the result is deterministic. A non-finite norm (a NaN or
 * infinite gradient) is returned without touching the gradients, so the caller
 * can skip the step.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) fail("clipGradNorm", `maxNorm must be a finite number > 0, got ${maxNorm}`);
  const grads = [];
  let ss = 0;
  for (const p of params) {
    if (p.grad === null) continue;
    const g = p.grad.data;
    for (let i = 0; i < g.length; i++) ss += g[i]! * g[i]!;
    grads.push(g);
  }
  const norm = Math.sqrt(ss);
  if (!Number.isFinite(norm)) return norm;
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
  }
  return norm;
}
