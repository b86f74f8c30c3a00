/**
 * Spiking Self-Attention core: Q Kᵀ V · scale for spike Q, K, V, computed with
 * AND-popcount and gather-add bit kernels in either association order.
 *
 * Why both orders give identical results: Q Kᵀ and Kᵀ V are AND-popcounts
 * (integers <= d and <= N), and both triple products are the same integer
 * matrix sum_{j,a} Q[i,a] K[j,a] V[j,c] <= N·d. The kernels accumulate in
 * float64, where every partial sum is an integer < 2^53 and so exact; the order
 * of additions cannot matter. The only rounding is the final multiply by
 * `scale` (stored in the output dtype), applied to equal integers, so the two
 * orders agree bit for bit. In float32 the integer itself is exact while
 * N·d < 2^24, and the scale is first rounded to float32 (as `mul(t, s)` and
 * PyTorch do), so integer × scale is one correctly rounded float32 product:
 * the same bits as a float32 matmul of the 0/1 values followed by `mul`.
 */
import { fail, fmtShape } from "../../tensor/errors.js";
import { sameShape } from "../../tensor/shape.js";
import { Spikes } from "../../tensor/spikes.js";
import type { Tensor } from "../../tensor/tensor.js";
import { wordsFor } from "../../tensor/bits.js";
import type { SsaDims } from "../../kernels/ssa/ssa.js";
import { ssaBackwardThreads, ssaForwardThreads } from "../../kernels/ssa/threads.js";
import { record } from "../../autograd/tape.js";
import { commonDtype, unzeroed } from "../util.js";
import { splitHeadsBits } from "../../kernels/spike-layout.js";

/** Association order: (Q Kᵀ) V costs O(N² d), Q (Kᵀ V) costs O(N d²). */
export type SsaOrder = "auto" | "qk_v" | "q_kv";

/** Options of {@link spikingSelfAttention}. */
export interface SsaOptions {
  /** The constant s of Q Kᵀ V · s (Spikformer: 0.125, DVS 0.25). */
  scale: number;
  /** Association order; "auto" (default) picks the cheaper one for N and d. */
  order?: SsaOrder;
  /**
   * Multi-head attention on the tokens' layout: q, k, v and the output are `[..., N, heads·d]`, and the
   * result is Spikformer's split into heads (channel c to head floor(c / d)), the attention per head and
   * the merge back, with the same values, where the heads' float copies (the output's merge, the
   * gradients' split) are never made: each head reads and writes its columns in place. Default 1.
   */
  heads?: number;
}

/**
 * Estimated work of each order for one head (word-ANDs + adds, upper bounds
 * at full density), used by "auto". Exported so benchmarks can print it.
 */
export function ssaCost(n: number, d: number): { qk_v: number; q_kv: number } {
  return {
    qk_v: n * n * wordsFor(d) + n * n * d,
    q_kv: 2 * n * d + d * d * wordsFor(n) + n * d * d,
  };
}

/** The order "auto" resolves to for N tokens and head size d. */
export function resolveSsaOrder(order: SsaOrder, n: number, d: number): "qk_v" | "q_kv" {
  if (order !== "auto") return order;
  const c = ssaCost(n, d);
  return c.qk_v <= c.q_kv ? "qk_v" : "q_kv";
}

/**
 * Q Kᵀ V · scale for spikes q, k, v of one shape `[..., N, d]` (e.g.
 * `[T, B, heads, N, d]`), as a float tensor `[..., N, d]` in the spikes'
 * dtype. Both orders return the same bits (see the file comment).
 *
 * Backward (g = dL/dout, float): dQ = s g Vᵀ K, dK = s V gᵀ Q, dV = s K Qᵀ g,
 * evaluated in the same order as the forward: for q_kv through the d x d
 * matrices Kᵀ V (popcount) and Qᵀ g (scatter over Q's spikes); for qk_v
 * through the N x N matrices Q Kᵀ (popcount) and g Vᵀ (gather over V's spikes).
 */
export function spikingSelfAttention(q: Spikes, k: Spikes, v: Spikes, opts: SsaOptions): Tensor {
  const op = "spikingSelfAttention";
  const dtype = commonDtype(op, q, k, v);
  if (q.rank < 2) fail(op, `q must be [..., N, d] with rank >= 2, got ${fmtShape(q.shape)}`);
  if (!sameShape(q.shape, k.shape) || !sameShape(q.shape, v.shape)) {
    fail(op, `q, k and v must have one shape [..., N, d], got ${fmtShape(q.shape)}, ${fmtShape(k.shape)} and ${fmtShape(v.shape)}`);
  }
  if (typeof opts.scale !== "number" || !Number.isFinite(opts.scale)) fail(op, `scale must be a finite number, got ${String(opts.scale)}`);
  const H = opts.heads ?? 1;
  if (!Number.isInteger(H) || H < 1 || q.cols % H !== 0) fail(op, `heads must be a positive integer dividing the ${q.cols} channels, got ${String(opts.heads)}`);
  // The scale in the output dtype, as a float32 tensor times a number computes it (and PyTorch does).
  const scale = dtype === "float32" ? Math.fround(opts.scale) : opts.scale;
  const order0 = opts.order ?? "auto";
  if (order0 !== "auto" && order0 !== "qk_v" && order0 !== "q_kv") fail(op, `order must be "auto", "qk_v" or "q_kv", got ${JSON.stringify(order0)}`);
  const n = q.shape[q.rank - 2]!;
  const d = q.cols / H;
  const heads = n === 0 ? 0 : (q.rows / n) * H;
  const dims: SsaDims = { n, d, order: resolveSsaOrder(order0, n, d), scale, rowHeads: H };
  // The kernels read each head's spikes as an N x d matrix: with several heads a row, their bits are split first.
  const [qw, kw, vw] = H === 1 ? [q.words, k.words, v.words] : [q, k, v].map((s) => headWords(s, n, H, d));
  // The head loops, and their split over threads, are the ssa kernel family's (src/kernels/ssa/).
  const out = unzeroed(q.shape, dtype); // every head's matrix written whole (scaleInto)
  ssaForwardThreads(qw!, kw!, vw!, out.data, dims, heads);
  return record(op, out, [q, k, v], (g) => {
    const gq = q.requiresGrad ? unzeroed(q.shape, dtype) : null; // each written whole, head by head
    const gk = k.requiresGrad ? unzeroed(k.shape, dtype) : null;
    const gv = v.requiresGrad ? unzeroed(v.shape, dtype) : null;
    ssaBackwardThreads(qw!, kw!, vw!, g.data, gq && gq.data, gk && gk.data, gv && gv.data, dims, heads);
    return [gq, gk, gv];
  });
}

/** The words of spikes [..., N, H d] as H heads' N x d matrices a token group, [..., H, N, d] (splitHeads' bits). */
function headWords(s: Spikes, n: number, H: number, d: number): Uint32Array {
  const outer = n === 0 ? 0 : s.rows / n;
  const words = Spikes.zeros([outer, H, n, d], s.dtype).words;
  splitHeadsBits(s.words, words, outer, n, H, d);
  return words;
}
