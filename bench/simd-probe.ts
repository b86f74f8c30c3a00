/**
 * What this core's 128-bit lanes do a cycle, for reading the kernels' rates against: loops of eight
 * independent f32x4 chains, each step an add, a multiply, or a load + multiply + add (the weighted event
 * sums' step, a v128 load from L1), emitted like the kernels (src/wasm/emit.ts) and run on one thread.
 * Prints ns per f32x4 step (divide into 1 / the clock for steps a cycle). The event sums do one load and
 * an add (spikes) or a load, a multiply and an add (counts) per step; the float32 gemm a multiply and an
 * add with its loads amortized over a register tile.
 *
 * Then the panel sums' entry loop alone (src/kernels/spike-sum/wasm.ts: per entry, 7 v128 loads of its panel
 * row and 7 f32x4 adds into registers), its row found three ways: read from a table of entries, as the kernel
 * does; read from the table one entry ahead (the next address loaded while this entry adds); computed (no
 * table: the ceiling). Rows of a 384-row panel (43 KB), increasing as a bucket's are. Prints ns an entry and
 * G adds a second (28 an entry).
 *
 *   npx tsx bench/simd-probe.ts
 */
import { Code, emitModule, I32, V128 } from "../src/wasm/emit.js";
import { HeapKernel } from "../src/wasm/runtime.js";
import { heapArray } from "../src/tensor/heap.js";
import { Rng } from "../src/tensor/random.js";

/** Independent accumulator chains (the sums keep 7, the gemm's tile 12). */
const CHAINS = 8;
const KINDS = ["add", "mul", "load+add", "load+mul+add"] as const;
type Kind = (typeof KINDS)[number];

/** (n, p): n rounds of CHAINS steps on a 128-byte buffer at byte offset p; the chains' sum stored at p. */
function probe(kind: Kind): Code {
  const c = new Code();
  const [n, p, i, x] = [0, 1, 2, 3];
  const acc = Array.from({ length: CHAINS }, (_, k) => 4 + k);
  for (const a of [...acc, x]) c.get(p).v128Load(0).set(a);
  c.i32Const(0).set(i);
  c.block().loop();
  c.get(i).get(n).i32LtU().i32Eqz().brIf(1);
  for (let k = 0; k < CHAINS; k++) {
    c.get(acc[k]!);
    if (kind === "add") c.get(x).f32x4Add();
    else if (kind === "mul") c.get(x).f32x4Mul();
    else if (kind === "load+add") c.get(p).v128Load(16 * k).f32x4Add();
    else c.get(x).get(p).v128Load(16 * k).f32x4Mul().f32x4Add();
    c.set(acc[k]!);
  }
  return closeLoop(c, i, acc, p);
}

/** Ends a probe's loop (the counter moved on, the loop closed), then stores the chains' sum at `at` (so no chain is dead code). */
function closeLoop(c: Code, counter: number, acc: number[], at: number): Code {
  c.get(counter).i32Const(1).i32Add().set(counter);
  c.br(0).end().end();
  for (let k = 1; k < acc.length; k++) c.get(acc[0]!).get(acc[k]!).f32x4Add().set(acc[0]!);
  c.get(at).get(acc[0]!).v128Store(0);
  return c;
}

const kernel = new HeapKernel(() => emitModule({
  minPages: 1, shared: true,
  funcs: KINDS.map((kind) => ({ name: kind, params: [I32, I32], results: [], locals: [I32, ...new Array(CHAINS + 1).fill(V128)], body: probe(kind) })),
}));
/**
 * The fastest of three timed runs of `run(n)` in ms, after a warm-up run of n / 10 (compiled, tiered up); each
 * run starts with the values near 1 (so sums stay normal numbers, no subnormal slow paths).
 */
