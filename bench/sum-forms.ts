/**
 * Why the event sums add what they add: the panel sums of one token block (256 bucket rows, as the fused
 * linear runs them) on Spikformer-4-384 shapes, in four forms, one thread, each the median of seven runs of
 * twenty calls:
 *
 * - weighted: the counts sum as the model runs it, acc = f32(acc + f32(v * w)) (the residual stream's
 *   counts, drawn with the distribution of a CIFAR b8 inference pass's q / k / v input: of the nonzeros 82% are
 *   1, 14% 2, 3.3% 3, the rest 4 to 7);
 * - plain: the same entries without the multiply (wrong for counts above 1: the floor of any form that
 *   drops it, on a core where the multiply and the add share their ports);
 * - multiples: the same sum without the multiply and with the same bits: the source's rows f32(v w) made
 *   once for v = 1..V (row p V + v - 1), each entry pointing at its value's row (checked bit for bit);
 * - grouped (spike rows, changes the bits): rows of G source rows' 2^G subset sums, one entry per group
 *   with a set bit, so fewer entries, against the plain sum of the spikes.
 *
 *   npx tsx bench/sum-forms.ts
 */
import { heapArray, heapF32, heapI32 } from "../src/tensor/heap.js";
import { align16, countsBucketsRun, packPanelsF32, PANEL_ENTRY, panelBytes, setPanelTiles, spikeSumRun, spikeSumScratch } from "../src/kernels/spike-sum/wasm.js";
import { Rng } from "../src/tensor/random.js";

const ROWS = 256;
const rng = new Rng(1);

function median(f: () => void): number {
  const runs: number[] = [];
  f();
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    for (let j = 0; j < 20; j++) f();
    runs.push((performance.now() - t) / 20);
  }
  return runs.sort((a, b) => a - b)[3]!;
}

/** A count of the residual stream: 0 at 73%, else 1..7 as measured (see the file comment). */
function count(): number {
  if (rng.uniform() < 0.73) return 0;
  const u = rng.uniform();
  return u < 0.82 ? 1 : u < 0.96 ? 2 : u < 0.993 ? 3 : 4 + rng.int(4);
}

/** Wᵀ [k, n] rows in the heap, uniform in [-0.5, 0.5). */
function source(k: number, n: number): Float32Array {
  const w = heapArray(Float32Array, k * n);
  for (let i = 0; i < w.length; i++) w[i] = rng.uniform() - 0.5;
  return w;
}

/** Runs `f` with the panel blocks `blockRows` source rows high (the kernel's default tile rows). */
function withBlocks(blockRows: number, f: () => void): void {
  const old = setPanelTiles(blockRows, 128);
  try {
    f();
  } finally {
    setPanelTiles(...old);
  }
}

function countsForms(k: number, n: number): string {
  const V = 7;
  const x = heapArray(Float32Array, ROWS * k);
  for (let i = 0; i < x.length; i++) x[i] = count();
  const w = source(k, n);
  const mult = heapArray(Float32Array, V * k * n);
  for (let p = 0; p < k; p++) for (let v = 1; v <= V; v++) for (let j = 0; j < n; j++) mult[(p * V + v - 1) * n + j] = Math.fround(v * w[p * n + j]!);
  const at = { panels: 0, multPanels: align16(panelBytes(k, n)), cnt: 0, idx: 0, idxV: 0, val: 0, sum: 0, sumV: 0 };
  at.cnt = at.multPanels + align16(panelBytes(V * k, n));
  at.idx = at.cnt + align16(ROWS * 4);
  at.idxV = at.idx + align16(ROWS * k * 4);
  at.val = at.idxV + align16(ROWS * k * 4);
  at.sum = at.val + align16(ROWS * k * 4);
  at.sumV = at.sum + align16(ROWS * n * 4);
  const base = spikeSumScratch(at.sumV + align16(ROWS * n * 4));
  packPanelsF32(w.byteOffset, k, n, base + at.panels);
  packPanelsF32(mult.byteOffset, V * k, n, base + at.multPanels);
  countsBucketsRun(x.byteOffset, k, ROWS, PANEL_ENTRY, base + at.cnt, base + at.idx, base + at.val);
  const i32 = heapI32(), f32 = heapF32();
  let entries = 0;
  for (let r = 0; r < ROWS; r++) {
    const c = i32[(base + at.cnt) / 4 + r]!;
    entries += c;
    for (let e = r * k; e < r * k + c; e++) {
      i32[(base + at.idxV) / 4 + e] = ((i32[(base + at.idx) / 4 + e]! / PANEL_ENTRY) * V + f32[(base + at.val) / 4 + e]! - 1) * PANEL_ENTRY;
    }
  }
  const sum = (weighted: boolean, idx: number, src: number, rows: number, dst: number) => () =>
    spikeSumRun(true, weighted, ROWS, k, base + src, n, base + dst, base + at.cnt, base + idx, base + at.val, true, true, rows);
  const weighted = sum(true, at.idx, at.panels, k, at.sum), plain = sum(false, at.idx, at.panels, k, at.sum);
  const multiples = sum(false, at.idxV, at.multPanels, V * k, at.sumV);
  weighted();
  withBlocks(512 * V, multiples);
  const got = f32.subarray((base + at.sumV) / 4, (base + at.sumV) / 4 + ROWS * n), want = f32.subarray((base + at.sum) / 4, (base + at.sum) / 4 + ROWS * n);
  const same = got.every((v, i) => Object.is(v, want[i]));
  const tw = median(weighted), tp = median(plain);
  let tm = 0;
  withBlocks(512 * V, () => void (tm = median(multiples)));
  const gadd = (ms: number) => ((entries * n) / ms / 1e6).toFixed(1);
  return `counts ${k} -> ${n}: weighted ${tw.toFixed(3)} ms (${gadd(tw)} Gadd/s); plain ${(tp / tw).toFixed(2)}x; ` +
    `multiples of 1..${V} ${(tm / tw).toFixed(2)}x (${same ? "the same bits" : "BITS DIFFER"})`;
}

