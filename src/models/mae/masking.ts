/**
 * Random token masking for masked-image pre-training (MAE / SparK): a per-sample
 * 0/1 grid (1 = visible, "kept"), its nearest upsampling to the stem stages'
 * resolutions, and the index lists the encoder and decoder need.
 */
import { fail } from "../../tensor/errors.js";
import type { Rng } from "../../tensor/random.js";

/** A per-sample 0/1 grid `[batch, height, width]`, row-major; 1 = visible. */
export interface GridMask {
  readonly batch: number;
  readonly height: number;
  readonly width: number;
  readonly data: Uint8Array;
}

/** Tokens kept per sample at a mask ratio: round(N (1 - ratio)). */
export function keptCount(numTokens: number, ratio: number): number {
  return Math.round(numTokens * (1 - ratio));
}

/**
 * For each of B samples, exactly round(N (1 - ratio)) of the N = gridH * gridW
 * tokens are kept, chosen uniformly by a seeded shuffle (the rng advances).
 * Needs 0 <= ratio < 1 and at least one kept token.
 */
export function randomTokenMask(B: number, gridH: number, gridW: number, ratio: number, rng: Rng): GridMask {
  const op = "randomTokenMask";
  for (const [k, v] of [["B", B], ["gridH", gridH], ["gridW", gridW]] as const) {
    if (!Number.isInteger(v) || v < 1) fail(op, `${k} must be a positive integer, got ${v}`);
  }
  if (!(ratio >= 0 && ratio < 1)) fail(op, `ratio must be in [0, 1), got ${ratio}`);
  const N = gridH * gridW;
  const K = keptCount(N, ratio);
  if (K < 1) fail(op, `ratio ${ratio} keeps no token of ${N} (${gridH}x${gridW})`);
  const data = new Uint8Array(B * N);
  const perm = new Int32Array(N);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < N; i++) perm[i] = i;
    rng.shuffle(perm);
    for (let i = 0; i < K; i++) data[b * N + perm[i]!] = 1;
  }
  return { batch: B, height: gridH, width: gridW, data };
}

/** Nearest upsampling of a grid mask by an integer factor in both directions. */
export function upsampleMask(mask: GridMask, factor: number): GridMask {
  if (!Number.isInteger(factor) || factor < 1) fail("upsampleMask", `factor must be a positive integer, got ${factor}`);
  const { batch, height: h, width: w } = mask;
  const H = h * factor;
  const W = w * factor;
  const data = new Uint8Array(batch * H * W);
  for (let b = 0; b < batch; b++) {
    for (let y = 0; y < H; y++) {
      const src = (b * h + Math.floor(y / factor)) * w;
      const dst = (b * H + y) * W;
      for (let x = 0; x < W; x++) data[dst + x] = mask.data[src + Math.floor(x / factor)]!;
    }
  }
  return { batch, height: H, width: W, data };
}

/**
 * The masks of the S = log2(patch) stem stages: stage i (0-based) works at
 * resolution img / 2^(i+1) = grid * 2^(S-1-i), so it gets the token mask
 * upsampled by 2^(S-1-i) (the last stage gets the token mask itself).
 */
export function stageMasks(tokenMask: GridMask, stages: number): GridMask[] {
  if (!Number.isInteger(stages) || stages < 1) fail("stageMasks", `stages must be a positive integer, got ${stages}`);
  return Array.from({ length: stages }, (_, i) => upsampleMask(tokenMask, 2 ** (stages - 1 - i)));
}

/** The mask repeated `times` times along the batch (time-major [T, B] merged to T*B). */
export function repeatMask(mask: GridMask, times: number): Uint8Array {
  if (times === 1) return mask.data;
  const out = new Uint8Array(mask.data.length * times);
  for (let t = 0; t < times; t++) out.set(mask.data, t * mask.data.length);
  return out;
}

/** Visible counts per sample; fails unless every sample has the same count (returned). */
export function uniformKeptCount(mask: GridMask): number {
  const N = mask.height * mask.width;
  let K = -1;
  for (let b = 0; b < mask.batch; b++) {
    let k = 0;
    for (let i = 0; i < N; i++) if (mask.data[b * N + i] !== 0) k++;
    if (K >= 0 && k !== K) fail("uniformKeptCount", `sample ${b} keeps ${k} tokens, sample 0 keeps ${K}; every sample must keep the same number`);
    K = k;
  }
  return K;
}

/** Kept token indices per sample in ascending order, `[B, K]` row-major. */
export function keptIndices(mask: GridMask): Int32Array {
  const N = mask.height * mask.width;
  const K = uniformKeptCount(mask);
  const out = new Int32Array(mask.batch * K);
  let o = 0;
  for (let b = 0; b < mask.batch; b++) for (let i = 0; i < N; i++) if (mask.data[b * N + i] !== 0) out[o++] = i;
  return out;
}

/**
 * MAE's ids_restore: for the sequence [kept tokens (ascending), masked tokens
 * (ascending)] of each sample, the index into it of every grid position, `[B, N]`.
 */
export function restoreIndices(mask: GridMask): Int32Array {
  const N = mask.height * mask.width;
  const K = uniformKeptCount(mask);
  const out = new Int32Array(mask.batch * N);
  for (let b = 0; b < mask.batch; b++) {
    let kept = 0;
    let masked = K;
    for (let i = 0; i < N; i++) out[b * N + i] = mask.data[b * N + i] !== 0 ? kept++ : masked++;
  }
  return out;
}
