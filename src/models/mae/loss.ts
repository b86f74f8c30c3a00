/**
 * MAE's reconstruction target and loss: patchify / unpatchify in MAE's element
 * order (p, q, c), per-patch normalised pixels, and the mean squared error
 * averaged over masked patches only.
 */
import { fail, fmtShape } from "../../tensor/errors.js";
import { Tensor } from "../../tensor/tensor.js";
import { div, mul, sub } from "../../ops/elementwise.js";
import { mean, sum } from "../../ops/reduce.js";
import { permute, reshape } from "../../ops/shape.js";
import type { GridMask } from "./masking.js";

/** images [B, C, H, W] -> patches [B, (H/P)(W/P), P*P*C], row-major patches, inside a patch (p, q, c). */
export function patchify(images: Tensor, P: number): Tensor {
  const op = "patchify";
  if (images.rank !== 4) fail(op, `images must be [B, C, H, W], got ${fmtShape(images.shape)}`);
  const [B, C, H, W] = images.shape as [number, number, number, number];
  if (!Number.isInteger(P) || P < 1 || H % P !== 0 || W % P !== 0) fail(op, `patch ${P} does not divide images ${fmtShape(images.shape)}`);
  const h = H / P;
  const w = W / P;
  return reshape(permute(reshape(images, [B, C, h, P, w, P]), [0, 2, 4, 3, 5, 1]), [B, h * w, P * P * C]);
}

/** patches [B, h*w, P*P*C] -> images [B, C, h*P, w*P] (the inverse of {@link patchify}). */
export function unpatchify(patches: Tensor, P: number, C: number, h: number, w: number): Tensor {
  const op = "unpatchify";
  const [B, N, D] = patches.shape as [number, number, number];
  if (patches.rank !== 3 || N !== h * w || D !== P * P * C) fail(op, `patches ${fmtShape(patches.shape)} do not fit ${h}x${w} patches of ${P}x${P}x${C}`);
  return reshape(permute(reshape(patches, [B, h, w, P, P, C]), [0, 5, 1, 3, 2, 4]), [B, C, h * P, w * P]);
}

/**
 * The target patches (no gradient): with `normPix`, each patch's pixels become
 * (p - mean) / sqrt(var + 1e-6), mean and biased variance over that patch's
 * P*P*C values (MAE's norm_pix_loss); otherwise the raw pixels.
 */
export function patchTargets(images: Tensor, P: number, normPix: boolean): Tensor {
  const p = patchify(images.detach(), P);
  const [B, N, D] = p.shape as [number, number, number];
  const out = Tensor.zeros([B, N, D], images.dtype);
  out.data.set(p.data);
  if (!normPix) return out;
  const d = out.data;
  for (let r = 0; r < B * N; r++) {
    const o = r * D;
    let t = 0;
    for (let j = 0; j < D; j++) t += d[o + j]!;
    const m = t / D;
    let v = 0;
    for (let j = 0; j < D; j++) v += (d[o + j]! - m) ** 2;
    const inv = 1 / Math.sqrt(v / D + 1e-6);
    for (let j = 0; j < D; j++) d[o + j] = (d[o + j]! - m) * inv;
  }
  return out;
}

/**
 * Mean over masked patches (mask 0) of the per-patch mean squared error
 * between pred and target [B, N, D]. Visible patches do not count.
 */
export function maskedPatchLoss(pred: Tensor, target: Tensor, mask: GridMask): Tensor {
  const op = "maskedPatchLoss";
  const [B, N] = pred.shape as [number, number];
  if (pred.rank !== 3 || target.rank !== 3 || pred.shape.some((d, i) => d !== target.shape[i]) || B !== mask.batch || N !== mask.height * mask.width) {
    fail(op, `pred ${fmtShape(pred.shape)}, target ${fmtShape(target.shape)} and a ${mask.batch} x ${mask.height}x${mask.width} mask do not fit`);
  }
  const removed = Tensor.zeros([B, N], pred.dtype);
  let count = 0;
  for (let i = 0; i < B * N; i++) if (mask.data[i] === 0) { removed.data[i] = 1; count++; }
  if (count === 0) fail(op, "the mask hides no patch; the loss is over masked patches only");
  const d = sub(pred, target);
  const perPatch = mean(mul(d, d), -1);
  return div(sum(mul(perPatch, removed)), count);
}
