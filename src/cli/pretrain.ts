/** The `bitspike pretrain`, `finetune` and `reconstruct` commands (masked-autoencoder pre-training of V2). */
import { heapSummary } from "./heap-summary.js";
import { join } from "node:path";
import { fail } from "../tensor/errors.js";
import { CONFIG_LIMITS, definedOnly, modelName, type SpikformerOverrides } from "../models/config.js";
import { writeFileAtomic } from "../io/safetensors-file.js";
import { loadData } from "../train/data/spec.js";
import { DECODER_FILE, ENCODER_FILE, finetune, loadMaskedAutoencoder, pretrain, reconstructionPng, readEncoderFile, type FinetuneOptions, type PretrainOptions } from "../train/pretrain.js";
import { parseArgs, type Flags } from "./args.js";
import { MODEL_FLAGS, RUN_RANGES as R, applyThreads, modelOverrides } from "./model-flags.js";
import { Progress } from "./progress.js";


const RUN_FLAGS = {
  data: { type: "string", default: "mnist", help: "mnist | cifar10:DIR | cifar100:DIR | file:TRAIN[,TEST].safetensors" },
  epochs: { type: "int", default: 3, ...R.epochs, help: "epochs" },
  batch: { type: "int", default: 32, ...R.batch, help: "batch size" },
  wd: { type: "number", default: 0.05, ...R.rate, help: "weight decay (not on biases and 1-D parameters)" },
  warmup: { type: "number", default: 0.2, ...R.rate, help: "warm-up epochs" },
  "min-lr": { type: "number", default: 1e-5, ...R.rate, help: "floor of the cosine schedule" },
  clip: { type: "number", default: 0, ...R.rate, help: "gradient-norm clip (0 = off)" },
  seed: { type: "int", default: 0, ...R.seed, help: "seed of weights, data order and masks" },
  resume: { type: "boolean", help: "continue from the checkpoint in --out" },
  "checkpoint-every": { type: "int", default: 0, ...R.count, help: "also checkpoint every N steps" },
  "stop-after": { type: "int", default: 0, ...R.count, help: "stop (resumably) after N steps" },
  ...MODEL_FLAGS,
} satisfies Flags;

/** Flags of `bitspike pretrain`. */
export const PRETRAIN_FLAGS = {
  model: { type: "string", default: "spikformer-v2-1-64", help: "V2 model name, spikformer-v2-L-D (use --patch for small images)" },
  mask: { type: "number", default: 0.75, above: 0, below: 1, help: "fraction of tokens hidden" },
  "raw-pixels": { type: "boolean", help: "predict raw pixels instead of per-patch normalised ones" },
  "decoder-dim": { type: "int", default: 256, min: 1, max: CONFIG_LIMITS.embedDims, help: "decoder width" },
  "decoder-depth": { type: "int", default: 4, min: 1, max: CONFIG_LIMITS.depths, help: "decoder blocks" },
  "decoder-heads": { type: "int", default: 4, min: 1, max: CONFIG_LIMITS.numHeads, help: "decoder attention heads" },
  lr: { type: "number", default: 1e-3, ...R.lr, help: "peak learning rate (AdamW)" },
  out: { type: "string", default: "runs/mae", help: "folder for log.jsonl, checkpoint, encoder.safetensors, decoder.safetensors" },
  "eval-images": { type: "int", default: 200, ...R.count, help: "test images whose masked loss is reported per epoch" },
  ...RUN_FLAGS,
} satisfies Flags;

export function runPretrain(argv: string[]): void {
  const a = parseArgs("pretrain", argv, PRETRAIN_FLAGS);
  applyThreads(a);
  const opts: PretrainOptions = {
    model: a.model!,
    modelOverrides: definedOnly(modelOverrides(a)),
    mae: { maskRatio: a.mask!, normPixLoss: !a["raw-pixels"], decoderDim: a["decoder-dim"]!, decoderDepth: a["decoder-depth"]!, decoderHeads: a["decoder-heads"]! },
    data: a.data!, epochs: a.epochs!, batch: a.batch!, lr: a.lr!, wd: a.wd!, warmupEpochs: a.warmup!, minLr: a["min-lr"]!,
    clip: a.clip!, seed: a.seed!, out: a.out!, resume: a.resume, checkpointEvery: a["checkpoint-every"]!, stopAfter: a["stop-after"]!,
    evalImages: a["eval-images"]!,
  };
  let last = 0;
  const r = pretrain(opts, {
    onStart: (s) => {
      console.log(`bitspike pretrain: ${s.data}`);
      console.log(`encoder ${opts.model} (T = ${s.model.T}, patch ${s.model.patchSize}, ${s.model.imgSize}x${s.model.imgSize}x${s.model.inChannels}), decoder ${s.mae.decoderDepth}x${s.mae.decoderDim}; ${s.parameters.toLocaleString("en-US")} parameters; mask ${s.mae.maskRatio}`);
      if (s.resumedFrom) console.log(`resuming at epoch ${s.resumedFrom.epoch + 1}, step ${s.resumedFrom.batchIndex}`);
    },
    onStep: (s) => {
      const now = performance.now();
      if (now - last > 10_000 || s.step === s.stepsPerEpoch) {
        last = now;
        console.log(`epoch ${s.epoch + 1} step ${s.step}/${s.stepsPerEpoch} loss ${s.loss.toFixed(4)} lr ${s.lr.toExponential(2)} ${s.imagesPerSecond.toFixed(0)} img/s`);
      }
    },
    onEpoch: (e) => console.log(`epoch ${e.epoch + 1}/${e.epochs}: train loss ${e.trainLoss.toFixed(4)} | test masked loss ${e.testLoss.toFixed(4)} | ${e.seconds.toFixed(1)} s`),
  });
  if (!r.finished) {
    console.log(`stopped after ${opts.stopAfter} steps; continue with --resume`);
    return;
  }
  console.log(`done in ${r.seconds.toFixed(1)} s; encoder in ${join(opts.out!, ENCODER_FILE)}, decoder in ${join(opts.out!, DECODER_FILE)}`);
  console.log(heapSummary());
}

