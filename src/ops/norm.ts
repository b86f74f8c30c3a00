/** Batch normalisation and layer normalisation (PyTorch semantics). */
import { fail, fmtShape } from "../tensor/errors.js";
import { sameShape, sizeOf } from "../tensor/shape.js";
import { Tensor, type DType } from "../tensor/tensor.js";
import { layerNormBackward, layerNormForward } from "../kernels/norm/norm.js";
import { channelAffineThreads, channelGradInputThreads, channelGradSumsThreads, channelMeanVarThreads } from "../kernels/norm/threads.js";
import { record } from "../autograd/tape.js";
import { commonDtype, empty, unzeroed } from "./util.js";

/** Options of {@link batchNorm}. */
export interface BatchNormOptions {
  /** Normalise with batch statistics and update the running ones (true) or use the running ones (false). */
  training: boolean;
  /** Weight of the new batch statistic in the running average; default 0.1. */
  momentum?: number;
  /** Added to the variance; default 1e-5. */
  eps?: number;
}

/**
 * The per-channel passes of a batch norm over x [N, C, S]: statistics, the
 * affine map and the two backward passes. Plain batch norm sweeps every
 * position; masked batch norm (./masked-norm.ts) only the visible ones.
 */
export interface ChannelPasses {
  /** Values per channel that enter the statistics. */
  count: number;
  /** What those values are, for errors ("value", "visible value"). */
  what: string;
  meanVar(mean: Float64Array, varB: Float64Array): void;
  affine(out: Tensor, scale: Float64Array, shift: Float64Array): void;
  gradSums(g: Tensor, mean: Float64Array, invStd: Float64Array, sumG: Float64Array, sumGX: Float64Array): void;
  gradInput(g: Tensor, gx: Tensor, mean: Float64Array, invStd: Float64Array, k: Float64Array, a: Float64Array, b: Float64Array): void;
}

/**
 * A batch norm's forward state: the statistics it normalised with and the
 * per-channel affine map out = x scale + shift, what the backward needs.
 */
export interface BatchNormState {
  c: number;
  dtype: DType;
  training: boolean;
  /** Values per channel in the statistics. */
  count: number;
  mean: Float64Array;
  invStd: Float64Array;
  scale: Float64Array;
  shift: Float64Array;
}

/**
 * The forward half of a batch norm of x `[N, C, ...]` through `passes` (shape
 * of x checked by the caller): checks the parameters, takes the batch
 * statistics and updates the running ones (training) or reads the running
 * ones (eval), and returns the affine map; the caller applies it.
 */
