/**
 * Threaded twins of the event-driven linear kernels (src/kernels/spike-gemm.ts).
 * Forward gathers split the rows of the output (each row is computed whole by
 * one thread); weight-gradient scatters split the rows of the accumulator
 * dWᵀ [k, n] (float32 or float64, the kernels' two families; by spike word
 * for spikes, by column for counts),
 * each thread visiting every input row in order, so each accumulator row sees
 * the same additions in the same order as the single-thread kernel. Results
 * are bit-identical for any thread count. Operands not in the heap
 * are staged in the pool's shared scratch.
 */
import { heapF64, inHeap, Scratch } from "../../tensor/heap.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { popcnt32 } from "../../tensor/bits.js";
import { countsGatherAdd, countsScatterRows, spikeGatherAdd, spikeScatterRows, spikeScatterRowsWords, countsScatterRowsCols } from "./spike-sum.js";
import { asFloats, defineTask, from, wordsView } from "../../parallel/registry.js";
import { partShares, partsFor, runParts, sabBase, scratchViews, usableThreads, type Part } from "../../parallel/pool.js";
import { claimedRanges, runClaimed, unitRange, type UnitRanges } from "../../parallel/claims.js";
import { eachSampledRow, evenCuts, partCosts, sampledRowBits, sampledRowNonzeros, weightedCuts } from "../../parallel/balance.js";
import { linearNormLifRange, UNIT_TOKENS, type NormLifProjection, type TokenRows } from "./norm-lif.js";


/** Spike / counts linear pieces a linear task can run (see {@link linearPart}). */
export const LIN_SPIKE_GATHER = 0;
export const LIN_COUNTS_GATHER = 1;
export const LIN_SPIKE_SCATTER = 2;
export const LIN_COUNTS_SCATTER = 3;

/**
 * One piece of an event-driven linear. Gathers (forward) run rows r0..r1-1 of
 * C [m, n] = A Wᵀ (A spikes [m, wpr words] or counts [m, k], W given as
 * Wᵀ [k, n], or as W [n, k] when `outIn`); scatters (weight gradient) run the accumulator rows of spike
 * words r0..r1-1 (spikes) or of columns r0..r1-1 (counts) of acc [k, n] += Aᵀ G.
 * Offsets locate row 0 of each array.
 */
export function linearPart(
  kind: number, a: FloatArray, aOff: number, b: FloatArray, bOff: number, c: FloatArray, cOff: number,
  m: number, k: number, n: number, wpr: number, r0: number, r1: number, accumulate: boolean, outIn = false, fresh = false,
  bias: FloatArray | null = null, rows: UnitRanges | null = null,
): void {
  // A fresh scatter's accumulator rows start at +0, zeroed here by the thread that sums into them.
  if (fresh && kind === LIN_SPIKE_SCATTER) c.fill(0, cOff + Math.min(k, r0 * 32) * n, cOff + Math.min(k, r1 * 32) * n);
  else if (fresh && kind === LIN_COUNTS_SCATTER) c.fill(0, cOff + r0 * n, cOff + r1 * n);
  // Gathers: rows r0..r1-1, or (claimed) the ranges of C's m rows `rows` hands out.
  if (kind === LIN_SPIKE_GATHER && rows) spikeGatherAdd(wordsView(a, 0), aOff, wpr, b, bOff, c, cOff, m, n, accumulate, outIn ? k : 0, bias, rows);
  else if (kind === LIN_SPIKE_GATHER) spikeGatherAdd(wordsView(a, 0), aOff + r0 * wpr, wpr, b, bOff, c, cOff + r0 * n, r1 - r0, n, accumulate, outIn ? k : 0, bias);
  else if (kind === LIN_COUNTS_GATHER && rows) countsGatherAdd(a, aOff, b, bOff, c, cOff, m, k, n, accumulate, outIn, bias, rows);
  else if (kind === LIN_COUNTS_GATHER) countsGatherAdd(a, aOff + r0 * k, b, bOff, c, cOff + r0 * n, r1 - r0, k, n, accumulate, outIn, bias);
  else if (kind === LIN_SPIKE_SCATTER) spikeScatterRowsWords(wordsView(a, 0), aOff, wpr, r0, r1, b, bOff, c, cOff, m, n);
  else countsScatterRowsCols(a, aOff, b, bOff, c, cOff, m, k, r0, r1, n);
}

