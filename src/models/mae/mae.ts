/**
 * Masked-autoencoder pre-training of Spikformer V2 (paper sections 4.2, 5.2):
 * a random 75 % of the token grid is hidden, the SCS stem runs sparsely
 * (sparse-stem.ts), the V2 blocks see only the visible tokens, and an ANN
 * decoder predicts the pixels of the hidden patches. The encoder modules are a
 * classifier's own `patch_embed` and `block`, registered under the same names,
 * so the encoder's state dict is the classifier's minus the head.
 */
import { fail, fmtShape } from "../../tensor/errors.js";
import type { Rng } from "../../tensor/random.js";
import { Spikes } from "../../tensor/spikes.js";
import type { StateValue } from "../../nn/module.js";
import { Tensor } from "../../tensor/tensor.js";
import { mean } from "../../ops/reduce.js";
import { gather, indices } from "../../ops/shape.js";
import { floatToSpikes, spikesToFloat } from "../../ops/spike/cast.js";
import { Module, ModuleList } from "../../nn/module.js";
import { Block, SCS, Spikformer } from "../spikformer.js";
import { CONFIG_LIMITS, stemStages, type SpikformerConfig } from "../config.js";
import { checkInt, checkNumber, checkObject, preview } from "../../io/validate.js";
import type { Activation } from "../compute.js";
import { DECODER_DEFAULTS, MAEDecoder, type DecoderConfig } from "./decoder.js";
import { keptIndices, randomTokenMask, type GridMask } from "./masking.js";
import { maskedPatchLoss, patchTargets } from "./loss.js";
import { sparseStemForward } from "./sparse-stem.js";

/** Pre-training options on top of the encoder's config. */
export interface MAEOptions {
  /** Fraction of tokens hidden (0.75). */
  maskRatio: number;
  /** Per-patch normalised targets (true, the paper) or raw pixels. */
  normPixLoss: boolean;
  decoderDim: number;
  decoderDepth: number;
  decoderHeads: number;
  decoderMlpRatio: number;
}

export const MAE_DEFAULTS: MAEOptions = {
  maskRatio: 0.75, normPixLoss: true,
  decoderDim: DECODER_DEFAULTS.dim, decoderDepth: DECODER_DEFAULTS.depth, decoderHeads: DECODER_DEFAULTS.heads, decoderMlpRatio: DECODER_DEFAULTS.mlpRatio,
};

/**
 * Checks MAE options that come from outside (flags, a file's `bitspike_mae`
 * metadata): an object whose known fields, when present, have the right types
 * and ranges; returns those fields. `op` names the flag set or file.
 */
export function checkMaeOptions(op: string, raw: unknown): Partial<MAEOptions> {
  const o = checkObject(op, "MAE options", raw);
  const out: Partial<MAEOptions> = {};
  if (o["maskRatio"] !== undefined) out.maskRatio = checkNumber(op, "maskRatio", o["maskRatio"], { above: 0, below: 1 });
  if (o["normPixLoss"] !== undefined) {
    if (typeof o["normPixLoss"] !== "boolean") fail(op, `normPixLoss must be true or false, got ${preview(o["normPixLoss"])}`);
    out.normPixLoss = o["normPixLoss"];
  }
  if (o["decoderDim"] !== undefined) out.decoderDim = checkInt(op, "decoderDim", o["decoderDim"], { min: 1, max: CONFIG_LIMITS.embedDims });
  if (o["decoderDepth"] !== undefined) out.decoderDepth = checkInt(op, "decoderDepth", o["decoderDepth"], { min: 1, max: CONFIG_LIMITS.depths });
  if (o["decoderHeads"] !== undefined) out.decoderHeads = checkInt(op, "decoderHeads", o["decoderHeads"], { min: 1, max: CONFIG_LIMITS.numHeads });
  if (o["decoderMlpRatio"] !== undefined) out.decoderMlpRatio = checkNumber(op, "decoderMlpRatio", o["decoderMlpRatio"], { above: 0, max: CONFIG_LIMITS.mlpRatio });
  return out;
}

/** What {@link MaskedAutoencoder.forward} returns. */
export interface MAEOutput {
  /** Scalar loss over the masked patches. */
  loss: Tensor;
  /** Predicted patches [B, N, P*P*C] (normalised-pixel space with normPixLoss). */
  pred: Tensor;
  mask: GridMask;
}

/** Names of the classifier's parameters the pre-training does not train (the head). */
export const HEAD_KEYS = ["head.weight", "head.bias"] as const;

/** A V2 Spikformer encoder plus an MAE decoder. */
export class MaskedAutoencoder extends Module {
  readonly config: SpikformerConfig;
  readonly options: MAEOptions;
  /** The classifier whose stem and blocks are the encoder (not registered as a whole: its head is not pre-trained). */
  readonly encoder: Spikformer;
  readonly patch_embed: SCS;
  readonly block: ModuleList<Block>;
  readonly decoder: MAEDecoder;
  readonly gridH: number;
  readonly gridW: number;
  readonly patch: number;

