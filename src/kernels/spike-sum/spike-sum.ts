/**
 * Reference kernels for products with a spike (bit) operand. Bits are packed
 * LSB-first along rows, rows word-aligned, pad bits zero (see bits.ts).
 *
 * Summation-order contract (the same two families as gemm.ts), for the
 * gather / scatter-add kernels (spikeGatherAdd*, countsGatherAdd*, the
 * scatters and their references): every float output element starts at +0
 * (or at its current value where the kernel accumulates) and adds its terms
 * in increasing order of the summed index, where
 *
 * - float32 family, when the float operands (source, destination and, for
 *   counts, the counts) are ALL Float32Array: acc = f32(acc + term), term =
 *   the source value (spikes) or f32(v * src) (counts v), each rounded to
 *   nearest even (Math.fround per op; f32x4 in WASM);
 * - float64 family otherwise: a float64 accumulator, rounded to the
 *   destination type once at the end.
 *
 * Zero terms are skipped. That never changes the sum: a skipped term is ±0
 * (f32(0 w) or 0 w), and an accumulator that starts at +0 can never become -0
 * by round-to-nearest additions (x + -x = +0), so adding ±0 to it is the
 * identity. So each kernel equals `gemm` on the same 0/1 (or counts) values
 * bit for bit in either family, while its work follows the set bits. (With
 * `accumulate` onto a -0 the skipped +0 terms would matter; the ops never
 * accumulate.) countsTimesSpikes and floatTimesSpikesT keep float64 sums.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { ctz32 } from "../../tensor/bits.js";
import { emptyProductDone, float32Family } from "../gemm/gemm.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { heapPtr } from "../../wasm/runtime.js";
import {
  align16, builtSourceBytes, countsBucketsRun, spikeBucketsRun, spikeColumnBucketsRun, dstBytes, dstDone, dstPtr, panelsOr, PANEL_ENTRY, ROW_TILE,
  SPIKE_SUM_MIN_OUT, spikeSumRun, spikeSumScratch, stageBytes, usePanels,
} from "./wasm.js";
import { heapF32, heapF64, heapI32, inHeap } from "../../tensor/heap.js";
import { unitRange, type UnitRanges } from "../../parallel/claims.js";
import { transposedCopy } from "../transpose/transpose.js";
import { transposeWasmCall } from "../transpose/wasm.js";
import { addChannelBiasRange } from "../bias/bias.js";

// One float64 row accumulator, grown on demand and reused (no allocation per call).
let rowAcc = new Float64Array(0);
function accRow(n: number): Float64Array {
  if (rowAcc.length < n) rowAcc = new Float64Array(Math.max(n, rowAcc.length * 2));
  return rowAcc;
}

// The float32 family's row accumulator: a store rounds to float32, which is the f32(acc + term) of the contract.
let rowAcc32 = new Float32Array(0);
function accRow32(n: number): Float32Array {
  if (rowAcc32.length < n) rowAcc32 = new Float32Array(Math.max(n, rowAcc32.length * 2));
  return rowAcc32;
}

const fr = Math.fround;


let idxBuf = new Int32Array(0);
function idxRow(n: number): Int32Array {
  if (idxBuf.length < n) idxBuf = new Int32Array(Math.max(n, idxBuf.length * 2));
  return idxBuf;
}

let valBuf = new Float64Array(0);
function valRow(n: number): Float64Array {
  if (valBuf.length < n) valBuf = new Float64Array(Math.max(n, valBuf.length * 2));
  return valBuf;
}

/**
 * Spikes [m, k] times dense W [k, n]: C[i, :] (+)= sum over the set bits p of
 * row i of W[p, :]. `s` holds m rows of `wpr` words from `sOff`. Equals
 * gemm(S, W) on the 0/1 values bit for bit (in either family, see the file
 * comment); cost m·nnz-per-row·n adds.
 * (For linear, pass Wᵀ = weight transposed to [in, out], or the weight itself
 * with `outInK` = in: `w` then holds [n, outInK], Linear's [out, in] layout.)
 * `bias` [n] (not with `accumulate`): C[i, :] = that sum + bias, the bias
 * added to each row in C's type once its terms are summed (the float32 WASM
 * sums add it in their last pass over a row, the others after them).
 * `rows`: the ranges of C's m rows this call computes (a thread's claims; all by default).
 */
export function spikeGatherAdd(
  s: Uint32Array, sOff: number, wpr: number,
  w: FloatArray, wOff: number,
  c: FloatArray, cOff: number,
  m: number, n: number,
  accumulate: boolean, outInK = 0, bias: FloatArray | null = null, rows: UnitRanges = unitRange(0, m),
): void {
  checkBias("spikeGatherAdd", bias, n, accumulate);
  if (m * n >= SPIKE_SUM_MIN_OUT && wasmKernelsEnabled()) spikeGatherAddWasm(s, sOff, wpr, w, wOff, c, cOff, m, n, accumulate, outInK, bias, rows);
  else {
    // The JS twin reads Wᵀ: transposed here once, not once a claimed range.
    const wt = outInK > 0 ? transposedCopy(w, wOff, n, outInK) : w, wtOff = outInK > 0 ? 0 : wOff;
    rows((r0, r1) => {
      spikeGatherAddJs(s, sOff + r0 * wpr, wpr, wt, wtOff, c, cOff + r0 * n, r1 - r0, n, accumulate);
      addBiasRows(c, cOff + r0 * n, r1 - r0, n, bias);
    });
  }
}

/** A gather's bias must be n long and cannot go with an accumulated C (it is a fresh output's). */
function checkBias(op: string, bias: FloatArray | null, n: number, accumulate: boolean): void {
  if (bias === null) return;
  if (accumulate) throw new Error(`${op}: a bias needs accumulate = false`);
  if (bias.length < n) throw new Error(`${op}: the bias has ${bias.length} values for ${n} output columns`);
}

/** C's m rows of n from cOff += bias, in C's type (a gather's bias where its sums did not add it). */
function addBiasRows(c: FloatArray, cOff: number, m: number, n: number, bias: FloatArray | null): void {
  if (bias !== null && m > 0 && n > 0) addChannelBiasRange(c.subarray(cOff, cOff + m * n), bias, m, n, 1, 0, m);
}

