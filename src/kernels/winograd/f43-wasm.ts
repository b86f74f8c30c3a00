/**
 * The WebAssembly SIMD twins of the Winograd F(4x4, 3x3) transforms of
 * ./f43.ts: four tiles of one tile row in the four f32x4 lanes, each lane
 * doing the programs of ./transforms.ts (rows first, then columns), so the
 * same bits. Bytes emitted from TypeScript at first use in each thread (see
 * emit.ts).
 *
 * Exports (byte offsets into the heap, float32 data):
 *   input(pad, o, hp, wp, th, twr, v, n, ms, col0)
 *     pad holds one image's gradient planes [o][hp][wp] with a zero border
 *     (padded row r, column s = gy[r - 1][s - 1]); for every ty < th and
 *     tx < twr (a multiple of 4; hp >= 4 th + 2, wp >= 4 twr + 4: the four
 *     tiles' 18 columns are read as 20) it writes the 36 values
 *     V[e][oi][col0 + ty twr + tx], e = 6 xi + nu, rows of n values, matrix e
 *     at value e ms.
 *   output(m, c, n, ms, col0, th, twr, out, wq)
 *     m holds M[e][ci][col] (rows of n values, matrix e at value e ms); writes
 *     each tile's A^T M A into out [c][4 th][wq] (wq >= 4 twr):
 *     out[ci][4 ty + i][4 tx + j].
 */
