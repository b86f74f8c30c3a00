/**
 * Masked-autoencoder pre-training of a small Spikformer V2 on MNIST, then
 * fine-tuning with layer-wise lr decay on a small labelled subset, against
 * training the same classifier from scratch on that subset, both on the
 * fine-tuning schedule (equal steps) and for the same total wall-clock time
 * (pre-training + fine-tuning). 28x28 digits with patch 4: two
 * stride-2 SCS stages (14x14, 7x7), 49 tokens, 12 kept at mask ratio 0.75.
 * Writes the reconstruction grid of a few test digits to OUT/recon.png.
 *
 * Run: npx tsx examples/mae-mnist.ts [--pretrain-images 3200] [--pretrain-epochs 1]
 *        [--labelled 1000] [--finetune-epochs 2] [--model spikformer-v2-1-32] [--out runs/mae-mnist]
 * (the defaults take a few minutes on one core)
 */
import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { noGrad } from "../src/autograd/tape.js";
import { parseArgs } from "../src/cli/args.js";
import { loadData, type DataSplit } from "../src/train/data/spec.js";
import { subset } from "../src/train/data/dataset.js";
import { pretrain, finetune, maskRng, ENCODER_FILE } from "../src/train/pretrain.js";
import { train, type TrainOptions } from "../src/train/trainer.js";
import { reconstructImages } from "../src/models/mae/reconstruct.js";
import { upsampleMask } from "../src/models/mae/masking.js";
import { batches } from "../src/train/data/loader.js";
import { reconstructionGrid } from "../src/io/png.js";
import { writeFileAtomic } from "../src/io/safetensors-file.js";

const a = parseArgs("mae-mnist", process.argv.slice(2), {
  model: { type: "string", default: "spikformer-v2-1-32", help: "V2 model" },
  "pretrain-images": { type: "int", default: 3200, help: "unlabelled training images for pre-training" },
  "pretrain-epochs": { type: "int", default: 1, help: "pre-training epochs" },
  labelled: { type: "int", default: 1000, help: "labelled training images for fine-tuning / scratch" },
  "finetune-epochs": { type: "int", default: 2, help: "fine-tuning epochs" },
  "test-images": { type: "int", default: 1000, help: "test images" },
  "decoder-dim": { type: "int", default: 64, help: "decoder width (the paper: 256)" },
  "decoder-depth": { type: "int", default: 1, help: "decoder blocks (the paper: 4)" },
  batch: { type: "int", default: 32, help: "batch size" },
  seed: { type: "int", default: 0, help: "seed" },
  out: { type: "string", default: "runs/mae-mnist", help: "output folder" },
});

const out = a.out!;
mkdirSync(out, { recursive: true });
const all = loadData("mnist", a.seed!);
const first = (n: number) => Int32Array.from({ length: Math.min(n, all.train.labels.length) }, (_, i) => i);
const test = subset(all.test, Int32Array.from({ length: Math.min(a["test-images"]!, all.test.labels.length) }, (_, i) => i));
const unlabelled: DataSplit = { train: subset(all.train, first(a["pretrain-images"]!)), test, description: "MNIST (pre-training subset)" };
const labelled: DataSplit = { train: subset(all.train, first(a.labelled!)), test, description: "MNIST (labelled subset)" };
const arch = { patchSize: 4, T: 1 };