/** Whether a WASM gather's float32 sums add `bias` themselves: C of the float32 family, a float32 heap bias. */
function fusedBias(bias: FloatArray | null, fam32: boolean): bias is Float32Array {
  return bias !== null && fam32 && bias instanceof Float32Array && inHeap(bias);
}

/** The plain-TypeScript twin of {@link spikeGatherAdd}, whatever the kernel backend. */
export function spikeGatherAddJs(
  s: Uint32Array, sOff: number, wpr: number,
  w: FloatArray, wOff: number,
  c: FloatArray, cOff: number,
  m: number, n: number,
  accumulate: boolean, outInK = 0,
): void {
  if (outInK > 0) {
    spikeGatherAddJs(s, sOff, wpr, transposedCopy(w, wOff, n, outInK), 0, c, cOff, m, n, accumulate);
    return;
  }
  const f32 = float32Family(w, c);
  const acc = f32 ? accRow32(n) : accRow(n);
  const idx = idxRow(wpr * 32);
  for (let i = 0; i < m; i++) {
    const ci = cOff + i * n;
    if (accumulate) for (let j = 0; j < n; j++) acc[j] = c[ci + j]!;
    else acc.fill(0, 0, n);
    // Row offsets of the weight rows of the set bits, in increasing order.
    const si = sOff + i * wpr;
    let cnt = 0;
    for (let q = 0; q < wpr; q++) {
      let x = s[si + q]!;
      while (x !== 0) {
        idx[cnt++] = wOff + ((q << 5) + ctz32(x)) * n;
        x &= x - 1;
      }
    }
    // Four rows per pass: the additions stay in order ((acc + w0) + w1) + ...,
    // but acc is loaded and stored once per four rows.
    let t = 0;
    if (f32) {
      for (; t + 4 <= cnt; t += 4) {
        const w0 = idx[t]!, w1 = idx[t + 1]!, w2 = idx[t + 2]!, w3 = idx[t + 3]!;
        for (let j = 0; j < n; j++) acc[j] = fr(fr(fr(acc[j]! + w[w0 + j]!) + w[w1 + j]!) + w[w2 + j]!) + w[w3 + j]!;
      }
    }
    for (; t + 4 <= cnt; t += 4) {
      const w0 = idx[t]!, w1 = idx[t + 1]!, w2 = idx[t + 2]!, w3 = idx[t + 3]!;
      for (let j = 0; j < n; j++) acc[j] = acc[j]! + w[w0 + j]! + w[w1 + j]! + w[w2 + j]! + w[w3 + j]!;
    }
    for (; t < cnt; t++) {
      const wp = idx[t]!;
      for (let j = 0; j < n; j++) acc[j] += w[wp + j]!;
    }
    for (let j = 0; j < n; j++) c[ci + j] = acc[j]!;
  }
}

/**
 * Nonzero share of a counts input from which its forward runs as a dense gemm (the same bits for
 * finite W). Bucket gathers against the gemm, one thread, Spikformer shapes (2048 x 384 -> 384 / 1536,
 * 12544 x 128 -> 128 / 512): 0.25-0.57x the gemm's time at density 0.1, 0.61-0.87x at 0.3, 0.77-0.99x at
 * 0.4 (1.09x on two threads for 128 -> 128).
 */
export const COUNTS_DENSE_FORWARD = 0.4;

/**
 * Nonzero share of a counts input from which its weight gradient runs as a dense gemm. The column
 * scatter in row blocks with the WASM column scan, same shapes, one thread: 0.26-0.48x the gemm's time
 * at density 0.1, 0.52-0.79x at 0.27, 0.80-1.03x at 0.45, 0.95-1.18x at 0.55.
 */
export const COUNTS_DENSE_GRAD = 0.45;

/**
 * Dense counts X [m, k] times W [k, n], skipping zeros of X: C[i, :] (+)=
 * sum over p with X[i, p] != 0 of X[i, p] W[p, :]. For the Spikformer residual
 * stream (small integers, mostly 0). Equals gemm bit for bit (in either
 * family, see the file comment). `outIn`: `w` holds the weight as Linear
 * stores it, [n, k] (see {@link spikeGatherAdd}, also for `bias` and `rows`).
 */
export function countsGatherAdd(
  x: FloatArray, xOff: number,
  w: FloatArray, wOff: number,
  c: FloatArray, cOff: number,
  m: number, k: number, n: number,
  accumulate: boolean, outIn = false, bias: FloatArray | null = null, rows: UnitRanges = unitRange(0, m),
): void {
  checkBias("countsGatherAdd", bias, n, accumulate);
  if (m * n >= SPIKE_SUM_MIN_OUT && wasmKernelsEnabled()) countsGatherAddWasm(x, xOff, w, wOff, c, cOff, m, k, n, accumulate, outIn, bias, rows);
  else {
    const wt = outIn ? transposedCopy(w, wOff, n, k) : w, wtOff = outIn ? 0 : wOff; // as in spikeGatherAdd
    rows((r0, r1) => {
      countsGatherAddJs(x, xOff + r0 * k, wt, wtOff, c, cOff + r0 * n, r1 - r0, k, n, accumulate);
      addBiasRows(c, cOff + r0 * n, r1 - r0, n, bias);
    });
  }
}

