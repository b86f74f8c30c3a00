/**
 * The training loop: AdamW with timm's decay exclusions, a per-iteration
 * warm-up + cosine schedule, label smoothing or mixup, optional augmentation
 * and gradient clipping, JSON-lines logs, resumable checkpoints. Everything a
 * step draws comes from (seed, epoch, batch), so a resumed run ends with
 * weights bit-identical to an uninterrupted one.
 */
import { join } from "node:path";
import { fail } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { backward } from "../autograd/tape.js";
import { freeArray } from "../tensor/heap.js";
import { stepScope } from "../tensor/retain.js";
import { appendFileChecked, makeOutputDir } from "../io/files.js";
import { checkInt, checkNumber, firstNonFinite } from "../io/validate.js";
import { crossEntropy } from "../ops/loss.js";
import { definedOnly } from "../models/config.js";
import { buildClassifier, checkClassifierFits, classifierConfig, type Classifier, type ClassifierConfig, type ClassifierOverrides } from "../models/classifier.js";
import { AdamW, paramGroupsWithDecayExclusions } from "./optim.js";
import { CosineSchedule, layerDecayScales, layerIdOf } from "./schedule.js";
import { clipGradNorm } from "./clip.js";
import { mixup } from "./mixup.js";
import { batches, batchRng, numBatches } from "./data/loader.js";
import { makeAugment, resolveCropFill, type AugmentOptions } from "./data/augment.js";
import { loadData, type DataSplit } from "./data/spec.js";
import type { EventDataOptions } from "./data/events/datasets.js";
import { countCorrect, evaluate, type EvalResult } from "./evaluate.js";
import { hasCheckpoint, loadCheckpoint, saveCheckpoint, saveWeights, WEIGHTS_FILE, type RunExtent, type RunPosition } from "./checkpoint.js";

/** What every training-like run (supervised training, MAE pre-training) is defined by. */
export interface RunOptions {
  model: string;
  /** Model options on top of the name; image size, channels (and classes) come from the data. */
  modelOverrides: ClassifierOverrides;
  data: string;
  epochs: number;
  batch: number;
  lr: number;
  wd: number;
  /** Warm-up length in epochs (may be fractional). */
  warmupEpochs: number;
  minLr: number;
  /** Global gradient-norm clip; 0 disables. */
  clip: number;
  seed: number;
  /** Output folder for logs and checkpoints (null: nothing written). */
  out: string | null;
  resume: boolean;
  /** Also checkpoint every this many steps (0: only at epoch ends). */
  checkpointEvery: number;
  /** Stop after this many optimizer steps in this process (0: run to the end); the run can be resumed. */
  stopAfter: number;
  /** Frames a sample and their split, for event data (`nmnist:DIR`, ...); ignored for images. */
  events?: Partial<EventDataOptions>;
}

/** Everything that defines a training run. */
export interface TrainOptions extends RunOptions {
  labelSmoothing: number;
  /** Mixup alpha; 0 disables mixup. */
  mixup: number;
  augment: AugmentOptions;
  evalBatch: number;
  /** Layer-wise lr decay for fine-tuning (stem lowest, head at the full lr); absent: none. */
  layerDecay?: number;
}

/** Reported after every optimizer step. */
export interface StepInfo {
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  iteration: number;
  totalIterations: number;
  loss: number;
  accuracy: number;
  lr: number;
  imagesPerSecond: number;
}

/** Reported after every epoch. */
export interface EpochInfo {
  epoch: number;
  epochs: number;
  trainLoss: number;
  trainAccuracy: number;
  test: EvalResult;
  seconds: number;
}

export interface TrainHooks {
  /** Called on the freshly built model before the optimizer exists (e.g. to load pre-trained weights). */
  onModel?(model: Classifier): void;
  onStart?(info: { model: ClassifierConfig; parameters: number; data: string; trainSize: number; testSize: number; resumedFrom: RunPosition | null }): void;
  onStep?(info: StepInfo): void;
  /**
   * Called after every epoch's evaluation and checkpoint. Returning true ends
   * the run there (early stopping): the result is then `finished` with that
   * epoch's test result, and the weights file is written as at a normal end.
   */
  onEpoch?(info: EpochInfo): boolean | void;
}

