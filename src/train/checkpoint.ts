/**
 * Training checkpoints: one safetensors file holding the model state dict
 * (`model.` + official key), the optimizer moments (`optim.` + key) and, in
 * its metadata, the JSON run state (position, optimizer scalars, configs).
 * One file written atomically means a kill can never leave a checkpoint whose
 * parts disagree. `weights.safetensors` beside it holds only the model, under
 * the official names, for `predict`, `eval` or PyTorch.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fail } from "../tensor/errors.js";

import { Int64Buffer, type Module } from "../nn/module.js";
import type { Tensor } from "../tensor/tensor.js";
import { readSafetensorsFile, writeSafetensorsFile } from "../io/safetensors-file.js";
import type { SafeInput } from "../io/safetensors.js";
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

/** The JSON part of a checkpoint. */
export interface CheckpointState {
  format: "bitspike-checkpoint-1";
  position: RunPosition;
  /** The training configuration (so a resume can refuse a changed one). */
  train: Record<string, unknown>;
  /** The model configuration. */
  model: Record<string, unknown>;
  optimizer: OptimizerState["json"];
}

/** State-dict values as safetensors entries (int64 buffers as I64), keys prefixed. */
export function stateEntries(state: Iterable<readonly [string, Tensor | Int64Buffer]>, prefix = "", into = new Map<string, SafeInput>()): Map<string, SafeInput> {
  for (const [k, v] of state) into.set(prefix + k, v instanceof Int64Buffer ? { dtype: "I64", shape: [...v.shape], data: v.data } : { shape: [...v.shape], data: v.data });
  return into;
}

/** Writes the model's weights under the official key names, with its config as metadata. */
export function saveWeights(path: string, model: Module, modelConfig: object): void {
  writeSafetensorsFile(path, stateEntries(model.stateDict()), { format: "pt", bitspike_model: JSON.stringify(modelConfig) });
}

/** Saves a checkpoint (atomically) and the weights file into `dir`. */
export function saveCheckpoint(dir: string, model: Module, optimizer: Optimizer, state: Omit<CheckpointState, "format" | "optimizer">): void {
  const opt = optimizer.stateDict();
  const entries = stateEntries(model.stateDict(), "model.");
  for (const [k, v] of opt.tensors) entries.set(`optim.${k}`, { shape: [v.length], data: v });
  const json: CheckpointState = { format: "bitspike-checkpoint-1", ...state, optimizer: opt.json };
  writeSafetensorsFile(join(dir, CHECKPOINT_FILE), entries, { bitspike_checkpoint: JSON.stringify(json) });
  saveWeights(join(dir, WEIGHTS_FILE), model, state.model);
}

/** True when `dir` holds a checkpoint. */
export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, CHECKPOINT_FILE));
}

/** Loads a checkpoint into the model and optimizer (strictly) and returns its state. */
export function loadCheckpoint(dir: string, model: Module, optimizer: Optimizer): CheckpointState {
  const path = join(dir, CHECKPOINT_FILE);
  const file = readSafetensorsFile(path);
  const raw = file.metadata["bitspike_checkpoint"];
  if (raw === undefined) fail(`checkpoint(${path})`, "the file has no bitspike_checkpoint metadata; it is not a bitspike training checkpoint");
  let state: CheckpointState;
  try {
    state = JSON.parse(raw) as CheckpointState;
  } catch {
    return fail(`checkpoint(${path})`, "the bitspike_checkpoint metadata is not valid JSON");
  }
  if (state.format !== "bitspike-checkpoint-1") fail(`checkpoint(${path})`, `unknown checkpoint format '${String(state.format)}'`);
  const modelDict = new Map<string, { shape: number[]; data: Float32Array | Float64Array | BigInt64Array | Uint8Array | Int32Array }>();
  const tensors = new Map<string, Float32Array | Float64Array>();
  for (const [k, e] of file.tensors) {
    if (k.startsWith("model.")) modelDict.set(k.slice(6), e);
    else if (k.startsWith("optim.")) {
      if (!(e.data instanceof Float32Array || e.data instanceof Float64Array)) fail(`checkpoint(${path})`, `optimizer buffer ${k} has dtype ${e.dtype}, expected a float type`);
      tensors.set(k.slice(6), e.data);
    } else fail(`checkpoint(${path})`, `unexpected tensor '${k}' (expected model.* or optim.*)`);
  }
  model.loadStateDict(modelDict, { strict: true });
  optimizer.loadStateDict({ json: state.optimizer, tensors });
  return state;
}

/** Loads a weights file (official key names) into a model, strictly. */
export function loadWeights(path: string, model: Module): Record<string, string> {
  const file = readSafetensorsFile(path);
  model.loadStateDict(file.tensors, { strict: true });
  return file.metadata;
}

