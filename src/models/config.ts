/**
 * Spikformer configurations and model names (`spikformer-cifar-4-384`, ...),
 * with the defaults of the official variants (REFERENCE.md sections 3, 4).
 */
import { fail } from "../tensor/errors.js";
import { checkInt, checkNumber, checkObject, checkOneOf, MAX_TENSOR_ELEMENTS, memoryBudgetBytes, parseJson } from "../io/validate.js";

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

/** Parses `spikformer-{cifar|imagenet|dvs|v2}-L-D` and applies overrides; validates the result (errors name `op`). */
export function spikformerConfig(name: string, overrides: SpikformerOverrides = {}, op = "model"): SpikformerConfig {
  const m = /^spikformer-(cifar|imagenet|dvs|v2)-(\d+)-(\d+)$/.exec(name);
  if (!m) fail(op, `unknown model '${name}'; expected spikformer-{cifar|imagenet|dvs|v2}-L-D, e.g. spikformer-cifar-4-384`);
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
  validateConfig(cfg, op);
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

/**
 * Upper bounds of the config fields: far beyond any published Spikformer
 * (the largest has 8 blocks, width 768, T 16, 1000 classes), low enough that a
 * typo or a corrupt file cannot start an hour-long allocation. The memory a
 * model needs is checked as well, see {@link estimateModelSize}.
 */
export const CONFIG_LIMITS = {
  depths: 1024, embedDims: 65536, numHeads: 65536, T: 1024, numClasses: 1_000_000, imgSize: 8192, patchSize: 256, inChannels: 4096, mlpRatio: 64,
} as const;

/** Names of the fields a stored config (weights-file metadata) may give. */
const CONFIG_FIELDS = ["variant", "depths", "embedDims", "numHeads", "mlpRatio", "T", "numClasses", "imgSize", "patchSize", "inChannels", "scale", "attention", "residual", "seed"] as const;

/** Checks a config, naming the field at fault (`op`: the flag set or file it came from). */
export function validateConfig(cfg: SpikformerConfig, op = "model"): void {
  checkOneOf(op, "variant", cfg.variant, ["cifar", "imagenet", "dvs", "v2"]);
  for (const k of ["depths", "embedDims", "numHeads", "T", "numClasses", "imgSize", "patchSize", "inChannels"] as const) {
    checkInt(op, k, cfg[k], { min: 1, max: CONFIG_LIMITS[k] });
  }
  checkNumber(op, "mlpRatio", cfg.mlpRatio, { above: 0, max: CONFIG_LIMITS.mlpRatio });
  checkNumber(op, "scale", cfg.scale, {});
  checkInt(op, "seed", cfg.seed, {});
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
  if (!Number.isInteger(cfg.embedDims * cfg.mlpRatio)) fail(op, `mlpRatio ${cfg.mlpRatio} must give an integer hidden width`);
  checkOneOf(op, "attention", cfg.attention, ["ssa", "softmax", "identity", "relu", "leakyrelu"]);
  checkOneOf(op, "residual", cfg.residual, ["add", "iand"]);
  checkModelFits(op, cfg, 1);
}

/** Parameter and activation counts of a config, computed from its fields alone (nothing is allocated). */
export interface ModelSize {
  /** Trainable values (an estimate within a few percent: norms and biases are counted roughly). */
  parameters: number;
  /** Values of the largest single weight. */
  largestWeight: number;
  /** Activation values one image keeps for the backward pass in training (an estimate). */
  activationsPerImage: number;
  /** Values of the largest single activation of one image. */
  largestActivationPerImage: number;
}

/** Sizes of a (field-checked) config, in values; see {@link ModelSize}. */
export function estimateModelSize(cfg: SpikformerConfig): ModelSize {
  const { T, embedDims: D, imgSize, inChannels: C } = cfg;
  const hidden = D * cfg.mlpRatio;
  const stages = stemStages(cfg);
  let params = 0;
  let largestWeight = D * cfg.numClasses;
  let acts = 0;
  let largestAct = 0;
  const act = (n: number): void => {
    acts += n;
    largestAct = Math.max(largestAct, n);
  };
  if (cfg.variant === "v2") {
    let res = imgSize;
    let cin = C;
    for (let i = 0; i < stages; i++) {
      const c = D / 2 ** (stages - 1 - i);
      res = Math.ceil(res / 2);
      params += 4 * cin * c + 18 * c * c * cfg.mlpRatio + 6 * c;
      largestWeight = Math.max(largestWeight, 9 * c * c * cfg.mlpRatio);
      act(T * c * res * res * (2 + cfg.mlpRatio));
      cin = c;
    }
  } else {
    const widths = [C, D / 8, D / 4, D / 2, D];
    let res = imgSize;
    for (let i = 0; i < 4; i++) {
      params += 9 * widths[i]! * widths[i + 1]! + 2 * widths[i + 1]!;
      act(T * widths[i + 1]! * res * res);
      if (i >= 4 - stages) res = Math.ceil(res / 2);
    }
    params += 9 * D * D;
    largestWeight = Math.max(largestWeight, 9 * D * D);
    act(T * D * res * res);
  }
  const N = (imgSize / cfg.patchSize) ** 2;
  const perBlock = 4 * D * D + 2 * D * hidden + 12 * D + 2 * hidden;
  params += cfg.depths * perBlock + D * cfg.numClasses + cfg.numClasses + (cfg.variant === "dvs" ? N * D : 0);
  largestWeight = Math.max(largestWeight, D * hidden);
  // Per block: q, k, v, attention, projection and MLP activations, and one N x N map per head (the float ablations form it).
  const attention = T * cfg.numHeads * N * N;
  for (let i = 0; i < Math.min(cfg.depths, 2); i++) act(T * N * (8 * D + 3 * hidden) + attention);
  acts += Math.max(0, cfg.depths - 2) * (T * N * (8 * D + 3 * hidden) + attention);
  return { parameters: params, largestWeight, activationsPerImage: acts, largestActivationPerImage: largestAct };
}

/**
 * Refuses a model (and batch size) that cannot fit this machine: the
 * parameters with their gradients and two AdamW moments (4 x float32), plus
 * `batch` images of activations (float32; in training all that backward needs,
 * else a few of the largest), must fit in {@link memoryBudgetBytes}, and no
 * single tensor may exceed {@link MAX_TENSOR_ELEMENTS}. Runs before anything
 * is allocated. `batchWhat` names the batch in messages (e.g. `--batch`).
 */
export function checkModelFits(op: string, cfg: SpikformerConfig, batch: number, batchWhat = "batch", training = true): void {
  const name = `${cfg.variant}-${cfg.depths}-${cfg.embedDims} (T ${cfg.T}, ${cfg.numClasses} classes, ${cfg.imgSize}x${cfg.imgSize}x${cfg.inChannels})`;
  checkSizeFits(op, estimateModelSize(cfg), name, batch, batchWhat, training);
}

/** {@link checkModelFits} for any model whose sizes are estimated (`name` describes it in messages). */
export function checkSizeFits(op: string, size: ModelSize, name: string, batch: number, batchWhat = "batch", training = true): void {
  const budget = memoryBudgetBytes();
  const gb = (b: number): string => `${(b / 2 ** 30).toFixed(1)} GB`;
  if (size.largestWeight > MAX_TENSOR_ELEMENTS) fail(op, `model ${name} needs a weight of ${size.largestWeight.toExponential(2)} values; the limit is ${MAX_TENSOR_ELEMENTS} (2^30)`);
  const paramBytes = 16 * size.parameters;
  if (paramBytes > budget) fail(op, `model ${name} has about ${size.parameters.toExponential(2)} parameters: ${gb(paramBytes)} to train, more than this machine's ${gb(budget)}`);
  if (batch * size.largestActivationPerImage > MAX_TENSOR_ELEMENTS) {
    fail(op, `model ${name} at ${batchWhat} ${batch} needs an activation of ${(batch * size.largestActivationPerImage).toExponential(2)} values; the limit is ${MAX_TENSOR_ELEMENTS} (2^30): lower ${batchWhat}, T or the image size`);
  }
  const actBytes = 4 * batch * (training ? size.activationsPerImage : 4 * size.largestActivationPerImage);
  if (paramBytes + actBytes > budget) {
    fail(op, `model ${name} at ${batchWhat} ${batch} needs about ${gb(paramBytes + actBytes)} of activations and parameters, more than this machine's ${gb(budget)}: lower ${batchWhat}, T or the model size`);
  }
}

/**
 * A config stored as JSON (a weights file's `bitspike_model` metadata): the
 * text must be a JSON object whose known fields have the right types and
 * ranges; other fields (e.g. the `mae` options a pre-training run adds) are
 * ignored. `op` names the file in errors. Nothing is built here.
 */
export function configFromJson(op: string, text: string): SpikformerConfig {
  const raw = checkObject(op, "metadata bitspike_model", parseJson(op, "metadata bitspike_model", text));
  const overrides: Record<string, unknown> = {};
  for (const k of CONFIG_FIELDS) if (raw[k] !== undefined) overrides[k] = raw[k];
  const variant = checkOneOf(op, "metadata bitspike_model field variant", raw["variant"], ["cifar", "imagenet", "dvs", "v2"]);
  const depths = checkInt(op, "metadata bitspike_model field depths", raw["depths"], { min: 1, max: CONFIG_LIMITS.depths });
  const dims = checkInt(op, "metadata bitspike_model field embedDims", raw["embedDims"], { min: 1, max: CONFIG_LIMITS.embedDims });
  // Missing optional fields take the variant's defaults, as when the model is named on the command line.
  return spikformerConfig(`spikformer-${variant}-${depths}-${dims}`, overrides as SpikformerOverrides, op);
}
