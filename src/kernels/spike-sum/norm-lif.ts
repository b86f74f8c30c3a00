/**
 * Linear -> batch norm (its affine map) -> LIF forward over tokens at inference, for one or more
 * projections of the same input (Spikformer's q, k and v read one residual stream; fc1, proj and fc2
 * one each). The unfused path writes each projection's output [T M, n] to memory (the gather,
 * ./spike-sum.ts), then the fused BN-LIF pass reads it back (src/kernels/neuron/norm-lif.ts). Here the
 * tokens go in blocks of R: the bucket tables of the block's T R input rows (row t M + i is token i at
 * step t) are built once for all the projections, each projection's sums of those rows go to a T R x n
 * scratch that stays in cache, and the BN-LIF fires them there (steps T, R rows) into the projection's
 * spike rows. Every output element sees the same entries in the same order (the panel sums,
 * ./wasm.ts) and then the same affine and LIF operations: the same spikes as the gather followed by
 * normLifForward (tested against that composition). Float32 WASM only; the op
 * (src/ops/spike/linear-norm-neuron.ts) runs the composition otherwise.
 */
import { inHeap, heapF32 } from "../../tensor/heap.js";
import { wordsFor } from "../../tensor/bits.js";
import type { UnitRanges } from "../../parallel/claims.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { normLifForwardRangeWasm, affineVectorLength, type AffineLayout } from "../neuron/norm-lif.js";
import { lifKernelParams, lifParamsFit, type LifConstants } from "../neuron/neuron.js";
import {
  align16, countsBucketsRun, packPanelsF32FromRows, PANEL_ENTRY, panelBytes, spikeBucketsRun, spikeSumRun, spikeSumScratch, SPIKE_SUM_MIN_OUT,
} from "./wasm.js";

/** The input rows [T M, k] of a fused projection: spike words (wpr a row) or float32 counts. */
export type TokenRows = { kind: "spikes"; words: Uint32Array; wpr: number } | { kind: "counts"; x: Float32Array };

/** One projection: W [n, k] as Linear stores it, its bias, its batch norm's affine vector, its LIF and output. */
export interface NormLifProjection {
  w: Float32Array;
  n: number;
  bias: Float32Array | null;
  /** Scale then shift, affineVectorLength(n) slots each (affineVector in src/kernels/neuron/threads.ts). */
  vec: Float32Array;
  /** The LIF's tau, vTh, vReset and reset kind (steps, rows and cols are the call's). */
  lif: LifConstants;
  /** Spike words [T M, wordsFor(n)], every word of the tokens the call runs written. */
  out: Uint32Array;
}

/**
 * Rows of a token block, T R: the panel sums' tiles (PANEL_TILES in ./wasm.ts, two of 128 rows), over which a
 * chunk's weights are reused from cache. This loop against the two passes, one projection, one thread, counts
 * at 0.27 over 512 tokens, T = 4: blocks of 64 tokens 0.90x at 384 -> 1536 (of 32: 0.93x), 0.99x at
 * 384 -> 384 (where the sums' output fits in cache either way; sharing the tables is the gain there).
 */
const BLOCK_ROWS = 256;

/** Tokens a block: T of them fill BLOCK_ROWS rows (at least one). */
export function tokenBlock(T: number): number {
  return Math.max(1, Math.floor(BLOCK_ROWS / T));
}

/**
 * Tokens a unit of the ranges: threads claim units, and a claimed range runs in blocks of
 * {@link tokenBlock} tokens (the last one short). Whole blocks as units left the threads up to one block
 * apart at the end: CIFAR b8 has 512 tokens, 8 blocks at T = 4.
 */
export const UNIT_TOKENS = 16;

/**
 * True when the fused forward applies: WASM kernels, every array in the heap, float32 weights, outputs
 * enough for the WASM sums, and float32 LIFs with decay_input whose constants are float32 values.
 */
export function linearNormLifFits(input: TokenRows, m: number, layers: readonly NormLifProjection[]): boolean {
  if (!wasmKernelsEnabled() || !inHeap(input.kind === "spikes" ? input.words : input.x)) return false;
  return layers.every((l) =>
    inHeap(l.w) && (l.bias === null || inHeap(l.bias)) && inHeap(l.vec) && inHeap(l.out) && l.vec.length >= 2 * affineVectorLength(l.n) &&
    m * l.n >= SPIKE_SUM_MIN_OUT && lifParamsFit(lifKernelParams(1, 1, l.n, l.lif)));
}

/**
 * The tokens of the units the ranges hand out ({@link UNIT_TOKENS} each, the last one short, of M; row
 * t M + i of the input is token i at step t, k values or bits a row), in blocks of {@link tokenBlock}
 * tokens, through every projection: sums (the bias added as the gather adds it), affine map, LIF over the
 * T steps, spike words into each projection's `out`. Each token's outputs do not depend on its block.
 */
export function linearNormLifRange(input: TokenRows, k: number, M: number, T: number, layers: readonly NormLifProjection[], units: UnitRanges): void {
  const counts = input.kind === "counts";
  const cap = counts ? k : input.wpr * 32; // bucket slots a row: one per input column
  const R = tokenBlock(T);
  const nMax = Math.max(...layers.map((l) => l.n));
  // Scratch: each projection's panels, then the block's tables (counts, entries, values), its sums [T R, nMax] and membrane [R, nMax].
  const panelAt: number[] = [];
  let bytes = 0;
  for (const l of layers) {
    panelAt.push(bytes);
    bytes += align16(panelBytes(k, l.n));
  }
  const cntS = bytes, idxS = cntS + align16(T * R * 4), valS = idxS + align16(T * R * cap * 4);
  const sumS = valS + (counts ? align16(T * R * cap * 4) : 0), vS = sumS + align16(T * R * nMax * 4);
  const base = spikeSumScratch(vS + align16(R * nMax * 4));
  layers.forEach((l, j) => packPanelsF32FromRows(l.w.byteOffset, k, l.n, base + panelAt[j]!));
  const layout = (n: number): AffineLayout => ({ chans: n, rpc: 1, columns: true });
  units((u0, u1) => {
    for (let i0 = u0 * UNIT_TOKENS, end = Math.min(M, u1 * UNIT_TOKENS); i0 < end; i0 += R) {
      const r = Math.min(R, end - i0);
      // The tables of rows t M + i0 .. t M + i0 + r - 1, step after step: bucket t r + i (entries: row numbers times PANEL_ENTRY).
      for (let t = 0; t < T; t++) {
        const row = t * M + i0, cnt = base + cntS + t * r * 4, idx = base + idxS + t * r * cap * 4;
        if (input.kind === "counts") countsBucketsRun(input.x.byteOffset + row * k * 4, k, r, PANEL_ENTRY, cnt, idx, base + valS + t * r * cap * 4);
        else spikeBucketsRun(input.words.byteOffset + row * input.wpr * 4, input.wpr, r, PANEL_ENTRY, cnt, idx, cap);
      }
      layers.forEach((l, j) => {
        const n = l.n, wpr = wordsFor(n);
        spikeSumRun(true, counts, T * r, cap, base + panelAt[j]!, n, base + sumS, base + cntS, base + idxS, base + valS, true, true, k, undefined, l.bias?.byteOffset ?? 0);
        const f32 = heapF32(), s = (base + sumS) / 4, v = (base + vS) / 4;
        normLifForwardRangeWasm(
          f32.subarray(s, s + T * r * n), layout(n), l.vec, lifKernelParams(T, r, n, l.lif), null, l.out.subarray(i0 * wpr), f32.subarray(v, v + r * n),
          0, r * wpr, false, M,
        );
      });
    }
  });
}
