/**
 * Masked-autoencoder pre-training of Spikformer V2 and fine-tuning from it.
 * The pre-training loop mirrors trainer.ts (AdamW with timm's decay
 * exclusions, warm-up + cosine per iteration, JSON-lines log, atomic
 * resumable checkpoints): every mask is drawn from (seed, epoch, batch), so a
 * resumed run ends bit-identical to an uninterrupted one. At the end it writes
 * DIR/encoder.safetensors (the classifier's key names, no head) and
 * DIR/decoder.safetensors. Fine-tuning builds a classifier, loads the encoder
 * (the head keeps its fresh initialisation) and trains with layer-wise lr
 * decay (stem lowest, block i at layer i + 1, head at the full lr).
 */
import { freeArray } from "../tensor/heap.js";
import { stepScope } from "../tensor/retain.js";
import { join } from "node:path";
import { fail } from "../tensor/errors.js";
import { parseJson } from "../io/validate.js";
import { Rng } from "../tensor/random.js";
import { backward, noGrad } from "../autograd/tape.js";
import type { SpikformerConfig } from "../models/config.js";
import { loadEncoderInto, MaskedAutoencoder, type MAEOptions } from "../models/mae/mae.js";
import { Spikformer } from "../models/spikformer.js";
import { writeSafetensorsFile } from "../io/safetensors-file.js";
import { appendFileChecked, makeOutputDir } from "../io/files.js";
import { checkMaeOptions } from "../models/mae/mae.js";
import { checkModelFits, configFromJson } from "../models/config.js";
import { reconstructImages } from "../models/mae/reconstruct.js";
import { upsampleMask } from "../models/mae/masking.js";
import { reconstructionGrid } from "../io/png.js";
import { AdamW, paramGroupsWithDecayExclusions } from "./optim.js";
import { CosineSchedule } from "./schedule.js";
import { clipGradNorm } from "./clip.js";
import { batches, numBatches } from "./data/loader.js";
import { passOverBatches } from "./batch-pass.js";
import { deriveSeed } from "./data/seed.js";
import { loadData, type DataSplit } from "./data/spec.js";
import type { Dataset } from "./data/dataset.js";
import { hasCheckpoint, loadCheckpoint, readWeightsFile, saveCheckpoint, stateEntries, type RunPosition } from "./checkpoint.js";
import { checkGradientsFinite, checkRunOptions, train, trainModelConfig, type RunOptions, type TrainHooks, type TrainOptions, type TrainResult } from "./trainer.js";

export const ENCODER_FILE = "encoder.safetensors";
export const DECODER_FILE = "decoder.safetensors";

/** Everything that defines a pre-training run (T defaults to 1; no classes). */
export interface PretrainOptions extends RunOptions {
  /** Mask ratio, pixel normalisation, decoder shape. */
  mae: Partial<MAEOptions>;
  /** Test images whose masked loss is reported after each epoch (fixed masks; 0 = none). */
  evalImages: number;
}

export interface PretrainStepInfo {
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  iteration: number;
  totalIterations: number;
  loss: number;
  lr: number;
  imagesPerSecond: number;
}

export interface PretrainEpochInfo {
  epoch: number;
  epochs: number;
  trainLoss: number;
  /** Masked loss on the first evalImages test images (NaN when none). */
  testLoss: number;
  seconds: number;
}

export interface PretrainHooks {
  onStart?(info: { model: SpikformerConfig; mae: MAEOptions; parameters: number; data: string; trainSize: number; resumedFrom: RunPosition | null }): void;
  onStep?(info: PretrainStepInfo): void;
  onEpoch?(info: PretrainEpochInfo): void;
}

export interface PretrainResult {
  mae: MaskedAutoencoder;
  position: RunPosition;
  seconds: number;
  finished: boolean;
  /** Mean training loss of the last epoch run in this process (NaN if none). */
  lastTrainLoss: number;
}

/** The encoder config of a pre-training run: T = 1 unless overridden, geometry from the data. */
export function pretrainModelConfig(opts: Pick<PretrainOptions, "model" | "modelOverrides" | "seed">, data: DataSplit): SpikformerConfig {
  const cfg = trainModelConfig(opts, data, { T: 1 });
  if (cfg.variant === "spikeformer") fail("pretrain", `masked-autoencoder pre-training is for Spikformer V2 models, got ${opts.model}`);
  return cfg;
}

