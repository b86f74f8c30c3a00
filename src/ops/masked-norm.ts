/**
 * Masked (sparse) batch norm for masked-image pre-training of convolutional
 * stems (SparK): statistics, their gradients and the running averages come
 * from visible positions only, and masked positions are 0 in the output (BN's
 * shift would otherwise make them non-zero) and get no gradient. Also the
 * "sparse conv" step: multiplying a feature map by its position mask.
 */
import { fail, fmtShape } from "../tensor/errors.js";
import { sizeOf } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import {
  maskCount, maskedChannelAffine, maskedChannelGradInput, maskedChannelGradSums, maskedChannelMeanVar,
} from "../kernels/norm/masked-norm.js";
import { mul } from "./elementwise.js";
import { batchNormWith, type BatchNormOptions } from "./norm.js";
import { empty } from "./util.js";

/**
 * Batch norm of x `[N, C, ...spatial]` whose positions `mask` (length
 * N * prod(spatial), row-major over (n, spatial), 1 = visible) selects what
 * counts. Training: normalises with the mean and biased variance of the visible
 * values, updates runningMean/runningVar IN PLACE from them (variance entering
 * unbiased over the visible count, as PyTorch does over all values); eval: the
 * running statistics. Output and input gradient are 0 at masked positions;
 * weight/bias gradients sum over visible positions. With an all-ones mask this
 * is exactly {@link batchNorm}.
 */
export function maskedBatchNorm(
  x: Tensor, mask: Uint8Array, runningMean: Tensor, runningVar: Tensor, weight: Tensor | null, bias: Tensor | null, opts: BatchNormOptions,
): Tensor {
  const op = "maskedBatchNorm";
  if (x.rank < 2) fail(op, `input must be [N, C, ...], got ${fmtShape(x.shape)}`);
  const n = x.shape[0]!;
  const c = x.shape[1]!;
  const s = sizeOf(x.shape.slice(2));
  if (!(mask instanceof Uint8Array) || mask.length !== n * s) {
    fail(op, `mask must be a Uint8Array of N * spatial = ${n * s} entries for input ${fmtShape(x.shape)}, got ${mask instanceof Uint8Array ? mask.length + " entries" : typeof mask}`);
  }
  const m = mask.slice(); // the backward must not see later edits of the caller's mask
  const count = maskCount(m);
  return batchNormWith(op, x, runningMean, runningVar, weight, bias, opts, {
    count,
    what: "visible value",
    meanVar: (mean, varB) => maskedChannelMeanVar(x.data, m, n, c, s, count, mean, varB),
    affine: (out, scale, shift) => maskedChannelAffine(x.data, m, out.data, n, c, s, scale, shift),
    gradSums: (g, mean, invStd, sumG, sumGX) => maskedChannelGradSums(g.data, x.data, m, n, c, s, mean, invStd, sumG, sumGX),
    gradInput: (g, gx, mean, invStd, k, a, b) => maskedChannelGradInput(g.data, x.data, m, gx.data, n, c, s, mean, invStd, k, a, b),
  });
}

/** {@link maskedBatchNorm} for `[N, C, H, W]` with a mask of N*H*W entries. */
export function maskedBatchNorm2d(
  x: Tensor, mask: Uint8Array, runningMean: Tensor, runningVar: Tensor, weight: Tensor | null, bias: Tensor | null, opts: BatchNormOptions,
): Tensor {
  if (x.rank !== 4) fail("maskedBatchNorm2d", `input must be [N, C, H, W], got ${fmtShape(x.shape)}`);
  return maskedBatchNorm(x, mask, runningMean, runningVar, weight, bias, opts);
}

/**
 * x `[N, C, ...spatial]` times its position mask (N * prod(spatial) entries,
 * broadcast over C): the sparse-conv step, zeroing outputs at masked positions
 * (gradient: the mask again).
 */
export function applyPositionMask(x: Tensor, mask: Uint8Array): Tensor {
  const op = "applyPositionMask";
  if (x.rank < 2) fail(op, `input must be [N, C, ...], got ${fmtShape(x.shape)}`);
  const n = x.shape[0]!;
  const spatial = x.shape.slice(2);
  const s = sizeOf(spatial);
  if (!(mask instanceof Uint8Array) || mask.length !== n * s) {
    fail(op, `mask must be a Uint8Array of N * spatial = ${n * s} entries for input ${fmtShape(x.shape)}, got ${mask instanceof Uint8Array ? mask.length + " entries" : typeof mask}`);
  }
  const m = empty([n, 1, ...spatial], x.dtype);
  for (let i = 0; i < mask.length; i++) m.data[i] = mask[i] !== 0 ? 1 : 0;
  return mul(x, m);
}