export function batchNormState(
  op: string, x: Pick<Tensor, "shape" | "dtype">, runningMean: Tensor, runningVar: Tensor, weight: Tensor | null, bias: Tensor | null,
  opts: BatchNormOptions, passes: Pick<ChannelPasses, "count" | "what" | "meanVar">,
): BatchNormState {
  const dtype = commonDtype(op, ...[x, weight, bias].filter((t): t is Tensor => t !== null));
  const c = x.shape[1]!;
  for (const [name, t] of [["runningMean", runningMean], ["runningVar", runningVar], ["weight", weight], ["bias", bias]] as const) {
    if (t !== null && (t.rank !== 1 || t.shape[0] !== c)) {
      fail(op, `${name} must be [${c}] for input ${fmtShape(x.shape)} (${c} channels), got ${fmtShape(t.shape)}`);
    }
  }
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  const count = passes.count;
  const mean = new Float64Array(c);
  const invStd = new Float64Array(c);
  const training = opts.training;
  if (training) {
    if (count <= 1) fail(op, `training needs more than one ${passes.what} per channel, got input ${fmtShape(x.shape)} with ${count}`);
    const varB = new Float64Array(c);
    passes.meanVar(mean, varB);
    const rm = runningMean.data;
    const rv = runningVar.data;
    for (let ch = 0; ch < c; ch++) {
      invStd[ch] = 1 / Math.sqrt(varB[ch]! + eps);
      rm[ch] = (1 - momentum) * rm[ch]! + momentum * mean[ch]!;
      rv[ch] = (1 - momentum) * rv[ch]! + momentum * (varB[ch]! * count / (count - 1));
    }
  } else {
    const rm = runningMean.data, rv = runningVar.data;
    for (let ch = 0; ch < c; ch++) {
      mean[ch] = rm[ch]!;
      invStd[ch] = 1 / Math.sqrt(rv[ch]! + eps);
    }
  }
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  // Float32: scale and shift rounded to float32 and the map applied in float32 (affineValue in
  // src/kernels/norm/norm.ts), as PyTorch's CPU batch norm does (alpha = invstd w, beta = b - mean alpha,
  // out = x alpha + beta, two roundings). The arrays are taken once and each dtype has its loop: with the
  // getters and a rounding closure in the loop a call took 2.2x as long (1536 channels: 47.5 -> 21 us, warm).
  const w = weight?.data ?? null, b = bias?.data ?? null;
  if (dtype === "float32") {
    for (let ch = 0; ch < c; ch++) {
      scale[ch] = Math.fround((w ? w[ch]! : 1) * invStd[ch]!);
      shift[ch] = Math.fround((b ? b[ch]! : 0) - mean[ch]! * scale[ch]!);
    }
  } else {
    for (let ch = 0; ch < c; ch++) {
      scale[ch] = (w ? w[ch]! : 1) * invStd[ch]!;
      shift[ch] = (b ? b[ch]! : 0) - mean[ch]! * scale[ch]!;
    }
  }
  return { c, dtype, training, count, mean, invStd, scale, shift };
}

/**
 * The backward half: from g (the gradient of the output) the gradients of
 * x (written into `gx`, which may be g itself: each value is read before it
 * is written; null when x needs none), weight and bias, in input order.
 */
export function batchNormBackward(
  st: BatchNormState, passes: Pick<ChannelPasses, "gradSums" | "gradInput">, g: Tensor, gx: Tensor | null, weight: Tensor | null, bias: Tensor | null,
): (Tensor | null)[] {
  const { c, dtype, count, mean, invStd } = st;
  const sumG = new Float64Array(c);
  const sumGX = new Float64Array(c);
  passes.gradSums(g, mean, invStd, sumG, sumGX);
  if (gx) {
    const a = new Float64Array(c);
    const b = new Float64Array(c);
    if (st.training) {
      for (let ch = 0; ch < c; ch++) {
        a[ch] = sumG[ch]! / count;
        b[ch] = sumGX[ch]! / count;
      }
    }
    passes.gradInput(g, gx, mean, invStd, st.scale, a, b);
  }
  const grads: (Tensor | null)[] = [gx];
  if (weight) grads.push(weight.requiresGrad ? Tensor.from(sumGX, [c], dtype) : null);
  if (bias) grads.push(bias.requiresGrad ? Tensor.from(sumG, [c], dtype) : null);
  return grads;
}

/**
 * Batch norm of x `[N, C, ...]` through `passes` (shape of x checked by the
 * caller): the running-statistics update, the forward affine map and the
 * backward through the batch statistics, shared by {@link batchNorm} and the
 * masked batch norm.
 */
export function batchNormWith(
  op: string, x: Tensor, runningMean: Tensor, runningVar: Tensor, weight: Tensor | null, bias: Tensor | null,
  opts: BatchNormOptions, passes: ChannelPasses,
): Tensor {
  const st = batchNormState(op, x, runningMean, runningVar, weight, bias, opts, passes);
  // The affine and input-gradient passes write every element (0 at a masked norm's hidden ones).
  const out = unzeroed(x.shape, st.dtype);
  passes.affine(out, st.scale, st.shift);
  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  return record(op, out, inputs, (g) => batchNormBackward(st, passes, g, x.requiresGrad ? unzeroed(x.shape, st.dtype) : null, weight, bias));
}

/**
 * The channel passes of a plain batch norm over x [N, C, ...] (every position counts). `blocks`: the N
 * samples are that many equal runs (time steps) that the threaded elementwise passes split alike.
 */
