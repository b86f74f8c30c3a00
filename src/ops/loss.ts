/** Losses with PyTorch semantics: cross-entropy (class indices or soft targets, label smoothing) and MSE. */
import { fail, fmtShape } from "../tensor/errors.js";
import { sameShape } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { crossEntropyForward, crossEntropyGradLogits, crossEntropyGradTarget } from "../kernels/cross-entropy.js";
import { record } from "../autograd/tape.js";
import { commonDtype, empty } from "./util.js";
import { mul, sub } from "./elementwise.js";
import { mean, sum } from "./reduce.js";

/** How per-sample losses are combined: averaged, summed, or returned as they are. */
export type Reduction = "mean" | "sum" | "none";

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** ls in [0, 1]: targets become (1 - ls) t + ls / C (PyTorch's `label_smoothing`). Default 0. */
  labelSmoothing?: number;
  /** Default "mean" (over the batch). */
  reduction?: Reduction;
}

function checkReduction(op: string, r: string): Reduction {
  if (r !== "mean" && r !== "sum" && r !== "none") fail(op, `reduction must be "mean", "sum" or "none", got ${JSON.stringify(r)}`);
  return r;
}

/**
 * Cross-entropy of `logits` [B, C] against class indices (Int32Array of B
 * entries in [0, C)) or soft targets (a float tensor [B, C], e.g. mixup
 * labels). Per row, with t' = (1 - ls) t + ls / C and logp = log-softmax:
 * loss = -sum_c t'_c logp_c, so for a class index y:
 * loss = -(1 - ls) logp_y - (ls / C) sum_c logp_c (PyTorch's formula).
 * "mean" divides by B (an empty batch gives NaN, like PyTorch), "none" returns
 * [B]. Gradients go to the logits and, for soft targets, to the targets too.
 */
export function crossEntropy(logits: Tensor, target: Int32Array | Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const op = "crossEntropy";
  const ls = opts.labelSmoothing ?? 0;
  const reduction = checkReduction(op, opts.reduction ?? "mean");
  if (!(ls >= 0 && ls <= 1)) fail(op, `labelSmoothing must be in [0, 1], got ${ls}`);
  if (logits.rank !== 2) fail(op, `logits must be [B, C], got ${fmtShape(logits.shape)}`);
  const [b, c] = logits.shape as [number, number];
  if (c === 0) fail(op, `logits ${fmtShape(logits.shape)} have no classes`);
  let cls: Int32Array | null = null;
  let soft: Tensor | null = null;
  if (target instanceof Tensor) {
    commonDtype(op, logits, target);
    if (!sameShape(target.shape, logits.shape)) {
      fail(op, `soft targets ${fmtShape(target.shape)} must have the logits' shape ${fmtShape(logits.shape)}`);
    }
    soft = target;
  } else {
    if (target.length !== b) fail(op, `${target.length} class indices for logits ${fmtShape(logits.shape)} (expected ${b})`);
    for (let r = 0; r < b; r++) {
      const y = target[r]!;
      if (y < 0 || y >= c) fail(op, `class index ${y} of sample ${r} is out of range [0, ${c}) for logits ${fmtShape(logits.shape)}`);
    }
    cls = target.slice(); // kept for the backward, safe from later edits
  }
  const logp = new Float64Array(b * c);
  const rows = new Float64Array(b);
  crossEntropyForward(logits.data, b, c, cls, soft ? soft.data : null, ls, logp, rows);
  let out: Tensor;
  if (reduction === "none") {
    out = empty([b], logits.dtype);
    out.data.set(rows);
  } else {
    let s = 0;
    for (let r = 0; r < b; r++) s += rows[r]!;
    out = Tensor.scalar(reduction === "mean" ? s / b : s, logits.dtype);
  }
  const inputs = soft ? [logits, soft] : [logits];
  return record(op, out, inputs, (g) => {
    const w = new Float64Array(b);
    if (reduction === "none") w.set(g.data);
    else w.fill(reduction === "mean" ? g.data[0]! / b : g.data[0]!);
    const gz = empty(logits.shape, logits.dtype);
    crossEntropyGradLogits(logp, b, c, cls, soft ? soft.data : null, ls, w, gz.data);
    let gt: Tensor | null = null;
    if (soft && soft.requiresGrad) {
      gt = empty(soft.shape, soft.dtype);
      crossEntropyGradTarget(logp, b, c, ls, w, gt.data);
    }
    return [gz, gt];
  });
}

/** Mean squared error (pred - target)^2, reduced by "mean" (default), "sum" or "none"; shapes must match. */
export function mseLoss(pred: Tensor, target: Tensor, reduction: Reduction = "mean"): Tensor {
  const op = "mseLoss";
  checkReduction(op, reduction);
  if (!sameShape(pred.shape, target.shape)) fail(op, `pred ${fmtShape(pred.shape)} and target ${fmtShape(target.shape)} must have the same shape`);
  commonDtype(op, pred, target);
  const d = sub(pred, target);
  const sq = mul(d, d);
  return reduction === "none" ? sq : reduction === "sum" ? sum(sq) : mean(sq);
}
