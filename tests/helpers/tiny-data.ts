import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "../../src/tensor/random.js";
import { serializeSafetensors } from "../../src/io/safetensors.js";

/** Images and labels of a tiny 3-class data set (class c: noise plus a bright c-th row band). */
export function tinyData(n = 48, size = 8): { images: Float32Array; labels: BigInt64Array; shape: number[] } {
  const rng = new Rng(5);
  const images = new Float32Array(n * size * size);
  const labels = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    labels[i] = BigInt(c);
    for (let p = 0; p < size * size; p++) images[i * size * size + p] = 0.3 * rng.normal() + (Math.floor(p / size / 3) === c ? 2 : 0);
  }
  return { images, labels, shape: [n, 1, size, size] };
}

/**
 * Writes {@link tinyData} as a data set file (`images` F32, `labels` I64) for
 * `--data file:PATH`, optionally changed by `edit` first (which may return metadata).
 */
export function tinyDataFile(
  dir: string, name = "tiny.safetensors", edit?: (d: ReturnType<typeof tinyData>) => Record<string, string> | void, n = 48, size = 8,
): string {
  const d = tinyData(n, size);
  const meta = edit?.(d) ?? undefined;
  const path = join(dir, name);
  writeFileSync(path, serializeSafetensors({ images: { shape: d.shape, data: d.images }, labels: { shape: [d.labels.length], data: d.labels } }, meta));
  return path;
}

/** {@link tinyDataFile} with `n` images of `size` x `size`, unchanged. */
export function tinyDataset(dir: string, n = 48, size = 8): string {
  return tinyDataFile(dir, "tiny.safetensors", undefined, n, size);
}
