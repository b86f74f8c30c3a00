import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "../../src/tensor/random.js";
import { serializeSafetensors } from "../../src/io/safetensors.js";

/**
 * A tiny labelled data set file (`images` [n, 1, size, size] F32, `labels` [n] I64) for
 * `--data file:PATH`: class c images are noise plus a bright c-th row band (3 classes).
 */
export function tinyDataset(dir: string, n = 48, size = 8): string {
  const rng = new Rng(5);
  const images = new Float32Array(n * size * size);
  const labels = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    labels[i] = BigInt(c);
    for (let p = 0; p < size * size; p++) images[i * size * size + p] = 0.3 * rng.normal() + (Math.floor(p / size / 3) === c ? 2 : 0);
  }
  const path = join(dir, "tiny.safetensors");
  writeFileSync(path, serializeSafetensors({ images: { shape: [n, 1, size, size], data: images }, labels: { shape: [n], data: labels } }));
  return path;
}
