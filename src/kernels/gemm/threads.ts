/**
 * Threaded twin of {@link gemm}: C is split into blocks of rows, and each
 * thread runs the unchanged gemm on its block. Every output element keeps its
 * summation order, so the result is bit-identical to gemm for any thread
 * count. Operands not in the heap are copied into the pool's shared
 * scratch for the workers (the calling thread's own block reads the originals).
 */
import { inHeap } from "../../tensor/heap.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { gemm, gemmRows32, packB32Blocks, gemmRows32Fits } from "./gemm.js";
import { transposeThreads } from "../transpose/threads.js";
import { defineTask } from "../../parallel/registry.js";
import { partsFor, runParts, sabBase, scratchViews, usableThreads, type Part } from "../../parallel/pool.js";
import { claimedRanges, runClaimed, type UnitRanges } from "../../parallel/claims.js";

/** C rows = A rows (stored [rows, k], not transposed) times op(B); a plain call of {@link gemm}. */
export function gemmRange(
  a: FloatArray, aOff: number, b: FloatArray, bOff: number, transB: boolean,
  c: FloatArray, cOff: number, rows: number, n: number, k: number, accumulate: boolean,
): void {
  gemm(a, aOff, false, b, bOff, transB, c, cOff, rows, n, k, accumulate);
}

/** One thread's block of rows (see {@link gemmThreads}). */
const OP_GEMM = defineTask("gemm.rows", import.meta.url, (_raw, a, b) =>
  gemmRange(b[0]!, a[0]!, b[1]!, a[1]!, a[2] === 1, b[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7] === 1),
);

/** Row blocks are multiples of gemm's 4-row register tile where possible. */
const ROW_ALIGN = 4;

/** The claimed rows of C = A B (see {@link claimedRows}), heap float32 indices: ap, pb, cp, n, k, accumulate, claims. */
const OP_GEMM_CLAIMED = defineTask("gemm.claimed", import.meta.url, (_raw, a) =>
  claimedRowsRun(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5] === 1, claimedRanges(a[6]!)),
);

/** The ranges' units are 4-row panels of C. */
function claimedRowsRun(ap: number, pb: number, cp: number, n: number, k: number, accumulate: boolean, panels: UnitRanges): void {
  panels((u0, u1) => gemmRows32(ap, pb, cp, n, k, u0 * ROW_ALIGN, u1 * ROW_ALIGN, accumulate));
}

/**
 * The smallest chunk of 4-row panels the threads claim: how far apart they can end (a static split left
 * the worker's part 10-20% slower than the calling thread's on this VM; 14.9-28.4 ms of waits a CIFAR b8 training step).
 */
const CLAIM_PANELS = 4;

/**
 * C = A B (or += with `accumulate`) where {@link gemmRows32Fits} says so: the calling thread packs B once, then
 * the threads claim chunks of C's rows as they go, each summing its rows from A in place and the packed B.
 */
function claimedRows(a: Float32Array, aOff: number, b: Float32Array, bOff: number, c: Float32Array, cOff: number, m: number, n: number, k: number, accumulate: boolean, parts: number): void {
  const ap = sabBase(a) + aOff, cp = sabBase(c) + cOff;
  const pb = packB32Blocks(sabBase(b) + bOff, n, k);
  runClaimed("gemm", m / ROW_ALIGN, parts, CLAIM_PANELS, (at) => ({
    op: OP_GEMM_CLAIMED, args: [ap, pb, cp, n, k, accumulate ? 1 : 0, at], bufs: [],
  }), (ranges) => claimedRowsRun(ap, pb, cp, n, k, accumulate, ranges));
}

/** Block boundaries 0 = b[0] < b[1] < ... < b[p] = m, as even as the alignment allows (empty blocks dropped). */
function rowBlocks(m: number, parts: number): number[] {
  const cuts = [0];
  for (let j = 1; j < parts; j++) {
    const r = Math.min(m, Math.round((j * m) / parts / ROW_ALIGN) * ROW_ALIGN);
    if (r > cuts[cuts.length - 1]!) cuts.push(r);
  }
  if (m > cuts[cuts.length - 1]!) cuts.push(m);
  return cuts;
}

