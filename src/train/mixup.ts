/**
 * Mixup (Zhang et al. 2018) in timm's batch mode: one lambda per batch, each
 * sample mixed with its mirror in the batch (i with B - 1 - i), targets as
 * label-smoothed one-hots mixed with the same lambda.
 */
import { fail, fmtShape } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";
import type { Rng } from "../tensor/random.js";
import { sampleBeta } from "./distributions.js";

/** Result of {@link mixup}. */
export interface MixupBatch {
  /** lam x + (1 - lam) x.flip(0), same shape and dtype as the input. */
  images: Tensor;
  /** Soft targets [B, numClasses]; each row sums to 1. */
  targets: Tensor;
  /** The mixing weight drawn (1 when alpha <= 0). */
  lam: number;
}

/**
 * Label-smoothed one-hot targets [B, C] (timm): off = smoothing / C,
 * on = 1 - smoothing + off.
 */
export function smoothOneHot(labels: Int32Array, numClasses: number, smoothing = 0): Tensor {
  const op = "smoothOneHot";
  if (!Number.isInteger(numClasses) || numClasses < 1) fail(op, `numClasses must be an integer >= 1, got ${numClasses}`);
  if (!(smoothing >= 0 && smoothing < 1)) fail(op, `smoothing must be in [0, 1), got ${smoothing}`);
  const B = labels.length;
  const out = Tensor.zeros([B, numClasses]);
  const off = smoothing / numClasses;
  const on = 1 - smoothing + off;
  out.data.fill(off);
  for (let i = 0; i < B; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) fail(op, `label ${y} at index ${i} is out of range 0..${numClasses - 1}`);
    out.data[i * numClasses + y] = on;
  }
  return out;
}

/**
 * Mixes a batch: lam ~ Beta(alpha, alpha) from `rng` (no draw when alpha <= 0,
 * lam = 1, so only label smoothing applies). Inputs are data, not graph
 * values: the result is a fresh tensor off the tape.
 */
export function mixup(images: Tensor, labels: Int32Array, numClasses: number, alpha: number, rng: Rng, labelSmoothing = 0): MixupBatch {
  const op = "mixup";
  if (images.rank < 1 || images.shape[0] !== labels.length) {
    fail(op, `images of shape ${fmtShape(images.shape)} need a leading batch axis matching ${labels.length} labels`);
  }
  if (!Number.isFinite(alpha)) fail(op, `alpha must be finite, got ${alpha}`);
  const B = labels.length;
  const lam = alpha > 0 ? sampleBeta(rng, alpha, alpha) : 1;
  const y = smoothOneHot(labels, numClasses, labelSmoothing);
  const x = images.data;
  const out = images.clone();
  const o = out.data;
  const per = B === 0 ? 0 : x.length / B;
  const mu = 1 - lam;
  for (let i = 0; i < B; i++) {
    const a = i * per;
    const b = (B - 1 - i) * per;
    for (let k = 0; k < per; k++) o[a + k] = lam * x[a + k]! + mu * x[b + k]!;
  }
  const C = numClasses;
  const t = Tensor.zeros([B, C]);
  for (let i = 0; i < B; i++) {
    const a = i * C;
    const b = (B - 1 - i) * C;
    for (let k = 0; k < C; k++) t.data[a + k] = lam * y.data[a + k]! + mu * y.data[b + k]!;
  }
  return { images: out, targets: t, lam };
}
