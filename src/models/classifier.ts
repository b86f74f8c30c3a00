/**
 * The classifiers a command or a training run can build, by name: Spikformer
 * (`spikformer-...`) and Spikeformer (`spikeformer-...`). One place picks the
 * family, refuses options of the other family, builds, size-checks, and reads
 * a stored config back.
 */
import { fail } from "../tensor/errors.js";
import { checkObject, parseJson } from "../io/validate.js";
import { Spikformer } from "./spikformer.js";
import { checkModelFits, configFromJson, definedOnly, modelName, spikformerConfig, type SpikformerConfig, type SpikformerOverrides } from "./config.js";
import { Spikeformer } from "./spikeformer/spikeformer.js";
import { checkSpikeformerFits, isSpikeformerName, spikeformerConfig, type SpikeformerConfig, type SpikeformerOverrides } from "./spikeformer/config.js";

export type Classifier = Spikformer | Spikeformer;
export type ClassifierConfig = SpikformerConfig | SpikeformerConfig;
export type ClassifierOverrides = SpikformerOverrides & SpikeformerOverrides;

/** Options only one family has, with the flag that sets each. */
const ONLY_SPIKEFORMER: Record<string, string> = { neuron: "--neuron", kernel: "--tok-kernel", layers: "--tok-layers", strides: "--tok-strides", dropPathRate: "--drop-path" };
const ONLY_SPIKFORMER: Record<string, string> = { patchSize: "--patch", scale: "scale", attention: "--attention", residual: "--residual" };

function refuse(op: string, name: string, o: Record<string, unknown>, only: Record<string, string>): void {
  const bad = Object.keys(only).filter((k) => o[k] !== undefined);
  if (bad.length) fail(op, `${bad.map((k) => only[k]).join(", ")} ${bad.length === 1 ? "does" : "do"} not apply to ${name}`);
}

/** The config of a model name with overrides (undefined ones ignored); errors name `op`. */
export function classifierConfig(name: string, overrides: ClassifierOverrides = {}, op = "model"): ClassifierConfig {
  const o = definedOnly(overrides) as Record<string, unknown>;
  if (isSpikeformerName(name)) {
    refuse(op, name, o, ONLY_SPIKFORMER);
    return spikeformerConfig(name, o as SpikeformerOverrides, op);
  }
  refuse(op, name, o, ONLY_SPIKEFORMER);
  return spikformerConfig(name, o as SpikformerOverrides, op);
}

/** Builds the model of a config. */
export function buildClassifier(cfg: ClassifierConfig): Classifier {
  return cfg.variant === "spikeformer" ? new Spikeformer(cfg) : new Spikformer(cfg);
}

/** The base name of a config (a stored config holds every field, so the name need not be a preset's). */
export function classifierName(cfg: ClassifierConfig): string {
  return cfg.variant === "spikeformer" ? `spikeformer-${cfg.depths}-${cfg.embedDims}` : modelName(cfg);
}

/** Refuses a model and batch that cannot fit this machine (see checkModelFits). */
export function checkClassifierFits(op: string, cfg: ClassifierConfig, batch: number, batchWhat = "batch", training = true): void {
  if (cfg.variant === "spikeformer") checkSpikeformerFits(op, cfg, batch, batchWhat, training);
  else checkModelFits(op, cfg, batch, batchWhat, training);
}

const SPIKEFORMER_FIELDS = ["neuron", "numHeads", "mlpRatio", "T", "numClasses", "imgSize", "inChannels", "kernel", "layers", "strides", "dropPathRate", "seed"] as const;

/** A config stored as JSON (a weights file's `bitspike_model` metadata), either family; `op` names the file. */
export function classifierFromJson(op: string, text: string): ClassifierConfig {
  const raw = checkObject(op, "metadata bitspike_model", parseJson(op, "metadata bitspike_model", text));
  if (raw["variant"] !== "spikeformer") return configFromJson(op, text);
  const o: Record<string, unknown> = {};
  for (const k of SPIKEFORMER_FIELDS) if (raw[k] !== undefined) o[k] = raw[k];
  const [d, e] = [raw["depths"], raw["embedDims"]];
  if (!Number.isInteger(d) || !Number.isInteger(e)) fail(op, `metadata bitspike_model: depths and embedDims must be integers, got ${JSON.stringify(d)}, ${JSON.stringify(e)}`);
  return spikeformerConfig(`spikeformer-${d}-${e}`, o as SpikeformerOverrides, op);
}