/** The Rng a batch's mask is drawn from. */
export function maskRng(seed: number, epoch: number, batchIndex: number): Rng {
  return new Rng(deriveSeed(seed, epoch, batchIndex, 0x6d61736b));
}


/** Writes the encoder (classifier key names, no head) with the model config as `bitspike_model` metadata. */
export function saveEncoder(path: string, mae: MaskedAutoencoder): void {
  writeSafetensorsFile(path, stateEntries(mae.encoderStateDict()), { format: "pt", bitspike_model: JSON.stringify(mae.config), bitspike_mae: JSON.stringify(mae.options) });
}

/** Writes the decoder's state dict (keys embed.*, mask_token, pos_embed, blocks.*, norm.*, pred.*) with its config. */
export function saveDecoder(path: string, mae: MaskedAutoencoder): void {
  writeSafetensorsFile(path, stateEntries(mae.decoder.stateDict()), { format: "pt", bitspike_mae: JSON.stringify(mae.options), bitspike_decoder: JSON.stringify(mae.decoderConfig()) });
}

/** Rebuilds a pre-trained MAE from DIR/encoder.safetensors and DIR/decoder.safetensors (strict loads). */
export function loadMaskedAutoencoder(dir: string): MaskedAutoencoder {
  const encPath = join(dir, ENCODER_FILE);
  const decPath = join(dir, DECODER_FILE);
  const enc = readWeightsFile(encPath);
  const dec = readWeightsFile(decPath);
  const cfgRaw = enc.metadata["bitspike_model"];
  const maeRaw = dec.metadata["bitspike_mae"] ?? enc.metadata["bitspike_mae"];
  if (!cfgRaw || !maeRaw) fail("loadMaskedAutoencoder", `${dir} lacks the bitspike_model / bitspike_mae metadata of a bitspike pre-training run`);
  const cfg = configFromJson(`weights(${encPath})`, cfgRaw);
  const maeOptions = checkMaeOptions(`weights(${decPath})`, parseJson(`weights(${decPath})`, "metadata bitspike_mae", maeRaw));
  const mae = new MaskedAutoencoder(cfg, maeOptions);
  loadEncoderInto(mae.encoder, enc.tensors, encPath);
  mae.decoder.loadStateDict(dec.tensors, { strict: true, source: decPath });
  return mae;
}

/**
 * PNG of original | masked | reconstruction for the first `images` images of
 * `data` (eval mode, masks from `seed`), and the masked loss on them.
 */
export function reconstructionPng(mae: MaskedAutoencoder, data: Dataset, images: number, seed: number): { png: Uint8Array; loss: number; count: number } {
  const b = batches(data, images, { shuffle: false }).next().value;
  if (!b) fail("reconstruct", "the test split is empty");
  const was = mae.training;
  mae.eval();
  try {
    const out = noGrad(() => mae.forward(b.images, maskRng(seed, -2, 0)));
    const recon = reconstructImages(b.images, out.pred, out.mask, mae.patch, mae.options.normPixLoss);
    const png = reconstructionGrid(b.images, recon, upsampleMask(out.mask, mae.patch).data, { mean: data.mean, std: data.std });
    return { png, loss: out.loss.item(), count: b.labels.length };
  } finally {
    mae.train(was);
  }
}

/** Masked loss on the first `n` test images, eval mode, masks from a fixed seed. */
export function evalMaskedLoss(mae: MaskedAutoencoder, data: Dataset, n: number, batch: number, seed: number): number {
  if (n <= 0) return NaN;
  let sum = 0;
  const seen = passOverBatches(mae, data, batch, { limit: n }, (b) => {
    sum += mae.forward(b.images, maskRng(seed, -1, b.batchIndex)).loss.item() * b.labels.length;
  });
  return seen ? sum / seen : NaN;
}