/** The plain-TypeScript twin of {@link countsGatherAdd}, whatever the kernel backend. */
export function countsGatherAddJs(
  x: FloatArray, xOff: number,
  w: FloatArray, wOff: number,
  c: FloatArray, cOff: number,
  m: number, k: number, n: number,
  accumulate: boolean, outIn = false,
): void {
  if (outIn) {
    countsGatherAddJs(x, xOff, transposedCopy(w, wOff, n, k), 0, c, cOff, m, k, n, accumulate);
    return;
  }
  const f32 = float32Family(x, w, c);
  const acc = f32 ? accRow32(n) : accRow(n);
  const idx = idxRow(k);
  const val = valRow(k);
  for (let i = 0; i < m; i++) {
    const ci = cOff + i * n;
    if (accumulate) for (let j = 0; j < n; j++) acc[j] = c[ci + j]!;
    else acc.fill(0, 0, n);
    const xi = xOff + i * k;
    let cnt = 0;
    for (let p = 0; p < k; p++) {
      const v = x[xi + p]!;
      if (v === 0) continue;
      idx[cnt] = wOff + p * n;
      val[cnt++] = v;
    }
    // Four nonzeros per pass, additions in order (see spikeGatherAdd).
    let t = 0;
    if (f32) {
      // acc is a Float32Array: each store rounds the sum; products rounded by fr.
      for (; t + 4 <= cnt; t += 4) {
        const w0 = idx[t]!, w1 = idx[t + 1]!, w2 = idx[t + 2]!, w3 = idx[t + 3]!;
        const v0 = val[t]!, v1 = val[t + 1]!, v2 = val[t + 2]!, v3 = val[t + 3]!;
        for (let j = 0; j < n; j++) {
          acc[j] = fr(fr(fr(acc[j]! + fr(v0 * w[w0 + j]!)) + fr(v1 * w[w1 + j]!)) + fr(v2 * w[w2 + j]!)) + fr(v3 * w[w3 + j]!);
        }
      }
      for (; t < cnt; t++) {
        const wp = idx[t]!;
        const v = val[t]!;
        for (let j = 0; j < n; j++) acc[j] = acc[j]! + fr(v * w[wp + j]!);
      }
    }
    for (; t + 4 <= cnt; t += 4) {
      const w0 = idx[t]!, w1 = idx[t + 1]!, w2 = idx[t + 2]!, w3 = idx[t + 3]!;
      const v0 = val[t]!, v1 = val[t + 1]!, v2 = val[t + 2]!, v3 = val[t + 3]!;
      for (let j = 0; j < n; j++) acc[j] = acc[j]! + v0 * w[w0 + j]! + v1 * w[w1 + j]! + v2 * w[w2 + j]! + v3 * w[w3 + j]!;
    }
    for (; t < cnt; t++) {
      const wp = idx[t]!;
      const v = val[t]!;
      for (let j = 0; j < n; j++) acc[j] += v * w[wp + j]!;
    }
    for (let j = 0; j < n; j++) c[ci + j] = acc[j]!;
  }
}

/**
 * Dense X [m, k] times spikes B [k, n] (B packed along n, `wpr` words a row):
 * C[i, j] (+)= sum over p with X[i, p] != 0 and B[p, j] = 1 of X[i, p].
 * Used for (Q Kᵀ) V and for float-times-spikes in SSA backward. Equals gemm.
 */
export function countsTimesSpikes(
  x: FloatArray, xOff: number,
  b: Uint32Array, bOff: number, wpr: number,
  c: FloatArray, cOff: number,
  m: number, k: number, n: number,
  accumulate: boolean,
): void {
  const acc = accRow(n);
  for (let i = 0; i < m; i++) {
    const ci = cOff + i * n;
    if (accumulate) for (let j = 0; j < n; j++) acc[j] = c[ci + j]!;
    else acc.fill(0, 0, n);
    const xi = xOff + i * k;
    for (let p = 0; p < k; p++) {
      const v = x[xi + p]!;
      if (v === 0) continue;
      const bp = bOff + p * wpr;
      for (let q = 0; q < wpr; q++) {
        let bits = b[bp + q]!;
        while (bits !== 0) {
          acc[(q << 5) + ctz32(bits)] += v;
          bits &= bits - 1;
        }
      }
    }
    for (let j = 0; j < n; j++) c[ci + j] = acc[j]!;
  }
}

/**
 * Dense X [m, k] times the transpose of spikes B [n, k] (B packed along k):
 * C[i, j] = sum over the set bits p of B row j of X[i, p]. Equals gemm(X, Bᵀ).
 */
export function floatTimesSpikesT(
  x: FloatArray, xOff: number,
  b: Uint32Array, bOff: number, wpr: number,
  c: FloatArray, cOff: number,
  m: number, k: number, n: number,
): void {
  for (let i = 0; i < m; i++) {
    const xi = xOff + i * k;
    const ci = cOff + i * n;
    for (let j = 0; j < n; j++) {
      const bj = bOff + j * wpr;
      let acc = 0;
      for (let q = 0; q < wpr; q++) {
        let bits = b[bj + q]!;
        while (bits !== 0) {
          acc += x[xi + (q << 5) + ctz32(bits)]!;
          bits &= bits - 1;
        }
      }
      c[ci + j] = acc;
    }
  }
}

/**
 * Sᵀ G accumulated: for each row i of spikes S [m, k] (in order) and each set
 * bit p, acc[p, :] += G[i, :] (G [m, n]). The weight gradient of an
 * event-driven linear (dWᵀ = Sᵀ g): float32 adds when G and acc are both
 * float32, else float64 adds (give a float64 acc and round once).
 */
export function spikeScatterRowsReference(
  s: Uint32Array, sOff: number, wpr: number,
  g: FloatArray, gOff: number,
  acc: FloatArray, accOff: number,
  m: number, n: number,
): void {
  // A float32 acc rounds each stored sum; a float64 acc with float32 G is the float64 family.
  for (let i = 0; i < m; i++) {
    const si = sOff + i * wpr;
    const gi = gOff + i * n;
    for (let q = 0; q < wpr; q++) {
      let x = s[si + q]!;
      while (x !== 0) {
        const ap = accOff + ((q << 5) + ctz32(x)) * n;
        x &= x - 1;
        for (let j = 0; j < n; j++) acc[ap + j] += g[gi + j]!;
      }
    }
  }
}

/**
 * Xᵀ G accumulated, skipping zeros of X [m, k]: acc[p, :] += X[i, p] G[i, :]
 * for rows i in order. The weight gradient of a counts linear.
 */
export function countsScatterRowsReference(
  x: FloatArray, xOff: number,
  g: FloatArray, gOff: number,
  acc: FloatArray, accOff: number,
  m: number, k: number, n: number,
): void {
  const f32 = float32Family(x, g, acc);
  for (let i = 0; i < m; i++) {
    const xi = xOff + i * k;
    const gi = gOff + i * n;
    for (let p = 0; p < k; p++) {
      const v = x[xi + p]!;
      if (v === 0) continue;
      const ap = accOff + p * n;
      if (f32) for (let j = 0; j < n; j++) acc[ap + j] = fr(acc[ap + j]! + fr(v * g[gi + j]!));
      else for (let j = 0; j < n; j++) acc[ap + j] += v * g[gi + j]!;
    }
  }
}

