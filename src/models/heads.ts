/**
 * The float side of Spikformer's attention heads: channels [..., N, heads·d] split into heads
 * [..., heads, N, d] (a reshape and a permute, as the official code does) and merged back. The spike
 * side is splitHeads (src/ops/spike/spike-layout.ts); the bit kernels fold both into their addressing.
 */
import type { Tensor } from "../tensor/tensor.js";
import { permute, reshape } from "../ops/shape.js";

/** Float [..., N, heads·d] -> [..., heads, N, d] (Spikformer's reshape + permute). */
export function headsOf(x: Tensor, heads: number): Tensor {
  const s = x.shape;
  const lead = s.slice(0, -2), N = s[s.length - 2]!, D = s[s.length - 1]!;
  const r = lead.length;
  return permute(reshape(x, [...lead, N, heads, D / heads]), [...lead.map((_, i) => i), r + 1, r, r + 2]);
}

/** Float [..., heads, N, d] -> [..., N, heads·d], the inverse of {@link headsOf}. */
export function mergeHeads(y: Tensor): Tensor {
  const s = y.shape;
  const lead = s.slice(0, -3), [h, N, d] = s.slice(-3) as [number, number, number];
  const r = lead.length;
  return reshape(permute(y, [...lead.map((_, i) => i), r + 1, r, r + 2]), [...lead, N, h * d]);
}
