/** Turning MAE predictions back into images for viewing. */
import { noGrad } from "../../autograd/tape.js";
import { Tensor } from "../../tensor/tensor.js";
import { patchify, unpatchify } from "./loss.js";
import type { GridMask } from "./masking.js";

/**
 * Images [B, C, H, W] whose masked patches are the prediction and visible
 * patches the original. With normalised-pixel targets the prediction is
 * mapped back with each original patch's own mean and std (for display only:
 * that uses the hidden patch's statistics, as MAE's visualisations do).
 */
export function reconstructImages(images: Tensor, pred: Tensor, mask: GridMask, P: number, normPix: boolean): Tensor {
  return noGrad(() => {
    const [B, C] = images.shape as [number, number];
    const orig = patchify(images.detach(), P);
    const [, N, D] = orig.shape as [number, number, number];
    const out = Tensor.zeros([B, N, D], images.dtype);
    for (let r = 0; r < B * N; r++) {
      const o = r * D;
      if (mask.data[r] !== 0) {
        for (let j = 0; j < D; j++) out.data[o + j] = orig.data[o + j]!;
        continue;
      }
      let m = 0;
      let sd = 1;
      if (normPix) {
        let t = 0;
        for (let j = 0; j < D; j++) t += orig.data[o + j]!;
        m = t / D;
        let v = 0;
        for (let j = 0; j < D; j++) v += (orig.data[o + j]! - m) ** 2;
        sd = Math.sqrt(v / D + 1e-6);
      }
      for (let j = 0; j < D; j++) out.data[o + j] = pred.data[o + j]! * sd + m;
    }
    return unpatchify(out, P, C, mask.height, mask.width);
  });
}