// Column buckets of a sparse matrix (counting sort by column): for column p,
// entries colStart[p] .. colStart[p + 1] - 1 of colRow (row offsets into G)
// and colVal (the values), in increasing row order. Each pass over the matrix
// is a function of its own: V8 compiles a long loop on its first call
// (on-stack replacement) before the code after it has run, and a function
// whose later loops had no type feedback then bails out on every call.
let colStart = new Int32Array(0);
let colRow = new Int32Array(0);
let colVal = new Float64Array(0);

/** Zeroes colStart[0..k] (grown as needed): the per-column counts go to colStart[p + 1]. */
function colStarts(k: number): Int32Array {
  if (colStart.length < k + 1) colStart = new Int32Array(k + 1);
  colStart.fill(0, 0, k + 1);
  return colStart;
}

/**
 * Turns the counts in colStart[1..k] into bucket starts, makes room for the
 * entries and returns their number (nnz); the fill then uses colStart[p] as
 * the cursor of bucket p, and {@link colCursorsBack} restores the starts.
 */
function colPrefix(k: number): number {
  const start = colStart;
  for (let p = 0; p < k; p++) start[p + 1]! += start[p]!;
  const nnz = start[k]!;
  if (colRow.length < nnz) {
    colRow = new Int32Array(Math.max(nnz, colRow.length * 2));
    colVal = new Float64Array(colRow.length);
  }
  return nnz;
}

/** After the fill each cursor colStart[p] sits at the old colStart[p + 1]: shifts them back to the starts. */
function colCursorsBack(k: number): void {
  const start = colStart;
  for (let p = k; p > 0; p--) start[p] = start[p - 1]!;
  start[0] = 0;
}

/** colStart[p + 1] += the set bits of column p (spike words q0..q1-1 of each row). */
function countSpikeColumns(s: Uint32Array, sOff: number, wpr: number, q0: number, q1: number, m: number, start: Int32Array): void {
  for (let i = 0; i < m; i++) {
    const si = sOff + i * wpr;
    for (let q = q0; q < q1; q++) {
      let x = s[si + q]!;
      while (x !== 0) {
        start[((q - q0) << 5) + ctz32(x) + 1]!++;
        x &= x - 1;
      }
    }
  }
}

/** Appends G row offset gOff + i n to the bucket of each set bit of row i, rows in order (colStart as cursors). */
function fillSpikeColumns(s: Uint32Array, sOff: number, wpr: number, q0: number, q1: number, m: number, gOff: number, n: number, start: Int32Array, rowOf: Int32Array): void {
  for (let i = 0; i < m; i++) {
    const si = sOff + i * wpr;
    const gi = gOff + i * n;
    for (let q = q0; q < q1; q++) {
      let x = s[si + q]!;
      while (x !== 0) {
        rowOf[start[((q - q0) << 5) + ctz32(x)]!++] = gi;
        x &= x - 1;
      }
    }
  }
}

/** colStart[p - p0 + 1] += the nonzeros of column p of X [m, k], for p in p0..p1-1. */
function countColumns(x: FloatArray, xOff: number, k: number, p0: number, p1: number, m: number, start: Int32Array): void {
  for (let i = 0; i < m; i++) {
    const xi = xOff + i * k;
    for (let p = p0; p < p1; p++) if (x[xi + p] !== 0) start[p - p0 + 1]!++;
  }
}

/** Appends (G row offset gOff + i n, X[i, p]) to the bucket of each nonzero, rows in order (colStart as cursors). */
function fillColumns(
  x: FloatArray, xOff: number, k: number, p0: number, p1: number, m: number, gOff: number, n: number, start: Int32Array, rowOf: Int32Array, val: Float64Array,
): void {
  for (let i = 0; i < m; i++) {
    const xi = xOff + i * k;
    const gi = gOff + i * n;
    for (let p = p0; p < p1; p++) {
      const v = x[xi + p]!;
      if (v === 0) continue;
      const t = start[p - p0]!++;
      rowOf[t] = gi;
      val[t] = v;
    }
  }
}

/**
 * acc[p, :] = acc[p, :] + sum over the bucket of p of colVal * G[row, :]
 * (or G[row, :] alone when `ones`), in bucket order, eight / four rows per
 * pass: the same additions in the same order as one row at a time. In the
 * float32 family (G, acc and the values float32) every add and product is
 * rounded to float32.
 */
function sumColumnBuckets(k: number, g: FloatArray, acc: FloatArray, accOff: number, n: number, ones: boolean, f32: boolean): void {
  const start = colStart;
  const rowOf = colRow;
  const val = colVal;
  for (let p = 0; p < k; p++) {
    const e = start[p + 1]!;
    let t = start[p]!;
    if (t === e) continue;
    const ap = accOff + p * n;
    if (f32 && ones) {
      // acc is float32 here: the last fround of each pass is its store.
      for (; t + 4 <= e; t += 4) {
        const r0 = rowOf[t]!, r1 = rowOf[t + 1]!, r2 = rowOf[t + 2]!, r3 = rowOf[t + 3]!;
        for (let j = 0; j < n; j++) acc[ap + j] = fr(fr(fr(acc[ap + j]! + g[r0 + j]!) + g[r1 + j]!) + g[r2 + j]!) + g[r3 + j]!;
      }
      for (; t < e; t++) {
        const r0 = rowOf[t]!;
        for (let j = 0; j < n; j++) acc[ap + j] = acc[ap + j]! + g[r0 + j]!;
      }
    } else if (f32) {
      for (; t + 4 <= e; t += 4) {
        const r0 = rowOf[t]!, r1 = rowOf[t + 1]!, r2 = rowOf[t + 2]!, r3 = rowOf[t + 3]!;
        const v0 = val[t]!, v1 = val[t + 1]!, v2 = val[t + 2]!, v3 = val[t + 3]!;
        for (let j = 0; j < n; j++) {
          acc[ap + j] = fr(fr(fr(acc[ap + j]! + fr(v0 * g[r0 + j]!)) + fr(v1 * g[r1 + j]!)) + fr(v2 * g[r2 + j]!)) + fr(v3 * g[r3 + j]!);
        }
      }
      for (; t < e; t++) {
        const r0 = rowOf[t]!;
        const v = val[t]!;
        for (let j = 0; j < n; j++) acc[ap + j] = acc[ap + j]! + fr(v * g[r0 + j]!);
      }
    } else if (ones) {
      for (; t + 8 <= e; t += 8) {
        const r0 = rowOf[t]!, r1 = rowOf[t + 1]!, r2 = rowOf[t + 2]!, r3 = rowOf[t + 3]!;
        const r4 = rowOf[t + 4]!, r5 = rowOf[t + 5]!, r6 = rowOf[t + 6]!, r7 = rowOf[t + 7]!;
        for (let j = 0; j < n; j++) {
          acc[ap + j] = acc[ap + j]! + g[r0 + j]! + g[r1 + j]! + g[r2 + j]! + g[r3 + j]! + g[r4 + j]! + g[r5 + j]! + g[r6 + j]! + g[r7 + j]!;
        }
      }
      for (; t < e; t++) {
        const r0 = rowOf[t]!;
        for (let j = 0; j < n; j++) acc[ap + j] += g[r0 + j]!;
      }
    } else {
      for (; t + 4 <= e; t += 4) {
        const r0 = rowOf[t]!, r1 = rowOf[t + 1]!, r2 = rowOf[t + 2]!, r3 = rowOf[t + 3]!;
        const v0 = val[t]!, v1 = val[t + 1]!, v2 = val[t + 2]!, v3 = val[t + 3]!;
        for (let j = 0; j < n; j++) acc[ap + j] = acc[ap + j]! + v0 * g[r0 + j]! + v1 * g[r1 + j]! + v2 * g[r2 + j]! + v3 * g[r3 + j]!;
      }
      for (; t < e; t++) {
        const r0 = rowOf[t]!;
        const v = val[t]!;
        for (let j = 0; j < n; j++) acc[ap + j] += v * g[r0 + j]!;
      }
    }
  }
}