/** What a finished (or stopped) run leaves. */
export interface TrainResult {
  model: Classifier;
  /** Test-set result at the end (null when stopped early by stopAfter). */
  test: EvalResult | null;
  position: RunPosition;
  seconds: number;
  finished: boolean;
}

/** Ranges of the numeric run options (the CLI's flags use the same). */
export const RUN_RANGES = {
  epochs: { min: 1, max: 1_000_000 },
  batch: { min: 1, max: 65536 },
  lr: { above: 0 },
  rate: { min: 0 },
  probability: { min: 0, max: 1 },
  count: { min: 0 },
  seed: { min: 0, max: 2 ** 32 - 1 },
} as const;

/** Checks the numeric options of a run (they may come from an API caller as well as from flags). */
export function checkRunOptions(op: string, o: RunOptions & Partial<Pick<TrainOptions, "labelSmoothing" | "mixup" | "evalBatch">>): void {
  const R = RUN_RANGES;
  checkInt(op, "epochs", o.epochs, R.epochs);
  checkInt(op, "batch", o.batch, R.batch);
  checkNumber(op, "lr", o.lr, R.lr);
  for (const k of ["wd", "warmupEpochs", "minLr", "clip"] as const) checkNumber(op, k, o[k], R.rate);
  checkInt(op, "seed", o.seed, {});
  checkInt(op, "checkpointEvery", o.checkpointEvery, R.count);
  checkInt(op, "stopAfter", o.stopAfter, R.count);
  if (o.labelSmoothing !== undefined) checkNumber(op, "labelSmoothing", o.labelSmoothing, R.probability);
  if (o.mixup !== undefined) checkNumber(op, "mixup", o.mixup, R.rate);
  if (o.evalBatch !== undefined) checkInt(op, "evalBatch", o.evalBatch, R.batch);
}

/**
 * The model a run builds: the name, the job's defaults, the overrides that are set, and the data's
 * image geometry and class count. An image size or channel count that is set must match the data
 * (nothing is resized); a class count that is set must hold the data's labels.
 */
export function trainModelConfig(opts: Pick<TrainOptions, "model" | "modelOverrides" | "seed">, data: DataSplit, defaults: ClassifierOverrides = {}): ClassifierConfig {
  const [C, H, W] = data.train.shape;
  if (H !== W) fail("train", `images are ${H}x${W}; Spikformer needs square images`);
  const o = opts.modelOverrides;
  if (o.imgSize !== undefined && o.imgSize !== H) fail("train", `imgSize (--img-size) ${o.imgSize} does not match the data's ${H}x${W} images; images are not resized`);
  if (o.inChannels !== undefined && o.inChannels !== C) fail("train", `inChannels (--in-channels) ${o.inChannels} does not match the data's ${C}-channel images`);
  const classes = data.train.numClasses;
  if (o.numClasses !== undefined && o.numClasses < classes) fail("train", `numClasses (--classes) ${o.numClasses} is fewer than the data's ${classes} classes`);
  // Event data fixes the time steps: one a frame.
  const T = data.train.frames;
  if (T !== undefined && o.T !== undefined && o.T !== T) fail("train", `T (--T) ${o.T} does not match the data's ${T} frames a sample; the model takes one frame a time step`);
  return classifierConfig(opts.model, { ...defaults, seed: opts.seed, ...definedOnly(o), imgSize: H, inChannels: C, numClasses: o.numClasses ?? classes, ...(T !== undefined ? { T } : {}) }, "train");
}

/**
 * Fails the step when a gradient holds NaN or infinity, naming the first such
 * parameter: one pass over the gradients, before the optimizer can write the
 * value into the weights (a neuron reads NaN as "no spike", so a NaN would
 * otherwise train on silently).
 */
export function checkGradientsFinite(op: string, named: readonly (readonly [string, Tensor])[], where: string): void {
  for (const [name, p] of named) {
    if (p.grad === null) continue;
    const i = firstNonFinite(p.grad.data);
    if (i >= 0) fail(op, `the gradient of ${name} holds ${p.grad.data[i]} (index ${i}) ${where}; check the inputs for NaN, lower --lr or set --clip`);
  }
}

