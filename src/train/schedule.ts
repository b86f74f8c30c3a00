/**
 * Learning-rate schedules, per iteration: linear warm-up then cosine decay to a
 * floor (timm's CosineLRScheduler stepped per update), and layer-wise lr decay
 * scales for fine-tuning (BEiT / MAE / Spikformer V2).
 */
import { fail } from "../tensor/errors.js";

/** Options of {@link CosineSchedule}. */
export interface CosineScheduleOptions {
  /** Peak learning rate, reached at the end of warm-up. */
  baseLr: number;
  /** Total number of iterations (updates) of the run; `lrAt(iter >= totalIters)` is `minLr`. */
  totalIters: number;
  /** Warm-up length in iterations (0 = none). */
  warmupIters?: number;
  /** Learning rate at iteration 0 of warm-up (timm's `warmup_lr`), default 1e-6. */
  warmupLr?: number;
  /** Floor of the cosine (timm's `min_lr`), default 1e-5. */
  minLr?: number;
  /**
   * true (default): the cosine runs over the iterations after warm-up, so it
   * starts exactly at `baseLr`. false: timm's default (`warmup_prefix=False`),
   * the cosine is a function of the absolute iteration over `totalIters` and
   * warm-up merely overrides its first `warmupIters` values.
   */
  warmupPrefix?: boolean;
}

/** Linear warm-up from `warmupLr` to `baseLr`, then cosine to `minLr`. `lrAt` is pure. */
export class CosineSchedule {
  readonly baseLr: number;
  readonly totalIters: number;
  readonly warmupIters: number;
  readonly warmupLr: number;
  readonly minLr: number;
  readonly warmupPrefix: boolean;

  constructor(opts: CosineScheduleOptions) {
    const op = "CosineSchedule";
    this.baseLr = opts.baseLr;
    this.totalIters = opts.totalIters;
    this.warmupIters = opts.warmupIters ?? 0;
    this.warmupLr = opts.warmupLr ?? 1e-6;
    this.minLr = opts.minLr ?? 1e-5;
    this.warmupPrefix = opts.warmupPrefix ?? true;
    for (const [k, v] of [["baseLr", this.baseLr], ["warmupLr", this.warmupLr], ["minLr", this.minLr]] as const) {
      if (!Number.isFinite(v) || v < 0) fail(op, `${k} must be a finite number >= 0, got ${v}`);
    }
    if (!Number.isInteger(this.totalIters) || this.totalIters < 1) fail(op, `totalIters must be an integer >= 1, got ${this.totalIters}`);
    if (!Number.isInteger(this.warmupIters) || this.warmupIters < 0 || this.warmupIters >= this.totalIters) {
      fail(op, `warmupIters must be an integer in [0, totalIters = ${this.totalIters}), got ${this.warmupIters}`);
    }
  }

  /** The learning rate of iteration `iter` (0-based: the lr used for the update number iter + 1). */
  lrAt(iter: number): number {
    if (!Number.isInteger(iter) || iter < 0) fail("CosineSchedule.lrAt", `iter must be an integer >= 0, got ${iter}`);
    const W = this.warmupIters;
    if (iter < W) return this.warmupLr + (iter * (this.baseLr - this.warmupLr)) / W;
    if (iter >= this.totalIters) return this.minLr;
    const t = this.warmupPrefix ? iter - W : iter;
    const span = this.warmupPrefix ? this.totalIters - W : this.totalIters;
    return this.minLr + 0.5 * (this.baseLr - this.minLr) * (1 + Math.cos((Math.PI * t) / span));
  }
}

/**
 * Layer-wise lr decay scales for `numLayers` transformer blocks: layer id i in
 * 0..L+1 gets `decay^(L + 1 - i)`. Layer ids the caller must assign
 * (see {@link layerIdOf}): 0 = stem (patch embedding, position embedding,
 * tokens), 1..L = block 0..L-1, L+1 = everything after the blocks (final norm,
 * head), which runs at the full lr.
 */
export function layerDecayScales(numLayers: number, decay: number): number[] {
  const op = "layerDecayScales";
  if (!Number.isInteger(numLayers) || numLayers < 0) fail(op, `numLayers must be an integer >= 0, got ${numLayers}`);
  if (!Number.isFinite(decay) || decay <= 0 || decay > 1) fail(op, `decay must be in (0, 1], got ${decay}`);
  const out: number[] = [];
  for (let i = 0; i <= numLayers + 1; i++) out.push(Math.pow(decay, numLayers + 1 - i));
  return out;
}

/** Options of {@link layerIdOf}. */
export interface LayerIdOptions {
  /** Prefix of block parameters, followed by the block index and a dot. Default `"block."` (Spikformer's key names). */
  blockPrefix?: string;
  /** Name prefixes that belong to the stem (layer 0). Default patch_embed, pos_embed, cls_token, mask_token. */
  stemPrefixes?: readonly string[];
}

/**
 * The layer id of a parameter name for {@link layerDecayScales} (BEiT's
 * `get_layer_id_for_vit`): stem prefixes -> 0, `block.{i}.` -> i + 1, anything
 * else (head, final norm) -> numLayers + 1.
 */
export function layerIdOf(name: string, numLayers: number, opts: LayerIdOptions = {}): number {
  const blockPrefix = opts.blockPrefix ?? "block.";
  const stem = opts.stemPrefixes ?? ["patch_embed", "pos_embed", "cls_token", "mask_token"];
  if (stem.some((s) => name.startsWith(s))) return 0;
  if (name.startsWith(blockPrefix)) {
    const rest = name.slice(blockPrefix.length);
    const dot = rest.indexOf(".");
    const idx = Number(dot < 0 ? rest : rest.slice(0, dot));
    if (!Number.isInteger(idx) || idx < 0 || idx >= numLayers) {
      fail("layerIdOf", `parameter '${name}' names block ${rest.slice(0, dot)} but there are ${numLayers} blocks`);
    }
    return idx + 1;
  }
  return numLayers + 1;
}