export function plainChannelPasses(x: Tensor, blocks = 1): ChannelPasses {
  const n = x.shape[0]!;
  const c = x.shape[1]!;
  const s = sizeOf(x.shape.slice(2));
  return {
    count: n * s,
    what: "value",
    meanVar: (mean, varB) => channelMeanVarThreads(x.data, n, c, s, mean, varB),
    affine: (out, scale, shift) => channelAffineThreads(x.data, out.data, n, c, s, scale, shift, undefined, blocks),
    gradSums: (g, mean, invStd, sumG, sumGX) => channelGradSumsThreads(g.data, x.data, n, c, s, mean, invStd, sumG, sumGX),
    gradInput: (g, gx, mean, invStd, k, a, b) => channelGradInputThreads(g.data, x.data, gx.data, n, c, s, mean, invStd, k, a, b, undefined, blocks),
  };
}

/**
 * Batch norm over x `[N, C]`, `[N, C, L]` or `[N, C, H, W]` with per-channel
 * statistics over all axes but C. Training: normalises with the batch mean
 * and biased variance and updates `runningMean`/`runningVar` IN PLACE
 * (running = (1 - m) running + m stat, the variance entering unbiased, as in
 * PyTorch); the backward goes through the batch statistics. Eval: uses the
 * running statistics. `weight`/`bias` `[C]` may be null (affine = false).
 */
export function batchNorm(
  x: Tensor, runningMean: Tensor, runningVar: Tensor, weight: Tensor | null, bias: Tensor | null, opts: BatchNormOptions,
): Tensor {
  const op = "batchNorm";
  if (x.rank < 2 || x.rank > 4) fail(op, `input must be [N, C], [N, C, L] or [N, C, H, W], got ${fmtShape(x.shape)}`);
  return batchNormWith(op, x, runningMean, runningVar, weight, bias, opts, plainChannelPasses(x));
}

/**
 * Layer norm over the trailing axes `normalizedShape` of x: per row, subtract
 * the mean, divide by sqrt(biased var + eps), then scale by `weight` and add
 * `bias` (both of shape normalizedShape, optional).
 */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const op = "layerNorm";
  const w = weight ?? null;
  const b = bias ?? null;
  const dtype = commonDtype(op, ...[x, w, b].filter((t): t is Tensor => t !== null));
  const k = normalizedShape.length;
  if (k === 0 || k > x.rank || !sameShape(x.shape.slice(x.rank - k), normalizedShape)) {
    fail(op, `normalizedShape ${fmtShape(normalizedShape)} must be a non-empty suffix of the input shape ${fmtShape(x.shape)}`);
  }
  if (w && !sameShape(w.shape, normalizedShape)) fail(op, `weight must have shape ${fmtShape(normalizedShape)}, got ${fmtShape(w.shape)}`);
  if (b && !sameShape(b.shape, normalizedShape)) fail(op, `bias must have shape ${fmtShape(normalizedShape)}, got ${fmtShape(b.shape)}`);
  const d = sizeOf(normalizedShape);
  const r = d === 0 ? 0 : x.size / d;
  const mean = new Float64Array(r);
  const rstd = new Float64Array(r);
  const out = empty(x.shape, dtype);
  layerNormForward(x.data, out.data, r, d, w ? w.data : null, b ? b.data : null, eps, mean, rstd);
  const inputs = [x, w, b].filter((t): t is Tensor => t !== null);
  return record(op, out, inputs, (g) => {
    const gx = x.requiresGrad ? empty(x.shape, dtype) : null;
    const gw = w && w.requiresGrad ? new Float64Array(d) : null;
    const gb = b && b.requiresGrad ? new Float64Array(d) : null;
    layerNormBackward(g.data, x.data, r, d, w ? w.data : null, mean, rstd, gx ? gx.data : null, gw, gb);
    const grads: (Tensor | null)[] = [gx];
    if (w) grads.push(gw ? Tensor.from(gw, w.shape, dtype) : null);
    if (b) grads.push(gb ? Tensor.from(gb, b.shape, dtype) : null);
    return grads;
  });
}