/** Flags of `bitspike finetune`. */
export const FINETUNE_FLAGS = {
  from: { type: "string", help: "encoder.safetensors written by bitspike pretrain (required)" },
  model: { type: "string", help: "model name (default: the encoder's)" },
  "layer-decay": { type: "number", default: 0.7, above: 0, max: 1, help: "layer-wise lr decay (stem lowest, head at the full lr)" },
  lr: { type: "number", default: 2e-3, ...R.lr, help: "peak learning rate (AdamW)" },
  "label-smoothing": { type: "number", default: 0.1, ...R.probability, help: "label smoothing" },
  mixup: { type: "number", default: 0, ...R.rate, help: "mixup alpha (0 = off)" },
  crop: { type: "int", default: 0, ...R.count, help: "random-crop padding in pixels (0 = off; less than the image size)" },
  hflip: { type: "number", default: 0, ...R.probability, help: "horizontal-flip probability" },
  out: { type: "string", default: "runs/finetune", help: "folder for log.jsonl, checkpoint.safetensors, weights.safetensors" },
  "eval-batch": { type: "int", default: 100, ...R.batch, help: "evaluation batch size" },
  ...RUN_FLAGS,
} satisfies Flags;

export function runFinetune(argv: string[]): void {
  const a = parseArgs("finetune", argv, FINETUNE_FLAGS);
  applyThreads(a);
  if (!a.from) fail("bitspike finetune", "--from DIR/encoder.safetensors is required");
  const stored = readEncoderFile(a.from).config;
  const name = a.model ?? (stored ? modelName(stored) : fail("bitspike finetune", "--model is required (the encoder file does not name its model)"));
  // Architecture from the encoder unless overridden; T defaults to 1 (the paper fine-tunes at T = 1).
  const inherited: SpikformerOverrides = stored
    ? { patchSize: stored.patchSize, numHeads: stored.numHeads, mlpRatio: stored.mlpRatio, residual: stored.residual, attention: stored.attention, scale: stored.scale }
    : {};
  const opts: FinetuneOptions = {
    from: a.from,
    layerDecay: a["layer-decay"]!,
    model: name,
    modelOverrides: { ...inherited, T: 1, ...definedOnly(modelOverrides(a)) },
    data: a.data!, epochs: a.epochs!, batch: a.batch!, lr: a.lr!, wd: a.wd!, warmupEpochs: a.warmup!, minLr: a["min-lr"]!,
    labelSmoothing: a["label-smoothing"]!, mixup: a.mixup!,
    augment: { ...(a.crop! > 0 ? { crop: { padding: a.crop! } } : {}), ...(a.hflip! > 0 ? { hflip: a.hflip! } : {}) },
    clip: a.clip!, seed: a.seed!, out: a.out!, resume: a.resume, checkpointEvery: a["checkpoint-every"]!, stopAfter: a["stop-after"]!,
    evalBatch: a["eval-batch"]!,
  };
  const progress = new Progress();
  const r = finetune(opts, {
    onStart: (s) => console.log(`bitspike finetune: ${s.data}; ${name} from ${a.from} (T = ${s.model.T}), layer decay ${opts.layerDecay}, ${opts.epochs} epochs`),
    onStep: (s) => progress.step(s),
    onEpoch: (e) => progress.epoch(e),
  });
  if (!r.finished) {
    console.log(`stopped after ${opts.stopAfter} steps; continue with --resume`);
    return;
  }
  const t = r.test!;
  console.log(`test accuracy ${(100 * t.accuracy).toFixed(2)}% (${Math.round(t.accuracy * t.samples)}/${t.samples}), loss ${t.loss.toFixed(4)}; ${r.seconds.toFixed(1)} s; weights in ${opts.out}/weights.safetensors`);
  console.log(heapSummary());
}

/** Flags of `bitspike reconstruct`. */
export const RECONSTRUCT_FLAGS = {
  from: { type: "string", help: "pre-training folder holding encoder.safetensors and decoder.safetensors (required)" },
  data: { type: "string", default: "mnist", help: "data set (images from its test split)" },
  out: { type: "string", default: "recon.png", help: "PNG to write: original | masked | reconstruction per row" },
  images: { type: "int", default: 8, min: 1, max: 1024, help: "number of images" },
  seed: { type: "int", default: 0, ...R.seed, help: "seed of the data split and the masks" },
} satisfies Flags;

export function runReconstruct(argv: string[]): void {
  const a = parseArgs("reconstruct", argv, RECONSTRUCT_FLAGS);
  applyThreads(a);
  if (!a.from) fail("bitspike reconstruct", "--from DIR (a pretrain output folder) is required");
  const mae = loadMaskedAutoencoder(a.from);
  const data = loadData(a.data!, a.seed!);
  const { png, loss, count } = reconstructionPng(mae, data.test, a.images!, a.seed!);
  writeFileAtomic(a.out!, png);
  console.log(`masked loss ${loss.toFixed(4)} on ${count} images; wrote ${a.out}`);
}