  constructor(config: SpikformerConfig, options: Partial<MAEOptions> = {}) {
    super();
    if (config.variant !== "v2") fail("MaskedAutoencoder", `masked pre-training needs a V2 (SCS stem) model, got variant '${config.variant}'`);
    this.options = { ...MAE_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
    if (!(this.options.maskRatio > 0 && this.options.maskRatio < 1)) fail("MaskedAutoencoder", `maskRatio must be in (0, 1), got ${this.options.maskRatio}`);
    this.encoder = new Spikformer(config);
    this.config = this.encoder.config;
    this.patch = 2 ** stemStages(this.config);
    this.gridH = this.gridW = this.config.imgSize / this.patch;
    this.patch_embed = this.registerModule("patch_embed", this.encoder.patch_embed as SCS);
    this.block = this.registerModule("block", this.encoder.block);
    this.decoder = this.registerModule("decoder", new MAEDecoder(this.decoderConfig()));
  }

  /** The decoder's configuration (seeded from the encoder's seed, so a model is a function of its configs). */
  decoderConfig(): DecoderConfig {
    const o = this.options;
    const c = this.config;
    return {
      inDim: c.embedDims, dim: o.decoderDim, depth: o.decoderDepth, heads: o.decoderHeads, mlpRatio: o.decoderMlpRatio,
      gridH: this.gridH, gridW: this.gridW, patchPixels: this.patch * this.patch * c.inChannels, seed: (c.seed ^ 0x6d616531) >>> 0,
    };
  }

  /** A fresh random mask for a batch of B images. */
  randomMask(B: number, rng: Rng): GridMask {
    return randomTokenMask(B, this.gridH, this.gridW, this.options.maskRatio, rng);
  }

  /**
   * The encoder on the visible tokens: sparse stem, gather of the kept tokens
   * (ascending grid order), V2 blocks; returns [B, K, D] averaged over time.
   */
  encode(images: Tensor, mask: GridMask): Tensor {
    const c = this.config;
    if (images.rank !== 4 || images.shape[1] !== c.inChannels || images.shape[2] !== c.imgSize || images.shape[3] !== c.imgSize) {
      fail("MaskedAutoencoder", `images ${fmtShape(images.shape)} do not fit the model: expected [B, ${c.inChannels}, ${c.imgSize}, ${c.imgSize}]`);
    }
    const tokens = sparseStemForward(this.patch_embed, c.T, c.residual, images, mask);
    let x = gatherTokens(tokens, keptIndices(mask), mask.batch);
    for (const blk of this.block) x = blk.forward(x);
    return mean(x instanceof Spikes ? spikesToFloat(x) : x, 0);
  }

  /** Loss, prediction and mask for images [B, C, H, W] under a given mask. */
  forwardWithMask(images: Tensor, mask: GridMask): MAEOutput {
    const pred = this.decoder.forward(this.encode(images, mask), mask);
    const loss = maskedPatchLoss(pred, patchTargets(images, this.patch, this.options.normPixLoss), mask);
    return { loss, pred, mask };
  }

  /** Draws a mask from `rng` and runs {@link forwardWithMask}. */
  forward(images: Tensor, rng: Rng): MAEOutput {
    return this.forwardWithMask(images, this.randomMask(images.shape[0]!, rng));
  }

  /** The encoder's state under the classifier's key names (patch_embed.*, block.*), without the head. */
  encoderStateDict(): Map<string, StateValue> {
    const out = new Map<string, StateValue>();
    for (const [k, v] of this.stateDict()) if (!k.startsWith("decoder.")) out.set(k, v);
    return out;
  }
}

/** tokens [T, B, N, D] -> the kept ones [T, B, K, D] (idx [B, K], the same at every time step). */
function gatherTokens(tokens: Activation, idx: Int32Array, B: number): Activation {
  const T = tokens.shape[0]!;
  const K = idx.length / B;
  const rep = new Int32Array(T * B * K);
  for (let t = 0; t < T; t++) rep.set(idx, t * B * K);
  const index = indices(rep, [T, B, K]);
  // Spikes (IAND residual) take the float path; correctness first, the encoder input is small.
  if (tokens instanceof Spikes) return floatToSpikes(gather(spikesToFloat(tokens), 2, index));
  return gather(tokens, 2, index);
}

/**
 * Loads an encoder state (classifier key names, no head) into a classifier:
 * every key but the head must be present and fit; the head keeps its fresh
 * initialisation. Fails on anything else missing or unexpected.
 */
export function loadEncoderInto(model: Spikformer, state: Map<string, { shape: readonly number[]; data: ArrayLike<number> | BigInt64Array }>, source?: string): void {
  const own = model.stateDict();
  const missing = [...own.keys()].filter((k) => !state.has(k) && !(HEAD_KEYS as readonly string[]).includes(k));
  const unexpected = [...state.keys()].filter((k) => !own.has(k));
  if (missing.length || unexpected.length) {
    fail(source === undefined ? "loadEncoderInto" : `loadEncoderInto(${source})`, `the encoder state does not fit the classifier: missing ${JSON.stringify(missing)}, unexpected ${JSON.stringify(unexpected)} (only ${HEAD_KEYS.join(", ")} may be missing)`);
  }
  model.loadStateDict(state, { strict: false, source }); // still refuses shape mismatches, before changing anything
}
