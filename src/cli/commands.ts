/** The `bitspike` commands: train, eval, params, predict. */

import { heapSummary } from "./heap-summary.js";
import { fail, fmtShape } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";
import { noGrad } from "../autograd/tape.js";
import { definedOnly } from "../models/config.js";
import { isSpikeformerName } from "../models/spikeformer/config.js";
import { buildClassifier, checkClassifierFits, classifierConfig, classifierFromJson, classifierName, type Classifier, type ClassifierConfig } from "../models/classifier.js";
import { checkFinite } from "../io/validate.js";
import { readSafetensorsFile, writeSafetensorsFile } from "../io/safetensors-file.js";
import { loadWeights } from "../train/checkpoint.js";
import { train, type TrainOptions } from "../train/trainer.js";
import { evaluate } from "../train/evaluate.js";
import { isEventSpec, loadData, type DataSplit } from "../train/data/spec.js";
import { EVENT_FLAGS, eventOptions } from "./event-flags.js";
import { FRAMES_FLAGS, runFrames } from "./frames.js";
import { EMULATE_FLAGS, runEmulate } from "./emulate.js";
import { parseArgs, type Flags } from "./args.js";
import { MODEL_FLAGS, RUN_RANGES as R, applyThreads, modelOverrides } from "./model-flags.js";
import { Progress } from "./progress.js";
import { measureEnergy } from "../energy/measure.js";
import type { EnergyReport } from "../energy/energy.js";
import { REPORT_FLAGS, runReport } from "./report.js";
import { SERVE_FLAGS, runServe } from "./serve.js";
import { FINETUNE_FLAGS, PRETRAIN_FLAGS, RECONSTRUCT_FLAGS, runFinetune, runPretrain, runReconstruct } from "./pretrain.js";

/** Defaults of `bitspike train`: the MNIST main job that `npm start` runs. */
export const TRAIN_FLAGS = {
  model: { type: "string", default: "spikformer-cifar-1-96", help: "model name, spikformer-{cifar|imagenet|dvs|v2}-L-D, spikeformer-{dvscifar10|dvsgesture|imagenet} or spikeformer-L-E" },
  data: { type: "string", default: "mnist", help: "mnist | cifar10:DIR | cifar100:DIR | file:TRAIN[,TEST].safetensors | idx:DIR | nmnist:DIR | dvsgesture:DIR | cifar10dvs:DIR | events:DIR[,WxH]" },
  // 12 rather than 8: on a validation split of the training digits (examples/main-job-validation.ts) 12 epochs
  // beat 8 by 0.2-0.5 pp, and the main job still takes about 200 s of its 300 on 2 cores.
  epochs: { type: "int", default: 12, ...R.epochs, help: "epochs" },
  batch: { type: "int", default: 32, ...R.batch, help: "batch size" },
  lr: { type: "number", default: 5e-3, ...R.lr, help: "peak learning rate (AdamW)" },
  wd: { type: "number", default: 0.01, ...R.rate, help: "weight decay (not on biases and 1-D parameters)" },
  warmup: { type: "number", default: 0.2, ...R.rate, help: "warm-up epochs" },
  "min-lr": { type: "number", default: 1e-5, ...R.rate, help: "floor of the cosine schedule" },
  "label-smoothing": { type: "number", default: 0.1, ...R.probability, help: "label smoothing" },
  mixup: { type: "number", default: 0, ...R.rate, help: "mixup alpha (0 = off)" },
  // The main job shifts digits by up to 1 px: 8 epochs without it start to over-fit the 8,000 digits.
  crop: { type: "int", default: 1, ...R.count, help: "random-crop padding in pixels (0 = off; less than the image size)" },
  "crop-fill": { type: "string", default: "black", choices: ["black", "mean"], help: "what --crop pads with: black (raw 0, as torchvision's RandomCrop before Normalize) or the mean colour (normalised 0)" },
  hflip: { type: "number", default: 0, ...R.probability, help: "horizontal-flip probability" },
  erase: { type: "number", default: 0, ...R.probability, help: "random-erasing probability" },
  roll: { type: "int", default: 0, ...R.count, help: "event frames: circular shift by up to +-N pixels (Spikformer's DVS code uses 5)" },
  cutout: { type: "int", default: 0, ...R.count, help: "event frames: zero an N x N square at a random place (0 = off)" },
  ...EVENT_FLAGS,
  clip: { type: "number", default: 0, ...R.rate, help: "gradient-norm clip (0 = off)" },
  seed: { type: "int", default: 0, ...R.seed, help: "seed of weights, data order and augmentation" },
  out: { type: "string", default: "runs/mnist", help: "folder for log.jsonl, checkpoint.safetensors, weights.safetensors" },
  resume: { type: "boolean", help: "continue from the checkpoint in --out" },
  "checkpoint-every": { type: "int", default: 0, ...R.count, help: "also checkpoint every N steps" },
  "stop-after": { type: "int", default: 0, ...R.count, help: "stop (resumably) after N steps" },
  "eval-batch": { type: "int", default: 100, ...R.batch, help: "evaluation batch size" },
  ...MODEL_FLAGS,
} satisfies Flags;

