/**
 * Spikeformer configurations (REFERENCE.md section 5; public code
 * Loydian/Spikeformer): the three public models by name and `spikeformer-L-E`
 * (L blocks, width E) with a tokenizer set by kernel, strides and layers.
 */
import { fail } from "../../tensor/errors.js";
import { checkInt, checkNumber, checkOneOf } from "../../io/validate.js";
import { CONFIG_LIMITS, checkSizeFits, type ModelSize } from "../config.js";

/** Everything that defines a Spikeformer. */
export interface SpikeformerConfig {
  variant: "spikeformer";
  /** PLIF everywhere (the DVS models) or PLIAF (the ImageNet model: analog outputs ReLU(H)). */
  neuron: "plif" | "pliaf";
  depths: number;
  embedDims: number;
  numHeads: number;
  mlpRatio: number;
  T: number;
  numClasses: number;
  imgSize: number;
  inChannels: number;
  /** Tokenizer: conv kernel size (padding kernel / 2, as every public config). */
  kernel: number;
  /** Tokenizer: number of SEW blocks. */
  layers: number;
  /**
   * Tokenizer strides: one per block (the public list form: widths E / 2^(n/2 - 1 - i)
   * in pairs, n even) or a single number for every block (widths doubling up to E).
   */
  strides: number[] | number;
  /** Stochastic depth: rates linspace(0, dropPathRate, depths). */
  dropPathRate: number;
  /** Seed of the initial weights (and of DropPath when no step generator is set). */
  seed: number;
}

/** User-settable options on top of a Spikeformer name. */
export type SpikeformerOverrides = Partial<Omit<SpikeformerConfig, "variant" | "depths" | "embedDims">>;

type Preset = Omit<SpikeformerConfig, "seed">;

/** The public code's three models (`PLIF_spikeformer_7_3x2x3`, `PLIF_spikeformer_7_5x3x1`, `PLIAF_spikeformer_7_3x2x4`). */
export const SPIKEFORMER_PRESETS: Record<string, Preset> = {
  "spikeformer-dvscifar10": {
    variant: "spikeformer", neuron: "plif", depths: 7, embedDims: 256, numHeads: 4, mlpRatio: 2, T: 4, numClasses: 10, imgSize: 128, inChannels: 2,
    kernel: 3, layers: 6, strides: [2, 1, 2, 1, 2, 1], dropPathRate: 0.1,
  },
  "spikeformer-dvsgesture": {
    variant: "spikeformer", neuron: "plif", depths: 7, embedDims: 256, numHeads: 4, mlpRatio: 2, T: 16, numClasses: 11, imgSize: 128, inChannels: 2,
    kernel: 5, layers: 3, strides: 2, dropPathRate: 0.1,
  },
  "spikeformer-imagenet": {
    variant: "spikeformer", neuron: "pliaf", depths: 7, embedDims: 512, numHeads: 8, mlpRatio: 3, T: 4, numClasses: 1000, imgSize: 224, inChannels: 3,
    kernel: 3, layers: 8, strides: [2, 1, 2, 1, 2, 1, 2, 1], dropPathRate: 0.1,
  },
};

/** True for a name this file parses. */
export function isSpikeformerName(name: string): boolean {
  return name.startsWith("spikeformer-");
}

