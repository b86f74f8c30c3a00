/**
 * Image augmentations on one normalised [C, H, W] image, in place, every random
 * choice drawn from a seeded Rng: random crop with padding, horizontal flip,
 * random erasing. Applied in that order (the Spikformer/timm CIFAR pipeline,
 * where erasing follows normalisation). For event frames (a [T C, H, W]
 * sample, the same draw for every frame) the DVS augmentations follow: a
 * circular roll (torch.roll) by up to +-N pixels on each axis, as Spikformer's
 * CIFAR10-DVS code, then a cutout square set to 0 (DeVries and Taylor).
 */
import { fail } from "../../tensor/errors.js";
import type { Rng } from "../../tensor/random.js";
import type { Dataset } from "./dataset.js";

/** Random erasing (timm's `RandomErasing`, one box per image). */
export interface RandomErasingOptions {
  /** Probability of erasing an image; timm's default 0.5 (Spikformer CIFAR uses 0.25). */
  p?: number;
  /** Range of the erased area as a fraction of the image, default [0.02, 1/3]. */
  scale?: readonly [number, number];
  /** Range of the box aspect ratio h/w (sampled log-uniformly), default [0.3, 1/0.3]. */
  ratio?: readonly [number, number];
  /**
   * "pixel" (default, timm train.py's `--remode pixel`): each erased value is an
   * independent standard normal, which is noise in normalised units. "const":
   * every erased value is `value` (0 = the data set's mean colour after normalisation).
   */
  mode?: "pixel" | "const";
  value?: number;
}

/** Options of {@link makeAugment}; an absent field disables that augmentation. */
export interface AugmentOptions {
  /**
   * Random crop of the original size from the image padded by `padding` on
   * every side (torchvision `RandomCrop(size, padding)`). Padding values are
   * `fill[c]` (default 0, i.e. the mean colour since images are normalised;
   * (0 - mean[c]) / std[c] pads with black exactly as torchvision does, and
   * the trainer turns "black" into that from its data set's statistics).
   */
  crop?: { padding: number; fill?: readonly number[] | "black" };
  /** Probability of a horizontal flip (0.5 usually). */
  hflip?: number;
  erasing?: RandomErasingOptions;
  /** Circular shift by dy, dx each uniform in -roll..roll (torch.roll on H, W); event frames. */
  roll?: number;
  /** Zero a size x size square centred on a uniform pixel, clipped at the edges (Cutout); event frames. */
  cutout?: number;
}

/** An in-place augmentation of one image; draws only from `rng`. */
export type Augment = (image: Float32Array, shape: readonly [number, number, number], rng: Rng) => void;

/** Copies `src` shifted by (dy, dx) into `dst`; out-of-image pixels get fill[c]. */
export function shiftCrop(src: Float32Array, dst: Float32Array, C: number, H: number, W: number, dy: number, dx: number, fill: readonly number[] | undefined): void {
  for (let c = 0; c < C; c++) {
    const f = fill ? fill[c] ?? 0 : 0;
    const base = c * H * W;
    for (let y = 0; y < H; y++) {
      const sy = y + dy;
      const row = base + y * W;
      if (sy < 0 || sy >= H) {
        dst.fill(f, row, row + W);
        continue;
      }
      const srow = base + sy * W;
      for (let x = 0; x < W; x++) {
        const sx = x + dx;
        dst[row + x] = sx < 0 || sx >= W ? f : src[srow + sx]!;
      }
    }
  }
}

/** Mirrors every row of a [C, H, W] image in place. */
export function hflipInPlace(img: Float32Array, C: number, H: number, W: number): void {
  for (let r = 0; r < C * H; r++) {
    let a = r * W;
    let b = a + W - 1;
    while (a < b) {
      const t = img[a]!;
      img[a++] = img[b]!;
      img[b--] = t;
    }
  }
}

/** Rolls every [H, W] plane of `src` by (dy, dx) circularly into `dst` (torch.roll(x, (dy, dx), (-2, -1))). */
export function rollPlanes(src: Float32Array, dst: Float32Array, planes: number, H: number, W: number, dy: number, dx: number): void {
  const sy = ((dy % H) + H) % H;
  const sx = ((dx % W) + W) % W;
  for (let c = 0; c < planes; c++) {
    const base = c * H * W;
    for (let y = 0; y < H; y++) {
      const from = base + ((y - sy + H) % H) * W;
      const to = base + y * W;
      for (let x = 0; x < W; x++) dst[to + x] = src[from + ((x - sx + W) % W)]!;
    }
  }
}

/** Cutout: zeroes the size x size square centred at (cy, cx), clipped to the image, in every plane. */
export function cutoutInPlace(img: Float32Array, planes: number, H: number, W: number, cy: number, cx: number, size: number): void {
  const y0 = Math.max(0, cy - Math.floor(size / 2));
  const y1 = Math.min(H, cy - Math.floor(size / 2) + size);
  const x0 = Math.max(0, cx - Math.floor(size / 2));
  const x1 = Math.min(W, cx - Math.floor(size / 2) + size);
  for (let c = 0; c < planes; c++) for (let y = y0; y < y1; y++) img.fill(0, (c * H + y) * W + x0, (c * H + y) * W + x1);
}

/**
 * Random erasing of one box, timm's algorithm: with probability p, up to 10
 * attempts of area ~ U(scale) * H W and log-aspect ~ U(log ratio); the first
 * box that fits (h < H, w < W) is filled. Returns whether it erased.
 */
