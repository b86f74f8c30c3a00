/**
 * Real MNIST digits through the emulated event camera, then the same DVS
 * Spikformer trained on the events (frames) and on the static images:
 * emulates the first --images train and test digits of the mnist package's
 * seeded split (three saccades, N-MNIST files in OUT/events), trains on
 * nmnist:OUT/events with --frames T, then trains the same model (same T, the
 * image repeated over time) on the same digits as static 28x28 images, and
 * prints both test accuracies and the events a sample.
 *
 * Run: npx tsx examples/emulated-nmnist.ts [--images 2000] [--epochs 3] [--frames 4]
 *        [--model spikformer-dvs-1-32] [--heads 2] [--patch 2] [--out runs/emulated-nmnist]
 *        [--events DIR (reuse recordings `bitspike emulate --limit N` wrote)] [--runs events,images]
 */
import { join } from "node:path";
import { rmSync } from "node:fs";
import { parseArgs } from "../src/cli/args.js";
import { loadData, type DataSplit } from "../src/train/data/spec.js";
import { subset } from "../src/train/data/dataset.js";
import { writeEmulatedNmnist } from "../src/train/data/events/emulate.js";
import { train, type TrainOptions } from "../src/train/trainer.js";

const a = parseArgs("emulated-nmnist", process.argv.slice(2), {
  images: { type: "int", default: 2000, min: 1, help: "digits of each split" },
  epochs: { type: "int", default: 3, min: 1, help: "epochs of each training run" },
  frames: { type: "int", default: 4, min: 1, help: "frames a sample = T of both runs" },
  model: { type: "string", default: "spikformer-dvs-1-32", help: "model" },
  heads: { type: "int", default: 2, min: 1, help: "attention heads" },
  patch: { type: "int", default: 2, min: 1, help: "patch size (34x34 event frames need 2 or 1)" },
  threshold: { type: "number", default: 0.6, above: 0, help: "contrast threshold of the emulator" },
  out: { type: "string", default: "runs/emulated-nmnist", help: "output folder" },
  events: { type: "string", help: "an emulated folder to reuse instead of emulating again" },
  runs: { type: "string", default: "events,images", help: "which training runs" },
});

const mnist = loadData("mnist", 0);
const first = (n: number): Int32Array => Int32Array.from({ length: Math.min(n, a.images!) }, (_, i) => i);
const digits: DataSplit = { train: subset(mnist.train, first(mnist.train.labels.length)), test: subset(mnist.test, first(mnist.test.labels.length)), description: `the first ${a.images} train / test digits of the mnist package's seeded split` };
const events = a.events ?? join(a.out!, "events");
let t0 = performance.now();
if (!a.events) {
  rmSync(events, { recursive: true, force: true });
  const counts = writeEmulatedNmnist(events, digits, { threshold: a.threshold! });
  const all = [...counts.train, ...counts.test];
  console.log(`emulated ${all.length} recordings in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${Math.round(all.reduce((s, v) => s + v, 0) / all.length)} events a sample on average (min ${Math.min(...all)}, max ${Math.max(...all)})`);
}
const runs = a.runs!.split(",");

const base = (data: string, out: string): TrainOptions => ({
  model: a.model!, modelOverrides: { T: a.frames!, numHeads: a.heads!, patchSize: a.patch! }, data, events: { frames: a.frames!, splitBy: "number" },
  epochs: a.epochs!, batch: 32, lr: 5e-3, wd: 0.01, warmupEpochs: 0.2, minLr: 1e-5, labelSmoothing: 0.1, mixup: 0, augment: {},
  clip: 0, seed: 0, out: join(a.out!, out), resume: false, checkpointEvery: 0, stopAfter: 0, evalBatch: 100,
});
const report = (what: string, r: ReturnType<typeof train>, seconds: number): void =>
  console.log(`${what}: test accuracy ${(100 * r.test!.accuracy).toFixed(2)}% (${r.test!.samples} digits), ${seconds.toFixed(0)} s`);

if (runs.includes("events")) {
  t0 = performance.now();
  const onEvents = train(base(`nmnist:${events}`, "on-events"), { onEpoch: (e) => console.log(`  events epoch ${e.epoch + 1}: train ${(100 * e.trainAccuracy).toFixed(1)}%, test ${(100 * e.test.accuracy).toFixed(2)}%`) });
  report(`${a.model} on emulated events (34x34, ${a.frames} frames split by number)`, onEvents, (performance.now() - t0) / 1000);
}
if (runs.includes("images")) {
  t0 = performance.now();
  const onImages = train(base("mnist", "on-images"), { onEpoch: (e) => console.log(`  images epoch ${e.epoch + 1}: train ${(100 * e.trainAccuracy).toFixed(1)}%, test ${(100 * e.test.accuracy).toFixed(2)}%`) }, digits);
  report(`${a.model} on the same static images (28x28, T ${a.frames})`, onImages, (performance.now() - t0) / 1000);
}