/**
 * Sᵀ G accumulated: for each row i of spikes S [m, k] (in order) and each set
 * bit p, acc[p, :] += G[i, :] (G [m, n]). The weight gradient of an
 * event-driven linear (dWᵀ = Sᵀ g), in the float32 family when G and acc are
 * float32, else in float64 (a float64 acc, rounded by the caller). Bit-equal to {@link spikeScatterRowsReference}: the set bits are sorted by
 * column first, then each acc row sums its G rows in row order.
 */
export function spikeScatterRows(
  s: Uint32Array, sOff: number, wpr: number,
  g: FloatArray, gOff: number,
  acc: FloatArray, accOff: number,
  m: number, n: number,
): void {
  spikeScatterRowsWords(s, sOff, wpr, 0, wpr, g, gOff, acc, accOff, m, n);
}

/**
 * {@link spikeScatterRows} restricted to the columns of spike words q0..q1-1
 * (acc rows 32 q0 .. 32 q1 - 1, at most k): each of those acc rows gets the
 * same additions in the same order as in the whole call, so disjoint word
 * ranges (on any threads) give the whole result. The rows of S and G go in
 * blocks of SCATTER_BLOCK_ROWS, in order (the same additions, the same order).
 */
export function spikeScatterRowsWords(
  s: Uint32Array, sOff: number, wpr: number, q0: number, q1: number,
  g: FloatArray, gOff: number,
  acc: FloatArray, accOff: number,
  m: number, n: number, sum: SumBackend = "auto",
): void {
  const k = (q1 - q0) * 32; // pad bits are zero, so their buckets stay empty
  const fam32 = scatterFamily32(acc, g);
  if (k > 0 && n > 0 && fam32 && inHeap(s) && (sum === "wasm" || (sum === "auto" && m * k * n >= SPIKE_SUM_MIN_OUT * 16 && wasmKernelsEnabled()))) {
    spikeScatterRowsWordsWasm(s, sOff, wpr, q0, q1, g, gOff, acc, accOff, m, n);
    return;
  }
  // Rows in blocks, as the counts scatter (SCATTER_BLOCK_ROWS): a bucket's entries then reach only its block's
  // rows of G. One thread, density 0.15, whole vs blocks of 128: 2048 x 1536 -> 384 17.7 -> 13.9 ms,
  // 384 -> 384 5.9 -> 4.9 ms, 384 -> 1536 50.3 -> 20.6 ms, 12544 x 128 -> 128 7.9 -> 5.9 ms.
  const mb = SCATTER_BLOCK_ROWS;
  for (let r0 = 0; r0 < m; r0 += mb) {
    const nb = Math.min(mb, m - r0);
    countSpikeColumns(s, sOff + r0 * wpr, wpr, q0, q1, nb, colStarts(k));
    const nnz = colPrefix(k);
    fillSpikeColumns(s, sOff + r0 * wpr, wpr, q0, q1, nb, gOff + r0 * n, n, colStart, colRow);
    colCursorsBack(k);
    sumColumns(k, nnz, g, gOff, m, acc, accOff + q0 * 32 * n, n, true, fam32, sum);
  }
}

/**
 * Xᵀ G accumulated, skipping zeros of X [m, k]: acc[p, :] += X[i, p] G[i, :]
 * for rows i in order. The weight gradient of a counts linear. Bit-equal to
 * {@link countsScatterRowsReference} (nonzeros sorted by column first).
 */
export function countsScatterRows(
  x: FloatArray, xOff: number,
  g: FloatArray, gOff: number,
  acc: FloatArray, accOff: number,
  m: number, k: number, n: number,
): void {
  countsScatterRowsCols(x, xOff, g, gOff, acc, accOff, m, k, 0, k, n);
}

/**
 * {@link countsScatterRows} restricted to columns p0..p1-1 of x (acc rows
 * p0..p1-1): each of those rows gets the same additions in the same order as
 * in the whole call, so disjoint column ranges (on any threads) give the
 * whole result.
 */
