/**
 * Spike conv -> batch norm (its affine map) -> LIF forward in one pass per batch element, for inference
 * (Spikformer's stem and RPE conv-BN-LIF with the running statistics). The unfused path writes the conv
 * output channels-first (a transpose of every image's channels-last sums), then the fused BN-LIF pass
 * reads it back from memory (src/kernels/neuron/norm-lif.ts, rows form). Here a batch element's T
 * images (image t B + b at time step t) are summed into T channels-last accumulators that stay in
 * cache, the BN-LIF runs over them in its columns form (each channel's scale and shift per column),
 * and its spike words [T, OH OW, O] go to the output's channels-first layout [T B, O, OH, OW] by
 * 32 x 32 bit transposes (channelsFirstBits in ./wasm.ts; {@link channelsFirstBitsReference} defines
 * it). Every element sees the same sums and the same affine and LIF operations as
 * spikeConvForwardRange followed by normLifForward: the same spikes (tested against that composition).
 * Float32 WASM only; the op (src/ops/spike/conv-norm-neuron.ts) runs the composition otherwise.
 */
import { wordsFor } from "../../tensor/bits.js";
import { heapF32, heapU32, inHeap } from "../../tensor/heap.js";
import type { ConvGeom } from "../conv/conv.js";
import type { UnitRanges } from "../../parallel/claims.js";
import { align16, SPIKE_SUM_MIN_OUT } from "../spike-sum/wasm.js";
import { normLifForwardRangeWasm, type AffineLayout } from "../neuron/norm-lif.js";
import { lifParamsFit, LEAK_DIV, type NeuronKernelParams } from "../neuron/neuron.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { forwardSums } from "./spike-conv.js";
import { channelsFirstBitsWasm } from "./wasm.js";

/**
 * True when the fused forward applies: WASM kernels, a float32 weight, spike words and weight in the
 * heap, output positions enough for the WASM sums, and a float32 LIF with decay_input whose constants
 * are float32 values (what the fused BN-LIF kernel takes; `p` as the neuron sees one element's T steps).
 */
export function spikeConvNormLifFits(words: Uint32Array, w: Float32Array | Float64Array, o: number, g: ConvGeom, p: NeuronKernelParams): boolean {
  return wasmKernelsEnabled() && w instanceof Float32Array && inHeap(w) && inHeap(words) && o * g.oh * g.ow >= SPIKE_SUM_MIN_OUT &&
    p.leak === LEAK_DIV && lifParamsFit(p); // the BN-LIF's arrays are this kernel's own float32 scratch
}

/**
 * Output rows a unit of {@link spikeConvNormLifRange} takes when a batch element is cut into `bands`
 * bands of rows: ceil(OH / bands).
 */
function bandRows(oh: number, bands: number): number {
  return Math.ceil(oh / Math.max(1, Math.min(oh, bands)));
}

/**
 * For each unit u the ranges hand out, batch element b = floor(u / bands) and its output rows band j =
 * u mod bands (rows j R .. j R + R - 1 of OH, R = {@link bandRows}; bands = 1: the whole element; the
 * last band may be shorter, or empty): the spikes of the conv of images t `batch` + b (t < p.steps) of
 * `s` (wpr words a row, imgWords an image) with w [O, C kh kw] (the conv's own layout), normalised by
 * `vec` (scale then shift, as normLifForwardRangeWasm takes them) and fired by the LIF `p` (steps T,
 * cols O; its rows are the band's positions), into `out` [T batch, O, OH, wordsFor(OW)] (every word of
 * those rows written). A position's sums, affine map and LIF do not depend on its band: bands only let
 * the threads of a small batch split it finer.
 */
export function spikeConvNormLifRange(
  s: Uint32Array, wpr: number, c: number, g: ConvGeom, w: Float32Array, o: number, imgWords: number,
  batch: number, vec: Float32Array, p: NeuronKernelParams, out: Uint32Array, units: UnitRanges, bands = 1,
): void {
  const T = p.steps, R = bandRows(g.oh, bands), rn = R * g.ow * o;
  const wo = wordsFor(o), wprOut = wordsFor(g.ow);
  // Scratch after the accumulators: the LIF's spike words [T, R OW, wo], its membrane [R OW, o], 128 bytes of stage.
  const lifBytes = align16(T * R * g.ow * wo * 4), vBytes = align16(rn * 4);
  const sums = forwardSums(s, wpr, c, g, w, o, w, imgWords, null, true, T, lifBytes + vBytes + 128);
  const layout: AffineLayout = { chans: o, rpc: 1, columns: true };
  units((u0, u1) => {
    for (let u = u0; u < u1; u++) {
      const b = Math.floor(u / bands), y0 = (u % bands) * R, rows = Math.min(R, g.oh - y0);
      if (rows <= 0) continue;
      const pos = rows * g.ow, n = pos * o;
      // The T accumulators are consecutive, n values apart: the BN-LIF's steps.
      let acc = 0;
      for (let t = 0; t < T; t++) {
        const at = sums.sum(t * batch + b, t, Math.ceil(((u1 - u) * T * rows) / g.oh), y0, rows);
        if (t === 0) acc = at;
      }
      const extra = sums.extra(), lif = extra / 4, stage = extra + lifBytes + vBytes, f32 = heapF32();
      normLifForwardRangeWasm(
        f32.subarray(acc / 4, acc / 4 + T * n), layout, vec, { ...p, rows: pos }, null, heapU32().subarray(lif, lif + T * pos * wo),
        f32.subarray(lif + lifBytes / 4, lif + lifBytes / 4 + n), 0, pos * wo,
      );
      // Channels-last words (bit k: channel 32 cw + k of a position) to the output's channels-first rows.
      for (let t = 0; t < T; t++) {
        const dst = out.byteOffset + ((t * batch + b) * o * g.oh + y0) * wprOut * 4;
        channelsFirstBitsWasm(extra + t * pos * wo * 4, dst, rows, g.ow, o, wprOut, stage, g.oh);
      }
    }
  });
}

/**
 * The definition of channelsFirstBits (./wasm.ts), bit by bit: the spike words [oh OW, wordsFor(o)] of oh
 * rows of an image from element `src` of `words` (bit k of word cw: channel 32 cw + k of a position) to
 * rows [o, planeRows, wordsFor(OW)] from element `dst` of `out` (bit j of word xw: column 32 xw + j; the
 * image's planes have planeRows rows, of which these are oh from dst's), every destination word of those
 * rows written.
 */
export function channelsFirstBitsReference(
  words: Uint32Array, src: number, out: Uint32Array, dst: number, oh: number, ow: number, o: number, planeRows = oh,
): void {
  const wo = wordsFor(o), wprOut = wordsFor(ow);
  for (let ch = 0; ch < o; ch++) out.fill(0, dst + ch * planeRows * wprOut, dst + (ch * planeRows + oh) * wprOut);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      for (let ch = 0; ch < o; ch++) {
        if ((words[src + (y * ow + x) * wo + (ch >>> 5)]! >>> (ch & 31)) & 1) out[dst + (ch * planeRows + y) * wprOut + (x >>> 5)]! |= 1 << (x & 31);
      }
    }
  }
}