export function randomErase(img: Float32Array, C: number, H: number, W: number, rng: Rng, opts: RandomErasingOptions = {}): boolean {
  const p = opts.p ?? 0.5;
  const [smin, smax] = opts.scale ?? [0.02, 1 / 3];
  const [rmin, rmax] = opts.ratio ?? [0.3, 1 / 0.3];
  if (rng.uniform() >= p) return false;
  const area = H * W;
  const lmin = Math.log(rmin);
  const lmax = Math.log(rmax);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = (smin + (smax - smin) * rng.uniform()) * area;
    const aspect = Math.exp(lmin + (lmax - lmin) * rng.uniform());
    const h = Math.round(Math.sqrt(target * aspect));
    const w = Math.round(Math.sqrt(target / aspect));
    if (w < W && h < H) {
      const top = rng.int(H - h + 1);
      const left = rng.int(W - w + 1);
      const pixel = (opts.mode ?? "pixel") === "pixel";
      const value = opts.value ?? 0;
      for (let c = 0; c < C; c++) {
        for (let y = top; y < top + h; y++) {
          const row = (c * H + y) * W;
          for (let x = left; x < left + w; x++) img[row + x] = pixel ? rng.normal() : value;
        }
      }
      return true;
    }
  }
  return false;
}

function checkOptions(o: AugmentOptions): void {
  const op = "makeAugment";
  if (o.crop && (!Number.isInteger(o.crop.padding) || o.crop.padding < 0)) fail(op, `crop padding must be an integer >= 0, got ${o.crop.padding}`);
  if (o.hflip !== undefined && !(o.hflip >= 0 && o.hflip <= 1)) fail(op, `hflip probability must be in [0, 1], got ${o.hflip}`);
  if (o.roll !== undefined && (!Number.isInteger(o.roll) || o.roll < 0)) fail(op, `roll must be an integer >= 0, got ${o.roll}`);
  if (o.cutout !== undefined && (!Number.isInteger(o.cutout) || o.cutout < 0)) fail(op, `cutout size must be an integer >= 0, got ${o.cutout}`);
  const e = o.erasing;
  if (e) {
    if (e.p !== undefined && !(e.p >= 0 && e.p <= 1)) fail(op, `erasing p must be in [0, 1], got ${e.p}`);
    if (e.scale && !(e.scale[0] > 0 && e.scale[0] <= e.scale[1] && e.scale[1] <= 1)) fail(op, `erasing scale must satisfy 0 < lo <= hi <= 1, got [${e.scale.join(", ")}]`);
    if (e.ratio && !(e.ratio[0] > 0 && e.ratio[0] <= e.ratio[1])) fail(op, `erasing ratio must satisfy 0 < lo <= hi, got [${e.ratio.join(", ")}]`);
  }
}

/**
 * The composed augmentation: crop (two draws), flip (one draw), erasing, roll
 * (two draws), cutout (two draws). Keeps one scratch buffer, so use one
 * Augment per loader, not across threads.
 */
export function makeAugment(opts: AugmentOptions): Augment {
  checkOptions(opts);
  const fill = fillOf(opts.crop?.fill);
  let scratch = new Float32Array(0);
  return (img, [C, H, W], rng) => {
    if (img.length !== C * H * W) fail("augment", `image has ${img.length} values, shape [${C}, ${H}, ${W}] needs ${C * H * W}`);
    if (opts.crop) {
      const pad = opts.crop.padding;
      const dy = rng.int(2 * pad + 1) - pad;
      const dx = rng.int(2 * pad + 1) - pad;
      if (scratch.length !== img.length) scratch = new Float32Array(img.length);
      shiftCrop(img, scratch, C, H, W, dy, dx, fill);
      img.set(scratch);
    }
    if (opts.hflip !== undefined && rng.uniform() < opts.hflip) hflipInPlace(img, C, H, W);
    if (opts.erasing) randomErase(img, C, H, W, rng, opts.erasing);
    if (opts.roll) {
      const dy = rng.int(2 * opts.roll + 1) - opts.roll;
      const dx = rng.int(2 * opts.roll + 1) - opts.roll;
      if (scratch.length !== img.length) scratch = new Float32Array(img.length);
      rollPlanes(img, scratch, C, H, W, dy, dx);
      img.set(scratch);
    }
    if (opts.cutout) {
      const cy = rng.int(H);
      const cx = rng.int(W);
      cutoutInPlace(img, C, H, W, cy, cx, opts.cutout);
    }
  };
}

/** The crop's fill values; "black" must have been turned into values by whoever knows the data set's normalisation. */
function fillOf(fill: readonly number[] | "black" | undefined): readonly number[] | undefined {
  if (fill === "black") fail("augment", 'crop fill "black" needs the data set\'s mean and std: the trainer turns it into values; elsewhere pass (0 - mean[c]) / std[c]');
  return fill;
}

/**
 * `opts` with a crop fill of "black" turned into values for the data set
 * `ds`: what raw 0 becomes after its normalisation, (0 - mean[c]) / std[c], as
 * torchvision's RandomCrop(padding) pads before Normalize (0 where the images
 * are not normalised).
 */
export function resolveCropFill(opts: AugmentOptions, ds: Pick<Dataset, "shape" | "mean" | "std">): AugmentOptions {
  if (opts.crop?.fill !== "black") return opts;
  const fill = Array.from({ length: ds.shape[0] }, (_, c) => (ds.mean && ds.std ? (0 - ds.mean[c]!) / ds.std[c]! : 0));
  return { ...opts, crop: { ...opts.crop, fill } };
}