export function countsScatterRowsCols(
  x: FloatArray, xOff: number,
  g: FloatArray, gOff: number,
  acc: FloatArray, accOff: number,
  m: number, k: number, p0: number, p1: number, n: number, sum: SumBackend = "auto",
): void {
  const kc = p1 - p0;
  if (kc > 0 && n > 0 && x instanceof Float32Array && inHeap(x) && scatterFamily32(acc, g, x)
    && (sum === "wasm" || (sum === "auto" && m * kc * n >= SPIKE_SUM_MIN_OUT * 16 && wasmKernelsEnabled()))) {
    countsScatterRowsColsWasm(x, xOff, g, gOff, acc, accOff, m, k, p0, p1, n);
    return;
  }
  countColumns(x, xOff, k, p0, p1, m, colStarts(kc));
  const nnz = colPrefix(kc);
  fillColumns(x, xOff, k, p0, p1, m, gOff, n, colStart, colRow, colVal);
  colCursorsBack(kc);
  sumColumns(kc, nnz, g, gOff, m, acc, accOff + p0 * n, n, false, scatterFamily32(acc, g, x), sum);
}

// ---------------------------------------------------------------------------
// WebAssembly SIMD twins of the gather-add loops (src/kernels/spike-sum/wasm.ts):
// the same terms added to accumulators of the same family (float32 lanes over a
// float32 destination, or float64 lanes) in the same order, so bit-identical to the
// JS loops above whatever their unrolling. Sources and destinations in the heap
// are used in place; the bucket tables are built in the kernel's scratch.

/**
 * Bytes of bucket tables (and scratch accumulator rows) per WASM gather block:
 * bounds the scratch (a table has a slot per input column a row). With C summed
 * in place, 128 KiB blocks, 512 KiB blocks and one block ran at the same speed.
 */
const BLOCK_BYTES = 1 << 19;

/**
 * Which bucket sum the column scatters run: "auto" (WASM when the kernel
 * backend enables it and the sum is big enough), or "js" / "wasm" whatever
 * the backend (the tests compare the two).
 */
export type SumBackend = "auto" | "js" | "wasm";

/**
 * The family of a scatter into `acc`: float32 when acc and the sources are
 * float32; else acc must be float64 (the float64 family's accumulator, which
 * the caller rounds once).
 */
function scatterFamily32(acc: FloatArray, ...src: readonly FloatArray[]): boolean {
  if (float32Family(acc, ...src)) return true;
  if (!(acc instanceof Float64Array)) throw new Error("spike scatter: a float32 accumulator needs float32 sources (else pass a float64 one)");
  return false;
}

/** The sum of sumColumnBuckets by the backend `sum` asks for. */
function sumColumns(
  k: number, nnz: number, g: FloatArray, gOff: number, m: number, acc: FloatArray, accOff: number, n: number, ones: boolean, f32: boolean, sum: SumBackend,
): void {
  if (sum === "wasm" || (sum === "auto" && nnz * n >= SPIKE_SUM_MIN_OUT && wasmKernelsEnabled())) sumColumnsWasm(k, nnz, g, gOff, m, acc, accOff, n, ones, f32);
  else sumColumnBuckets(k, g, acc, accOff, n, ones, f32);
}

/** {@link sumColumnBuckets} by the WASM twin: G and the acc rows in place (staged when foreign), the buckets copied into scratch. */
function sumColumnsWasm(
  k: number, nnz: number, g: FloatArray, gOff: number, m: number, acc: FloatArray, accOff: number, n: number, ones: boolean, fam32: boolean,
): void {
  // Spike words may end in pad columns past acc's last row: their buckets are empty, leave them out.
  k = Math.min(k, Math.floor((acc.length - accOff) / n));
  if (k <= 0 || n === 0) return;
  const f32 = g instanceof Float32Array;
  const es = fam32 ? 4 : 8; // bytes per acc / val element
  const gS = 0;
  const accS = stageBytes(g, m * n);
  const startS = accS + dstBytes(acc, k * n, fam32);
  const idxS = startS + align16((k + 1) * 4);
  const valS = idxS + align16(nnz * 4);
  const base = spikeSumScratch(ones ? valS : valS + nnz * es);
  // colRow holds element offsets from g[0], so the kernel gets g[0]'s address: gOff elements before G's rows
  // (below the staging region for a foreign g: the kernel's i32 address sums wrap mod 2^32 and come out exact).
  const gB = heapPtr(g, gOff, m * n, base + gS, true) - gOff * g.BYTES_PER_ELEMENT;
  const accB = dstPtr(acc, accOff, k * n, fam32, base + accS, true);
  const i32 = heapI32();
  i32.set(colStart.subarray(0, k + 1), (base + startS) / 4);
  i32.set(colRow.subarray(0, nnz), (base + idxS) / 4);
  // Values of a float32 x are float32, so the narrowing copy is exact.
  if (!ones) (fam32 ? heapF32() : heapF64()).set(colVal.subarray(0, nnz), (base + valS) / es);
  spikeSumRun(f32, !ones, k, 0, gB, n, accB, base + startS, base + idxS, base + valS, false, fam32);
  dstDone(acc, accOff, k * n, fam32, accB);
}

/**
 * Rows of X and G per block of the WASM counts column scatter: the buckets of a block sweep only its
 * rows of G, which stay in cache chunk by chunk (all 2048 rows of a 1536-wide G are 12.6 MB; a bucket
 * of them read 28 columns from each of ~550 rows 6 KB apart). 2048 x 384 -> 1536 at density 0.27, one
 * thread: 62 ms in one block, 34-36 ms in blocks of 64-256 rows (the dense gemm: 54 ms).
 */
export const SCATTER_BLOCK_ROWS = 128;

/**
 * {@link countsScatterRowsCols} by WASM for float32 counts in the heap (float32 family): per block of
 * rows, the column buckets, then the weighted bucket sums into acc rows p0..p1-1 (accumulating). Blocks
 * run in row order and each bucket lists its rows in order, so every acc element adds the same terms in
 * the same order as the JS loops: the same bits. A block's column buckets are the row buckets of its
 * columns p0..p1-1 transposed (the transpose, then the counts gather's branch-free row scan: the same
 * tables), which a column-by-column scan built at 1.4-1.7 ns a value against 0.75-0.9 (its loop over each
 * group's nonzero lanes mispredicts its exit; blocks of 128 rows of 384 or 1536 values, one thread).
 */