console.log(`MNIST: pre-training on ${unlabelled.train.labels.length} unlabelled digits, fine-tuning on ${labelled.train.labels.length} labelled, testing on ${test.labels.length}`);
const pre = pretrain({
  model: a.model!, modelOverrides: arch, mae: { maskRatio: 0.75, decoderDim: a["decoder-dim"]!, decoderDepth: a["decoder-depth"]!, decoderHeads: 4 },
  data: "mnist", epochs: a["pretrain-epochs"]!, batch: a.batch!, lr: 1e-3, wd: 0.05, warmupEpochs: 0.1, minLr: 1e-5, clip: 0, seed: a.seed!,
  out: join(out, "pretrain"), resume: false, checkpointEvery: 0, stopAfter: 0, evalImages: 200,
}, {
  onStep: (s) => { if (s.step % 25 === 0) console.log(`  pretrain epoch ${s.epoch + 1} step ${s.step}/${s.stepsPerEpoch} loss ${s.loss.toFixed(4)}`); },
  onEpoch: (e) => console.log(`pretrain epoch ${e.epoch + 1}: train masked loss ${e.trainLoss.toFixed(4)}, test masked loss ${e.testLoss.toFixed(4)} (${e.seconds.toFixed(1)} s)`),
}, unlabelled);

// reconstructions of 8 test digits
const mae = pre.mae.eval();
const b = batches(test, 8, { shuffle: false }).next().value!;
const r = noGrad(() => mae.forward(b.images, maskRng(a.seed!, -2, 0)));
const png = reconstructionGrid(b.images, reconstructImages(b.images, r.pred, r.mask, mae.patch, true), upsampleMask(r.mask, mae.patch).data, { mean: test.mean, std: test.std });
writeFileAtomic(join(out, "recon.png"), png);
console.log(`pre-training: ${pre.seconds.toFixed(1)} s; reconstructions in ${join(out, "recon.png")}`);

const base = (o: string, epochs: number): TrainOptions => ({
  model: a.model!, modelOverrides: arch, data: "mnist", epochs, batch: a.batch!, lr: 2e-3, wd: 0.05, warmupEpochs: 0.2, minLr: 1e-5,
  labelSmoothing: 0.1, mixup: 0, augment: {}, clip: 0, seed: a.seed!, out: join(out, o), resume: false, checkpointEvery: 0, stopAfter: 0, evalBatch: 100,
});
const epochLine = (tag: string) => (e: { epoch: number; trainLoss: number; test: { accuracy: number }; seconds: number }) =>
  console.log(`${tag} epoch ${e.epoch + 1}: train loss ${e.trainLoss.toFixed(4)}, test accuracy ${(100 * e.test.accuracy).toFixed(2)}% (${e.seconds.toFixed(1)} s)`);

const epochSeconds: number[] = [];
const ft = finetune({ ...base("finetune", a["finetune-epochs"]!), from: join(out, "pretrain", ENCODER_FILE), layerDecay: 0.7 }, {
  onEpoch: (e) => { epochSeconds.push(e.seconds); epochLine("finetune")(e); },
}, labelled);

// Control at equal steps: the same classifier from scratch on the fine-tuning schedule.
const same = train(base("scratch-same-steps", a["finetune-epochs"]!), { onEpoch: epochLine("scratch (fine-tune schedule)") }, labelled);

const budget = pre.seconds + ft.seconds;
const perEpoch = epochSeconds.reduce((x, y) => x + y, 0) / epochSeconds.length;
const scratchEpochs = Math.max(1, Math.round(budget / perEpoch));
console.log(`scratch: ${scratchEpochs} epochs (${budget.toFixed(0)} s budget at ~${perEpoch.toFixed(1)} s per epoch)`);
const sc = train(base("scratch", scratchEpochs), { onEpoch: epochLine("scratch") }, labelled);

console.log("");
console.log(`pre-train ${pre.seconds.toFixed(0)} s + fine-tune ${ft.seconds.toFixed(0)} s: test accuracy ${(100 * ft.test!.accuracy).toFixed(2)}%`);
console.log(`from scratch, fine-tune schedule (${a["finetune-epochs"]} epochs, ${same.seconds.toFixed(0)} s): test accuracy ${(100 * same.test!.accuracy).toFixed(2)}%`);
console.log(`from scratch ${sc.seconds.toFixed(0)} s (${scratchEpochs} epochs):     test accuracy ${(100 * sc.test!.accuracy).toFixed(2)}%`);
