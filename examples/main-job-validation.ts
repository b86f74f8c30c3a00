/**
 * How the main job's recipe is chosen without looking at its test digits: per seed, the main job's 8,000
 * training digits (the mnist package's seeded split, `loadMnist({ seed })`) are cut 7,000 train / 1,000
 * validation (a shuffle seeded by 777 + seed), written as `file:` data sets (U8 images, the MNIST
 * mean / std as metadata), and the command that trains on them with the main job's flags is printed
 * for each seed and epoch count. The 2,000 test digits are never written.
 *
 * Run: npx tsx examples/main-job-validation.ts [--seeds 0,1,2] [--epochs 8,12] [--out runs/main-job-validation]
 * then the printed commands (results do not depend on --threads, so several can share the cores with
 * --threads 1). The sixth session's runs: 8 epochs 97.90 / 98.20 / 98.40%, 12 epochs 98.40 / 98.70 / 98.70%.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "../src/cli/args.js";
import { mnistBytes, mnistSplit } from "../src/train/data/mnist.js";
import { writeSafetensorsFile } from "../src/io/safetensors-file.js";
import { Rng } from "../src/tensor/random.js";

const a = parseArgs("main-job-validation", process.argv.slice(2), {
  seeds: { type: "string", default: "0,1,2", help: "seeds of the main job's split (and of the runs)" },
  epochs: { type: "string", default: "8,12", help: "epoch counts to compare" },
  out: { type: "string", default: "runs/main-job-validation", help: "output folder" },
});
const list = (flag: string, v: string): number[] => {
  const xs = v.split(",").map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 0)) throw new Error(`--${flag} takes non-negative integers separated by commas, got '${v}'`);
  return xs;
};
const seeds = list("seeds", a.seeds!), epochs = list("epochs", a.epochs!);
const out = a.out!;
mkdirSync(out, { recursive: true });

const { pixels, labels } = mnistBytes();
const PIXELS = 28 * 28;
for (const seed of seeds) {
  const idx = Int32Array.from(mnistSplit(seed, 8000, 2000).train);
  new Rng(777 + seed).shuffle(idx);
  for (const [name, part] of [["train", idx.subarray(0, 7000)], ["val", idx.subarray(7000)]] as const) {
    const img = new Uint8Array(part.length * PIXELS), lab = new Int32Array(part.length);
    part.forEach((j, i) => {
      img.set(pixels.subarray(j * PIXELS, (j + 1) * PIXELS), i * PIXELS);
      lab[i] = labels[j]!;
    });
    writeSafetensorsFile(join(out, `seed${seed}-${name}.safetensors`), {
      images: { dtype: "U8", shape: [part.length, 1, 28, 28], data: img },
      labels: { dtype: "I32", shape: [part.length], data: lab },
    }, { mean: "[0.1307]", std: "[0.3081]", num_classes: "10" });
  }
  for (const e of epochs) {
    const data = `file:${join(out, `seed${seed}-train.safetensors`)},${join(out, `seed${seed}-val.safetensors`)}`;
    console.log(`node bin/bitspike.js train --data ${data} --seed ${seed} --epochs ${e} --threads 1 --out ${join(out, `seed${seed}-e${e}`)}`);
  }
}
