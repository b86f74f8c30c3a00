/**
 * Work-balanced splits for the event-driven twins, whose cost follows the
 * spikes (an image or channel with twice the set bits takes about twice as
 * long). Only where the cuts fall depends on the costs; each unit is still
 * computed whole by one thread, so the results do not.
 */
import { popcnt32 } from "../tensor/bits.js";

/**
 * Split of `units` (at least `parts`) into `parts` ranges: boundaries 0 = b[0] < ... < b[parts] = units,
 * even, or with `shares` (one a part, see partShares in ./pool.ts) in proportion to them.
 */
export function evenCuts(units: number, parts: number, shares?: ArrayLike<number>): number[] {
  let sum = 0;
  for (let j = 0; j < parts; j++) sum += shares?.[j] ?? 1;
  const cuts = [0];
  let before = 0;
  for (let j = 1; j < parts; j++) {
    before += shares?.[j - 1] ?? 1;
    // At least one unit per part (where there are units enough).
    const lo = Math.min(cuts[j - 1]! + 1, units), hi = Math.max(lo, units - (parts - j));
    cuts.push(Math.min(hi, Math.max(lo, Math.round((before * units) / sum))));
  }
  cuts.push(units);
  return cuts;
}

/**
 * Boundaries 0 = b[0] < b[1] < ... < b[parts] = cost.length (parts <= units)
 * that split the summed cost as evenly as whole units allow: cut j falls where
 * the running cost first reaches j / parts of the total, or with `shares` (one
 * a part), the first j parts' shares of it.
 */
export function weightedCuts(cost: ArrayLike<number>, parts: number, shares?: ArrayLike<number>): number[] {
  const units = cost.length;
  let total = 0;
  for (let u = 0; u < units; u++) total += cost[u]!;
  if (!(total > 0)) return evenCuts(units, parts, shares);
  let sum = 0;
  for (let j = 0; j < parts; j++) sum += shares?.[j] ?? 1;
  const cuts = [0];
  let acc = 0, before = 0;
  let u = 0;
  for (let j = 1; j < parts; j++) {
    before += shares?.[j - 1] ?? 1;
    const target = (before * total) / sum;
    // At least one unit per part, and leave one for each part still to come.
    while (u < units - (parts - j) && (u < cuts[j - 1]! + 1 || acc + cost[u]! / 2 < target)) acc += cost[u++]!;
    cuts.push(u);
  }
  cuts.push(units);
  return cuts;
}

/** Each part's summed cost for `cuts` (of {@link weightedCuts}; `cost` null: its units' count). */
export function partCosts(cost: ArrayLike<number> | null, cuts: readonly number[]): number[] {
  const out: number[] = [];
  for (let j = 0; j + 1 < cuts.length; j++) {
    let c = 0;
    if (cost === null) c = cuts[j + 1]! - cuts[j]!;
    else for (let u = cuts[j]!; u < cuts[j + 1]!; u++) c += cost[u]!;
    out.push(c);
  }
  return out;
}

/**
 * Set bits in words[from .. to); with a `stride` above 1, estimated from every stride-th word (times
 * stride): a cost for a split at a fraction of the count (counting every word, the spike conv's and
 * attention's balancing took 8.7 ms of a MNIST b64 two-thread step's calling thread: this function's self
 * time in bench/thread-cost.ts; the attention has since sampled whole heads instead, sampledRowBits).
 */
export function popcountRange(words: Uint32Array, from: number, to: number, stride = 1): number {
  let n = 0;
  for (let i = from; i < to; i += stride) n += popcnt32(words[i]!);
  return n * stride;
}

/**
 * Estimated cost of each of `rows` float rows of `rowLen` values (row i at
 * x[off + i rowLen]): its nonzeros plus `rowCost` (what the row costs besides them, in nonzeros). Up to `samples` rows are
 * counted (long ones estimated from a quarter of their values, see STRIDED_ROW), one in each of as many equal blocks, and each block takes its count:
 * the estimate stays a small part of the product it balances, and rows of
 * one time step (whose rates differ from the next step's) stay together.
 * 64 by default: at 256 the estimates of a CIFAR b8 training step's counts
 * gathers (rows of 384-1536 values) took 22 ms of the calling thread on two
 * threads (bench/thread-cost.ts), serial time before every split.
 */
