/**
 * Re-estimates batch-norm running statistics from data, as PyTorch's
 * `torch.optim.swa_utils.update_bn`: a model whose statistics do not fit the
 * images it will see (a fresh initialisation: mean 0, variance 1; an MAE
 * encoder whose statistics came from masked images) gets them from forward
 * passes over those images, nothing else changed.
 */
import type { Tensor } from "../tensor/tensor.js";
import { BatchNorm1d, BatchNorm2d } from "../nn/norm.js";
import type { Module } from "../nn/module.js";
import type { Dataset } from "./data/dataset.js";
import { passOverBatches } from "./batch-pass.js";

/**
 * Resets every batch norm's running statistics and sets them to the
 * cumulative average over the batches of `data` (in order; whole batches until
 * `limit` images are reached; momentum null while it runs, as update_bn does), from training-mode
 * forward passes without gradients. The weights, the momenta and the module's
 * mode are left as they were. Returns the images seen.
 */
export function updateBatchNorm(model: Module & { forward(x: Tensor): Tensor }, data: Dataset, batchSize: number, limit = Infinity): number {
  const norms = [...model.modules()].filter((m): m is BatchNorm1d | BatchNorm2d => m instanceof BatchNorm1d || m instanceof BatchNorm2d);
  const momenta = norms.map((m) => m.momentum);
  try {
    for (const m of norms) {
      m.resetRunningStats();
      m.momentum = null;
    }
    return passOverBatches(model, data, batchSize, { limit, train: true }, (b) => void model.forward(b.images));
  } finally {
    norms.forEach((m, i) => (m.momentum = momenta[i]!));
  }
}
