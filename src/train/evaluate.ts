/** Accuracy and loss of a classifier on a data set, in eval mode without a tape. */
import { crossEntropy } from "../ops/loss.js";
import type { Module } from "../nn/module.js";
import type { Tensor } from "../tensor/tensor.js";
import type { Dataset } from "./data/dataset.js";
import { passOverBatches } from "./batch-pass.js";

/** Result of {@link evaluate}. */
export interface EvalResult {
  accuracy: number;
  loss: number;
  samples: number;
}

/** Top-1 accuracy of logits [B, C] against labels. */
export function countCorrect(logits: Tensor, labels: Int32Array): number {
  const [B, C] = logits.shape as [number, number];
  let correct = 0;
  for (let b = 0; b < B; b++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (logits.data[b * C + c]! > logits.data[b * C + best]!) best = c;
    if (best === labels[b]) correct++;
  }
  return correct;
}

/**
 * Runs the model in eval mode over the data set (the module's mode is restored
 * afterwards); `onBatch` sees each batch's logits and labels (a confusion
 * matrix, say) before they are released.
 */
export function evaluate(
  model: Module & { forward(x: Tensor): Tensor }, data: Dataset, batchSize: number, limit = Infinity, onBatch?: (logits: Tensor, labels: Int32Array) => void,
): EvalResult {
  let correct = 0;
  let lossSum = 0;
  const n = passOverBatches(model, data, batchSize, { limit }, (b) => {
    const logits = model.forward(b.images);
    correct += countCorrect(logits, b.labels);
    onBatch?.(logits, b.labels);
    lossSum += crossEntropy(logits, b.labels, { reduction: "sum" }).item();
  });
  return { accuracy: n ? correct / n : 0, loss: n ? lossSum / n : 0, samples: n };
}