function countsScatterRowsColsWasm(
  x: Float32Array, xOff: number, g: FloatArray, gOff: number, acc: FloatArray, accOff: number,
  m: number, k: number, p0: number, p1: number, n: number,
): void {
  const kc = p1 - p0;
  const mb = Math.min(m, SCATTER_BLOCK_ROWS);
  const gS = 0;
  const accS = stageBytes(g, m * n);
  const cntS = accS + dstBytes(acc, kc * n, true);
  const idxS = cntS + align16(kc * 4);
  const valS = idxS + align16(kc * mb * 4);
  // A block's rows of G in panels (see usePanels) when they are wide: its entries are then row numbers (times PANEL_ENTRY).
  // Decided on all k columns, whatever share p0..p1 a thread runs: split in two, MNIST b64's 128 -> 512
  // weight gradient fell below the rows threshold, and its 2 / 4 column ranges, timed one after the other
  // on one thread, took 23.7 / 30.3 ms without panels, 21.7 / 27.2 with them (one range: 19.0).
  const panels = usePanels(true, k, mb * n);
  const xtS = valS + align16(kc * mb * 4); // the block's columns p0..p1-1 transposed, [kc, nb]
  const panelS = xtS + align16(kc * mb * 4);
  const base = spikeSumScratch(panelS + builtSourceBytes(panels, false, mb, n, 4));
  const gB = heapPtr(g, gOff, m * n, base + gS, true);
  const accB = dstPtr(acc, accOff + p0 * n, kc * n, true, base + accS, true);
  const xB = x.byteOffset + xOff * 4;
  for (let r0 = 0; r0 < m; r0 += mb) {
    const nb = Math.min(mb, m - r0);
    transposeWasmCall("t32", xB + (r0 * k + p0) * 4, base + xtS, nb, kc, 0, nb, k);
    countsBucketsRun(base + xtS, nb, kc, panels ? PANEL_ENTRY : n, base + cntS, base + idxS, base + valS);
    const src = panelsOr(panels, gB + r0 * n * 4, nb, n, base + panelS);
    // A block's panels (nb <= 128 rows) already sit in L1; tiles of 256 acc rows ran 1.1x slower than 32 here.
    spikeSumRun(true, true, kc, nb, src, n, accB, base + cntS, base + idxS, base + valS, false, true, panels ? nb : 0, ROW_TILE);
  }
  dstDone(acc, accOff + p0 * n, kc * n, true, accB);
}

/**
 * {@link spikeScatterRowsWords} by WASM for spike words in the heap (float32 family): per block of
 * SCATTER_BLOCK_ROWS rows, the column buckets by the WASM scan, then the bucket sums into acc rows
 * 32 q0 .. (from panels of the block's rows of G when wide, as the counts scatter). Blocks in row order,
 * each bucket listing its rows in order: every acc element adds the same terms in the same order as the JS
 * loops, the same bits. The scatters' time in a one-thread training step (the JS tables' count and fill
 * before): CIFAR b8 27.6 -> 24.6 ms, MNIST b64 15.5 -> 9.7 ms (two runs).
 */
function spikeScatterRowsWordsWasm(
  s: Uint32Array, sOff: number, wpr: number, q0: number, q1: number, g: FloatArray, gOff: number, acc: FloatArray, accOff: number,
  m: number, n: number,
): void {
  // Pad columns past acc's last row have empty buckets: leave them out.
  const kc = Math.min((q1 - q0) * 32, Math.floor((acc.length - accOff) / n) - q0 * 32);
  if (kc <= 0) return;
  const mb = Math.min(m, SCATTER_BLOCK_ROWS);
  const gS = 0;
  const accS = stageBytes(g, m * n);
  const cntS = accS + dstBytes(acc, kc * n, true);
  const idxS = cntS + align16((q1 - q0) * 32 * 4);
  const panels = usePanels(true, kc, mb * n);
  const panelS = idxS + align16((q1 - q0) * 32 * mb * 4);
  const base = spikeSumScratch(panelS + builtSourceBytes(panels, false, mb, n, 4));
  const gB = heapPtr(g, gOff, m * n, base + gS, true);
  const accB = dstPtr(acc, accOff + q0 * 32 * n, kc * n, true, base + accS, true);
  for (let r0 = 0; r0 < m; r0 += mb) {
    const nb = Math.min(mb, m - r0);
    spikeColumnBucketsRun(s.byteOffset + (sOff + r0 * wpr) * 4, wpr, q0, q1, nb, panels ? PANEL_ENTRY : n, base + cntS, base + idxS);
    const src = panelsOr(panels, gB + r0 * n * 4, nb, n, base + panelS);
    spikeSumRun(true, false, kc, nb, src, n, accB, base + cntS, base + idxS, 0, false, true, panels ? nb : 0, ROW_TILE);
  }
  dstDone(acc, accOff + q0 * 32 * n, kc * n, true, accB);
}

/**
 * Rows per block of a WASM gather with `tableBytes` of bucket tables a row:
 * the tables and (when C is not summed in place) `dstRowBytes` of accumulator
 * row stay within {@link BLOCK_BYTES}.
 */
function gatherRows(m: number, tableBytes: number, dstRowBytes: number): number {
  return Math.max(1, Math.min(m, Math.floor(BLOCK_BYTES / Math.max(1, tableBytes + dstRowBytes))));
}

/**
 * {@link spikeGatherAdd} by the WASM SIMD twin: W and C in place (staged when
 * foreign; C summed in a float64 scratch row block when it is float32 in the
 * float64 family), blocks of rows whose set-bit buckets are filled straight
 * into the kernel's scratch. W given as [n, outInK] is packed into panels
 * (or transposed) in one pass from there. Bit-equal to {@link spikeGatherAddJs}.
 */
