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
} from "../kernels/masked-norm.js";
import { record } from "../autograd/tape.js";
import { mul } from "./elementwise.js";
import type { BatchNormOptions } from "./norm.js";
import { commonDtype, empty } from "./util.js";

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
  const dtype = commonDtype(op, ...[x, weight, bias].filter((t): t is Tensor => t !== null));
  if (x.rank < 2) fail(op, `input must be [N, C, ...], got ${fmtShape(x.shape)}`);
  const n = x.shape[0]!;
  const c = x.shape[1]!;
  const s = sizeOf(x.shape.slice(2));
  if (!(mask instanceof Uint8Array) || mask.length !== n * s) {
    fail(op, `mask must be a Uint8Array of N * spatial = ${n * s} entries for input ${fmtShape(x.shape)}, got ${mask instanceof Uint8Array ? mask.length + " entries" : typeof mask}`);
  }
  for (const [name, t] of [["runningMean", runningMean], ["runningVar", runningVar], ["weight", weight], ["bias", bias]] as const) {
    if (t !== null && (t.rank !== 1 || t.shape[0] !== c)) fail(op, `${name} must be [${c}] for input ${fmtShape(x.shape)}, got ${fmtShape(t.shape)}`);
  }
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  const count = maskCount(mask);
  const mean = new Float64Array(c);
  const invStd = new Float64Array(c);
  const training = opts.training;
  if (training) {
    if (count <= 1) fail(op, `training needs more than one visible value per channel, the mask of input ${fmtShape(x.shape)} has ${count} visible positions`);
    const varB = new Float64Array(c);
    maskedChannelMeanVar(x.data, mask, n, c, s, count, mean, varB);
    const rm = runningMean.data;
    const rv = runningVar.data;
    for (let ch = 0; ch < c; ch++) {
      invStd[ch] = 1 / Math.sqrt(varB[ch]! + eps);
      rm[ch] = (1 - momentum) * rm[ch]! + momentum * mean[ch]!;
      rv[ch] = (1 - momentum) * rv[ch]! + momentum * ((varB[ch]! * count) / (count - 1));
    }
  } else {
    for (let ch = 0; ch < c; ch++) {
      mean[ch] = runningMean.data[ch]!;
      invStd[ch] = 1 / Math.sqrt(runningVar.data[ch]! + eps);
    }
  }
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    scale[ch] = (weight ? weight.data[ch]! : 1) * invStd[ch]!;
    shift[ch] = (bias ? bias.data[ch]! : 0) - mean[ch]! * scale[ch]!;
  }
  const m = mask.slice(); // the backward must not see later edits of the caller's mask
  const out = empty(x.shape, dtype);
  maskedChannelAffine(x.data, m, out.data, n, c, s, scale, shift);
  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  return record(op, out, inputs, (g) => {
    const sumG = new Float64Array(c);
    const sumGX = new Float64Array(c);
    maskedChannelGradSums(g.data, x.data, m, n, c, s, mean, invStd, sumG, sumGX);
    let gx: Tensor | null = null;
    if (x.requiresGrad) {
      gx = empty(x.shape, dtype);
      const a = new Float64Array(c);
      const b = new Float64Array(c);
      if (training) {
        for (let ch = 0; ch < c; ch++) {
          a[ch] = sumG[ch]! / count;
          b[ch] = sumGX[ch]! / count;
        }
      }
      maskedChannelGradInput(g.data, x.data, m, gx.data, n, c, s, mean, invStd, scale, a, b);
    }
    const grads: (Tensor | null)[] = [gx];
    if (weight) grads.push(weight.requiresGrad ? Tensor.from(sumGX, [c], dtype) : null);
    if (bias) grads.push(bias.requiresGrad ? Tensor.from(sumG, [c], dtype) : null);
    return grads;
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
