/**
 * The in-memory image data set every loader produces and the batcher consumes.
 */
import { fail, fmtShape } from "../../tensor/errors.js";

/**
 * Images [N, C, H, W] (already normalised) with integer labels [N]; or, when
 * `frames` is set, T frames a sample, [N, T, C, H, W] (event data), which
 * batches give as [T, B, C, H, W].
 */
export interface Dataset {
  images: Float32Array;
  labels: Int32Array;
  /** [C, H, W] of one image (one frame). */
  shape: [number, number, number];
  /** Frames a sample (T) for event data; absent for static images. */
  frames?: number;
  numClasses: number;
  /** Per-channel mean and std the images were normalised with (absent: not normalised). */
  mean?: number[];
  std?: number[];
}

/** Values one sample holds: C H W, times T for frame data. */
export function sampleSize(d: Pick<Dataset, "shape" | "frames">): number {
  return (d.frames ?? 1) * d.shape[0] * d.shape[1] * d.shape[2];
}

/** Number of samples. */
export function datasetSize(d: Dataset): number {
  return d.labels.length;
}

/**
 * Builds a data set from bytes in [0, 255] (N x C x H x W, row-major): x / 255,
 * then (x - mean[c]) / std[c]. Labels are checked against numClasses.
 */
export function fromBytes(
  op: string,
  pixels: Uint8Array | ((i: number) => number),
  labels: Int32Array,
  shape: [number, number, number],
  numClasses: number,
  mean?: readonly number[],
  std?: readonly number[],
): Dataset {
  const [C, H, W] = shape;
  const N = labels.length;
  const plane = H * W;
  const images = new Float32Array(N * C * plane);
  const get = typeof pixels === "function" ? pixels : (i: number) => pixels[i]!;
  for (let n = 0, i = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const m = mean ? mean[c]! : 0;
      const s = std ? std[c]! : 1;
      for (let k = 0; k < plane; k++, i++) images[i] = (get(i) / 255 - m) / s;
    }
  }
  const ds: Dataset = { images, labels, shape: [C, H, W], numClasses };
  if (mean && std) {
    ds.mean = [...mean];
    ds.std = [...std];
  }
  checkLabels(op, ds);
  return ds;
}

/** Fails naming the first label outside 0..numClasses-1. */
export function checkLabels(op: string, d: Dataset): void {
  for (let i = 0; i < d.labels.length; i++) {
    const y = d.labels[i]!;
    if (y < 0 || y >= d.numClasses) fail(op, `label ${y} of sample ${i} is out of range 0..${d.numClasses - 1}`);
  }
}

/** Checks the internal consistency of a data set (sizes, labels). */
export function checkDataset(op: string, d: Dataset): void {
  const per = sampleSize(d);
  if (d.frames !== undefined && !(Number.isSafeInteger(d.frames) && d.frames >= 1)) fail(op, `frames must be an integer >= 1, got ${d.frames}`);
  if (d.images.length !== d.labels.length * per) {
    fail(op, `images hold ${d.images.length} values, ${d.labels.length} labels of shape ${fmtShape(d.frames ? [d.frames, ...d.shape] : d.shape)} need ${d.labels.length * per}`);
  }
  checkLabels(op, d);
}

/** The samples at `indices`, in that order (a split or subset). */
export function subset(d: Dataset, indices: ArrayLike<number>): Dataset {
  const per = sampleSize(d);
  const images = new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    images.set(d.images.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = d.labels[j]!;
  }
  const out: Dataset = { images, labels, shape: [...d.shape], numClasses: d.numClasses };
  if (d.frames !== undefined) out.frames = d.frames;
  if (d.mean) out.mean = [...d.mean];
  if (d.std) out.std = [...d.std];
  return out;
}
