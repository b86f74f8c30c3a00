/**
 * CIFAR-10 / CIFAR-100 in their binary distributions (no download here).
 * CIFAR-10: data_batch_1..5.bin, test_batch.bin; records of 1 label byte +
 * 3072 pixel bytes. CIFAR-100: train.bin, test.bin; records of a coarse label
 * byte, a fine label byte, 3072 pixel bytes. Pixels are 1024 R, 1024 G, 1024 B,
 * each 32x32 row-major: already [C, H, W].
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fail } from "../../tensor/errors.js";
import { readFileChecked } from "../../io/files.js";
import { fromBytes, type Dataset } from "./dataset.js";

/** The usual CIFAR-10 normalisation (as the Spikformer CIFAR code). */
export const CIFAR10_MEAN = [0.4914, 0.4822, 0.4465];
export const CIFAR10_STD = [0.247, 0.2435, 0.2616];
/** The usual CIFAR-100 normalisation. */
export const CIFAR100_MEAN = [0.5071, 0.4865, 0.4409];
export const CIFAR100_STD = [0.2673, 0.2564, 0.2762];

const PIXELS = 3072;

/** Which CIFAR binary layout, and for CIFAR-100 which label. */
export type CifarKind = "cifar10" | "cifar100-fine" | "cifar100-coarse";

/**
 * Parses CIFAR binary records into pixel bytes and labels, checking the size
 * and the label range. `source` names the file in errors.
 */
export function parseCifarRecords(bytes: Uint8Array, kind: CifarKind, source: string): { pixels: Uint8Array; labels: Int32Array } {
  const labelBytes = kind === "cifar10" ? 1 : 2;
  const rec = labelBytes + PIXELS;
  if (bytes.length === 0 || bytes.length % rec !== 0) {
    fail("cifar", `${source}: size ${bytes.length} bytes is not a positive multiple of the ${kind} record size ${rec}`);
  }
  const n = bytes.length / rec;
  const numClasses = kind === "cifar10" ? 10 : kind === "cifar100-fine" ? 100 : 20;
  const labelAt = kind === "cifar100-fine" ? 1 : 0;
  const pixels = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const off = i * rec;
    if (kind !== "cifar10") {
      const coarse = bytes[off]!;
      if (coarse >= 20) fail("cifar", `${source}: record ${i} has coarse label ${coarse}, expected 0..19`);
    }
    const y = bytes[off + labelAt]!;
    if (y >= numClasses) fail("cifar", `${source}: record ${i} has label ${y}, expected 0..${numClasses - 1}`);
    labels[i] = y;
    pixels.set(bytes.subarray(off + labelBytes, off + rec), i * PIXELS);
  }
  return { pixels, labels };
}

function readAll(dir: string, files: readonly string[], kind: CifarKind): { pixels: Uint8Array; labels: Int32Array } {
  const parts = files.map((f) => {
    const path = join(dir, f);
    if (!existsSync(path)) fail("cifar", `missing file ${path} (expected ${files.join(", ")} in ${dir})`);
    return parseCifarRecords(readFileChecked("cifar", path), kind, path);
  });
  const n = parts.reduce((s, p) => s + p.labels.length, 0);
  const pixels = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels, at * PIXELS);
    labels.set(p.labels, at);
    at += p.labels.length;
  }
  return { pixels, labels };
}

function build(dir: string, files: readonly string[], kind: CifarKind, mean: readonly number[], std: readonly number[]): Dataset {
  const { pixels, labels } = readAll(dir, files, kind);
  const numClasses = kind === "cifar10" ? 10 : kind === "cifar100-fine" ? 100 : 20;
  return fromBytes("cifar", pixels, labels, [3, 32, 32], numClasses, mean, std);
}

/** CIFAR-10 from a directory holding `data_batch_1..5.bin` and `test_batch.bin` (the "binary version"). */
export function loadCifar10(dir: string): { train: Dataset; test: Dataset } {
  const trainFiles = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
  return {
    train: build(dir, trainFiles, "cifar10", CIFAR10_MEAN, CIFAR10_STD),
    test: build(dir, ["test_batch.bin"], "cifar10", CIFAR10_MEAN, CIFAR10_STD),
  };
}

/** CIFAR-100 from a directory holding `train.bin` and `test.bin`; fine (100) labels by default, or coarse (20). */
export function loadCifar100(dir: string, labels: "fine" | "coarse" = "fine"): { train: Dataset; test: Dataset } {
  const kind: CifarKind = labels === "fine" ? "cifar100-fine" : "cifar100-coarse";
  return {
    train: build(dir, ["train.bin"], kind, CIFAR100_MEAN, CIFAR100_STD),
    test: build(dir, ["test.bin"], kind, CIFAR100_MEAN, CIFAR100_STD),
  };
}
