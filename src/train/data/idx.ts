/**
 * IDX files, the format MNIST, Fashion-MNIST and KMNIST are distributed in:
 * `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
 * `t10k-labels-idx1-ubyte` (also with `.idx3-ubyte`, and gzipped as `.gz`).
 * A file is a big-endian header (two zero bytes, a dtype code, the number of
 * dimensions, then each size as a uint32) and the values. Images are
 * normalised with the training images' own mean and standard deviation (for
 * MNIST that is torchvision's 0.1307 / 0.3081).
 */
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { fail, oneLine } from "../../tensor/errors.js";
import { listDirChecked, readFileChecked } from "../../io/files.js";
import { fromBytes, type Dataset } from "./dataset.js";

const OP = "idx";

/** A parsed IDX file of unsigned bytes: its sizes and values. */
export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

/** Parses IDX bytes (gzip-compressed when they start with the gzip magic); only unsigned bytes (code 0x08) are read. */
export function parseIdx(raw: Uint8Array, source: string): IdxArray {
  let bytes = raw;
  if (raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      const out = gunzipSync(raw);
      bytes = new Uint8Array(out.buffer, out.byteOffset, out.length);
    } catch (e) {
      fail(OP, `${source}: cannot gunzip (${oneLine((e as Error).message)})`);
    }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) fail(OP, `${source}: byte offset 0: not an IDX file (it must start with two zero bytes, a dtype code and the number of dimensions)`);
  if (bytes[2] !== 0x08) fail(OP, `${source}: byte offset 2: dtype code 0x${bytes[2]!.toString(16)}; only unsigned bytes (0x08) are read`);
  const ndim = bytes[3]!;
  if (ndim < 1 || bytes.length < 4 + 4 * ndim) fail(OP, `${source}: byte offset 4: the header of ${ndim} sizes is truncated or empty`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * ndim;
  if (bytes.length - start !== count) fail(OP, `${source}: byte offset ${start}: sizes [${shape.join(", ")}] need ${count} bytes of values, the file holds ${bytes.length - start}`);
  return { shape, data: bytes.subarray(start) };
}

/** The path of `stem` (e.g. train-images) in `dir`: `-idxN-ubyte` or `.idxN-ubyte`, plain or `.gz`. */
function findIdx(dir: string, names: readonly string[], stem: string, rank: number): string {
  const wanted = [`${stem}-idx${rank}-ubyte`, `${stem}.idx${rank}-ubyte`].flatMap((n) => [n, `${n}.gz`]);
  const hit = wanted.find((w) => names.includes(w));
  if (!hit) fail(OP, `idx:${dir}: no ${wanted[0]} (or ${wanted.slice(1).join(", ")}) in the folder`);
  return join(dir, hit);
}

function readPair(dir: string, names: readonly string[], prefix: string): { images: IdxArray; labels: Uint8Array; imagesPath: string; labelsPath: string } {
  const imagesPath = findIdx(dir, names, `${prefix}-images`, 3);
  const labelsPath = findIdx(dir, names, `${prefix}-labels`, 1);
  const images = parseIdx(readFileChecked(OP, imagesPath), imagesPath);
  const labels = parseIdx(readFileChecked(OP, labelsPath), labelsPath);
  if (images.shape.length !== 3) fail(OP, `${imagesPath}: sizes [${images.shape.join(", ")}] are not [N, H, W]`);
  if (labels.shape.length !== 1) fail(OP, `${labelsPath}: sizes [${labels.shape.join(", ")}] are not [N]`);
  if (images.shape[0] !== labels.shape[0]) fail(OP, `${imagesPath} holds ${images.shape[0]} images but ${labelsPath} holds ${labels.shape[0]} labels`);
  return { images, labels: labels.data, imagesPath, labelsPath };
}

/** Mean and standard deviation of bytes / 255 (float64 sums, population std). */
function byteStats(data: Uint8Array): { mean: number; std: number } {
  const hist = new Float64Array(256);
  for (let i = 0; i < data.length; i++) hist[data[i]!]! += 1;
  let s = 0;
  let s2 = 0;
  for (let v = 0; v < 256; v++) {
    s += hist[v]! * (v / 255);
    s2 += hist[v]! * (v / 255) ** 2;
  }
  const mean = s / data.length;
  return { mean, std: Math.sqrt(Math.max(0, s2 / data.length - mean * mean)) || 1 };
}

/** MNIST-like IDX files in `dir` as train (train-*) and test (t10k-*) data sets, [1, H, W] images. */
export function loadIdx(dir: string): { train: Dataset; test: Dataset } {
  const names = listDirChecked(OP, dir);
  const tr = readPair(dir, names, "train");
  const te = readPair(dir, names, "t10k");
  const [, H, W] = tr.images.shape as [number, number, number];
  if (te.images.shape[1] !== H || te.images.shape[2] !== W) fail(OP, `${te.imagesPath}: images are ${te.images.shape[1]}x${te.images.shape[2]}, the training images ${H}x${W}`);
  let numClasses = 1;
  for (const y of [...tr.labels, ...te.labels]) numClasses = Math.max(numClasses, y + 1);
  const { mean, std } = byteStats(tr.images.data);
  const make = (p: typeof tr): Dataset => fromBytes(OP, p.images.data, Int32Array.from(p.labels), [1, H, W], numClasses, [mean], [std]);
  return { train: make(tr), test: make(te) };
}
