/**
 * The head loops of spiking self-attention (src/ops/spike/ssa.ts has the op
 * and why both association orders give the same bits): Q Kᵀ V · scale for
 * spike Q, K, V [heads, N, d], and its backward, on a range of heads. Heads
 * are independent, so a thread runs a range (see threads.ts) and the bits do
 * not depend on the split. The products are the AND-popcount and the
 * event-driven gather / scatter sums (popcount/, spike-sum/); the float64
 * matrices between them (float32 in the q_kv forward, whose values are small
 * integers) live in this thread's heap scratch, where the WASM twins use them
 * in place.
 *
 * Float layouts (the output, its gradient and the input gradients): `rowHeads` heads side by side in each
 * row, head b = o rowHeads + h holding columns h d .. h d + d - 1 of rows o N .. o N + N - 1. With
 * rowHeads = 1 each head is its own [N, d] block ([heads, N, d]); with rowHeads = H the floats are the
 * tokens' [outer, N, H d], the layout before Spikformer splits the heads and after it merges them, so the
 * split's and the merge's float copies are never made (each head's rows are read and written in place).
 * The spike words are always [heads, N, d].
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { heapF64, heapU32, inHeap, Scratch } from "../../tensor/heap.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { transposeBits, wordsFor } from "../../tensor/bits.js";
import { gemm } from "../gemm/gemm.js";
import { andPopcountGemm } from "../popcount/popcount.js";
import {
  countsGatherAdd, countsTimesSpikes, floatTimesSpikesT, spikeGatherAdd, spikeScatterRows,
} from "../spike-sum/spike-sum.js";
import { transpose } from "../transpose/transpose.js";
import { copyWasmCall } from "../copy/wasm.js";
import { channelsFirstBitsWasm } from "../spike-conv/wasm.js";
import { rowsTimesF64Wasm, scaleF64Wasm } from "./wasm.js";

/** One attention problem: N tokens, head size d (wpr words a row), the association order and the scale (in the output's type). */
export interface SsaDims {
  n: number;
  d: number;
  order: "qk_v" | "q_kv";
  scale: number;
  /** Heads side by side in a row of the float arrays (see the file comment); 1 when absent. */
  rowHeads?: number;
}

/** Where head b's N x d float block starts and its row stride, in elements (see the file comment). */
function floatBlock(dims: SsaDims, b: number): { at: number; stride: number } {
  const { n, d } = dims;
  const H = dims.rowHeads ?? 1;
  const o = Math.floor(b / H);
  return { at: o * n * H * d + (b - o * H) * d, stride: H * d };
}

const scratch = new Scratch();

/** Float64 matrices (and bit matrices) of this thread's scratch, laid out one after another. */
function carve(f64Lens: readonly number[], u32Lens: readonly number[]): { f: Float64Array[]; u: Uint32Array[] } {
  let bytes = 0;
  const at = (len: number, size: number): number => {
    const o = bytes;
    bytes += Math.ceil((len * size) / 64) * 64;
    return o;
  };
  const fo = f64Lens.map((l) => at(l, 8)), uo = u32Lens.map((l) => at(l, 4));
  const base = scratch.take(Math.max(bytes, 64));
  const f64 = heapF64(), u32 = heapU32();
  return {
    f: f64Lens.map((l, i) => f64.subarray((base + fo[i]!) / 8, (base + fo[i]!) / 8 + l)),
    u: u32Lens.map((l, i) => u32.subarray((base + uo[i]!) / 4, (base + uo[i]!) / 4 + l)),
  };
}

/** Words of heap scratch the WASM bit transposes of {@link transposeHead} take. */
const TRANSPOSE_STAGE = 32;

/**
 * dst [d, wordsFor(n)] = the bit transpose of head matrix [n, d] at word `mo` of `src` (every word of dst
 * written). Where the backend runs WASM and `src` is in the heap: the fused conv's 32 x 32 block transposes
 * (channelsFirstBits: one row of n positions of d channels to d channel rows), else transposeBits; the same
 * words either way. The 1,536 heads of 64 x 32 of a CIFAR b8 pass (4 blocks of 384) at rates 0.1-0.25: 0.18 ms
 * against the loop's 1.4-2.5 (bench/ssa.bench.ts); the op on one block's 384, rate 0.15, 3.48-3.63 -> 2.77-3.00 ms a call.
 */