export function spikeGatherAddWasm(
  s: Uint32Array, sOff: number, wpr: number,
  w: FloatArray, wOff: number,
  c: FloatArray, cOff: number,
  m: number, n: number,
  accumulate: boolean, outInK = 0, bias: FloatArray | null = null, rowRanges: UnitRanges = unitRange(0, m),
): void {
  if (m === 0 || n === 0) return;
  checkBias("spikeGatherAddWasm", bias, n, accumulate);
  const f32 = w instanceof Float32Array;
  const fam32 = float32Family(w, c);
  const fused = fusedBias(bias, fam32);
  // Rows of Wᵀ that bits can reach: pad bits are zero, so never past W's end.
  const kw = outInK > 0 ? outInK : Math.min(wpr * 32, Math.floor((w.length - wOff) / n));
  if (kw > wpr * 32) throw new Error(`spikeGatherAddWasm: W has ${kw} input columns but the spike rows only ${wpr * 32} bits`);
  const cap = wpr * 32;
  const rows = gatherRows(m, (cap + 1) * 4, dstBytes(c, n, fam32));
  const panels = usePanels(fam32, m, kw * n);
  const wS = 0;
  const dstS = stageBytes(w, kw * n);
  const cntS = dstS + dstBytes(c, rows * n, fam32);
  const idxS = cntS + align16(rows * 4);
  const panelS = idxS + align16(rows * cap * 4);
  const base = spikeSumScratch(panelS + builtSourceBytes(panels, outInK > 0, kw, n, w.BYTES_PER_ELEMENT)); // Wᵀ or its panels made there
  const wB = panelsOr(panels, heapPtr(w, wOff, kw * n, base + wS, true), kw, n, base + panelS, outInK > 0, !f32);
  // Entries are element offsets of W's rows, or (panels) the row numbers times PANEL_ENTRY.
  const entry = panels ? PANEL_ENTRY : n;
  const i32 = heapI32();
  const cnt0 = (base + cntS) / 4, idx0 = (base + idxS) / 4;
  // Spike words in the heap: the tables by the WASM scan (the same entries in the same order).
  const wasmTables = inHeap(s);
  rowRanges((u0, u1) => {
    for (let r0 = u0; r0 < u1; r0 += rows) {
      const nb = Math.min(rows, u1 - r0);
      if (wasmTables) spikeBucketsRun(s.byteOffset + (sOff + r0 * wpr) * 4, wpr, nb, entry, base + cntS, base + idxS, cap);
      else for (let r = 0; r < nb; r++) {
        const si = sOff + (r0 + r) * wpr;
        const b = idx0 + r * cap;
        let cnt = 0;
        for (let q = 0; q < wpr; q++) {
          let x = s[si + q]!;
          while (x !== 0) {
            i32[b + cnt++] = ((q << 5) + ctz32(x)) * entry;
            x &= x - 1;
          }
        }
        i32[cnt0 + r] = cnt;
      }
      const ci = cOff + r0 * n;
      const dstB = dstPtr(c, ci, nb * n, fam32, base + dstS, accumulate);
      spikeSumRun(f32, false, nb, cap, wB, n, dstB, base + cntS, base + idxS, 0, !accumulate, fam32, panels ? kw : 0, undefined, fused ? bias.byteOffset : 0);
      dstDone(c, ci, nb * n, fam32, dstB);
    }
    if (!fused) addBiasRows(c, cOff + u0 * n, u1 - u0, n, bias);
  });
}

/**
 * {@link countsGatherAdd} by the WASM SIMD twin (weighted buckets: the nonzero
 * values ride along in C's family; W and C as in {@link spikeGatherAddWasm}).
 * Bit-equal to {@link countsGatherAddJs}.
 */
export function countsGatherAddWasm(
  x: FloatArray, xOff: number,
  w: FloatArray, wOff: number,
  c: FloatArray, cOff: number,
  m: number, k: number, n: number,
  accumulate: boolean, outIn = false, bias: FloatArray | null = null, rowRanges: UnitRanges = unitRange(0, m),
): void {
  checkBias("countsGatherAddWasm", bias, n, accumulate);
  if (k === 0 || m === 0 || n === 0) {
    rowRanges((u0, u1) => {
      emptyProductDone(c, cOff + u0 * n, u1 - u0, n, k, accumulate); // C = 0 unless accumulating (k = 0)
      addBiasRows(c, cOff + u0 * n, u1 - u0, n, bias);
    });
    return;
  }
  const f32 = w instanceof Float32Array;
  const fam32 = float32Family(x, w, c);
  const fused = fusedBias(bias, fam32);
  const es = fam32 ? 4 : 8; // bytes per dst / val element
  const rows = gatherRows(m, 4 + k * (4 + es), dstBytes(c, n, fam32));
  const panels = usePanels(fam32, m, k * n);
  const wS = 0;
  const dstS = stageBytes(w, k * n);
  const cntS = dstS + dstBytes(c, rows * n, fam32);
  const idxS = cntS + align16(rows * 4);
  const valS = idxS + align16(rows * k * 4);
  const panelS = valS + align16(rows * k * es);
  const base = spikeSumScratch(panelS + builtSourceBytes(panels, outIn, k, n, w.BYTES_PER_ELEMENT));
  const wB = panelsOr(panels, heapPtr(w, wOff, k * n, base + wS, true), k, n, base + panelS, outIn, !f32);
  const entry = panels ? PANEL_ENTRY : n; // as in spikeGatherAddWasm
  const i32 = heapI32(), vv = fam32 ? heapF32() : heapF64();
  const cnt0 = (base + cntS) / 4, idx0 = (base + idxS) / 4, val0 = (base + valS) / es;
  // Float32 counts in the heap: the tables by the WASM scan (the same entries in the same order).
  const wasmTables = fam32 && inHeap(x);
  rowRanges((u0, u1) => {
    for (let r0 = u0; r0 < u1; r0 += rows) {
      const nb = Math.min(rows, u1 - r0);
      if (wasmTables) countsBucketsRun(x.byteOffset + (xOff + r0 * k) * 4, k, nb, entry, base + cntS, base + idxS, base + valS);
      for (let r = 0; r < nb && !wasmTables; r++) {
        const xi = xOff + (r0 + r) * k;
        const b = r * k;
        let cnt = 0;
        for (let p = 0; p < k; p++) {
          const val = x[xi + p]!;
          if (val === 0) continue;
          i32[idx0 + b + cnt] = p * entry;
          vv[val0 + b + cnt++] = val;
        }
        i32[cnt0 + r] = cnt;
      }
      const ci = cOff + r0 * n;
      const dstB = dstPtr(c, ci, nb * n, fam32, base + dstS, accumulate);
      spikeSumRun(f32, true, nb, k, wB, n, dstB, base + cntS, base + idxS, base + valS, !accumulate, fam32, panels ? k : 0, undefined, fused ? bias.byteOffset : 0);
      dstDone(c, ci, nb * n, fam32, dstB);
    }
    if (!fused) addBiasRows(c, cOff + u0 * n, u1 - u0, n, bias);
  });
}