function groupedForms(k: number, n: number, rate: number, G: number): string {
  const bits = Uint8Array.from({ length: ROWS * k }, () => (rng.uniform() < rate ? 1 : 0));
  const w = source(k, n);
  const groups = Math.ceil(k / G), subsets = 1 << G;
  // Row g 2^G + m: the sum of group g's rows in m, lowest row first (the zero subset's row stays 0).
  const table = heapArray(Float32Array, groups * subsets * n);
  for (let g = 0; g < groups; g++) {
    for (let m = 1; m < subsets; m++) {
      const low = m & -m, p = g * G + Math.log2(low), dst = (g * subsets + m) * n, rest = (g * subsets + (m ^ low)) * n;
      if (p >= k) continue;
      for (let j = 0; j < n; j++) table[dst + j] = m === low ? w[p * n + j]! : Math.fround(table[rest + j]! + w[p * n + j]!);
    }
  }
  const at = { panels: 0, tablePanels: align16(panelBytes(k, n)), cnt: 0, cntG: 0, idx: 0, idxG: 0, sum: 0 };
  at.cnt = at.tablePanels + align16(panelBytes(groups * subsets, n));
  at.cntG = at.cnt + align16(ROWS * 4);
  at.idx = at.cntG + align16(ROWS * 4);
  at.idxG = at.idx + align16(ROWS * k * 4);
  at.sum = at.idxG + align16(ROWS * k * 4);
  const base = spikeSumScratch(at.sum + align16(ROWS * n * 4));
  packPanelsF32(w.byteOffset, k, n, base + at.panels);
  packPanelsF32(table.byteOffset, groups * subsets, n, base + at.tablePanels);
  const i32 = heapI32();
  let entries = 0, entriesG = 0;
  for (let r = 0; r < ROWS; r++) {
    let c = 0, cg = 0;
    for (let p = 0; p < k; p++) if (bits[r * k + p]) i32[(base + at.idx) / 4 + r * k + c++] = p * PANEL_ENTRY;
    for (let g = 0; g < groups; g++) {
      let m = 0;
      for (let q = 0; q < G && g * G + q < k; q++) m |= bits[r * k + g * G + q]! << q;
      if (m !== 0) i32[(base + at.idxG) / 4 + r * k + cg++] = (g * subsets + m) * PANEL_ENTRY;
    }
    i32[(base + at.cnt) / 4 + r] = c;
    i32[(base + at.cntG) / 4 + r] = cg;
    entries += c;
    entriesG += cg;
  }
  const plain = () => spikeSumRun(true, false, ROWS, k, base + at.panels, n, base + at.sum, base + at.cnt, base + at.idx, 0, true, true, k);
  const grouped = () => spikeSumRun(true, false, ROWS, k, base + at.tablePanels, n, base + at.sum, base + at.cntG, base + at.idxG, 0, true, true, groups * subsets);
  const tp = median(plain);
  let tg = 0;
  withBlocks((512 / G) * subsets, () => void (tg = median(grouped)));
  return `spikes ${k} -> ${n} at ${rate}, groups of ${G}: entries ${(entriesG / entries).toFixed(2)}x, time ${(tg / tp).toFixed(2)}x the plain sum's (${tp.toFixed(3)} ms)`;
}

for (const [k, n] of [[384, 384], [384, 1536]] as const) console.log(countsForms(k, n));
for (const G of [2, 4]) {
  for (const [k, n, rate] of [[384, 384, 0.25], [384, 1536, 0.25], [1536, 384, 0.12], [3456, 384, 0.25]] as const) console.log(groupedForms(k, n, rate, G));
}
process.exit(0);