function transposeHead(src: Uint32Array, mo: number, n: number, d: number, dst: Uint32Array, stage: Uint32Array): void {
  if (wasmKernelsEnabled() && inHeap(src)) {
    channelsFirstBitsWasm(src.byteOffset + 4 * mo, dst.byteOffset, 1, n, d, wordsFor(n), stage.byteOffset);
  } else {
    transposeBits(src.subarray(mo, mo + n * wordsFor(d)), 1, n, d, dst);
  }
}

/**
 * dst[off + i] = src[i] · scale, rounded once to dst's type; by the WASM twin for a heap dst (src is this
 * thread's scratch, float64 or float32): the JS loop took about 1.4 ns a value, 17.5 ms of a one-thread CIFAR b8
 * step (6,144 heads of 2,048 values), the twin 4.1 ms.
 */
function scaleInto(src: FloatArray, scale: number, dst: FloatArray, block: { at: number; stride: number }, rows: number, cols: number): void {
  const { at, stride } = block;
  if (wasmKernelsEnabled() && inHeap(dst)) {
    scaleF64Wasm(src, 0, dst, at, rows, cols, stride, scale);
    return;
  }
  for (let r = 0; r < rows; r++) {
    for (let j = 0, o = at + r * stride, i = r * cols; j < cols; j++) dst[o + j] = src[i + j]! * scale;
  }
}

/**
 * Head b's gradient rows as one contiguous N x d block: g itself where the heads are blocks (at their
 * offset), else copied (in the values' type, so the same values) into this thread's `stage`.
 */
function gradBlock(g: FloatArray, dims: SsaDims, b: number, stage: FloatArray): [FloatArray, number] {
  const { n, d } = dims;
  const { at, stride } = floatBlock(dims, b);
  if (stride === d) return [g, at];
  if (wasmKernelsEnabled() && inHeap(g) && inHeap(stage)) {
    copyWasmCall(g instanceof Float64Array, g.byteOffset + at * g.BYTES_PER_ELEMENT, stage.byteOffset, n, d, stride, d, 1, 1);
  } else {
    for (let r = 0; r < n; r++) stage.set(g.subarray(at + r * stride, at + r * stride + d), r * d);
  }
  return [stage, 0];
}

/** Forward of heads b0..b1-1: out[b] = Q_b K_bᵀ V_b · scale. Words and out index from head 0. */
export function ssaForwardRange(q: Uint32Array, k: Uint32Array, v: Uint32Array, out: FloatArray, dims: SsaDims, b0: number, b1: number): void {
  const { n, d, order, scale } = dims;
  const wpr = wordsFor(d), wpn = wordsFor(n), matWords = n * wpr, matFloats = n * d;
  if (order === "qk_v") {
    const { f: [tmp, a] } = carve([matFloats, n * n], []);
    for (let b = b0; b < b1; b++) {
      const mo = b * matWords;
      andPopcountGemm(q, mo, k, mo, a!, 0, n, n, wpr);
      countsTimesSpikes(a!, 0, v, mo, wpr, tmp!, 0, n, n, d, false);
      scaleInto(tmp!, scale, out, floatBlock(dims, b), n, d);
    }
  } else {
    const { f: [tmp64, kv64], u: [kt, vt, ts] } = carve([matFloats, d * d], [d * wpn, d * wpn, TRANSPOSE_STAGE]);
    // Every value before the scaling is an integer of at most n d (Kᵀ V's counts are at most n, a row of Q adds at
    // most d of them): up to 2^24 float32 holds them exactly, so the products and the gather run in float32 (four
    // lanes a vector, not two) on the same values, and the scaling reads them exactly widened: the same bits. The
    // op on one CIFAR b8 block's 384 heads (rate 0.15, one thread): 2.77-3.00 -> 2.33-2.47 ms a call (five
    // alternating runs of 200 calls each way).
    const narrow = n * d <= 2 ** 24;
    const kv = narrow ? new Float32Array(kv64!.buffer, kv64!.byteOffset, d * d) : kv64!;
    const tmp = narrow ? new Float32Array(tmp64!.buffer, tmp64!.byteOffset, matFloats) : tmp64!;
    for (let b = b0; b < b1; b++) {
      const mo = b * matWords;
      transposeHead(k, mo, n, d, kt!, ts!);
      transposeHead(v, mo, n, d, vt!, ts!);
      andPopcountGemm(kt!, 0, vt!, 0, kv, 0, d, d, wpn);
      spikeGatherAdd(q, mo, wpr, kv, 0, tmp, 0, n, d, false);
      scaleInto(tmp, scale, out, floatBlock(dims, b), n, d);
    }
  }
}

/**
 * Backward of heads b0..b1-1 (g = dL/dout): dQ = s g Vᵀ K, dK = s V gᵀ Q,
 * dV = s K Qᵀ g, in the forward's association order. A null gradient is not computed.
 */