import { Code, emitModule, frame, I32, V128, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";
import { INPUT, OUTPUT, type Program } from "./transforms.js";
import { countRun, eachTileGroup, f32Lanes } from "./wasm-common.js";


const splat = (v: number): number[] => [...new Uint8Array(new Float32Array([v, v, v, v]).buffer)];

/** The temporaries a program assigns (neither inputs nor outputs). */
function temps(p: Program): string[] {
  const io = new Set([...p.inputs, ...p.outputs]);
  return [...new Set(p.steps.map(([dest]) => dest).filter((d) => !io.has(d)))];
}

/**
 * Emits program p on f32x4 locals: inputs from `ins`, outputs into `outs`, temporaries in the locals
 * `tmp` names (prefix + temp name).
 */
function emitProgram(c: Code, L: Record<string, number>, p: Program, ins: readonly number[], outs: readonly number[], prefix: string): void {
  const at = (name: string): number => {
    const i = p.inputs.indexOf(name);
    if (i >= 0) return ins[i]!;
    const o = p.outputs.indexOf(name);
    if (o >= 0) return outs[o]!;
    return L[prefix + name]!;
  };
  for (const [dest, a, op, b] of p.steps) {
    c.get(at(a));
    if (typeof b === "number") c.v128Const(splat(b)); else c.get(at(b));
    if (op === "+") c.f32x4Add(); else if (op === "-") c.f32x4Sub(); else c.f32x4Mul();
    c.set(at(dest));
  }
}

/** Sets out0..out3 to the 4x4 transpose of the lane vectors in0..in3 (out_l = [in0[l], in1[l], in2[l], in3[l]]); t: 2 scratch locals. */
function transpose4(c: Code, ins: readonly number[], outs: readonly number[], t: readonly [number, number]): void {
  for (const [half, pick] of [[[0, 4, 1, 5], 0], [[2, 6, 3, 7], 2]] as const) {
    c.get(ins[0]!).get(ins[1]!).i8x16Shuffle(f32Lanes(half)).set(t[0]);
    c.get(ins[2]!).get(ins[3]!).i8x16Shuffle(f32Lanes(half)).set(t[1]);
    c.get(t[0]).get(t[1]).i8x16Shuffle(f32Lanes([0, 1, 4, 5])).set(outs[pick]!);
    c.get(t[0]).get(t[1]).i8x16Shuffle(f32Lanes([2, 3, 6, 7])).set(outs[pick + 1]!);
  }
}


const range = (n: number, f: (i: number) => string): string[] => Array.from({ length: n }, (_, i) => f(i));

function inputFunc(): FuncDef {
  const f = frame(
    [["pad", I32], ["o", I32], ["hp", I32], ["wp", I32], ["th", I32], ["twr", I32], ["v", I32], ["n", I32], ["ms", I32], ["col0", I32]] as const,
    [["oi", I32], ["ty", I32], ["tx", I32], ["rp", I32], ["vp", I32], ["msb", I32], ["wpb", I32],
      ...[...range(5, (i) => `a${i}`), "s0", "s1", ...range(6, (i) => `d${i}`), ...range(36, (i) => `e${i}`),
        ...range(6, (i) => `b${i}`), ...temps(INPUT).map((t) => `p${t}`)].map((name) => [name, V128] as const)],
  );
  const L = f.idx as Record<string, number>;
  const c = new Code();
  const l = (name: string): number => L[name]!;
  c.get(L.ms!).i32Const(4).i32Mul().set(L.msb!);
  c.get(L.wp!).i32Const(4).i32Mul().set(L.wpb!);
  eachTileGroup(c, L, L.oi!, L.o!, () => {
    // rp = pad + ((oi hp + 4 ty) wp + 4 tx) 4: the four tiles' top-left padded value
    c.get(L.pad!).get(L.oi!).get(L.hp!).i32Mul().get(L.ty!).i32Const(2).i32Shl().i32Add().get(L.wp!).i32Mul();
    c.get(L.tx!).i32Const(2).i32Shl().i32Add().i32Const(4).i32Mul().i32Add().set(L.rp!);
    for (let r = 0; r < 6; r++) {
      // Row r's columns 4 tx + 4 lane + s (s = 0..5) as d_s: columns 0..19 loaded, a 4x4 transpose, then
      // s = 4, 5 as lanes 1-3 of d0 / d1 and the fifth vector's first / second.
      for (let k = 0; k < 5; k++) c.get(L.rp!).v128Load(16 * k).set(l(`a${k}`));
      transpose4(c, range(4, (k) => `a${k}`).map(l), range(4, (k) => `d${k}`).map(l), [l("s0"), l("s1")]);
      c.get(l("d0")).get(l("a4")).i8x16Shuffle(f32Lanes([1, 2, 3, 4])).set(l("d4"));
      c.get(l("d1")).get(l("a4")).i8x16Shuffle(f32Lanes([1, 2, 3, 5])).set(l("d5"));
      // The row pass: e[r][j] = (B^T d_r)[j]
      emitProgram(c, L, INPUT, range(6, (s) => `d${s}`).map(l), range(6, (j) => `e${6 * r + j}`).map(l), "p");
      c.get(L.rp!).get(L.wpb!).i32Add().set(L.rp!);
    }
    // vp = v + (oi n + col0 + ty twr + tx) 4
    c.get(L.v!).get(L.oi!).get(L.n!).i32Mul().get(L.col0!).i32Add().get(L.ty!).get(L.twr!).i32Mul().i32Add().get(L.tx!).i32Add();
    c.i32Const(4).i32Mul().i32Add().set(L.vp!);
    for (let j = 0; j < 6; j++) {
      // The column pass: V[6 xi + j] = (B^T e[.][j])[xi]
      emitProgram(c, L, INPUT, range(6, (r) => `e${6 * r + j}`).map(l), range(6, (xi) => `b${xi}`).map(l), "p");
      for (let xi = 0; xi < 6; xi++) {
        // matrix 6 xi + j at vp + (6 xi + j) ms bytes
        c.get(L.vp!).get(L.msb!).i32Const(6 * xi + j).i32Mul().i32Add().get(l(`b${xi}`)).v128Store(0);
      }
    }
  });
  return { name: "input", params: f.params, results: [], locals: f.locals, body: c };
}

function outputFunc(): FuncDef {
  const f = frame(
    [["m", I32], ["c", I32], ["n", I32], ["ms", I32], ["col0", I32], ["th", I32], ["twr", I32], ["out", I32], ["wq", I32]] as const,
    [["ci", I32], ["ty", I32], ["tx", I32], ["mp", I32], ["op", I32], ["msb", I32], ["wqb", I32],
      ...[...range(36, (i) => `m${i}`), ...range(24, (i) => `a${i}`), ...range(16, (i) => `y${i}`), ...range(4, (i) => `q${i}`), "s0", "s1",
        ...temps(OUTPUT).map((t) => `p${t}`)].map((name) => [name, V128] as const)],
  );
  const L = f.idx as Record<string, number>;
  const c = new Code();
  const l = (name: string): number => L[name]!;
  c.get(L.ms!).i32Const(4).i32Mul().set(L.msb!);
  c.get(L.wq!).i32Const(4).i32Mul().set(L.wqb!);
  eachTileGroup(c, L, L.ci!, L.c!, () => {
    // mp = m + (ci n + col0 + ty twr + tx) 4; the 36 values of four tiles, e = 6 xi + nu
    c.get(L.m!).get(L.ci!).get(L.n!).i32Mul().get(L.col0!).i32Add().get(L.ty!).get(L.twr!).i32Mul().i32Add().get(L.tx!).i32Add();
    c.i32Const(4).i32Mul().i32Add().set(L.mp!);
    for (let e = 0; e < 36; e++) c.get(L.mp!).get(L.msb!).i32Const(e).i32Mul().i32Add().v128Load(0).set(l(`m${e}`));
    // The row pass (a[xi][j] = (A^T M[xi])[j]), then the column pass (Y[i][j] = (A^T a[.][j])[i]).
    for (let xi = 0; xi < 6; xi++) emitProgram(c, L, OUTPUT, range(6, (nu) => `m${6 * xi + nu}`).map(l), range(4, (j) => `a${4 * xi + j}`).map(l), "p");
    for (let j = 0; j < 4; j++) emitProgram(c, L, OUTPUT, range(6, (xi) => `a${4 * xi + j}`).map(l), range(4, (i) => `y${4 * i + j}`).map(l), "p");
    // op = out + ((ci 4 th + 4 ty) wq + 4 tx) 4; output row 4 ty + i holds the four tiles' Y[i][0..3] in turn
    c.get(L.out!).get(L.ci!).get(L.th!).i32Mul().get(L.ty!).i32Add().i32Const(2).i32Shl().get(L.wq!).i32Mul();
    c.get(L.tx!).i32Const(2).i32Shl().i32Add().i32Const(4).i32Mul().i32Add().set(L.op!);
    for (let i = 0; i < 4; i++) {
      transpose4(c, range(4, (j) => `y${4 * i + j}`).map(l), range(4, (k) => `q${k}`).map(l), [l("s0"), l("s1")]);
      for (let k = 0; k < 4; k++) c.get(L.op!).get(l(`q${k}`)).v128Store(16 * k);
      if (i < 3) c.get(L.op!).get(L.wqb!).i32Add().set(L.op!);
    }
  });
  return { name: "output", params: f.params, results: [], locals: f.locals, body: c };
}

/** The F(4x4, 3x3) transform module's bytes (emitted from TypeScript, deterministic). */
export function winograd43Module(): Uint8Array {
  return emitModule({ minPages: 1, shared: true, funcs: [inputFunc(), outputFunc()] });
}

const kernel = new HeapKernel(winograd43Module);

/** Runs `input` (byte offsets; see the file comment). */
export function input43Wasm(
  pad: number, o: number, hp: number, wp: number, th: number, twr: number, v: number, n: number, ms: number, col0: number,
): void {
  countRun();
  (kernel.exports().input as (...a: number[]) => void)(pad, o, hp, wp, th, twr, v, n, ms, col0);
}

/** Runs `output` (byte offsets; see the file comment). */
export function output43Wasm(
  m: number, c: number, n: number, ms: number, col0: number, th: number, twr: number, out: number, wq: number,
): void {
  countRun();
  (kernel.exports().output as (...a: number[]) => void)(m, c, n, ms, col0, th, twr, out, wq);
}

