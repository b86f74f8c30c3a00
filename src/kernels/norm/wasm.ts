/**
 * The WebAssembly SIMD twins of the batch-norm channel passes
 * (src/kernels/norm/norm.ts) for the token layout [rows, C] (S = 1), where every
 * row holds one element of each channel: f64x2 lanes run two channels side by
 * side, each lane adding its channel's terms in row order, as the JS passes
 * do. Float32 inputs are widened exactly (f64x2.promote_low_f32x4) and outputs
 * rounded once (f32x4.demote_f64x2_zero, as a Float32Array store), every
 * operation separate and in the JS order: the results are bit-identical.
 *
 * Functions over `rows` rows of c float32 values, consecutive rows `stride`
 * values apart (stride = c for a whole tensor; a channel range c0..c1 of a
 * [rows, C] tensor passes pointers at channel c0, c = c1 - c0 and stride C, so
 * threads can split the channels of an element-wise pass and still run here);
 * the per-channel float64 vectors (c each) are read and the accumulators added
 * into, never cleared (norm.ts runs the sums once a block of samples, from
 * zeroed accumulators: sumBlocks):
 *
 *   sums(x, rows, c, acc)                      acc[ch] += x[r, ch]
 *   shiftedSums(x, rows, c, k, s1, s2)         d = x[r, ch] - k[ch]; s1[ch] += d; s2[ch] += d d
 *   gradSums(g, x, rows, c, mean, accG, accGX) accG[ch] += g; accGX[ch] += g (x - mean[ch])
 *   affine(x, out, rows, c, scale, shift)      out = f32(f32(x scale[ch]) + shift[ch]) (float32 scale and shift)
 *   gradInput(g, x, dx, rows, c, mean, invStd, k, a, b)
 *                                              dx = f32(k[ch] (g - a[ch] - (x - mean[ch]) invStd[ch] b[ch]))
 *
 * All arguments are byte offsets into the heap (src/tensor/heap.ts: the
 * arrays in place, the vectors in the kernel's scratch), then counts. Each
 * has a `<name>Runs` form for x [N, C, S] (see runsFunc).
 */
