/**
 * Seeded shuffling and batching. An epoch's order is a function of (seed,
 * epoch) alone, and each batch's augmentation draws from an Rng seeded by
 * (seed, epoch, batch index), so a run resumed at any batch produces bit for
 * bit the batches an uninterrupted run would have.
 */
import { fail } from "../../tensor/errors.js";
import { Rng } from "../../tensor/random.js";
import { allocFloat, Tensor } from "../../tensor/tensor.js";
import type { Augment } from "./augment.js";
import { checkDataset, sampleSize, type Dataset } from "./dataset.js";
import { deriveSeed } from "./seed.js";

/** Options of {@link batches}. */
export interface BatchOptions {
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /** Seed of the run (default 0). */
  seed?: number;
  /** Epoch number; selects the permutation (default 0). */
  epoch?: number;
  /** First batch to yield (resume mid-epoch; default 0). */
  startBatch?: number;
  /** Drop a final partial batch (default false). */
  dropLast?: boolean;
  /** Per-image augmentation, applied to copies (the data set is never modified). */
  augment?: Augment;
}

/** One batch. */
export interface Batch {
  /** [B, C, H, W] float32, or [T, B, C, H, W] for frame data. */
  images: Tensor;
  labels: Int32Array;
  /** Data-set indices of the samples, in batch order. */
  indices: Int32Array;
  epoch: number;
  /** Index of this batch within the epoch (what a checkpoint saves as the position). */
  batchIndex: number;
}

/** The sample order of an epoch: a Fisher-Yates shuffle seeded by (seed, epoch). */
export function epochPermutation(n: number, seed: number, epoch: number): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  new Rng(deriveSeed(seed, epoch, 0x7065726d)).shuffle(perm);
  return perm;
}

/** Number of batches in an epoch. */
export function numBatches(n: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/** The Rng a batch's augmentation draws from. */
export function batchRng(seed: number, epoch: number, batchIndex: number): Rng {
  return new Rng(deriveSeed(seed, epoch, batchIndex, 0x61756720));
}

/**
 * Batches of one epoch, from `startBatch` on. Deterministic given
 * (seed, epoch, options); images are copied, so the data set stays intact.
 */
export function* batches(dataset: Dataset, batchSize: number, opts: BatchOptions = {}): Generator<Batch> {
  const op = "batches";
  if (!Number.isInteger(batchSize) || batchSize < 1) fail(op, `batchSize must be an integer >= 1, got ${batchSize}`);
  checkDataset(op, dataset);
  const seed = opts.seed ?? 0;
  const epoch = opts.epoch ?? 0;
  const n = dataset.labels.length;
  const total = numBatches(n, batchSize, opts.dropLast);
  const start = opts.startBatch ?? 0;
  if (!Number.isInteger(start) || start < 0 || start > total) fail(op, `startBatch must be an integer in 0..${total}, got ${start}`);
  const order = opts.shuffle ?? true ? epochPermutation(n, seed, epoch) : Int32Array.from({ length: n }, (_, i) => i);
  const shape = dataset.shape;
  const per = sampleSize(dataset);
  const T = dataset.frames;
  // A frame sample [T, C, H, W] is augmented as one [T C, H, W] image (the same flip or shift for every frame).
  const augShape: [number, number, number] = T ? [T * shape[0], shape[1], shape[2]] : shape;
  const scratch = T ? new Float32Array(per) : null;
  for (let b = start; b < total; b++) {
    const lo = b * batchSize;
    const hi = Math.min(n, lo + batchSize);
    const B = hi - lo;
    const indices = order.slice(lo, hi);
    const images = allocFloat("float32", B * per) as Float32Array;
    const labels = new Int32Array(B);
    const rng = opts.augment ? batchRng(seed, epoch, b) : null;
    for (let i = 0; i < B; i++) {
      const j = indices[i]!;
      const img = scratch ?? images.subarray(i * per, (i + 1) * per);
      img.set(dataset.images.subarray(j * per, (j + 1) * per));
      labels[i] = dataset.labels[j]!;
      if (opts.augment) opts.augment(img, augShape, rng!);
      if (scratch) {
        // Sample-major [T, C, H, W] into time-major [T, B, C, H, W].
        const frame = per / T!;
        for (let t = 0; t < T!; t++) images.set(scratch.subarray(t * frame, (t + 1) * frame), (t * B + i) * frame);
      }
    }
    yield { images: new Tensor(images, T ? [T, B, ...shape] : [B, ...shape]), labels, indices, epoch, batchIndex: b };
  }
}
