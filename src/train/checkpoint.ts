/**
 * Training checkpoints: one safetensors file holding the model state dict
 * (`model.` + official key), the optimizer moments (`optim.` + key) and, in
 * its metadata, the JSON run state (position, optimizer scalars, configs).
 * One file written atomically means a kill can never leave a checkpoint whose
 * parts disagree. `weights.safetensors` beside it holds only the model, under
 * the official names, for `predict`, `eval` or PyTorch.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fail } from "../tensor/errors.js";

import type { Module } from "../nn/module.js";
import type { Tensor } from "../tensor/tensor.js";
import { readSafetensorsFile, writeFileAtomic, writeSafetensorsFile } from "../io/safetensors-file.js";
import { checkEntriesFinite, parseWeights, stateEntries, weightsBytes } from "./weights.js";
import { readFileChecked } from "../io/files.js";
export { stateEntries };
import type { SafeFile, SafeInput } from "../io/safetensors.js";
import { checkInt, checkObject, parseJson, preview } from "../io/validate.js";
import type { Optimizer, OptimizerState } from "./optim.js";

export const CHECKPOINT_FILE = "checkpoint.safetensors";
export const WEIGHTS_FILE = "weights.safetensors";

/** Where a run stands: the next batch to train and what the schedule has seen. */
export interface RunPosition {
  epoch: number;
  /** Next batch index within `epoch`. */
  batchIndex: number;
  /** Optimizer updates done so far (the schedule's iteration). */
  iteration: number;
}

/** The checkpoint format this version writes and reads: format 1 plus a payload checksum. */
export const CHECKPOINT_FORMAT = "bitspike-checkpoint-2";

/** The JSON part of a checkpoint. */
export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  position: RunPosition;
  /** The training configuration (so a resume can refuse a changed one). */
  train: Record<string, unknown>;
  /** The model configuration. */
  model: Record<string, unknown>;
  optimizer: OptimizerState["json"];
  /** sha256 of every tensor (name, dtype, shape, bytes) and of this JSON without the checksum, so a flipped byte is caught on resume. */
  checksum: string;
}

/** The run a checkpoint is resumed into: its position must lie inside it. */
export interface RunExtent {
  epochs: number;
  stepsPerEpoch: number;
}


/** The safetensors dtype of an array (what the file will say). */
function dtypeOf(d: SafeInput["data"]): string {
  return d instanceof Float32Array ? "F32" : d instanceof Float64Array ? "F64" : d instanceof BigInt64Array ? "I64" : d instanceof Int32Array ? "I32" : "U8";
}

/** sha256 over the tensors in name order (name, dtype, shape, bytes) and the JSON text. */
function payloadChecksum(tensors: Iterable<readonly [string, { dtype: string; shape: readonly number[]; data: SafeInput["data"] }]>, json: string): string {
  const h = createHash("sha256");
  for (const [name, t] of [...tensors].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    h.update(`${name}\0${t.dtype}\0${t.shape.join(",")}\0`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  h.update(json);
  return `sha256:${h.digest("hex")}`;
}


/** Writes the model's weights under the official key names, with its config as metadata; refuses non-finite weights. */
export function saveWeights(path: string, model: Module, modelConfig: object): void {
  writeFileAtomic(path, weightsBytes(model, modelConfig, `weights(${path})`));
}

/** Saves a checkpoint (atomically, with its checksum) and the weights file into `dir`; refuses non-finite values. */
export function saveCheckpoint(dir: string, model: Module, optimizer: Optimizer, state: Omit<CheckpointState, "format" | "optimizer" | "checksum">): void {
  const path = join(dir, CHECKPOINT_FILE);
  const opt = optimizer.stateDict();
  const entries = stateEntries(model.stateDict(), "model.");
  for (const [k, v] of opt.tensors) entries.set(`optim.${k}`, { shape: [v.length], data: v });
  checkEntriesFinite(`checkpoint(${path})`, entries);
  const body = { format: CHECKPOINT_FORMAT as typeof CHECKPOINT_FORMAT, ...state, optimizer: opt.json };
  const checksum = payloadChecksum([...entries].map(([k, e]) => [k, { dtype: dtypeOf(e.data), shape: e.shape, data: e.data }] as const), JSON.stringify(body));
  const json: CheckpointState = { ...body, checksum };
  writeSafetensorsFile(path, entries, { bitspike_checkpoint: JSON.stringify(json) });
  saveWeights(join(dir, WEIGHTS_FILE), model, state.model);
}

/** True when `dir` holds a checkpoint. */
export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, CHECKPOINT_FILE));
}

