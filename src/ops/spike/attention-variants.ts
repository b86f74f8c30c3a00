/**
 * Attention maps of the Spikformer ablation (paper Table I), one interface:
 * `attentionVariant(kind, q, k, v, opts)` with q, k, v `[..., N, d]`, each a
 * float Tensor or Spikes (spikes are cast with the differentiable
 * spikesToFloat, except for "ssa", which stays on bits).
 *
 * | kind        | q, k              | output                                  |
 * |-------------|-------------------|-----------------------------------------|
 * | "ssa"       | spikes (q, k, v)  | Q Kᵀ V · scale, bit kernels             |
 * | "identity"  | float (A_I)       | (Q Kᵀ) V · scale                        |
 * | "relu"      | float (A_ReLU)    | (ReLU(Q) ReLU(K)ᵀ) V · scale            |
 * | "leakyrelu" | float (A_LeakyReLU)| (LReLU(Q) LReLU(K)ᵀ) V · scale (slope) |
 * | "softmax"   | float (A_softmax) | softmax(Q Kᵀ · scale) V, scale d^-1/2   |
 *
 * In the paper V is spike V for every variant; float V is accepted as well.
 * The float variants are composed from differentiable float ops (matmul,
 * transpose, relu, softmax), so their gradients come from those ops.
 */
import { fail, fmtShape } from "../../tensor/errors.js";
import { Spikes } from "../../tensor/spikes.js";
import { Tensor } from "../../tensor/tensor.js";
import { matmul } from "../matmul.js";
import { leakyRelu, mul, relu } from "../elementwise.js";
import { softmax } from "../activation.js";
import { transpose } from "../shape.js";
import { spikesToFloat } from "./cast.js";
import { spikingSelfAttention, type SsaOrder } from "./ssa.js";

/** The attention maps of the ablation. */
export type AttentionKind = "ssa" | "identity" | "relu" | "leakyrelu" | "softmax";

/** Options of {@link attentionVariant}. */
export interface AttentionVariantOptions {
  /**
   * Output scale s for "ssa", "identity", "relu", "leakyrelu" (required);
   * for "softmax" the logit scale, default d^-1/2.
   */
  scale?: number;
  /** Negative slope of "leakyrelu" (default 0.01, PyTorch's). */
  slope?: number;
  /** Association order of "ssa". */
  order?: SsaOrder;
}

function asFloat(x: Tensor | Spikes): Tensor {
  return x instanceof Spikes ? spikesToFloat(x) : x;
}

/** The attention output `[..., N, d]` of one ablation variant (see the file comment). */
export function attentionVariant(kind: AttentionKind, q: Tensor | Spikes, k: Tensor | Spikes, v: Tensor | Spikes, opts: AttentionVariantOptions = {}): Tensor {
  const op = "attentionVariant";
  const scale = opts.scale;
  if (scale !== undefined && (typeof scale !== "number" || !Number.isFinite(scale))) fail(op, `scale must be a finite number, got ${String(scale)}`);
  if (kind === "ssa") {
    if (!(q instanceof Spikes && k instanceof Spikes && v instanceof Spikes)) fail(op, `"ssa" needs spike q, k and v; cast floats with a neuron or use "identity"`);
    if (scale === undefined) fail(op, `"ssa" needs opts.scale`);
    return spikingSelfAttention(q, k, v, { scale, order: opts.order });
  }
  if (q.rank < 2 || k.rank < 2 || v.rank < 2) fail(op, `q, k and v must be [..., N, d], got ${fmtShape(q.shape)}, ${fmtShape(k.shape)} and ${fmtShape(v.shape)}`);
  let qf = asFloat(q);
  let kf = asFloat(k);
  const vf = asFloat(v);
  // matmul checks the shapes (and names itself); q and k must match for Q Kᵀ.
  if (kind === "softmax") {
    const d = qf.shape[qf.rank - 1] ?? 0;
    const s = scale ?? 1 / Math.sqrt(d);
    return matmul(softmax(mul(matmul(qf, transpose(kf, -1, -2)), s), -1), vf);
  }
  if (scale === undefined) fail(op, `"${kind}" needs opts.scale`);
  if (kind === "relu") {
    qf = relu(qf);
    kf = relu(kf);
  } else if (kind === "leakyrelu") {
    const slope = opts.slope ?? 0.01;
    qf = leakyRelu(qf, slope);
    kf = leakyRelu(kf, slope);
  } else if (kind !== "identity") {
    fail(op, `unknown kind ${JSON.stringify(kind)}; expected "ssa", "identity", "relu", "leakyrelu" or "softmax"`);
  }
  return mul(matmul(matmul(qf, transpose(kf, -1, -2)), vf), scale);
}