function bestMs(run: (n: number) => void, n: number, values: Float32Array): number {
  values.fill(1.0000001);
  run(n / 10);
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    values.fill(1.0000001);
    const t0 = performance.now();
    run(n);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

const buf = heapArray(Float32Array, 32, false) as Float32Array;
const rounds = 2e7;
for (const kind of KINDS) {
  const f = kernel.exports()[kind] as (n: number, p: number) => void;
  const best = bestMs((n) => f(n, buf.byteOffset), rounds, buf);
  console.log(`${kind.padEnd(13)} ${((best * 1e6) / (rounds * CHAINS)).toFixed(3)} ns a step (${CHAINS} chains)`);
}

/** Accumulators of the entry loops: the panel sums' (WIDE_ACCS). */
const ENTRY_ACCS = 7;
const ENTRY_FORMS = ["table", "table, one ahead", "computed"] as const;
type EntryForm = (typeof ENTRY_FORMS)[number];

/**
 * (n, tab, panel): n entries; entry e's row is the table's entry e mod 256 (a byte offset into the panel), or
 * (computed) row e times the row's bytes, wrapped within 32 KB of the panel.
 */
function entryLoop(form: EntryForm): Code {
  const c = new Code();
  const [n, tab, panel, e, p, next] = [0, 1, 2, 3, 4, 5];
  const acc = Array.from({ length: ENTRY_ACCS }, (_, k) => 6 + k);
  const rowBytes = 16 * ENTRY_ACCS;
  /** Pushes the panel address of the table's entry at index pushed by `index`. */
  const tableEntry = (index: () => void): void => {
    c.get(panel).get(tab);
    index();
    c.i32Const(255).i32And().i32Const(2).i32Shl().i32Add().i32Load().i32Add();
  };
  for (const a of acc) c.get(panel).v128Load(0).set(a);
  c.i32Const(0).set(e);
  if (form === "table, one ahead") {
    tableEntry(() => c.i32Const(0));
    c.set(next);
  }
  c.block().loop();
  c.get(e).get(n).i32LtU().i32Eqz().brIf(1);
  if (form === "table") {
    tableEntry(() => c.get(e));
    c.set(p);
  } else if (form === "table, one ahead") {
    c.get(next).set(p);
    tableEntry(() => c.get(e).i32Const(1).i32Add());
    c.set(next);
  } else {
    c.get(panel).get(e).i32Const(rowBytes).i32Mul().i32Const(32767 & ~15).i32And().i32Add().set(p);
  }
  for (let k = 0; k < ENTRY_ACCS; k++) c.get(acc[k]!).get(p).v128Load(16 * k).f32x4Add().set(acc[k]!);
  return closeLoop(c, e, acc, panel);
}

const entries = new HeapKernel(() => emitModule({
  minPages: 1, shared: true,
  funcs: ENTRY_FORMS.map((form, i) => ({
    name: `entry${i}`, params: [I32, I32, I32], results: [], locals: [I32, I32, I32, ...new Array(ENTRY_ACCS).fill(V128)], body: entryLoop(form),
  })),
}));
const PANEL_ROWS = 384;
const panel = heapArray(Float32Array, PANEL_ROWS * 4 * ENTRY_ACCS, false) as Float32Array;
const table = heapArray(Int32Array, 256, false) as Int32Array;
// A bucket's rows: increasing, about one in six (the inference's rates), wrapping round the panel.
const rng = new Rng(1);
for (let i = 0, row = 0; i < 256; i++) table[i] = (row = (row + 1 + Math.floor(rng.uniform() * 11)) % PANEL_ROWS) * 16 * ENTRY_ACCS;
const n = 1e7;
ENTRY_FORMS.forEach((form, i) => {
  const f = entries.exports()[`entry${i}`] as (n: number, tab: number, panel: number) => void;
  const ns = (bestMs((m) => f(m, table.byteOffset, panel.byteOffset), n, panel) * 1e6) / n;
  console.log(`entry, row ${form.padEnd(17)} ${ns.toFixed(3)} ns an entry, ${((4 * ENTRY_ACCS) / ns).toFixed(1)} G adds a second`);
});