/**
 * Worker part of a linear piece: args kind, aOff, bOff, cOff, m, k, n, wpr, r0, r1, accumulate, outIn, fresh,
 * biasOff (-1: none), claims (the heap index of a gather's posted schedule, see src/parallel/claims.ts, never 0;
 * 0, which jobs that do not pass it read: rows r0..r1-1);
 * buffers a, b, c and (with a bias) the bias's.
 */
function linearTask(a: ArrayLike<number>, b: readonly FloatArray[]): void {
  // -1: no bias (0 is an offset; arguments a job does not pass read 0, so the jobs pass -1).
  const biasOff = a[13]!;
  const bias = biasOff >= 0 ? b[3]!.subarray(biasOff, biasOff + a[6]!) : null;
  const rows = a[14]! > 0 ? claimedRanges(a[14]!) : null;
  linearPart(a[0]!, b[0]!, a[1]!, b[1]!, a[2]!, b[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!, a[10] === 1, a[11] === 1, a[12] === 1, bias, rows);
}


/** Float64 slots a projection takes in the fused linear's table: w, n, bias (-1: none), vec, out, tau, vTh, vReset, hardReset. */
const PROJECTION_SLOTS = 9;
/** The fused linear's projection table, in the heap where the workers read it (reused by the next call). */
const projectionTable = new Scratch();

/**
 * Worker part of the fused linear -> BN -> LIF: args counts (1) or spikes (0), the input's base, k, wpr,
 * M, T, projections, the table's float64 index, the claims; buffers the heap as float32 and as float64.
 */
function linearNormLifTask(a: ArrayLike<number>, b: readonly FloatArray[]): void {
  const [counts, srcB, k, wpr, M, T, count, tb, claims] = [a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!];
  const f32 = b[0]!, f64 = b[1]!;
  const layers: NormLifProjection[] = [];
  for (let j = 0; j < count; j++) {
    const o = tb + j * PROJECTION_SLOTS;
    const [w, n, bias, vec, out, tau, vTh, vReset, hard] = Array.from({ length: PROJECTION_SLOTS }, (_, i) => f64[o + i]!) as number[];
    layers.push({
      w: from(f32, w!) as Float32Array, n: n!, bias: bias! >= 0 ? (from(f32, bias!) as Float32Array) : null, vec: from(f32, vec!) as Float32Array,
      lif: { tau: tau!, vTh: vTh!, vReset: vReset!, hardReset: hard === 1 }, out: wordsView(f32, out!),
    });
  }
  const input: TokenRows = counts === 1 ? { kind: "counts", x: from(f32, srcB) as Float32Array } : { kind: "spikes", words: wordsView(f32, srcB), wpr };
  linearNormLifRange(input, k, M, T, layers, claimedRanges(claims));
}

// One thread's rows of a gather or of a scatter's accumulator.
const OP_SPIKE_LINEAR = defineTask("spikeSum.rows", import.meta.url, (_raw, a, b) => linearTask(a, b));
// One thread's token blocks of a fused linear -> BN -> LIF.
const OP_LINEAR_NORM_LIF = defineTask("spikeSum.normLif", import.meta.url, (_raw, a, b) => linearNormLifTask(a, b));
/**
 * What a gather row costs besides its terms, in terms (weight rows added): its bucket scan and its output
 * row. A counts row costs k / 8 nonzeros, a spike row 16 set bits. Fitted on a CIFAR b8 / MNIST b64 step's
 * gathers (whose first time step is almost all zeros, so the cut fell at 72-78% of the rows): rows of
 * 384 / 128 values cost the time of 16-30 / 8-25 nonzeros each, and with one cost per row, the calling
 * thread's part took 1.29x / 1.38x the worker's (counts / spikes, CIFAR), 0.95-1.05x with these (the parts
 * timed one after the other on one thread, which favours the second by about 4%).
 */
const COUNTS_ROW_COST_DIV = 8;
const SPIKE_ROW_COST = 16;
/**
 * The smallest chunk of rows a gather's threads claim: how far apart they can end, against what a chunk
 * costs besides its sums (its tables, shorter tiles of rows over each block of weights).
 */
const CLAIM_ROWS = 16;
/** Dense multiply-adds over this, as the work estimate (only set bits / nonzeros cost anything). */
const SPARSITY = 8;


function partsOf(work: number, units: number, threads: number | undefined): number {
  let p = Math.min(threads ?? partsFor(work / SPARSITY, units), units);
  if (p > 1) p = Math.min(p, usableThreads());
  return p;
}

/** A as the worker sees it: Float32 views for spike words. */
type Operand = FloatArray | Uint32Array;

function asFloat(a: Operand): FloatArray {
  return a instanceof Uint32Array ? asFloats(a) : a;
}

/** Scratch request for an operand of `len` elements (spike words as Float32). */
function req(a: Operand, len: number): [boolean, number] {
  return [a instanceof Float64Array, inHeap(a) ? 0 : len];
}

/** Copies a[off + from .. off + to) to the scratch view at the same relative positions. */
function stage(a: Operand, off: number, from: number, to: number, view: FloatArray): void {
  if (a instanceof Uint32Array) new Uint32Array(view.buffer, view.byteOffset, view.length).set(a.subarray(off + from, off + to), from);
  else view.set(a.subarray(off + from, off + to), from);
}

/**
 * Shared gather driver: rows r0..r1-1 of C [m, n] from A rows of `aRow`
 * elements (words or floats) and Wᵀ [k, n] (W [n, k] when `outIn`).
 */
function gather(
  kind: number, a: Operand, aOff: number, aRow: number, w: FloatArray, wOff: number, wLen: number, c: FloatArray, cOff: number,
  m: number, k: number, n: number, wpr: number, accumulate: boolean, parts: number, outIn: boolean, bias: FloatArray | null,
): void {
  if (inHeap(a) && inHeap(w) && inHeap(c) && (bias === null || inHeap(bias))) {
    // Every operand where the workers see it: the threads claim chunks of rows as they go, which absorbs
    // the rows' differing costs (the time steps fire at different rates) and the threads' differing speeds.
    const fa = asFloat(a);
    runClaimed(kind === LIN_SPIKE_GATHER ? "spikeLinear.forward" : "countsLinear.forward", m, parts, CLAIM_ROWS, (at) => ({
      op: OP_SPIKE_LINEAR,
      args: [kind, sabBase(fa) + aOff, sabBase(w) + wOff, sabBase(c) + cOff, m, k, n, wpr, 0, 0, accumulate ? 1 : 0, outIn ? 1 : 0, 0, bias ? sabBase(bias) : -1, at],
      bufs: bias ? [fa, w, c, bias] : [fa, w, c],
    }), (rows) => linearPart(kind, fa, aOff, w, wOff, c, cOff, m, k, n, wpr, 0, 0, accumulate, outIn, false, bias, rows));
    return;
  }
  // Balanced by work: a row costs its set bits / nonzeros (one weight row added each) plus its own share, sampled.
  const cost = kind === LIN_SPIKE_GATHER
    ? sampledRowBits(a as Uint32Array, aOff, m, wpr, 256, SPIKE_ROW_COST)
    : sampledRowNonzeros(a as FloatArray, aOff, m, aRow, 64, Math.max(1, k / COUNTS_ROW_COST_DIV));
  const cuts = weightedCuts(cost, parts, partShares(parts));
  const mine = cuts[1]!;
  const [sa, sw, sc, sb] = scratchViews([req(a, m * aRow), req(w, wLen), req(c, m * n), bias ? req(bias, n) : [false, 0]]) as FloatArray[];
  const stA = !inHeap(a), stW = !inHeap(w), stC = !inHeap(c), stB = bias !== null && !inHeap(bias);
  if (stA) stage(a, aOff, mine * aRow, m * aRow, sa!);
  if (stW) stage(w, wOff, 0, wLen, sw!);
  if (stC && accumulate) stage(c, cOff, mine * n, m * n, sc!);
  if (stB) sb!.set(bias!.subarray(0, n));
  const wa = stA ? sa! : asFloat(a), ww = stW ? sw! : w, wc = stC ? sc! : c, wb = stB ? sb! : bias;
  const aB = stA ? sabBase(sa!) : sabBase(wa) + aOff, wB = stW ? sabBase(sw!) : sabBase(w) + wOff, cB = stC ? sabBase(sc!) : sabBase(c) + cOff;
  const jobs: Part[] = [];
  for (let j = 1; j < parts; j++) {
    jobs.push({
      op: OP_SPIKE_LINEAR,
      args: [kind, aB, wB, cB, m, k, n, wpr, cuts[j]!, cuts[j + 1]!, accumulate ? 1 : 0, outIn ? 1 : 0, 0, wb ? sabBase(wb) : -1],
      bufs: wb ? [wa, ww, wc, wb] : [wa, ww, wc],
    });
  }
  runParts(kind === LIN_SPIKE_GATHER ? "spikeLinear.forward" : "countsLinear.forward", jobs, () => {
    if (kind === LIN_SPIKE_GATHER) spikeGatherAdd(a as Uint32Array, aOff, wpr, w, wOff, c, cOff, mine, n, accumulate, outIn ? k : 0, bias);
    else countsGatherAdd(a as FloatArray, aOff, w, wOff, c, cOff, mine, k, n, accumulate, outIn, bias);
  }, partCosts(cost, cuts));
  if (stC) c.set(sc.subarray(mine * n, m * n), cOff + mine * n);
}

/**
 * {@link spikeGatherAdd} (same contract and bits), rows split over threads when big enough. `outIn`: w is
 * the weight as Linear stores it, [n, k], which each thread packs (or transposes) as its sums read it;
 * `bias` [n]: added to every row (see spikeGatherAdd).
 */
export function spikeGatherAddThreads(
  s: Uint32Array, sOff: number, wpr: number, w: FloatArray, wOff: number, c: FloatArray, cOff: number,
  m: number, k: number, n: number, accumulate: boolean, threads?: number, outIn = false, bias: FloatArray | null = null,
): void {
  const p = partsOf(m * k * n, m, threads);
  if (p <= 1) spikeGatherAdd(s, sOff, wpr, w, wOff, c, cOff, m, n, accumulate, outIn ? k : 0, bias);
  else gather(LIN_SPIKE_GATHER, s, sOff, wpr, w, wOff, k * n, c, cOff, m, k, n, wpr, accumulate, p, outIn, bias);
}

/** {@link countsGatherAdd} (same contract and bits), rows split over threads when big enough; `outIn` and `bias` as {@link spikeGatherAddThreads}. */
export function countsGatherAddThreads(
  x: FloatArray, xOff: number, w: FloatArray, wOff: number, c: FloatArray, cOff: number,
  m: number, k: number, n: number, accumulate: boolean, threads?: number, outIn = false, bias: FloatArray | null = null,
): void {
  const p = partsOf(m * k * n, m, threads);
  if (p <= 1) countsGatherAdd(x, xOff, w, wOff, c, cOff, m, k, n, accumulate, outIn, bias);
  else gather(LIN_COUNTS_GATHER, x, xOff, k, w, wOff, k * n, c, cOff, m, k, n, 0, accumulate, p, outIn, bias);
}

/**
 * Shared scatter driver: acc [k, n] rows of units r0..r1-1 (a unit is `per`
 * accumulator rows: 32 for spike words, 1 for counts columns).
 */
function scatter(
  kind: number, a: Operand, aOff: number, aLen: number, g: FloatArray, gOff: number, acc: FloatArray, accOff: number,
  m: number, k: number, n: number, wpr: number, units: number, per: number, parts: number, fresh: boolean,
): void {
  let costs: Float64Array | null = null;
  if (kind === LIN_SPIKE_SCATTER) {
    // Balanced by work: a spike word column costs its set bits (one gradient row added each) plus the scan,
    // counted on up to 512 rows spread over all m (every row's took 2.5 ms of the calling thread a MNIST step).
    const cost = new Float64Array(units);
    const s = a as Uint32Array;
    eachSampledRow(m, 512, (i) => {
      for (let q = 0; q < wpr; q++) cost[q] += popcnt32(s[aOff + i * wpr + q]!) + 0.1;
    });
    costs = cost;
  }
  const shares = partShares(parts);
  const cuts = costs === null ? evenCuts(units, parts, shares) : weightedCuts(costs, parts, shares);
  const mine = cuts[1]!;
  const [sa, sg, sc] = scratchViews([req(a, aLen), req(g, m * n), req(acc, k * n)]) as [FloatArray, FloatArray, FloatArray];
  const stA = !inHeap(a), stG = !inHeap(g), stC = !inHeap(acc);
  if (stA) stage(a, aOff, 0, aLen, sa);
  if (stG) stage(g, gOff, 0, m * n, sg);
  const lo = Math.min(k, mine * per) * n;
  if (stC && !fresh) stage(acc, accOff, lo, k * n, sc);
  const wa = stA ? sa : asFloat(a), wg = stG ? sg : g, wc = stC ? sc : acc;
  const aB = stA ? sabBase(sa) : sabBase(wa) + aOff, gB = stG ? sabBase(sg) : sabBase(g) + gOff, cB = stC ? sabBase(sc) : sabBase(acc) + accOff;
  const jobs: Part[] = [];
  for (let j = 1; j < parts; j++) jobs.push(scatterJob(kind, [wa, wg, wc], aB, gB, cB, m, k, n, wpr, cuts[j]!, cuts[j + 1]!, fresh));
  runParts(kind === LIN_SPIKE_SCATTER ? "spikeLinear.weight" : "countsLinear.weight", jobs, () => {
    linearPart(kind, asFloat(a), aOff, g, gOff, acc, accOff, m, k, n, wpr, 0, mine, false, false, fresh);
  }, partCosts(costs, cuts));
  if (stC) acc.set(sc.subarray(lo, k * n), accOff + lo);
}

/** A worker's part of scatter `kind`: accumulator units r0..r1-1, the operands at heap element indices aB, gB, cB of `bufs`. */
function scatterJob(
  kind: number, bufs: readonly FloatArray[], aB: number, gB: number, cB: number, m: number, k: number, n: number, wpr: number,
  r0: number, r1: number, fresh: boolean,
): Part {
  return { op: OP_SPIKE_LINEAR, args: [kind, aB, gB, cB, m, k, n, wpr, r0, r1, 0, 0, fresh ? 1 : 0, -1], bufs };
}

/** The whole scatter `kind` (all its `units`, `fresh` or accumulating) as one worker's part; null where an array is not in the heap. */
function scatterPart(
  kind: number, a: Operand, aOff: number, g: FloatArray, gOff: number, acc: FloatArray, accOff: number,
  m: number, k: number, n: number, wpr: number, units: number, fresh: boolean,
): Part | null {
  if (!inHeap(a) || !inHeap(g) || !inHeap(acc)) return null;
  const fa = asFloat(a);
  return scatterJob(kind, [fa, g, acc], sabBase(fa) + aOff, sabBase(g) + gOff, sabBase(acc) + accOff, m, k, n, wpr, 0, units, fresh);
}

/**
 * The whole of {@link spikeScatterRowsThreads} as one worker's part, to run beside the input gradient's claims
 * (runBesideOr in src/parallel/pool.ts); null where an array is not in the heap.
 */
export function spikeScatterPart(
  s: Uint32Array, sOff: number, wpr: number, g: FloatArray, gOff: number, acc: FloatArray, accOff: number, m: number, k: number, n: number, fresh: boolean,
): Part | null {
  return scatterPart(LIN_SPIKE_SCATTER, s, sOff, g, gOff, acc, accOff, m, k, n, wpr, wpr, fresh);
}

/** The whole of {@link countsScatterRowsThreads} as one worker's part, as {@link spikeScatterPart}. */
export function countsScatterPart(
  x: FloatArray, xOff: number, g: FloatArray, gOff: number, acc: FloatArray, accOff: number, m: number, k: number, n: number, fresh: boolean,
): Part | null {
  return scatterPart(LIN_COUNTS_SCATTER, x, xOff, g, gOff, acc, accOff, m, k, n, 0, k, fresh);
}

/**
 * {@link spikeScatterRows} (same contract and bits) for spikes [m, k] (wpr
 * words per row) into acc [k, n], the spike words split over threads.
 * `fresh`: acc's k n values start at +0 whatever they hold (acc = Aᵀ G), each
 * thread zeroing the rows it then sums into, so acc needs no zero fill.
 */
export function spikeScatterRowsThreads(
  s: Uint32Array, sOff: number, wpr: number, g: FloatArray, gOff: number, acc: FloatArray, accOff: number,
  m: number, k: number, n: number, threads?: number, fresh = false,
): void {
  const p = partsOf(m * k * n, wpr, threads);
  if (p > 1) scatter(LIN_SPIKE_SCATTER, s, sOff, m * wpr, g, gOff, acc, accOff, m, k, n, wpr, wpr, 32, p, fresh);
  else {
    if (fresh) acc.fill(0, accOff, accOff + k * n);
    spikeScatterRows(s, sOff, wpr, g, gOff, acc, accOff, m, n);
  }
}

/** {@link countsScatterRows} (same contract and bits), the columns of x split over threads; `fresh` as {@link spikeScatterRowsThreads}. */
export function countsScatterRowsThreads(
  x: FloatArray, xOff: number, g: FloatArray, gOff: number, acc: FloatArray, accOff: number,
  m: number, k: number, n: number, threads?: number, fresh = false,
): void {
  const p = partsOf(m * k * n, k, threads);
  if (p > 1) scatter(LIN_COUNTS_SCATTER, x, xOff, m * k, g, gOff, acc, accOff, m, k, n, 0, k, 1, p, fresh);
  else {
    if (fresh) acc.fill(0, accOff, accOff + k * n);
    countsScatterRows(x, xOff, g, gOff, acc, accOff, m, k, n);
  }
}

let fusedCalls = 0;

/** How many fused linear -> BN -> LIF forwards this thread has started (lets tests see that the fused path ran). */
export function linearNormLifCalls(): number {
  return fusedCalls;
}

/**
 * The fused inference forward linear -> batch norm -> LIF of one or more projections of `input` [T M, k]
 * ({@link linearNormLifRange}): units of UNIT_TOKENS tokens split over threads (default: by size and the
 * pool), claimed as they go. Needs what linearNormLifFits says (the op checks).
 */
export function linearNormLifThreads(input: TokenRows, k: number, M: number, T: number, layers: readonly NormLifProjection[], threads?: number): void {
  fusedCalls++;
  const units = Math.ceil(M / UNIT_TOKENS);
  const outs = layers.reduce((a, l) => a + l.n, 0);
  const parts = partsOf(T * M * k * outs, units, threads);
  if (parts <= 1) {
    linearNormLifRange(input, k, M, T, layers, unitRange(0, units));
    return;
  }
  const tb = projectionTable.take(8 * PROJECTION_SLOTS * layers.length) / 8;
  const f64 = heapF64();
  layers.forEach((l, j) => {
    const o = tb + j * PROJECTION_SLOTS, { tau, vTh, vReset, hardReset } = l.lif;
    f64.set([sabBase(l.w), l.n, l.bias === null ? -1 : sabBase(l.bias), sabBase(l.vec), sabBase(asFloats(l.out)), tau, vTh, vReset, hardReset ? 1 : 0], o);
  });
  const src = input.kind === "counts" ? input.x : asFloats(input.words);
  const args = (at: number): number[] => [input.kind === "counts" ? 1 : 0, sabBase(src), k, input.kind === "counts" ? 0 : input.wpr, M, T, layers.length, tb, at];
  runClaimed("linearNormLif", units, parts, 1, (at) => ({ op: OP_LINEAR_NORM_LIF, args: args(at), bufs: [src, f64.subarray(tb)] }), (ranges) =>
    linearNormLifRange(input, k, M, T, layers, ranges));
}