/** Pre-trains a masked autoencoder as the options say; see the module comment. */
export function pretrain(opts: PretrainOptions, hooks: PretrainHooks = {}, preloaded?: DataSplit): PretrainResult {
  const t0 = performance.now();
  checkRunOptions("pretrain", opts);
  // Before the data load, so a bad --out fails at once.
  if (opts.out) makeOutputDir("pretrain", opts.out);
  checkMaeOptions("pretrain", opts.mae);
  const data = preloaded ?? loadData(opts.data, opts.seed);
  // The MAE masks one image's patches; frames would need a mask over time as well, which the V2 paper does not define.
  if (data.train.frames !== undefined) fail("pretrain", "masked-autoencoder pre-training takes images; event frames are not supported");
  const cfg = pretrainModelConfig(opts, data);
  checkModelFits("pretrain", cfg, opts.batch, "batch");
  const mae = new MaskedAutoencoder(cfg, opts.mae).train();
  const named = [...mae.namedParameters()];
  const optimizer = new AdamW(paramGroupsWithDecayExclusions(named, { lr: opts.lr, weightDecay: opts.wd, noWeightDecay: ["decoder.mask_token"] }), { lr: opts.lr, weightDecay: opts.wd });
  const stepsPerEpoch = numBatches(data.train.labels.length, opts.batch, true);
  if (stepsPerEpoch < 1) fail("pretrain", `batch ${opts.batch} is larger than the ${data.train.labels.length} training samples`);
  const totalIterations = stepsPerEpoch * opts.epochs;
  const schedule = new CosineSchedule({
    baseLr: opts.lr, totalIters: totalIterations, minLr: opts.minLr,
    warmupIters: Math.min(totalIterations - 1, Math.round(opts.warmupEpochs * stepsPerEpoch)),
  });
  const trainJson = JSON.parse(JSON.stringify({ ...opts, resume: undefined, stopAfter: undefined, out: undefined })) as Record<string, unknown>;
  const modelJson = { ...cfg, mae: mae.options } as unknown as Record<string, unknown>;

  let pos: RunPosition = { epoch: 0, batchIndex: 0, iteration: 0 };
  let resumedFrom: RunPosition | null = null;
  if (opts.resume) {
    if (!opts.out || !hasCheckpoint(opts.out)) fail("pretrain", `--resume: no checkpoint in ${opts.out ?? "(no --out)"}`);
    const st = loadCheckpoint(opts.out, mae, optimizer, { epochs: opts.epochs, stepsPerEpoch });
    if (JSON.stringify(st.train) !== JSON.stringify(trainJson)) {
      fail("pretrain", `--resume: the checkpoint in ${opts.out} was made with other settings (${JSON.stringify(st.train)}); resume with the same flags`);
    }
    pos = st.position;
    resumedFrom = { ...pos };
  }
  const log = (obj: Record<string, unknown>): void => {
    if (opts.out) appendFileChecked("pretrain", join(opts.out, "log.jsonl"), JSON.stringify(obj) + "\n");
  };
  // The checkpoint's weights.safetensors holds the whole MAE (patch_embed.*, block.*, decoder.*).
  const checkpoint = (): void => {
    if (opts.out) saveCheckpoint(opts.out, mae, optimizer, { position: pos, train: trainJson, model: modelJson });
  };
  hooks.onStart?.({ model: cfg, mae: mae.options, parameters: mae.numParameters(), data: data.description, trainSize: data.train.labels.length, resumedFrom });
  log({ event: resumedFrom ? "resume" : "start", position: pos, model: modelJson, train: trainJson });

  let stepsThisRun = 0;
  let lastTrainLoss = NaN;
  for (let epoch = pos.epoch; epoch < opts.epochs; epoch++) {
    const te = performance.now();
    let lossSum = 0;
    let seen = 0;
    for (const b of batches(data.train, opts.batch, { seed: opts.seed, epoch, startBatch: pos.batchIndex, dropLast: true })) {
      const ts = performance.now();
      const lr = schedule.lrAt(pos.iteration);
      optimizer.setLr(lr);
      // One heap scope a step: its activations and gradients go back to the heap at its end.
      const l = stepScope(() => {
        const { loss } = mae.forward(b.images, maskRng(opts.seed, epoch, b.batchIndex));
        // Checked before the optimizer step, so a bad step never reaches the weights or a checkpoint.
        const l = loss.item();
        if (!Number.isFinite(l)) fail("pretrain", `the loss became ${l} at epoch ${epoch} step ${b.batchIndex}; lower --lr or set --clip`);
        backward(loss, undefined, { releaseActivations: true }); // the forward pass is not read after this
        checkGradientsFinite("pretrain", named, `at epoch ${epoch} step ${b.batchIndex}`);
        if (opts.clip > 0) clipGradNorm(mae.parameters(), opts.clip);
        optimizer.step();
        optimizer.zeroGrad();
        return l;
      }, mae, optimizer);
      freeArray(b.images.data, "released after its batch");
      lossSum += l * b.labels.length;
      seen += b.labels.length;
      pos = { epoch, batchIndex: b.batchIndex + 1, iteration: pos.iteration + 1 };
      stepsThisRun++;
      const info: PretrainStepInfo = {
        epoch, step: b.batchIndex + 1, stepsPerEpoch, iteration: pos.iteration, totalIterations, loss: l, lr,
        imagesPerSecond: b.labels.length / ((performance.now() - ts) / 1000),
      };
      log({ event: "step", ...info });
      hooks.onStep?.(info);
      const stopping = opts.stopAfter > 0 && stepsThisRun >= opts.stopAfter;
      if (stopping || (opts.checkpointEvery > 0 && pos.iteration % opts.checkpointEvery === 0)) checkpoint();
      if (stopping) return { mae, position: pos, seconds: (performance.now() - t0) / 1000, finished: false, lastTrainLoss };
    }
    pos = { epoch: epoch + 1, batchIndex: 0, iteration: pos.iteration };
    lastTrainLoss = seen ? lossSum / seen : NaN;
    const testLoss = evalMaskedLoss(mae, data.test, opts.evalImages, opts.batch, opts.seed);
    const einfo: PretrainEpochInfo = { epoch, epochs: opts.epochs, trainLoss: lastTrainLoss, testLoss, seconds: (performance.now() - te) / 1000 };
    log({ event: "epoch", ...einfo });
    hooks.onEpoch?.(einfo);
    checkpoint();
  }
  const seconds = (performance.now() - t0) / 1000;
  log({ event: "end", seconds });
  if (opts.out) {
    saveEncoder(join(opts.out, ENCODER_FILE), mae);
    saveDecoder(join(opts.out, DECODER_FILE), mae);
  }
  return { mae, position: pos, seconds, finished: true, lastTrainLoss };
}