export function runTrain(argv: string[]): void {
  const a = parseArgs("train", argv, TRAIN_FLAGS);
  applyThreads(a);
  const opts: TrainOptions = {
    model: a.model!,
    // The main job runs one time step: in our MNIST runs T = 2 gave a similar accuracy per epoch at half the images per second.
    // Event data: one time step a frame (T comes from --frames, or --frames from --T); Spikeformer keeps its own T
    // (its temporal attention needs more than one step).
    modelOverrides: { T: isEventSpec(a.data!) ? a.T ?? a.frames ?? 16 : a.T ?? (isSpikeformerName(a.model!) ? undefined : 1), ...definedOnly(modelOverrides(a)) },
    data: a.data!,
    events: eventOptions(a, a.T),
    epochs: a.epochs!,
    batch: a.batch!,
    lr: a.lr!,
    wd: a.wd!,
    warmupEpochs: a.warmup!,
    minLr: a["min-lr"]!,
    labelSmoothing: a["label-smoothing"]!,
    mixup: a.mixup!,
    augment: {
      ...(a.crop! > 0 ? { crop: { padding: a.crop!, ...(a["crop-fill"] === "black" ? { fill: "black" as const } : {}) } } : {}),
      ...(a.hflip! > 0 ? { hflip: a.hflip! } : {}),
      ...(a.erase! > 0 ? { erasing: { p: a.erase! } } : {}),
      ...(a.roll! > 0 ? { roll: a.roll! } : {}),
      ...(a.cutout! > 0 ? { cutout: a.cutout! } : {}),
    },
    clip: a.clip!,
    seed: a.seed!,
    out: a.out!,
    resume: a.resume,
    checkpointEvery: a["checkpoint-every"]!,
    stopAfter: a["stop-after"]!,
    evalBatch: a["eval-batch"]!,
  };
  const progress = new Progress();
  const result = train(opts, {
    onStart: (s) => {
      console.log(`bitspike train: ${s.data}`);
      console.log(`model ${opts.model} (${s.parameters.toLocaleString("en-US")} parameters, T = ${s.model.T}, ${s.model.numHeads} heads, ${s.model.imgSize}x${s.model.imgSize}x${s.model.inChannels})`);
      console.log(`${opts.epochs} epochs of ${s.trainSize} images, batch ${opts.batch}, AdamW lr ${opts.lr}` + (s.resumedFrom ? `; resuming at epoch ${s.resumedFrom.epoch + 1}, step ${s.resumedFrom.batchIndex}` : ""));
    },
    onStep: (s) => progress.step(s),
    onEpoch: (e) => progress.epoch(e),
  });
  if (!result.finished) {
    console.log(`stopped after ${opts.stopAfter} steps at epoch ${result.position.epoch + 1}, step ${result.position.batchIndex}; continue with --resume`);
    console.log(heapSummary());
    return;
  }
  const t = result.test!;
  console.log(`test accuracy ${(100 * t.accuracy).toFixed(2)}% (${Math.round(t.accuracy * t.samples)}/${t.samples}), loss ${t.loss.toFixed(4)}; ${result.seconds.toFixed(1)} s in all; weights in ${opts.out}/weights.safetensors`);
  console.log(heapSummary());
}


/**
 * A model from a name and flags, or from the config stored in a weights file's
 * metadata (validated, sizes checked, before anything is built), with the
 * weights loaded (strictly, finite values only).
 */
function modelFromFlags(name: string | undefined, a: Record<string, unknown>, weights?: string): Classifier {
  let stored: ClassifierConfig | null = null;
  if (weights) {
    const meta = readSafetensorsFile(weights).metadata["bitspike_model"];
    if (meta !== undefined) stored = classifierFromJson(`weights(${weights})`, meta);
  }
  const modelName = name ?? (stored ? classifierName(stored) : undefined);
  if (!modelName) fail("bitspike", "--model is required (the weights file does not name its model)");
  const { variant: _v, depths: _d, embedDims: _e, ...rest } = stored ?? {};
  const model = buildClassifier(classifierConfig(modelName, { ...rest, ...definedOnly(modelOverrides(a)) }));
  if (weights) loadWeights(weights, model);
  return model;
}

