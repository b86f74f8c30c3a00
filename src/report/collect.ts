/**
 * Everything a run report shows, gathered from a run folder: the curves of
 * its log.jsonl, and from its weights (a classifier's weights.safetensors, or
 * a pre-training's encoder and decoder) the confusion matrix on the test
 * split, per-layer firing rates and energy (src/energy), the spike raster and
 * attention map of one test image, and MAE reconstructions.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fail } from "../tensor/errors.js";
import { freeArray } from "../tensor/heap.js";
import type { Spikformer } from "../models/spikformer.js";
import type { SpikformerConfig } from "../models/config.js";
import { readWeightsFile, WEIGHTS_FILE } from "../train/checkpoint.js";
import { classifierFromWeights } from "../train/weights.js";
import { evaluate, type EvalResult } from "../train/evaluate.js";
import { batches } from "../train/data/loader.js";
import { loadData } from "../train/data/spec.js";
import { ENCODER_FILE, loadMaskedAutoencoder, reconstructionPng } from "../train/pretrain.js";
import { measureEnergy } from "../energy/measure.js";
import type { EnergyReport } from "../energy/energy.js";
import { probeSample, type AttentionMap } from "./probe.js";
import type { RasterBand } from "./charts.js";

const OP = "bitspike report";

/** One `step` line of log.jsonl. */
export interface StepRow { iteration: number; loss: number; accuracy?: number; lr: number; imagesPerSecond: number }
/** One `epoch` line (test values: a classifier's EvalResult, or a pre-training's masked loss). */
export interface EpochRow { epoch: number; iteration: number; trainLoss: number; trainAccuracy?: number; testLoss?: number; testAccuracy?: number; seconds: number }

/** The parsed log of a run. */
export interface RunLog {
  kind: "train" | "pretrain";
  model: SpikformerConfig | null;
  /** The run's settings as logged (data, epochs, batch, lr, seed, ...). */
  settings: Record<string, unknown>;
  steps: StepRow[];
  epochs: EpochRow[];
  seconds: number | null;
  finalTest: EvalResult | null;
}

const num = (v: unknown): number => (typeof v === "number" ? v : NaN);

/**
 * Reads DIR/log.jsonl. A resumed run logs the steps after its last checkpoint
 * twice; the later line of an iteration wins, so the curves are the run's.
 */
export function readRunLog(dir: string): RunLog {
  const path = join(dir, "log.jsonl");
  if (!existsSync(path)) fail(OP, `${dir} has no log.jsonl (is it the --out folder of bitspike train or pretrain?)`);
  const lines = readFileSync(path, "utf8").split("\n");
  const steps = new Map<number, StepRow>();
  const epochs = new Map<number, EpochRow>();
  let start: Record<string, unknown> | null = null;
  let end: Record<string, unknown> | null = null;
  let stepsPerEpoch = 0;
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // A run killed mid-write may leave a cut last line: that one is skipped, any other is an error.
      if (i === lines.length - 1 || lines.slice(i + 1).every((l) => l.trim() === "")) return;
      fail(OP, `${path} line ${i + 1} is not JSON: '${line.slice(0, 60)}'`);
    }
    if (typeof o !== "object" || o === null) fail(OP, `${path} line ${i + 1} is not a JSON object`);
    if ((o.event === "start" || o.event === "resume") && start === null) start = o;
    else if (o.event === "step") {
      const it = num(o.iteration);
      if (!Number.isInteger(it)) fail(OP, `${path} line ${i + 1}: a step without an integer iteration`);
      stepsPerEpoch = num(o.stepsPerEpoch) || stepsPerEpoch;
      steps.set(it, { iteration: it, loss: num(o.loss), ...(o.accuracy !== undefined ? { accuracy: num(o.accuracy) } : {}), lr: num(o.lr), imagesPerSecond: num(o.imagesPerSecond) });
    } else if (o.event === "epoch") {
      const e = num(o.epoch);
      const test = o.test as Record<string, unknown> | undefined;
      epochs.set(e, {
        epoch: e, iteration: (e + 1) * stepsPerEpoch, trainLoss: num(o.trainLoss), seconds: num(o.seconds),
        ...(o.trainAccuracy !== undefined ? { trainAccuracy: num(o.trainAccuracy) } : {}),
        ...(test ? { testLoss: num(test.loss), testAccuracy: num(test.accuracy) } : o.testLoss !== undefined ? { testLoss: num(o.testLoss) } : {}),
      });
    } else if (o.event === "end") end = o;
  });
  if (start === null) fail(OP, `${path} has no start line: not a bitspike run log`);
  const s = start as Record<string, unknown>;
  const settings = (s.train ?? {}) as Record<string, unknown>;
  const endTest = (end as Record<string, unknown> | null)?.test as EvalResult | undefined;
  return {
    kind: settings.mae !== undefined ? "pretrain" : "train",
    model: (s.model ?? null) as SpikformerConfig | null,
    settings,
    steps: [...steps.values()].sort((a, b) => a.iteration - b.iteration),
    epochs: [...epochs.values()].sort((a, b) => a.epoch - b.epoch),
    seconds: end ? num((end as Record<string, unknown>).seconds) : null,
    finalTest: endTest ?? null,
  };
}


