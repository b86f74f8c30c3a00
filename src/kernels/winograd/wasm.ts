/**
 * The WebAssembly SIMD twins of the Winograd F(4x4, 3x3) transforms of
 * ./winograd.ts: each lane of the f32x4 vectors does the reference's float32
 * operations in its order (the transforms of ./transforms.ts, run here to emit
 * the instructions), so the same bits. The tile transforms take four tiles
 * (four consecutive columns of V and M) in the lanes; the four may lie on
 * different tile rows, so each lane has its own address, from a table the
 * caller fills, and 4x4 transposes by shuffles turn four tiles' rows into
 * lanes and back. Their first pass goes through a stage in memory: 36 vectors
 * live at once would not fit in V8's 16 vector registers, and its own spills
 * of them took about 1.6x the time (measured on the input transform). The kernel
 * transform takes four output channels in the lanes. Bytes emitted from
 * TypeScript at first use in each thread (see emit.ts).
 *
 * Exports (byte offsets into the heap, float32 data; counts and strides in values):
 *   input(pad, o, plane, wp, offs, tp, v, n, ms, col0, stage)
 *     pad holds one image's gradient planes [o][plane] (row stride wp) with a
 *     zero border (padded row r, column s = gy[r - 1][s - 1]); offs[k] (u32,
 *     bytes) is the offset in a plane of column k's tile corner, k < tp (a
 *     multiple of 4); 8 values from each of the corner's 6 rows are read. It
 *     writes the 36 values V[e][oi][col0 + k], e = 6 xi + nu, rows of n
 *     values, matrix e at value e ms. stage: 36 vectors of scratch.
 *   output(m, c, n, ms, col0, offs, tp, out, plane, wq, stage)
 *     m holds M[e][ci][col] (rows of n values, matrix e at value e ms); writes
 *     each tile's A^T M A into out [c][plane] (row stride wq) as 4 rows of 4
 *     values from offs[k] (bytes, as above), k < tp.
 *   weights(w, o, c, u, ms)
 *     U[e][ci][oi] (rows of o values, matrix e at value e ms) of the kernels
 *     w [o][c][9]; also writes up to 3 values past each matrix's c o.
 */
import { Code, emitModule, frame, I32, V128, type FuncDef, type ValType } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";
import { ALPHA, TILE, transformInput, transformKernel, transformOutput, U_SCALE, type F32Ops, type Stage } from "./transforms.js";

/** Byte lanes of an i8x16.shuffle taking float32 lanes `f` (0-3 from the first vector, 4-7 from the second). */
const f32Lanes = (f: readonly number[]): number[] => f.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);

/** Named locals of all three functions, after their own parameters. */
const COMMON = [["i", I32], ["t0", I32], ["base", I32], ["p", I32], ["rowb", I32], ["l0", I32], ["l1", I32], ["l2", I32], ["l3", I32],
  ...Array.from({ length: ALPHA * ALPHA }, (_, e) => [`at${e}`, I32] as const)] as const;

/**
 * The straight-line values of a loop body: each result goes to a fresh v128
 * local (declared after the frame's once the body is emitted; V8 allocates
 * registers from the SSA form, so fresh locals cost nothing), and `ops` is the
 * f32x4 arithmetic the transforms run on, its constants splat into locals
 * before the loops (V8 would rebuild a v128.const inside the loop each time).
 */
class Values {
  private count = 0;
  private readonly consts = new Map<number, number>();
  readonly ops: F32Ops<number>;

  constructor(private readonly c: Code, private readonly first: number) {
    const bin = (a: number, b: number, op: () => void): number => {
      c.get(a).get(b);
      op();
      return this.fresh();
    };
    this.ops = {
      add: (a, b) => bin(a, b, () => c.f32x4Add()),
      sub: (a, b) => bin(a, b, () => c.f32x4Sub()),
      mul: (a, k) => bin(a, this.constant(k), () => c.f32x4Mul()),
      div: (a, k) => bin(a, this.constant(k), () => c.f32x4Div()),
    };
  }