/** Refuses data whose images do not fit the model, naming both (before any batch runs). */
function checkDataFits(model: Classifier, data: DataSplit, spec: string, batch: number, batchWhat: string): void {
  const c = model.config;
  const [C, H, W] = data.test.shape;
  if (C !== c.inChannels || H !== c.imgSize || W !== c.imgSize) {
    fail("bitspike", `--data ${spec}: images are ${H}x${W}x${C}, the model takes ${c.imgSize}x${c.imgSize}x${c.inChannels}`);
  }
  if (data.test.numClasses > c.numClasses) fail("bitspike", `--data ${spec}: ${data.test.numClasses} classes, the model has ${c.numClasses}`);
  checkClassifierFits("bitspike", c, batch, batchWhat, false);
}

const PARAMS_FLAGS = { ...MODEL_FLAGS } satisfies Flags;

export function runParams(argv: string[]): void {
  const a = parseArgs("params", argv, PARAMS_FLAGS, { positionals: 1 });
  applyThreads(a);
  const name = a._[0] ?? fail("bitspike params", "usage: bitspike params MODEL [--classes N ...]");
  const m = modelFromFlags(name, a);
  console.log(m.numParameters());
}

const EVAL_FLAGS = {
  model: { type: "string", help: "model name (default: from the weights file)" },
  weights: { type: "string", help: "weights .safetensors" },
  data: { type: "string", default: "mnist", help: "data set (its test split is evaluated)" },
  batch: { type: "int", default: 100, ...R.batch, help: "batch size" },
  limit: { type: "int", min: 1, help: "evaluate at most N images" },
  seed: { type: "int", default: 0, ...R.seed, help: "seed of the data split" },
  "split-by": EVENT_FLAGS["split-by"],
  ...MODEL_FLAGS,
} satisfies Flags;

export function runEval(argv: string[]): void {
  const a = parseArgs("eval", argv, EVAL_FLAGS);
  applyThreads(a);
  if (!a.weights) fail("bitspike eval", "--weights is required");
  const model = modelFromFlags(a.model, a, a.weights);
  const data = loadData(a.data!, a.seed!, eventOptions(a, model.config.T));
  checkDataFits(model, data, a.data!, a.batch!, "--batch");
  if (data.test.labels.length === 0) fail("bitspike eval", `--data ${a.data}: the test split is empty`);
  const r = evaluate(model, data.test, a.batch!, a.limit ?? Infinity);
  console.log(`accuracy ${(100 * r.accuracy).toFixed(2)}% loss ${r.loss.toFixed(4)} on ${r.samples} test images (${data.description})`);
}

const PREDICT_FLAGS = {
  model: { type: "string", help: "model name (default: from the weights file)" },
  weights: { type: "string", help: "weights .safetensors (official key names)" },
  input: { type: "string", help: "input .safetensors with a float tensor [B, C, H, W] (or [T, B, C, H, W] frames)" },
  key: { type: "string", help: "tensor name in the input file (default: its only tensor)" },
  output: { type: "string", help: "where to write `logits` [B, classes] (F32)" },
  ...MODEL_FLAGS,
} satisfies Flags;

/** Reads the input tensor of `predict`. */
export function readInputTensor(path: string, key: string | undefined): Tensor {
  const file = readSafetensorsFile(path);
  const names = [...file.tensors.keys()];
  const name = key ?? (names.length === 1 ? names[0]! : fail("bitspike predict", `${path} holds ${names.length} tensors (${names.join(", ")}); name one with --key`));
  const e = file.tensors.get(name) ?? fail("bitspike predict", `${path} has no tensor '${name}' (it has ${names.join(", ")})`);
  if (!(e.data instanceof Float32Array || e.data instanceof Float64Array)) fail("bitspike predict", `tensor '${name}' in ${path} is ${e.dtype}; expected a float tensor`);
  checkFinite("bitspike predict", `tensor '${name}' in ${path}`, e.data);
  return new Tensor(Float32Array.from(e.data), e.shape);
}

export function runPredict(argv: string[]): void {
  const a = parseArgs("predict", argv, PREDICT_FLAGS);
  applyThreads(a);
  for (const k of ["weights", "input", "output"] as const) if (!a[k]) fail("bitspike predict", `--${k} is required`);
  const model = modelFromFlags(a.model, a, a.weights).eval();
  const x = readInputTensor(a.input!, a.key);
  model.checkInput(x, a.input);
  checkClassifierFits("bitspike predict", model.config, x.rank === 5 ? x.shape[1]! : x.shape[0]!, `the batch of ${a.input}`, false);
  const logits = noGrad(() => model.forward(x));
  writeSafetensorsFile(a.output!, { logits: { shape: [...logits.shape], data: logits.data as Float32Array } });
  console.log(`wrote logits ${fmtShape(logits.shape)} to ${a.output}`);
}