/** Refuses a crop padding that is not below the image size (crops would be mostly or wholly padding). */
function checkAugment(op: string, augment: AugmentOptions, data: DataSplit): void {
  const H = data.train.shape[1];
  if (augment.crop && augment.crop.padding >= H) fail(op, `crop padding (--crop) ${augment.crop.padding} must be less than the image size ${H}`);
}


/** Trains a Spikformer or Spikeformer as the options say; see the module comment. */
export function train(opts: TrainOptions, hooks: TrainHooks = {}, preloaded?: DataSplit): TrainResult {
  const t0 = performance.now();
  checkRunOptions("train", opts);
  // Before the data load, so a bad --out fails at once.
  if (opts.out) makeOutputDir("train", opts.out);
  const data = preloaded ?? loadData(opts.data, opts.seed, opts.events);
  checkAugment("train", opts.augment, data);
  if (opts.mixup > 0 && data.train.frames !== undefined) fail("train", "mixup (--mixup) mixes image batches; it is not defined for event frames");
  const cfg = trainModelConfig(opts, data);
  checkClassifierFits("train", cfg, opts.batch, "batch");
  if (opts.layerDecay !== undefined && cfg.variant === "spikeformer") fail("train", "layer-wise lr decay (--layer-decay) is for Spikformer models");
  const model = buildClassifier(cfg).train();
  hooks.onModel?.(model);
  const named = [...model.namedParameters()];
  const scales = opts.layerDecay === undefined ? null : layerDecayScales(cfg.depths, opts.layerDecay);
  const layerScale = scales ? (n: string): number => scales[layerIdOf(n, cfg.depths)]! : undefined;
  const optimizer = new AdamW(paramGroupsWithDecayExclusions(named, { lr: opts.lr, weightDecay: opts.wd, layerScale }), { lr: opts.lr, weightDecay: opts.wd });
  const stepsPerEpoch = numBatches(data.train.labels.length, opts.batch, true);
  if (stepsPerEpoch < 1) fail("train", `batch ${opts.batch} is larger than the ${data.train.labels.length} training samples`);
  const totalIterations = stepsPerEpoch * opts.epochs;
  const schedule = new CosineSchedule({
    baseLr: opts.lr,
    totalIters: totalIterations,
    warmupIters: Math.min(totalIterations - 1, Math.round(opts.warmupEpochs * stepsPerEpoch)),
    minLr: opts.minLr,
  });
  const augment = Object.keys(opts.augment).length ? makeAugment(resolveCropFill(opts.augment, data.train)) : undefined;
  // What a resume must match: everything that shapes the weights (not where or how often to save, nor eval batching).
  const trainJson = { ...opts, resume: undefined, stopAfter: undefined, out: undefined, checkpointEvery: undefined, evalBatch: undefined } as Record<string, unknown>;

  let pos: RunPosition = { epoch: 0, batchIndex: 0, iteration: 0 };
  let resumedFrom: RunPosition | null = null;
  if (opts.resume) {
    if (!opts.out || !hasCheckpoint(opts.out)) fail("train", `--resume: no checkpoint in ${opts.out ?? "(no --out)"}`);
    const st = loadCheckpoint(opts.out, model, optimizer, { epochs: opts.epochs, stepsPerEpoch } satisfies RunExtent);
    const saved = JSON.stringify(st.train);
    if (saved !== JSON.stringify(JSON.parse(JSON.stringify(trainJson)))) {
      fail("train", `--resume: the checkpoint in ${opts.out} was made with other settings (${saved}); resume with the same flags`);
    }
    pos = st.position;
    resumedFrom = { ...pos };
  }
  const log = (obj: Record<string, unknown>): void => {
    if (opts.out) appendFileChecked("train", join(opts.out, "log.jsonl"), JSON.stringify(obj) + "\n");
  };
  const checkpoint = (): void => {
    if (opts.out) saveCheckpoint(opts.out, model, optimizer, { position: pos, train: trainJson, model: cfg as unknown as Record<string, unknown> });
  };
  hooks.onStart?.({ model: cfg, parameters: model.numParameters(), data: data.description, trainSize: data.train.labels.length, testSize: data.test.labels.length, resumedFrom });
  log({ event: resumedFrom ? "resume" : "start", position: pos, model: cfg, train: trainJson });

  let stepsThisRun = 0;
  let lastTest: EvalResult | null = null;
  for (let epoch = pos.epoch; epoch < opts.epochs; epoch++) {
    const te = performance.now();
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    for (const b of batches(data.train, opts.batch, { seed: opts.seed, epoch, startBatch: pos.batchIndex, dropLast: true, augment })) {
      const ts = performance.now();
      const lr = schedule.lrAt(pos.iteration);
      optimizer.setLr(lr);
      // One heap scope a step: its activations and gradients go back to the heap at its end.
      // Spikeformer's DropPath draws from (seed, epoch, batch) too.
      if ("dropPathRng" in model) model.dropPathRng = batchRng(opts.seed ^ 0x1b873593, epoch, b.batchIndex);
      const { l, c } = stepScope(() => {
        const logits = model.forward(b.images);
        const loss = opts.mixup > 0
          ? crossEntropy(logits, mixup(b.images, b.labels, cfg.numClasses, opts.mixup, batchRng(opts.seed ^ 0x5bd1e995, epoch, b.batchIndex), opts.labelSmoothing).targets)
          : crossEntropy(logits, b.labels, { labelSmoothing: opts.labelSmoothing });
        // Checked before the optimizer step, so a bad step never reaches the weights or a checkpoint.
        const l = loss.item();
        if (!Number.isFinite(l)) fail("train", `the loss became ${l} at epoch ${epoch} step ${b.batchIndex}; lower --lr or set --clip`);
        const c = countCorrect(logits, b.labels);
        // Nothing of the forward pass is read after this: each activation goes back to the heap once its node has run.
        backward(loss, undefined, { releaseActivations: true });
        checkGradientsFinite("train", named, `at epoch ${epoch} step ${b.batchIndex}`);
        if (opts.clip > 0) clipGradNorm(model.parameters(), opts.clip);
        optimizer.step();
        optimizer.zeroGrad();
        return { l, c };
      }, model, optimizer);
      freeArray(b.images.data, "released after its batch");
      lossSum += l * b.labels.length;
      correct += c;
      seen += b.labels.length;
      pos = { epoch, batchIndex: b.batchIndex + 1, iteration: pos.iteration + 1 };
      stepsThisRun++;
      const info: StepInfo = {
        epoch, step: b.batchIndex + 1, stepsPerEpoch, iteration: pos.iteration, totalIterations,
        loss: l, accuracy: c / b.labels.length, lr, imagesPerSecond: b.labels.length / ((performance.now() - ts) / 1000),
      };
      log({ event: "step", ...info });
      hooks.onStep?.(info);
      const stopping = opts.stopAfter > 0 && stepsThisRun >= opts.stopAfter;
      if (stopping || (opts.checkpointEvery > 0 && pos.iteration % opts.checkpointEvery === 0)) checkpoint();
      if (stopping) return { model, test: null, position: pos, seconds: (performance.now() - t0) / 1000, finished: false };
    }
    pos = { epoch: epoch + 1, batchIndex: 0, iteration: pos.iteration };
    lastTest = evaluate(model, data.test, opts.evalBatch);
    const einfo: EpochInfo = { epoch, epochs: opts.epochs, trainLoss: seen ? lossSum / seen : NaN, trainAccuracy: seen ? correct / seen : NaN, test: lastTest, seconds: (performance.now() - te) / 1000 };
    log({ event: "epoch", ...einfo });
    checkpoint();
    if (hooks.onEpoch?.(einfo) === true) {
      log({ event: "stopped", position: pos, reason: "onEpoch hook" });
      break;
    }
  }
  if (lastTest === null) lastTest = evaluate(model, data.test, opts.evalBatch);
  const seconds = (performance.now() - t0) / 1000;
  log({ event: "end", test: lastTest, seconds });
  if (opts.out) saveWeights(join(opts.out, WEIGHTS_FILE), model, cfg as unknown as Record<string, unknown>);
  return { model, test: lastTest, position: pos, seconds, finished: true };
}