/** A preset name, or `spikeformer-L-E` (defaults: PLIF, 3x3 kernels, strides 2,1,2,1, head dim 64, MLP 2, T 4, 32x32x3, 10 classes). */
export function spikeformerConfig(name: string, overrides: SpikeformerOverrides = {}, op = "model"): SpikeformerConfig {
  let base: Preset;
  const preset = SPIKEFORMER_PRESETS[name];
  if (preset) base = preset;
  else {
    const m = /^spikeformer-(\d+)-(\d+)$/.exec(name);
    if (!m) fail(op, `unknown model '${name}'; expected ${Object.keys(SPIKEFORMER_PRESETS).join(", ")} or spikeformer-L-E (e.g. spikeformer-2-64)`);
    const E = Number(m[2]);
    base = {
      variant: "spikeformer", neuron: "plif", depths: Number(m[1]), embedDims: E, numHeads: Math.max(1, Math.round(E / 64)), mlpRatio: 2, T: 4,
      numClasses: 10, imgSize: 32, inChannels: 3, kernel: 3, layers: 4, strides: [2, 1, 2, 1], dropPathRate: 0.1,
    };
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const cfg: SpikeformerConfig = { ...base, seed: 0, ...defined, variant: "spikeformer", depths: base.depths, embedDims: base.embedDims };
  validateSpikeformerConfig(cfg, op);
  return cfg;
}

/** The tokenizer's channel widths [C_in, ...] (length layers + 1), as the public Tokenizer lists them. */
export function tokenizerWidths(cfg: SpikeformerConfig): number[] {
  const { layers: n, embedDims: E, inChannels: C } = cfg;
  if (typeof cfg.strides === "number") {
    return [C, ...Array.from({ length: n - 1 }, (_, i) => Math.floor(E / 2 ** (n - i - 1))), E];
  }
  const out = [C];
  for (let i = 0; i < n / 2 - 1; i++) {
    const w = Math.floor(E / 2 ** (n / 2 - i - 1));
    out.push(w, w);
  }
  return [...out, E, E];
}

/** The tokenizer's stride of block i. */
export function tokenizerStride(cfg: SpikeformerConfig, i: number): number {
  return typeof cfg.strides === "number" ? cfg.strides : cfg.strides[i]!;
}

/** The token grid side after the tokenizer (the conv and the shortcut's pool must agree at every block). */
export function tokenGrid(cfg: SpikeformerConfig, op = "model"): number {
  let s = cfg.imgSize;
  const pad = Math.floor(cfg.kernel / 2);
  for (let i = 0; i < cfg.layers; i++) {
    const st = tokenizerStride(cfg, i);
    const conv = Math.floor((s + 2 * pad - cfg.kernel) / st) + 1;
    const pool = Math.floor(s / st);
    if (conv < 1) fail(op, `tokenizer block ${i}: a ${s}x${s} input is too small for kernel ${cfg.kernel}, stride ${st}`);
    if (st !== 1 && conv !== pool) {
      fail(op, `tokenizer block ${i}: the conv gives ${conv}x${conv} but the shortcut's ${st}x${st} average pool gives ${pool}x${pool} from ${s}x${s}; use an image size divisible by the product of the strides`);
    }
    s = conv;
  }
  return s;
}

/** Checks a config, naming the field at fault. */
export function validateSpikeformerConfig(cfg: SpikeformerConfig, op = "model"): void {
  const L = CONFIG_LIMITS;
  checkOneOf(op, "neuron", cfg.neuron, ["plif", "pliaf"]);
  for (const k of ["depths", "embedDims", "numHeads", "T", "numClasses", "imgSize", "inChannels"] as const) checkInt(op, k, cfg[k], { min: 1, max: L[k] });
  checkInt(op, "kernel", cfg.kernel, { min: 1, max: 31 });
  checkInt(op, "layers", cfg.layers, { min: 1, max: 32 });
  checkNumber(op, "mlpRatio", cfg.mlpRatio, { above: 0, max: L.mlpRatio });
  checkNumber(op, "dropPathRate", cfg.dropPathRate, { min: 0, max: 0.99 });
  checkInt(op, "seed", cfg.seed, {});
  if (cfg.embedDims % cfg.numHeads !== 0) fail(op, `embedDims ${cfg.embedDims} is not divisible by numHeads ${cfg.numHeads}`);
  if (!Number.isInteger(cfg.embedDims * cfg.mlpRatio)) fail(op, `mlpRatio ${cfg.mlpRatio} must give an integer hidden width`);
  if (typeof cfg.strides === "number") checkInt(op, "strides", cfg.strides, { min: 1, max: 8 });
  else {
    if (!Array.isArray(cfg.strides)) fail(op, `strides must be a number or a list of numbers, got ${JSON.stringify(cfg.strides)}`);
    cfg.strides.forEach((s, i) => checkInt(op, `strides[${i}]`, s, { min: 1, max: 8 }));
    if (cfg.strides.length !== cfg.layers) fail(op, `strides lists ${cfg.strides.length} values for ${cfg.layers} layers`);
    if (cfg.layers % 2 !== 0 || cfg.layers < 2) fail(op, `a stride list needs an even number of layers (the public Tokenizer's widths come in pairs), got ${cfg.layers}`);
  }
  const widths = tokenizerWidths(cfg);
  if (widths.some((w) => w < 1)) fail(op, `embedDims ${cfg.embedDims} is too small for ${cfg.layers} tokenizer layers (widths ${widths.join(", ")})`);
  tokenGrid(cfg, op);
  checkSpikeformerFits(op, cfg, 1);
}

/** Parameter and activation counts of a (field-checked) config, from its fields alone (nothing is allocated). */
export function estimateSpikeformerSize(cfg: SpikeformerConfig): ModelSize {
  const { T, embedDims: E, kernel: k, numHeads: h } = cfg;
  const hidden = Math.round(E * cfg.mlpRatio);
  const widths = tokenizerWidths(cfg);
  let params = 0, largestWeight = Math.max(E * cfg.numClasses, E * hidden, 3 * E * E);
  let acts = 0, largestAct = 0;
  let res = cfg.imgSize;
  for (let i = 0; i < cfg.layers; i++) {
    const [cin, cout] = [widths[i]!, widths[i + 1]!];
    params += k * k * cin * cout + k * k * cout * cout + cin * cout + 9 * cout;
    largestWeight = Math.max(largestWeight, k * k * cout * cout);
    res = Math.floor((res + 2 * Math.floor(k / 2) - k) / tokenizerStride(cfg, i)) + 1;
    // conv outputs, BN outputs and neuron states of three layers, and the ADD
    const a = T * cout * res * res;
    acts += 8 * a;
    largestAct = Math.max(largestAct, a);
  }
  const N = res * res;
  params += N * E + T * E + cfg.depths * (9 * E * E + 2 * E * hidden + 12 * E + hidden + 1) + E * (cfg.numClasses + 3) + cfg.numClasses + 1;
  // Per block: ~16 [T, N, E] values, the MLP's hidden layer, and the two attention maps (N x N per (b, t), T x T per (b, n)).
  const perBlock = T * N * (16 * E + 3 * hidden) + 2 * h * (T * N * N + N * T * T);
  acts += cfg.depths * perBlock;
  largestAct = Math.max(largestAct, h * T * N * N, T * N * hidden);
  return { parameters: params, largestWeight, activationsPerImage: acts, largestActivationPerImage: largestAct };
}

/** Refuses a model (and batch) that cannot fit this machine (see checkModelFits in ../config.ts). */
export function checkSpikeformerFits(op: string, cfg: SpikeformerConfig, batch: number, batchWhat = "batch", training = true): void {
  const name = `spikeformer-${cfg.depths}-${cfg.embedDims} (T ${cfg.T}, ${cfg.numClasses} classes, ${cfg.imgSize}x${cfg.imgSize}x${cfg.inChannels})`;
  checkSizeFits(op, estimateSpikeformerSize(cfg), name, batch, batchWhat, training);
}

/** A stride list from a flag: "2" (every block) or "2,1,2,1". */
export function parseStrides(op: string, text: string): number[] | number {
  const parts = text.split(",").map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.some((p) => !/^\d+$/.test(p))) fail(op, `--tok-strides must be a number or a comma list of numbers, got '${text}'`);
  return nums.length === 1 ? nums[0]! : nums;
}