/**
 * C[m,n] (+)= op(A) op(B) with the contract and result of {@link gemm}: what
 * the ops call. Split over the pool when the product pays for threads, or
 * over `threads` threads when given (at most the usable ones), whatever the
 * size. Same bits either way.
 */
export function gemmThreads(
  a: FloatArray, aOff: number, transA: boolean,
  b: FloatArray, bOff: number, transB: boolean,
  c: FloatArray, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
  threads?: number,
): void {
  const parts = Math.min(threads ?? partsFor(m * n * k, Math.ceil(m / ROW_ALIGN)), usableThreads(), m);
  if (parts <= 1 || n === 0 || k === 0) {
    gemm(a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate);
    return;
  }
  if (gemmRows32Fits(a, transA, b, transB, c, m, n, k)) {
    claimedRows(a as Float32Array, aOff, b as Float32Array, bOff, c as Float32Array, cOff, m, n, k, accumulate, parts);
    return;
  }
  const cuts = rowBlocks(m, parts);
  const mine = cuts[1]!; // the calling thread takes rows [0, mine)
  const wRows = m - mine;
  // A: the calling thread needs op(A) rows contiguous (a copy when transposed); workers need them shared.
  const stageA = transA || !inHeap(a);
  const stageB = !inHeap(b);
  const stageC = !inHeap(c);
  const aRows = transA ? m : wRows;
  const [sa, sb, sc] = scratchViews([
    // A heap A copied only to transpose it is the twin's working layout, not a staged foreign array.
    [a instanceof Float64Array, stageA ? aRows * k : 0, inHeap(a)],
    [b instanceof Float64Array, stageB ? k * n : 0],
    [c instanceof Float64Array, stageC ? wRows * n : 0],
  ]) as [FloatArray, FloatArray, FloatArray];
  // Element offset (in the worker's whole-buffer view) of op(A) row 0, B and C row 0.
  let aBase: number;
  if (stageA) {
    // op(A) rows: all of Aᵀ [m, k] by the transpose family (threaded, WASM; a strided JS copy on this
    // thread cost as much as a tenth of a CIFAR training step), else A's rows mine..m-1 as they are.
    const r0 = transA ? 0 : mine;
    if (transA) transposeThreads(a, aOff, k, m, sa, 0);
    else sa.set(a.subarray(aOff + mine * k, aOff + m * k));
    aBase = sabBase(sa) - r0 * k;
  } else {
    aBase = sabBase(a) + aOff;
  }
  if (stageB) sb.set(b.subarray(bOff, bOff + k * n));
  const bBase = stageB ? sabBase(sb) : sabBase(b) + bOff;
  if (stageC && accumulate) sc.set(c.subarray(cOff + mine * n, cOff + m * n));
  const cBase = stageC ? sabBase(sc) - mine * n : sabBase(c) + cOff;
  const wa = stageA ? sa : a, wb = stageB ? sb : b, wc = stageC ? sc : c;
  const jobs: Part[] = [];
  for (let j = 1; j + 1 < cuts.length; j++) {
    const r0 = cuts[j]!, r1 = cuts[j + 1]!;
    jobs.push({
      op: OP_GEMM,
      args: [aBase + r0 * k, bBase, transB ? 1 : 0, cBase + r0 * n, r1 - r0, n, k, accumulate ? 1 : 0],
      bufs: [wa, wb, wc],
    });
  }
  runParts("gemm", jobs, () => {
    if (transA) gemm(sa, 0, false, b, bOff, transB, c, cOff, mine, n, k, accumulate);
    else gemm(a, aOff, false, b, bOff, transB, c, cOff, mine, n, k, accumulate);
  });
  if (stageC) c.set(sc.subarray(0, wRows * n), cOff + mine * n);
}