  /** Splats each of `ks` into a local (before the loops), for `ops`. */
  constants(ks: readonly number[]): void {
    for (const k of new Set(ks)) {
      this.c.f32Const(k).f32x4Splat();
      this.consts.set(k, this.fresh());
    }
  }

  private constant(k: number): number {
    const at = this.consts.get(k);
    if (at === undefined) throw new Error(`winograd wasm: constant ${k} not splat before the loops`);
    return at;
  }

  /** Pops the vector on the stack into a fresh local. */
  fresh(): number {
    const x = this.first + this.count++;
    this.c.set(x);
    return x;
  }

  /** v128 at local `ptr` + offset bytes. */
  load(ptr: number, offset = 0): number {
    this.c.get(ptr).v128Load(offset);
    return this.fresh();
  }

  /** Lanes 0-3 of a vector from 4 bytes at each of the locals `ptrs` + offset. */
  gather(ptrs: readonly number[], offset: number): number {
    this.c.get(ptrs[0]!).v128Load32Zero(offset);
    let x = this.fresh();
    for (let l = 1; l < 4; l++) {
      this.c.get(ptrs[l]!).get(x).v128Load32Lane(l, offset);
      x = this.fresh();
    }
    return x;
  }

  /** Float32 lanes `f` of a, b (0-3 from a, 4-7 from b). */
  shuffle(a: number, b: number, f: readonly number[]): number {
    this.c.get(a).get(b).i8x16Shuffle(f32Lanes(f));
    return this.fresh();
  }

  /** The first `count` columns of the 4x4 matrix of rows x0..x3: column j = [x0[j], x1[j], x2[j], x3[j]]. */
  transpose(x: readonly number[], count: number): number[] {
    const cols: number[] = [];
    for (let j = 0; j < count; j += 2) {
      const a = this.shuffle(x[0]!, x[1]!, [j, 4 + j, j + 1, 5 + j]); // x0[j] x1[j] x0[j+1] x1[j+1]
      const b = this.shuffle(x[2]!, x[3]!, [j, 4 + j, j + 1, 5 + j]);
      cols.push(this.shuffle(a, b, [0, 1, 4, 5]), this.shuffle(a, b, [2, 3, 6, 7]));
    }
    return cols.slice(0, count);
  }

  types(): ValType[] {
    return new Array<ValType>(this.count).fill(V128);
  }
}

type Body = (c: Code, L: Record<string, number>, x: Values) => void;

/** A function of the given parameters, the common locals and `locals`: constants `ks` splat, then `body` (which may take fresh values). */
function transformFunc(
  name: string, params: readonly (readonly [string, ValType])[], locals: readonly (readonly [string, ValType])[], ks: readonly number[], body: Body,
): FuncDef {
  const f = frame(params, [...COMMON, ...locals]);
  const L = f.idx as Record<string, number>;
  const c = new Code();
  const x = new Values(c, params.length + f.locals.length);
  x.constants(ks);
  body(c, L, x);
  return { name, params: f.params, results: [], locals: [...f.locals, ...x.types()], body: c };
}

/** `for (i = 0; i < count; i += step) body()` over the local i (a counted loop on locals). */
function countUp(c: Code, i: number, count: number, step: number, body: () => void): void {
  c.i32Const(0).set(i);
  c.whileLtU(i, count, () => {
    body();
    c.get(i).i32Const(step).i32Add().set(i);
  });
}

/**
 * The loops the two tile transforms share: channel i < count, and four columns t0 .. t0 + 3 at a time
 * (t0 < tp); per group, l0..l3 = origin + i plane 4 (the channel's plane) + the lanes' tile offsets from the
 * table at offs.
 */
function eachLaneGroup(c: Code, L: Record<string, number>, count: number, origin: number, body: () => void): void {
  countUp(c, L.i!, count, 1, () => {
    c.get(origin).get(L.i!).get(L.plane!).i32Mul().i32Const(4).i32Mul().i32Add().set(L.base!);
    countUp(c, L.t0!, L.tp!, 4, () => {
      lanes(L).forEach((l, k) => c.get(L.base!).get(L.offs!).get(L.t0!).i32Const(2).i32Shl().i32Add().i32Load(4 * k).i32Add().set(l));
      body();
    });
  });
}