const ENERGY_FLAGS = {
  model: { type: "string", help: "model name (default: from the weights file)" },
  weights: { type: "string", help: "weights .safetensors" },
  data: { type: "string", default: "mnist", help: "data set (images from its test split)" },
  limit: { type: "int", default: 200, min: 1, help: "number of images" },
  seed: { type: "int", default: 0, ...R.seed, help: "seed of the data split" },
  json: { type: "boolean", help: "print the report as JSON" },
  "split-by": EVENT_FLAGS["split-by"],
  ...MODEL_FLAGS,
} satisfies Flags;

/** The energy table: per layer, exact counts beside the papers' estimate. */
export function formatEnergy(r: EnergyReport): string {
  const num = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0));
  const lines = [`per image, averaged over ${r.images} images (E_MAC 4.6 pJ, E_AC 0.9 pJ)`, ""];
  const width = Math.max(28, ...r.rows.map((l) => l.name.length)); // Spikeformer's names run to 52 characters
  lines.push(`${"layer".padEnd(width)} ${"input".padEnd(6)} ${"rate".padStart(6)} ${"SOPs exact".padStart(11)} ${"SOPs est.".padStart(11)} ${"MACs".padStart(9)} ${"uJ exact".padStart(9)} ${"uJ est.".padStart(9)}`);
  for (const l of r.rows) {
    lines.push(
      `${l.name.padEnd(width)} ${l.input.padEnd(6)} ${l.input === "real" ? "   -  " : l.firingRate.toFixed(3).padStart(6)} ${num(l.sops / r.images).padStart(11)} ${num(l.estimatedSops / r.images).padStart(11)} ` +
        `${num(l.macs / r.images).padStart(9)} ${(l.energyMj * 1e3).toFixed(3).padStart(9)} ${(l.estimatedEnergyMj * 1e3).toFixed(3).padStart(9)}`,
    );
  }
  lines.push("", `total: ${num(r.totalSops / r.images)} SOPs exact (estimate ${num(r.estimatedSops / r.images)}), ${num(r.totalMacs / r.images)} MACs;` +
    ` energy ${r.energyMj.toFixed(4)} mJ per image (papers' estimate ${r.estimatedEnergyMj.toFixed(4)} mJ)`);
  return lines.join("\n");
}

export function runEnergy(argv: string[]): void {
  const a = parseArgs("energy", argv, ENERGY_FLAGS);
  applyThreads(a);
  if (!a.weights) fail("bitspike energy", "--weights is required");
  const model = modelFromFlags(a.model, a, a.weights);
  const data = loadData(a.data!, a.seed!, eventOptions(a, model.config.T));
  checkDataFits(model, data, a.data!, 50, "batch");
  if (data.test.labels.length === 0) fail("bitspike energy", `--data ${a.data}: the test split is empty`);
  const r = measureEnergy(model, data.test, a.limit!);
  console.log(a.json ? JSON.stringify(r, null, 1) : formatEnergy(r));
}

export const COMMANDS: Record<string, { run: (argv: string[]) => void; summary: string; flags: Flags }> = {
  train: { run: runTrain, summary: "train a Spikformer (defaults: the MNIST main job)", flags: TRAIN_FLAGS },
  eval: { run: runEval, summary: "accuracy and loss on a data set's test split", flags: EVAL_FLAGS },
  params: { run: runParams, summary: "trainable-parameter count of a model: bitspike params MODEL", flags: PARAMS_FLAGS },
  predict: { run: runPredict, summary: "eval-mode logits of a model on an input tensor", flags: PREDICT_FLAGS },
  pretrain: { run: runPretrain, summary: "masked-autoencoder pre-training of a Spikformer V2 (writes encoder.safetensors, decoder.safetensors)", flags: PRETRAIN_FLAGS },
  finetune: { run: runFinetune, summary: "fine-tune a classifier from a pre-trained encoder with layer-wise lr decay", flags: FINETUNE_FLAGS },
  reconstruct: { run: runReconstruct, summary: "PNG of original | masked | reconstructed test images from a pre-training run", flags: RECONSTRUCT_FLAGS },
  energy: { run: runEnergy, summary: "per-layer firing rates, exact synaptic operations and energy per image", flags: ENERGY_FLAGS },
  serve: { run: runServe, summary: "serve the in-browser demo (train, draw a digit, see its spikes) with the cross-origin isolation headers", flags: SERVE_FLAGS },
  report: { run: runReport, summary: "HTML report of a run folder (curves, firing rates, energy, confusion, raster, attention) with PNG charts", flags: REPORT_FLAGS },
  frames: { run: runFrames, summary: "write an event data set's frames and labels to one safetensors file", flags: FRAMES_FLAGS },
  emulate: { run: runEmulate, summary: "turn images into N-MNIST-format event recordings (three saccades, an emulated event camera)", flags: EMULATE_FLAGS },
};