export function ssaBackwardRange(
  q: Uint32Array, k: Uint32Array, v: Uint32Array, g: FloatArray,
  gq: FloatArray | null, gk: FloatArray | null, gv: FloatArray | null, dims: SsaDims, b0: number, b1: number,
): void {
  const { n, d, order, scale } = dims;
  const wpr = wordsFor(d), wpn = wordsFor(n), matWords = n * wpr, matFloats = n * d;
  // A head's gradient block is staged (see gradBlock) only when heads share rows.
  const staged = (dims.rowHeads ?? 1) > 1 ? matFloats * (g instanceof Float64Array ? 2 : 1) : 0;
  const stageOf = (u: Uint32Array): FloatArray =>
    g instanceof Float64Array ? new Float64Array(u.buffer, u.byteOffset, staged / 2) : new Float32Array(u.buffer, u.byteOffset, staged);
  if (order === "q_kv") {
    const { f: [tmp, kv, p, pt], u: [kt, vt, su, ts] } = carve([matFloats, d * d, d * d, d * d], [d * wpn, d * wpn, staged, TRANSPOSE_STAGE]);
    const stage = stageOf(su!);
    // dQ's product by the WASM twin (./wasm.ts) on float32 heap arrays: the same bits as gemm + scaleInto.
    const dqWasm = wasmKernelsEnabled() && g instanceof Float32Array && gq instanceof Float32Array && inHeap(g) && inHeap(gq);
    for (let b = b0; b < b1; b++) {
      const mo = b * matWords, out = floatBlock(dims, b);
      const [gb, go] = gradBlock(g, dims, b, stage);
      if (gq) {
        // dQ = s g (Kᵀ V)ᵀ = s g (Vᵀ K)
        transposeHead(k, mo, n, d, kt!, ts!);
        transposeHead(v, mo, n, d, vt!, ts!);
        andPopcountGemm(vt!, 0, kt!, 0, kv!, 0, d, d, wpn);
        if (dqWasm) rowsTimesF64Wasm(gb as Float32Array, go, kv!, 0, gq as Float32Array, out.at, out.stride, n, d, d, scale);
        else {
          gemm(gb, go, false, kv!, 0, false, tmp!, 0, n, d, d, false);
          scaleInto(tmp!, scale, gq, out, n, d);
        }
      }
      if (gk || gv) {
        // P = Qᵀ g (d x d); dV = s K P, dK = s V Pᵀ
        p!.fill(0);
        spikeScatterRows(q, mo, wpr, gb, go, p!, 0, n, d);
        if (gv) {
          spikeGatherAdd(k, mo, wpr, p!, 0, tmp!, 0, n, d, false);
          scaleInto(tmp!, scale, gv, out, n, d);
        }
        if (gk) {
          transpose(p!, 0, d, d, pt!, 0);
          spikeGatherAdd(v, mo, wpr, pt!, 0, tmp!, 0, n, d, false);
          scaleInto(tmp!, scale, gk, out, n, d);
        }
      }
    }
  } else {
    const { f: [tmp, a, at, mm, mt], u: [su] } = carve([matFloats, n * n, n * n, n * n, n * n], [staged]);
    const stage = stageOf(su!);
    for (let b = b0; b < b1; b++) {
      const mo = b * matWords, out = floatBlock(dims, b);
      const [gb, go] = gradBlock(g, dims, b, stage);
      if (gv) {
        // dV = s (Q Kᵀ)ᵀ g, skipping the zeros of the integer map
        andPopcountGemm(q, mo, k, mo, a!, 0, n, n, wpr);
        transpose(a!, 0, n, n, at!, 0);
        countsGatherAdd(at!, 0, gb, go, tmp!, 0, n, n, d, false);
        scaleInto(tmp!, scale, gv, out, n, d);
      }
      if (gq || gk) {
        // M = g Vᵀ (N x N); dQ = s M K, dK = s Mᵀ Q
        floatTimesSpikesT(gb, go, v, mo, wpr, mm!, 0, n, d, n);
        if (gq) {
          countsTimesSpikes(mm!, 0, k, mo, wpr, tmp!, 0, n, n, d, false);
          scaleInto(tmp!, scale, gq, out, n, d);
        }
        if (gk) {
          transpose(mm!, 0, n, n, mt!, 0);
          countsTimesSpikes(mt!, 0, q, mo, wpr, tmp!, 0, n, n, d, false);
          scaleInto(tmp!, scale, gk, out, n, d);
        }
      }
    }
  }
}