/** Checks the structure of a checkpoint's JSON and its position against the run. */
function checkState(op: string, raw: string, run?: RunExtent): CheckpointState {
  const st = checkObject(op, "metadata bitspike_checkpoint", parseJson(op, "metadata bitspike_checkpoint", raw));
  if (st["format"] !== CHECKPOINT_FORMAT) fail(op, `unknown checkpoint format ${preview(st["format"])} (this version reads ${CHECKPOINT_FORMAT}); start the run again without --resume`);
  const pos = checkObject(op, "checkpoint field position", st["position"]);
  const epoch = checkInt(op, "position.epoch", pos["epoch"], { min: 0, ...(run ? { max: run.epochs } : {}) });
  const batchIndex = checkInt(op, "position.batchIndex", pos["batchIndex"], { min: 0, ...(run ? { max: epoch === run.epochs ? 0 : run.stepsPerEpoch } : {}) });
  const iteration = checkInt(op, "position.iteration", pos["iteration"], { min: 0 });
  if (run && iteration !== epoch * run.stepsPerEpoch + batchIndex) {
    fail(op, `position.iteration ${iteration} does not match epoch ${epoch}, batch ${batchIndex} of ${run.stepsPerEpoch} steps an epoch (expected ${epoch * run.stepsPerEpoch + batchIndex})`);
  }
  checkObject(op, "checkpoint field train", st["train"]);
  checkObject(op, "checkpoint field model", st["model"]);
  checkObject(op, "checkpoint field optimizer", st["optimizer"]);
  if (typeof st["checksum"] !== "string") fail(op, `checkpoint field checksum must be a string, got ${preview(st["checksum"])}`);
  return st as unknown as CheckpointState;
}

/**
 * Loads a checkpoint into the model and optimizer (strictly) and returns its
 * state. Before anything changes: the metadata's structure is checked, the
 * position must lie inside `run` (when given), the payload checksum must
 * match, and every value must be finite.
 */
export function loadCheckpoint(dir: string, model: Module, optimizer: Optimizer, run?: RunExtent): CheckpointState {
  const path = join(dir, CHECKPOINT_FILE);
  const op = `checkpoint(${path})`;
  const file = readSafetensorsFile(path);
  const raw = file.metadata["bitspike_checkpoint"];
  if (raw === undefined) fail(op, "the file has no bitspike_checkpoint metadata; it is not a bitspike training checkpoint");
  const state = checkState(op, raw, run);
  const { checksum, ...body } = state;
  if (payloadChecksum(file.tensors, JSON.stringify(body)) !== checksum) fail(op, "checksum mismatch: the file was changed or damaged after it was written; start the run again without --resume");
  checkEntriesFinite(op, file.tensors);
  const modelDict = new Map<string, { shape: number[]; data: Float32Array | Float64Array | BigInt64Array | Uint8Array | Int32Array }>();
  const tensors = new Map<string, Float32Array | Float64Array>();
  for (const [k, e] of file.tensors) {
    if (k.startsWith("model.")) modelDict.set(k.slice(6), e);
    else if (k.startsWith("optim.")) {
      if (!(e.data instanceof Float32Array || e.data instanceof Float64Array)) fail(op, `optimizer buffer ${k} has dtype ${e.dtype}, expected a float type`);
      tensors.set(k.slice(6), e.data);
    } else fail(op, `unexpected tensor '${k}' (expected model.* or optim.*)`);
  }
  model.loadStateDict(modelDict, { strict: true, source: path });
  optimizer.loadStateDict({ json: state.optimizer, tensors }, path);
  return state;
}

/** Reads a file of weights, refusing NaN and infinite values (named by key and file). */
export function readWeightsFile(path: string): SafeFile {
  return parseWeights(readFileChecked(`safetensors(${path})`, path), path);
}

/** Loads a weights file (official key names) into a model, strictly; errors name the file. */
export function loadWeights(path: string, model: Module): Record<string, string> {
  const file = readWeightsFile(path);
  model.loadStateDict(file.tensors, { strict: true, source: path });
  return file.metadata;
}
