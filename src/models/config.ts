/**
 * Spikformer configurations and model names (`spikformer-cifar-4-384`, ...),
 * with the defaults of the official variants (REFERENCE.md sections 3, 4).
 */
import { fail } from "../tensor/errors.js";

/** The four stems/layouts: V1 CIFAR, V1 ImageNet, V1 DVS, V2 (SCS stem). */
export type SpikformerVariant = "cifar" | "imagenet" | "dvs" | "v2";
/** SSA (spikes, AND-popcount) or one of the paper's Table I attention maps. */
export type AttentionKind = "ssa" | "softmax" | "identity" | "relu" | "leakyrelu";
/** Residual connection: ADD (the papers' default) or IAND (paper V2, Table VI). */
export type ResidualKind = "add" | "iand";

/** Everything that defines a Spikformer. */
export interface SpikformerConfig {
  variant: SpikformerVariant;
  depths: number;
  embedDims: number;
  numHeads: number;
  mlpRatio: number;
  T: number;
  numClasses: number;
  imgSize: number;
  patchSize: number;
  inChannels: number;
  /** Attention scale s (0.125, 0.25 for DVS). */
  scale: number;
  attention: AttentionKind;
  residual: ResidualKind;
  /** Seed of the initial weights. */
  seed: number;
}

/** User-settable options on top of a model name. */
export type SpikformerOverrides = Partial<Omit<SpikformerConfig, "variant" | "depths" | "embedDims">>;

const DEFAULTS: Record<SpikformerVariant, Omit<SpikformerConfig, "variant" | "depths" | "embedDims" | "numHeads" | "seed" | "attention" | "residual">> = {
  cifar: { mlpRatio: 4, T: 4, numClasses: 10, imgSize: 32, patchSize: 4, inChannels: 3, scale: 0.125 },
  imagenet: { mlpRatio: 4, T: 4, numClasses: 1000, imgSize: 224, patchSize: 16, inChannels: 3, scale: 0.125 },
  dvs: { mlpRatio: 4, T: 16, numClasses: 10, imgSize: 128, patchSize: 16, inChannels: 2, scale: 0.25 },
  v2: { mlpRatio: 4, T: 4, numClasses: 1000, imgSize: 224, patchSize: 16, inChannels: 3, scale: 0.125 },
};

/** Default head count: head dim 32 for CIFAR, 64 for ImageNet / V2, 16 heads for DVS (official configs). */
function defaultHeads(variant: SpikformerVariant, dims: number): number {
  if (variant === "dvs") return 16;
  return Math.max(1, Math.round(dims / (variant === "cifar" ? 32 : 64)));
}

/** The overrides that are set: undefined fields are dropped so they cannot hide a default. */
export function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Parses `spikformer-{cifar|imagenet|dvs|v2}-L-D` and applies overrides; validates the result. */
export function spikformerConfig(name: string, overrides: SpikformerOverrides = {}): SpikformerConfig {
  const m = /^spikformer-(cifar|imagenet|dvs|v2)-(\d+)-(\d+)$/.exec(name);
  if (!m) fail("model", `unknown model '${name}'; expected spikformer-{cifar|imagenet|dvs|v2}-L-D, e.g. spikformer-cifar-4-384`);
  const variant = m[1] as SpikformerVariant;
  const depths = Number(m[2]);
  const embedDims = Number(m[3]);
  const defined = definedOnly(overrides);
  const cfg: SpikformerConfig = {
    variant,
    depths,
    embedDims,
    numHeads: defaultHeads(variant, embedDims),
    seed: 0,
    attention: "ssa",
    residual: "add",
    ...DEFAULTS[variant],
    ...defined,
  };
  validateConfig(cfg);
  return cfg;
}

/** The name of a config (without overrides). */
export function modelName(cfg: SpikformerConfig): string {
  return `spikformer-${cfg.variant}-${cfg.depths}-${cfg.embedDims}`;
}

/** Number of stride-2 reductions of the stem: log2(patch). */
export function stemStages(cfg: SpikformerConfig): number {
  return Math.round(Math.log2(cfg.patchSize));
}

/** Checks a config, naming the field at fault. */
export function validateConfig(cfg: SpikformerConfig): void {
  const op = "model";
  const posInt = (k: keyof SpikformerConfig): void => {
    const v = cfg[k] as number;
    if (!Number.isInteger(v) || v < 1) fail(op, `${k} must be a positive integer, got ${v}`);
  };
  for (const k of ["depths", "embedDims", "numHeads", "T", "numClasses", "imgSize", "patchSize", "inChannels"] as const) posInt(k);
  if (cfg.embedDims % cfg.numHeads !== 0) fail(op, `embedDims ${cfg.embedDims} is not divisible by numHeads ${cfg.numHeads}`);
  const stages = stemStages(cfg);
  if (2 ** stages !== cfg.patchSize) fail(op, `patchSize must be a power of two, got ${cfg.patchSize}`);
  if (cfg.variant === "v2") {
    if (stages < 1 || cfg.embedDims % 2 ** (stages - 1) !== 0) fail(op, `V2 needs patchSize >= 2 and embedDims divisible by ${2 ** Math.max(0, stages - 1)}`);
  } else {
    if (stages > 4) fail(op, `the SPS stem pools at most 4 times: patchSize <= 16, got ${cfg.patchSize}`);
    if (cfg.embedDims % 8 !== 0) fail(op, `the SPS stem needs embedDims divisible by 8, got ${cfg.embedDims}`);
  }
  if (cfg.imgSize % cfg.patchSize !== 0) fail(op, `imgSize ${cfg.imgSize} is not divisible by patchSize ${cfg.patchSize}`);
  if (!(cfg.mlpRatio > 0) || !Number.isInteger(cfg.embedDims * cfg.mlpRatio)) fail(op, `mlpRatio ${cfg.mlpRatio} must give an integer hidden width`);
  if (!["ssa", "softmax", "identity", "relu", "leakyrelu"].includes(cfg.attention)) fail(op, `unknown attention '${cfg.attention}'`);
  if (!["add", "iand"].includes(cfg.residual)) fail(op, `unknown residual '${cfg.residual}'`);
}