/** p = base + (i n + col0 + t0) 4: the group's first value in matrix 0 of V or M. */
function matrixPointer(c: Code, L: Record<string, number>, base: number): void {
  c.get(base).get(L.i!).get(L.n!).i32Mul().get(L.col0!).i32Add().get(L.t0!).i32Add().i32Const(4).i32Mul().i32Add().set(L.p!);
}

const lanes = (L: Record<string, number>): number[] => [L.l0!, L.l1!, L.l2!, L.l3!];

/** Adds `step` to each lane address. */
function stepLanes(c: Code, L: Record<string, number>, step: number): void {
  for (const l of lanes(L)) c.get(l).get(step).i32Add().set(l);
}

/** Sets at0..at35 = e ms 4, the byte offsets of matrix e from matrix 0 (V8 folds them into the addresses). */
function matrixOffsets(c: Code, L: Record<string, number>): void {
  for (let e = 0; e < ALPHA * ALPHA; e++) c.get(L.ms!).i32Const(4 * e).i32Mul().set(L[`at${e}`]!);
}

/** Stores `val` as element e of the lane group: at p + e ms values. */
function storeMatrix(c: Code, L: Record<string, number>, e: number, val: number): void {
  c.get(L.p!).get(L[`at${e}`]!).i32Add().get(val).v128Store(0);
}

/** Loads element e of the lane group (at p + e ms values) into a fresh value. */
function loadMatrix(c: Code, L: Record<string, number>, x: Values, e: number): number {
  c.get(L.p!).get(L[`at${e}`]!).i32Add().v128Load(0);
  return x.fresh();
}

/** A stage in the 36 vectors at byte offset `stage` (immediate offsets: no address arithmetic). */
function memoryStage(c: Code, x: Values, stage: number): Stage<number> {
  return {
    put: (i, j, val) => void c.get(stage).get(val).v128Store(16 * (ALPHA * i + j)),
    take: (i, j) => x.load(stage, 16 * (ALPHA * i + j)),
  };
}

function inputFunc(): FuncDef {
  const params = [["pad", I32], ["o", I32], ["plane", I32], ["wp", I32], ["offs", I32], ["tp", I32], ["v", I32], ["n", I32], ["ms", I32],
    ["col0", I32], ["stage", I32]] as const;
  return transformFunc("input", params, [], [2, 4], (c, L, x) => {
    matrixOffsets(c, L);
    c.get(L.wp!).i32Const(4).i32Mul().set(L.rowb!);
    eachLaneGroup(c, L, L.o!, L.pad!, () => {
      matrixPointer(c, L, L.v!);
      // Row r of the four tiles in lanes: the transposes of the 8 values each lane reads from its tile's row
      // (columns 0-3, then 4-5); the lane addresses step down a row after each.
      const row = (r: number): number[] => {
        if (r > 0) stepLanes(c, L, L.rowb!);
        const lo = lanes(L).map((l) => x.load(l, 0)), hi = lanes(L).map((l) => x.load(l, 16));
        return [...x.transpose(lo, 4), ...x.transpose(hi, ALPHA - 4)];
      };
      transformInput(x.ops, row, memoryStage(c, x, L.stage!), (e, val) => storeMatrix(c, L, e, val));
    });
  });
}