import { Code, emitModule, I32, V128, frame, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";

/** A pass: its float32 row arrays, its float64 per-channel vectors, and the lane arithmetic on them. */
interface PassDef {
  name: string;
  /** The vectors that are sums over rows (kept in registers over a run in the [N, C, S] form). */
  accs: readonly string[];
  /** float32 [rows, c] arrays read (and written, for outputs). */
  rowArrays: readonly string[];
  /** float64 [c] vectors. */
  vectors: readonly string[];
  /** v128 locals the body keeps a value in ({@link LaneEmitter.temp}). */
  temps?: readonly string[];
  /** Rows the token-layout form takes at once (see passFunc). */
  rowBlock: number;
  /**
   * Emits the lanes' work for channels at the current position: `row(name)`
   * pushes a float32 array's two (or one) values widened to f64x2, `vec(name)`
   * pushes a vector's, `storeRow` / `storeVec` write back.
   */
  body(e: LaneEmitter): void;
}

interface LaneEmitter {
  c: Code;
  row(name: string): void;
  vec(name: string): void;
  /** Pops an f64x2 and stores it rounded to float32 into a row array. */
  storeRow(name: string, value: () => void): void;
  /** Stores an f64x2 into a vector. */
  storeVec(name: string, value: () => void): void;
  /** The local index of one of the pass's temps. */
  temp(name: string): number;
}

/** A pass's temps as v128 locals, and the emitters' lookup of them. */
const tempLocals = (def: PassDef) => (def.temps ?? []).map((n) => [`t_${n}`, V128] as const);
const tempIn = (L: Record<string, number>) => (n: string): number => L[`t_${n}`]!;

const PASSES: readonly PassDef[] = [
  {
    name: "sums", accs: ["acc"], rowArrays: ["x"], vectors: ["acc"], rowBlock: 4,
    body: (e) => e.storeVec("acc", () => { e.vec("acc"); e.row("x"); e.c.f64x2Add(); }),
  },
  {
    name: "shiftedSums", accs: ["s1", "s2"], rowArrays: ["x"], vectors: ["k", "s1", "s2"], rowBlock: 4,
    temps: ["d"],
    body: (e) => {
      const d = e.temp("d");
      e.row("x"); e.vec("k"); e.c.f64x2Sub().set(d);
      e.storeVec("s1", () => { e.vec("s1"); e.c.get(d).f64x2Add(); });
      e.storeVec("s2", () => { e.vec("s2"); e.c.get(d).get(d).f64x2Mul().f64x2Add(); });
    },
  },
  {
    name: "gradSums", accs: ["accG", "accGX"], rowArrays: ["g", "x"], vectors: ["mean", "accG", "accGX"], rowBlock: 2,
    temps: ["g"],
    body: (e) => {
      const g = e.temp("g");
      e.row("g"); e.c.set(g);
      e.storeVec("accG", () => { e.vec("accG"); e.c.get(g).f64x2Add(); });
      e.storeVec("accGX", () => { e.vec("accGX"); e.c.get(g); e.row("x"); e.vec("mean"); e.c.f64x2Sub().f64x2Mul().f64x2Add(); });
    },
  },
  {
    name: "affine", accs: [], rowArrays: ["x", "out"], vectors: ["scale", "shift"], rowBlock: 2,
    // f32(f32(x scale) + shift) (affineValue): the float64 product of two float32 values is exact, so
    // demoting it is the float32 product; the float64 sum rounded to float32 is the float32 sum (53 >= 2 24 + 2
    // bits: double rounding is innocuous for +).
    body: (e) => e.storeRow("out", () => {
      e.row("x"); e.vec("scale"); e.c.f64x2Mul().f32x4DemoteF64x2Zero().f64x2PromoteLowF32x4(); e.vec("shift"); e.c.f64x2Add();
    }),
  },
  {
    name: "gradInput", accs: [], rowArrays: ["g", "x", "dx"], vectors: ["mean", "invStd", "k", "a", "b"], rowBlock: 2,
    body: (e) => e.storeRow("dx", () => {
      e.vec("k");
      e.row("g"); e.vec("a"); e.c.f64x2Sub();
      e.row("x"); e.vec("mean"); e.c.f64x2Sub(); e.vec("invStd"); e.c.f64x2Mul(); e.vec("b"); e.c.f64x2Mul();
      e.c.f64x2Sub().f64x2Mul();
    }),
  },
];

/**
 * One pass as a function (rowArrays..., rows, c, stride, vectors...): blocks of `rowBlock` rows, then the
 * rows left one at a time; across each, channel pairs with f64x2 lanes, then one lane for an odd c. Sums
 * load a pair's accumulators once a block and add the block's rows into them in row order in registers,
 * then store them: the same additions in the same order as a row at a time (a float64 stored and loaded
 * back is the same value). Element-wise passes load the pair's vectors once for the block's rows.
 *
 * Few pointers move: one per row of a block into the first row array (the others sit a fixed distance
 * from it), and one channel offset into the vectors. With a pointer per array and row and per vector
 * (17 for the input gradient's blocks of 4 rows, more than x64's registers) half of the loop's
 * instructions spilled and reloaded them. Blocks of 2 rows for the passes with two or three row arrays
 * (TurboFan keeps every row's address live), 4 for one. ns a value, one thread, [2048, 384] / [2048,
 * 1536] / [12544, 128]: input gradient 1.18 / 1.25 / 1.18 -> 0.78-0.81 / 0.96-1.07 / 0.77-0.81,
 * gradient sums 0.72 / 0.64 / 0.72 -> 0.60-0.63 / 0.52-0.53 / 0.55-0.57, shifted sums unchanged.
 * The same operations on every element: the same bits.
 */
function passFunc(def: PassDef): FuncDef {
  const [first, ...others] = def.rowArrays;
  const sums = def.accs.length > 0;
  const rowPtr = (i: number) => `q${i}`;
  const dist = (n: string) => `d_${n}`;
  const reg = (n: string) => `r_${n}`;
  const f = frame(
    [...def.rowArrays.map((n) => [n, I32] as const), ["rows", I32], ["c", I32], ["stride", I32], ...def.vectors.map((n) => [n, I32] as const)],
    [
      ["r", I32], ["ch", I32], ["rowB", I32], ["bs", I32], ["jv", I32],
      ...Array.from({ length: def.rowBlock }, (_, i) => [rowPtr(i), I32] as const),
      ...others.map((n) => [dist(n), I32] as const),
      ["tmp", V128], ...def.vectors.map((n) => [reg(n), V128] as const), ...tempLocals(def),
    ],
  );
  const L = f.idx as Record<string, number>;
  const c = new Code();
  /** Pushes the address of row array `n` in row `i` of the block (its row pointer, plus its distance from the first array). */
  const rowAt = (n: string, i: number): void => {
    c.get(L[rowPtr(i)]!);
    if (n !== first) c.get(L[dist(n)]!).i32Add();
  };
  /** Pushes the address of vector `n` at the current channel. */
  const vecAt = (n: string): void => void c.get(L[n]!).get(L.jv!).i32Add();
  /** A channel pair (`two`) or the last channel, over `rows` rows from the row pointers. */
  const lanes = (two: boolean, rows: number): void => {
    for (const n of def.vectors) { vecAt(n); if (two) c.v128Load(0); else c.v128Load64Zero(); c.set(L[reg(n)]!); }
    for (let i = 0; i < rows; i++) {
      def.body({
        c,
        row: (n) => { rowAt(n, i); if (two) c.v128Load64Zero(); else c.v128Load32Zero(); c.f64x2PromoteLowF32x4(); },
        vec: (n) => void c.get(L[reg(n)]!),
        storeRow: (n, value) => {
          if (sums) throw new Error(`${def.name}: sums store no rows`);
          value();
          c.f32x4DemoteF64x2Zero().set(L.tmp!);
          rowAt(n, i); c.get(L.tmp!);
          if (two) c.v128Store64Lane(0); else c.v128Store32Lane(0);
        },
        storeVec: (n, value) => { value(); c.set(L[reg(n)]!); },
        temp: tempIn(L),
      });
    }
    for (const a of def.accs) { vecAt(a); c.get(L[reg(a)]!); if (two) c.v128Store(0); else c.v128Store64Lane(0); }
  };
  /** Every channel of `rows` rows from the row start bs. */
  const acrossRows = (rows: number): void => {
    c.get(L.bs!).set(L[rowPtr(0)]!);
    for (let i = 1; i < rows; i++) c.get(L[rowPtr(i - 1)]!).get(L.rowB!).i32Add().set(L[rowPtr(i)]!);
    c.i32Const(0).set(L.jv!).i32Const(0).set(L.ch!);
    c.block().loop(); // channel pairs
    c.get(L.ch!).i32Const(1).i32Add().get(L.c!).i32GeU().brIf(1);
    lanes(true, rows);
    for (let i = 0; i < rows; i++) c.get(L[rowPtr(i)]!).i32Const(8).i32Add().set(L[rowPtr(i)]!);
    c.get(L.jv!).i32Const(16).i32Add().set(L.jv!);
    c.get(L.ch!).i32Const(2).i32Add().set(L.ch!);
    c.br(0).end().end();
    c.get(L.ch!).get(L.c!).i32LtU().if();
    lanes(false, rows);
    c.end();
    c.get(L.bs!).get(L.rowB!).i32Const(rows).i32Mul().i32Add().set(L.bs!);
    c.get(L.r!).i32Const(rows).i32Add().set(L.r!);
  };
  c.get(L.stride!).i32Const(2).i32Shl().set(L.rowB!);
  for (const n of others) c.get(L[n]!).get(L[first!]!).i32Sub().set(L[dist(n)]!);
  c.get(L[first!]!).set(L.bs!);
  c.i32Const(0).set(L.r!);
  c.block().loop(); // blocks of rows
  c.get(L.r!).i32Const(def.rowBlock).i32Add().get(L.rows!).i32GtS().brIf(1);
  acrossRows(def.rowBlock);
  c.br(0).end().end();
  c.block().loop(); // the rows left, one at a time
  c.get(L.r!).get(L.rows!).i32LtU().i32Eqz().brIf(1);
  acrossRows(1);
  c.br(0).end().end();
  return { name: def.name, params: f.params, results: [], locals: f.locals, body: c };
}

/**
 * The same pass for x [N, C, S] (conv activations: a run of S values per
 * sample and channel) as `<name>Runs(rowArrays..., n, c, s, stride, vectors...)`,
 * samples `stride` values apart (c s for a whole tensor, C s for a channel range).
 * Element-wise passes run each run with f64x2 lanes (pairs, then one) and the
 * channel's constants splatted into registers once a run. Sums keep two channels' accumulators in the
 * two lanes of a register (lane 1 reads the next channel's run, S values on),
 * adding along the runs in sample order: each channel's terms in the JS order.
 */
function runsFunc(def: PassDef): FuncDef {
  const ptr = (n: string) => `p_${n}`;
  const reg = (n: string) => `r_${n}`;
  /** An element-wise pass's channel constant, splatted once a run. */
  const splat = (n: string) => `h_${n}`;
  const f = frame(
    [...def.rowArrays.map((n) => [n, I32] as const), ["n", I32], ["c", I32], ["s", I32], ["stride", I32], ...def.vectors.map((n) => [n, I32] as const)],
    [
      ["i", I32], ["ch", I32], ["q", I32], ["s4", I32], ["skip", I32],
      ...[...def.rowArrays, ...def.vectors].map((n) => [ptr(n), I32] as const),
      ...def.accs.map((n) => [reg(n), V128] as const), ["tmp", V128], ...tempLocals(def),
      ...(def.accs.length === 0 ? def.vectors.map((n) => [splat(n), V128] as const) : []),
    ],
  );
  const L = f.idx as Record<string, number>;
  const c = new Code();
  const P = (n: string) => L[ptr(n)]!;
  const advance = (names: readonly string[], bytes: number | "s4" | "skip") => {
    for (const n of names) {
      c.get(P(n));
      if (typeof bytes === "string") c.get(L[bytes]!); else c.i32Const(bytes);
      c.i32Add().set(P(n));
    }
  };
  /** Loop `while (q + 1 < s)` (pairs) or `if (q < s)` (the last one) around `body`. */
  const overRun = (body: (two: boolean) => void, pairs: boolean) => {
    c.i32Const(0).set(L.q!);
    if (pairs) {
      c.block().loop();
      c.get(L.q!).i32Const(1).i32Add().get(L.s!).i32GeU().brIf(1);
      body(true);
      c.get(L.q!).i32Const(2).i32Add().set(L.q!);
      c.br(0).end().end();
      c.get(L.q!).get(L.s!).i32LtU().if();
      body(false);
      c.end();
    } else {
      c.block().loop();
      c.get(L.q!).get(L.s!).i32LtU().i32Eqz().brIf(1);
      body(false);
      c.get(L.q!).i32Const(1).i32Add().set(L.q!);
      c.br(0).end().end();
    }
  };
  const elementwise = def.accs.length === 0;
  /** One channel (or a pair, for sums with `twoCh`): its constants or accumulators, then its run(s). */
  const channel = (twoCh: boolean) => {
    if (!elementwise) for (const a of def.accs) { c.get(P(a)); if (twoCh) c.v128Load(0); else c.v128Load64Zero(); c.set(L[reg(a)]!); }
    else for (const n of def.vectors) c.get(P(n)).v128Load64Splat().set(L[splat(n)]!);
    overRun((two) => {
      const e: LaneEmitter = elementwise
        ? {
          c,
          row: (n) => { c.get(P(n)); if (two) c.v128Load64Zero(); else c.v128Load32Zero(); c.f64x2PromoteLowF32x4(); },
          vec: (n) => { c.get(L[splat(n)]!); },
          storeRow: (n, value) => {
            value();
            c.f32x4DemoteF64x2Zero().set(L.tmp!).get(P(n)).get(L.tmp!);
            if (two) c.v128Store64Lane(0); else c.v128Store32Lane(0);
          },
          storeVec: () => { throw new Error(`${def.name}: element-wise passes store no vectors`); },
          temp: tempIn(L),
        }
        : {
          c,
          row: (n) => {
            if (twoCh) c.get(P(n)).get(L.s4!).i32Add();
            c.get(P(n)).v128Load32Zero();
            if (twoCh) c.v128Load32Lane(1);
            c.f64x2PromoteLowF32x4();
          },
          vec: (n) => {
            if (def.accs.includes(n)) { c.get(L[reg(n)]!); return; }
            c.get(P(n)); if (twoCh) c.v128Load(0); else c.v128Load64Zero();
          },
          storeRow: () => { throw new Error(`${def.name}: sums store no rows`); },
          storeVec: (n, value) => { value(); c.set(L[reg(n)]!); },
          temp: tempIn(L),
        };
      def.body(e);
      advance(def.rowArrays, two ? 8 : 4);
    }, elementwise);
    if (!elementwise) {
      for (const a of def.accs) { c.get(P(a)).get(L[reg(a)]!); if (twoCh) c.v128Store(0); else c.v128Store64Lane(0); }
      if (twoCh) advance(def.rowArrays, "s4"); // past the second channel's run, read through lane 1
    }
    advance(def.vectors, twoCh ? 16 : 8);
  };
  c.get(L.s!).i32Const(2).i32Shl().set(L.s4!);
  c.get(L.stride!).get(L.c!).get(L.s!).i32Mul().i32Sub().i32Const(2).i32Shl().set(L.skip!); // a sample's end to the next one's start
  for (const n of def.rowArrays) c.get(L[n]!).set(P(n));
  c.i32Const(0).set(L.i!);
  c.block().loop(); // samples
  c.get(L.i!).get(L.n!).i32LtU().i32Eqz().brIf(1);
  for (const n of def.vectors) c.get(L[n]!).set(P(n));
  c.i32Const(0).set(L.ch!);
  c.block().loop(); // channels (pairs of them for sums)
  if (elementwise) {
    c.get(L.ch!).get(L.c!).i32LtU().i32Eqz().brIf(1);
    channel(false);
    c.get(L.ch!).i32Const(1).i32Add().set(L.ch!);
  } else {
    c.get(L.ch!).i32Const(1).i32Add().get(L.c!).i32GeU().brIf(1);
    channel(true);
    c.get(L.ch!).i32Const(2).i32Add().set(L.ch!);
  }
  c.br(0).end().end();
  if (!elementwise) {
    c.get(L.ch!).get(L.c!).i32LtU().if();
    channel(false);
    c.end();
  }
  advance(def.rowArrays, "skip");
  c.get(L.i!).i32Const(1).i32Add().set(L.i!);
  c.br(0).end().end();
  return { name: `${def.name}Runs`, params: f.params, results: [], locals: f.locals, body: c };
}

/** The norm kernel module's bytes (emitted from TypeScript, deterministic). */
export function normKernelModule(): Uint8Array {
  return emitModule({ minPages: 1, shared: true, funcs: [...PASSES.map(passFunc), ...PASSES.map(runsFunc)] });
}

/** This thread's instance, over the heap; its scratch holds the per-channel vectors and the stagings of foreign arrays. */
export const normKernel = new HeapKernel(normKernelModule);
let runs = 0;

/** The passes by name. */
export type NormPass = "sums" | "shiftedSums" | "gradSums" | "affine" | "gradInput";

/** Runs pass `name` (or its [N, C, S] form `<name>Runs`) with byte offsets, counts and stride as the header lists them. */
export function normPassWasm(name: NormPass | `${NormPass}Runs`, ...args: number[]): void {
  runs++;
  (normKernel.exports()[name] as (...a: number[]) => void)(...args);
}

/** How many times this thread has run a WASM norm pass (lets tests see which backend ran). */
export function normWasmRuns(): number {
  return runs;
}