export function sampledRowNonzeros(x: ArrayLike<number>, off: number, rows: number, rowLen: number, samples = 64, rowCost = 1): Float64Array {
  return sampledRowCosts(rows, samples, (r, j) => rowNonzeros(x, off + r * rowLen, rowLen, j) + rowCost);
}

/**
 * Calls `f(row, from, to, j)` for one row of each of up to `samples` equal blocks [from, to) of `rows` rows,
 * in order (j: the sample's number): the rows the estimates below (and the spike scatter's column costs) count.
 */
export function eachSampledRow(rows: number, samples: number, f: (row: number, from: number, to: number, j: number) => void): void {
  const step = Math.max(1, Math.floor(rows / samples));
  for (let i = 0, j = 0; i < rows; i += step, j++) {
    const end = Math.min(rows, i + step);
    f(spreadRow(i, end, j), i, end, j);
  }
}

/** Each of `rows` rows gets the cost `of` its block's sampled row, one row in each of up to `samples` equal blocks. */
function sampledRowCosts(rows: number, samples: number, of: (row: number, j: number) => number): Float64Array {
  const cost = new Float64Array(rows);
  eachSampledRow(rows, samples, (row, from, to, j) => cost.fill(of(row, j), from, to));
  return cost;
}

/**
 * {@link sampledRowNonzeros} for rows of spike words (row i at words[off + i wpr]): each block of rows
 * takes the set bits of one of its rows, plus `rowCost`. Counting every row, the threaded spike gather's
 * balancing took 7.2 ms of a MNIST b64 two-thread step's calling thread (its self time, bench/thread-cost.ts).
 */
export function sampledRowBits(words: Uint32Array, off: number, rows: number, wpr: number, samples = 256, rowCost = 1): Float64Array {
  return sampledRowCosts(rows, samples, (r) => popcountRange(words, off + r * wpr, off + (r + 1) * wpr) + rowCost);
}

/**
 * The share of nonzeros among `rows` float rows of `rowLen` values, counted on up to `samples` rows, one in
 * each of as many equal blocks (long rows on a quarter of their values, see STRIDED_ROW). 64 by default: enough
 * for the dense-or-sparse choices it serves (64 rows of 384 values at density 0.27, a quarter of each: a
 * standard error of 0.006 against thresholds of 0.4 and more), where 256 full rows took 3.3 ms of a one-thread CIFAR b8
 * training step (16 counts linears, rows of 384-1536 values; the sampler's self time in bench/thread-cost.ts,
 * 1.0 ms with 64), serial time.
 */
export function sampledDensity(x: ArrayLike<number>, off: number, rows: number, rowLen: number, samples = 64): number {
  if (rows === 0 || rowLen === 0) return 0;
  let nz = 0, seen = 0;
  eachSampledRow(rows, samples, (row, _from, _to, j) => {
    nz += rowNonzeros(x, off + row * rowLen, rowLen, j);
    seen++;
  });
  return nz / (seen * rowLen);
}

/**
 * The row sampled from block [from, to), sample j: a different place in each
 * block (a golden-ratio sequence), so a period in the rows (tokens of an image,
 * the step between samples often a multiple of it) cannot make every sample
 * the same token.
 */
function spreadRow(from: number, to: number, j: number): number {
  const frac = (j * 0.6180339887498949) % 1;
  return from + Math.floor(frac * (to - from));
}

/**
 * Rows of at least this many values are counted on every VALUE_STRIDE-th value (from a phase that moves
 * with the sample, so the samples together see every column) and the count scaled up: an estimate is all
 * a split or a dense-or-sparse choice needs, and the full counts of a CIFAR b8 inference pass's counts
 * linears took 3-4 ms of the calling thread on two threads (bench/thread-cost.ts), serial time.
 */
const STRIDED_ROW = 256;
const VALUE_STRIDE = 4;

/** Nonzeros of x[base .. base + len): exact below STRIDED_ROW values, else estimated from every VALUE_STRIDE-th from phase `sample` mod VALUE_STRIDE. */
function rowNonzeros(x: ArrayLike<number>, base: number, len: number, sample: number): number {
  const stride = len >= STRIDED_ROW ? VALUE_STRIDE : 1;
  let nz = 0, seen = 0;
  // Branch-free: a branch on random zeros mispredicts (256 rows x 1536 at density 0.3: 1.78 ms with it, 0.42 without).
  for (let j = sample % stride; j < len; j += stride, seen++) nz += Number(x[base + j] !== 0);
  return stride === 1 ? nz : (nz * len) / seen;
}