/** Everything the report shows. */
export interface ReportData {
  dir: string;
  log: RunLog;
  dataDescription: string;
  config: SpikformerConfig;
  parameters: number;
  /** Confusion counts [true][predicted] on the test split (classifiers). */
  confusion: { classes: number; counts: Float64Array; test: EvalResult } | null;
  energy: EnergyReport;
  bands: RasterBand[];
  attention: AttentionMap | null;
  sample: { label: number; predicted: number | null };
  /** PNG of original | masked | reconstruction (pre-training runs). */
  reconstruction: { png: Uint8Array; loss: number; count: number } | null;
}

export interface CollectOptions {
  /** Data set spec (default: the run's own). */
  data?: string;
  /** Images the energy and firing rates are averaged over. */
  energyImages?: number;
  /** Test images of the confusion matrix (default: the whole test split). */
  limit?: number;
}

/** Reads a run folder and computes every section of its report. */
export function collectReport(dir: string, o: CollectOptions = {}): ReportData {
  const log = readRunLog(dir);
  const spec = o.data ?? (typeof log.settings.data === "string" ? log.settings.data : fail(OP, `the log of ${dir} does not name its data; give --data`));
  const seed = typeof log.settings.seed === "number" ? log.settings.seed : 0;
  let model: Spikformer;
  let reconstruction: ReportData["reconstruction"] = null;
  const data = loadData(spec, seed);
  if (data.test.labels.length === 0) fail(OP, `--data ${spec}: the test split is empty`);
  if (log.kind === "pretrain") {
    if (!existsSync(join(dir, ENCODER_FILE))) fail(OP, `${dir} has no ${ENCODER_FILE}: the pre-training has not finished`);
    const mae = loadMaskedAutoencoder(dir);
    model = mae.encoder;
    reconstruction = reconstructionPng(mae, data.test, 8, seed);
  } else {
    const w = join(dir, WEIGHTS_FILE);
    if (!existsSync(w)) fail(OP, `${dir} has no ${WEIGHTS_FILE}: the run has not finished (weights are written at its end)`);
    model = classifierFromWeights(readWeightsFile(w), w);
  }
  const c = model.config;
  const [C, H, W] = data.test.shape;
  if (C !== c.inChannels || H !== c.imgSize || W !== c.imgSize) fail(OP, `--data ${spec}: images are ${H}x${W}x${C}, the model takes ${c.imgSize}x${c.imgSize}x${c.inChannels}`);

  let confusion: ReportData["confusion"] = null;
  if (log.kind === "train") {
    const K = c.numClasses;
    const counts = new Float64Array(K * K);
    const test = evaluate(model, data.test, 100, o.limit ?? Infinity, (logits, labels) => {
      for (let b = 0; b < labels.length; b++) counts[labels[b]! * K + argmax(logits.data, b * K, K)]! += 1;
    });
    confusion = { classes: K, counts, test };
  }
  const energy = measureEnergy(model, data.test, o.energyImages ?? 200);
  const first = batches(data.test, 1, { shuffle: false }).next().value!;
  const { probe, logits } = probeSample(model, first.images);
  const sample = { label: first.labels[0]!, predicted: log.kind === "train" ? argmax(logits, 0, logits.length) : null };
  freeArray(first.images.data, "released after the sample");
  return {
    dir, log, dataDescription: data.description, config: c, parameters: model.numParameters(),
    confusion, energy, bands: probe.bands, attention: probe.attention, sample, reconstruction,
  };
}

function argmax(a: ArrayLike<number>, off: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[off + i]! > a[off + best]!) best = i;
  return best;
}
