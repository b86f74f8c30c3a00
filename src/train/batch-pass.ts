/**
 * A pass over a data set without training (evaluation, batch-norm statistics,
 * features, energy): the batches in order under noGrad, each in its own heap
 * scope, its images freed after it, the module's mode set for the pass and
 * restored afterwards.
 */
import { noGrad } from "../autograd/tape.js";
import { freeArray } from "../tensor/heap.js";
import { stepScope } from "../tensor/retain.js";
import type { Module } from "../nn/module.js";
import { batches, type Batch } from "./data/loader.js";
import type { Dataset } from "./data/dataset.js";

/** How {@link passOverBatches} runs. */
export interface BatchPassOptions {
  /** Stop before a batch once this many images were handed over (whole batches; default: all). */
  limit?: number;
  /** The module's mode during the pass: train (batch statistics) or eval (default). */
  train?: boolean;
  /** More roots whose arrays outlive each batch's scope besides the module's (see stepScope). */
  keep?: readonly unknown[];
}

/**
 * Runs `each(batch, seenBefore)` on the batches of `data` (in order, no
 * shuffle) with `model` in the mode `opts.train` asks; returns the images
 * handed over.
 */
export function passOverBatches(
  model: Module, data: Dataset, batchSize: number, opts: BatchPassOptions, each: (b: Batch, seenBefore: number) => void,
): number {
  const limit = opts.limit ?? Infinity;
  const wasTraining = model.training;
  model.train(opts.train ?? false);
  let seen = 0;
  try {
    noGrad(() => {
      for (const b of batches(data, batchSize, { shuffle: false })) {
        if (seen >= limit) break;
        stepScope(() => each(b, seen), model, ...(opts.keep ?? []));
        freeArray(b.images.data, "released after its batch");
        seen += b.labels.length;
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return seen;
}