function outputFunc(): FuncDef {
  const params = [["m", I32], ["c", I32], ["n", I32], ["ms", I32], ["col0", I32], ["offs", I32], ["tp", I32], ["out", I32], ["plane", I32],
    ["wq", I32], ["stage", I32]] as const;
  return transformFunc("output", params, [], [2, 4, 8], (c, L, x) => {
    matrixOffsets(c, L);
    c.get(L.wq!).i32Const(4).i32Mul().set(L.rowb!);
    eachLaneGroup(c, L, L.c!, L.out!, () => {
      matrixPointer(c, L, L.m!);
      const y: number[][] = Array.from({ length: TILE }, () => []);
      transformOutput(x.ops, (e) => loadMatrix(c, L, x, e), memoryStage(c, x, L.stage!), (i, j, val) => void (y[i]![j] = val));
      // Row i of each tile: the transpose of Y[i][0..3] (lane = tile), stored from the lane's address
      for (let i = 0; i < TILE; i++) {
        if (i > 0) stepLanes(c, L, L.rowb!);
        const rows = x.transpose(y[i]!, 4);
        lanes(L).forEach((l, k) => c.get(l).get(rows[k]!).v128Store(0));
      }
    });
  });
}

function weightsFunc(): FuncDef {
  const params = [["w", I32], ["o", I32], ["c", I32], ["u", I32], ["ms", I32]] as const;
  return transformFunc("weights", params, [["last", I32]], [2, 4, ...U_SCALE], (c, L, x) => {
    matrixOffsets(c, L);
    c.get(L.o!).i32Const(1).i32Sub().set(L.last!);
    // Input channel i outer, four output channels t0 .. t0 + 3 in the lanes (consecutive U values; lanes past
    // o read the last channel's kernel and write into the next row or the matrix's padding, both overwritten
    // or unused)
    countUp(c, L.i!, L.c!, 1, () => {
      countUp(c, L.t0!, L.o!, 4, () => {
        lanes(L).forEach((l, k) => {
          // l = w + ((min(t0 + k, o - 1) c + i) 9) 4: the lane's kernel
          c.get(L.t0!).i32Const(k).i32Add().get(L.last!).get(L.t0!).i32Const(k).i32Add().get(L.last!).i32LtU().select();
          c.get(L.c!).i32Mul().get(L.i!).i32Add().i32Const(36).i32Mul().get(L.w!).i32Add().set(l);
        });
        const lo = lanes(L).map((l) => x.load(l, 0)), hi = lanes(L).map((l) => x.load(l, 16));
        const kernel = [...x.transpose(lo, 4), ...x.transpose(hi, 4), x.gather(lanes(L), 32)];
        c.get(L.u!).get(L.i!).get(L.o!).i32Mul().get(L.t0!).i32Add().i32Const(4).i32Mul().i32Add().set(L.p!);
        transformKernel(x.ops, kernel, (e, val) => storeMatrix(c, L, e, val));
      });
    });
  });
}

/** The Winograd transform module's bytes (emitted from TypeScript, deterministic). */
export function winogradModule(): Uint8Array {
  return emitModule({ minPages: 1, shared: true, funcs: [inputFunc(), outputFunc(), weightsFunc()] });
}

/** Floats of the stage the tile transforms keep their first pass in (36 vectors). */
export const WINOGRAD_STAGE = ALPHA * ALPHA * 4;

const kernel = new HeapKernel(winogradModule);
let runs = 0;

/** Runs `input` (byte offsets; see the file comment). */
export function winogradInputWasmCall(
  pad: number, o: number, plane: number, wp: number, offs: number, tp: number, v: number, n: number, ms: number, col0: number, stage: number,
): void {
  runs++;
  (kernel.exports().input as (...a: number[]) => void)(pad, o, plane, wp, offs, tp, v, n, ms, col0, stage);
}

/** Runs `output` (byte offsets; see the file comment). */
export function winogradOutputWasmCall(
  m: number, c: number, n: number, ms: number, col0: number, offs: number, tp: number, out: number, plane: number, wq: number, stage: number,
): void {
  runs++;
  (kernel.exports().output as (...a: number[]) => void)(m, c, n, ms, col0, offs, tp, out, plane, wq, stage);
}

/** Runs `weights` (byte offsets; see the file comment). */
export function winogradWeightsWasmCall(w: number, o: number, c: number, u: number, ms: number): void {
  runs++;
  (kernel.exports().weights as (...a: number[]) => void)(w, o, c, u, ms);
}

/** How many times this thread has run a Winograd WASM kernel (lets tests see which backend ran). */
export function winogradWasmRuns(): number {
  return runs;
}