/** A fine-tuning run: a classifier run of trainer.ts started from a pre-trained encoder. */
export interface FinetuneOptions extends TrainOptions {
  /** Path of an encoder.safetensors written by {@link pretrain}. */
  from: string;
  /** Layer-wise lr decay (0.7 in the paper). */
  layerDecay: number;
}

/** Reads an encoder file's tensors and its stored encoder config. */
export function readEncoderFile(path: string): { tensors: Map<string, { shape: number[]; data: ArrayLike<number> | BigInt64Array }>; config: SpikformerConfig | null } {
  const f = readWeightsFile(path);
  const raw = f.metadata["bitspike_model"];
  return { tensors: f.tensors as Map<string, { shape: number[]; data: ArrayLike<number> | BigInt64Array }>, config: raw === undefined ? null : configFromJson(`weights(${path})`, raw) };
}

/**
 * Fine-tunes a classifier from a pre-trained encoder: trainer.ts's `train`
 * with the encoder loaded into the fresh model (only the head keys may be
 * missing) and layer-wise lr decay. A resumed run loads its checkpoint over it.
 */
export function finetune(opts: FinetuneOptions, hooks: TrainHooks = {}, preloaded?: DataSplit): TrainResult {
  const { tensors } = readEncoderFile(opts.from);
  return train(opts, {
    ...hooks,
    onModel: (m) => {
      if (!(m instanceof Spikformer)) fail("finetune", `fine-tuning from an MAE encoder is for Spikformer V2 models, got ${opts.model}`);
      loadEncoderInto(m, tensors, opts.from);
      hooks.onModel?.(m);
    },
  }, preloaded);
}

