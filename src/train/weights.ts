/**
 * Weights files as bytes, the same files the CLI reads and writes (official
 * key names, the model's configuration in the metadata), without a file
 * system: a browser downloads and loads them with these. checkpoint.ts writes
 * and reads them on disk.
 */
import { Int64Buffer, type Module } from "../nn/module.js";
import type { Tensor } from "../tensor/tensor.js";
import { parseSafetensors, serializeSafetensors, type SafeFile, type SafeInput } from "../io/safetensors.js";
import { checkFinite } from "../io/validate.js";
import { fail } from "../tensor/errors.js";
import { Spikformer } from "../models/spikformer.js";
import { configFromJson } from "../models/config.js";

/** A state dict as safetensors entries (int64 buffers as I64), keys prefixed. */
export function stateEntries(state: Iterable<readonly [string, Tensor | Int64Buffer]>, prefix = "", into = new Map<string, SafeInput>()): Map<string, SafeInput> {
  for (const [k, v] of state) into.set(prefix + k, v instanceof Int64Buffer ? { dtype: "I64", shape: [...v.shape], data: v.data } : { shape: [...v.shape], data: v.data });
  return into;
}

/** Refuses to write NaN or infinity: names the first non-finite tensor of `entries`. */
export function checkEntriesFinite(op: string, entries: Iterable<readonly [string, { data: SafeInput["data"] }]>): void {
  for (const [k, e] of entries) {
    if (e.data instanceof Float32Array || e.data instanceof Float64Array) checkFinite(op, `tensor '${k}'`, e.data);
  }
}

/** The bytes of a weights file: the model's state dict under its key names, its config as metadata; refuses non-finite weights. */
export function weightsBytes(model: Module, modelConfig: object, source = "weights"): Uint8Array {
  const entries = stateEntries(model.stateDict());
  checkEntriesFinite(source, entries);
  return serializeSafetensors(entries, { format: "pt", bitspike_model: JSON.stringify(modelConfig) });
}

/** Parses a weights file's bytes, refusing non-finite values; `source` names it in errors. */
export function parseWeights(bytes: Uint8Array, source: string): SafeFile {
  const file = parseSafetensors(bytes, source);
  checkEntriesFinite(`weights(${source})`, file.tensors);
  return file;
}

/** A classifier built from the configuration a weights file names, with its weights loaded strictly. */
export function classifierFromWeights(file: SafeFile, source: string): Spikformer {
  const meta = file.metadata["bitspike_model"];
  if (meta === undefined) fail("weights", `${source} does not hold its model configuration (metadata bitspike_model)`);
  const model = new Spikformer(configFromJson(`weights(${source})`, meta));
  model.loadStateDict(file.tensors, { strict: true, source });
  return model;
}
