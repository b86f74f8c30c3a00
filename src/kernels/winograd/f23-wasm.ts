/**
 * The WebAssembly SIMD twins of the Winograd F(2x2, 3x3) transforms of
 * ./f23.ts: four tiles of one tile row in the four f32x4 lanes, each lane
 * doing the reference's float32 operations in its order, so the same bits.
 * Bytes emitted from TypeScript at first use in each thread (see emit.ts).
 *
 * Exports (byte offsets into the heap, float32 data):
 *   input(pad, o, hp, wp, th, twr, v, n, ms, col0)
 *     pad holds one image's gradient planes [o][hp][wp] with a zero border
 *     (padded row r, column s = gy[r - 1][s - 1]); for every ty < th and
 *     tx < twr (a multiple of 4; wp >= 2 twr + 4) it writes the 16 values
 *     V[e][oi][col0 + ty twr + tx], e = 4 xi + nu, rows of n values, matrix e
 *     at value e ms.
 *   output(m, c, n, ms, col0, th, twr, out, wq)
 *     m holds M[e][ci][col] (rows of n values, matrix e at value e ms); writes each tile's A^T M A into out [c][2 th][wq]
 *     (wq >= 2 twr): out[ci][2 ty + i][2 tx + j].
 */
import { Code, emitModule, frame, I32, V128, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";
import { countRun, eachTileGroup, f32Lanes } from "./wasm-common.js";


/** B^T's rows as (a, op, b): row 0 = d0 - d2, 1 = d1 + d2, 2 = d2 - d1, 3 = d1 - d3 (the reference's order). */
const BT: readonly (readonly [number, "+" | "-", number])[] = [[0, "-", 2], [1, "+", 2], [2, "-", 1], [1, "-", 3]];


function inputFunc(): FuncDef {
  const f = frame(
    [["pad", I32], ["o", I32], ["hp", I32], ["wp", I32], ["th", I32], ["twr", I32], ["v", I32], ["n", I32], ["ms", I32], ["col0", I32]] as const,
    [["oi", I32], ["ty", I32], ["tx", I32], ["rp", I32], ["vp", I32], ["msb", I32], ["wpb", I32],
      ["l0", V128], ["l1", V128], ["l2", V128], ["x", V128],
      ...Array.from({ length: 16 }, (_, i) => [`d${i}`, V128] as const), ["t0", V128], ["t1", V128], ["t2", V128], ["t3", V128]],
  );
  const L = f.idx as Record<string, number>;
  const c = new Code();
  const combine = (a: number, op: "+" | "-", b: number): void => {
    c.get(a).get(b);
    if (op === "+") c.f32x4Add(); else c.f32x4Sub();
  };
  c.get(L.ms!).i32Const(4).i32Mul().set(L.msb!);
  c.get(L.wp!).i32Const(4).i32Mul().set(L.wpb!);
  eachTileGroup(c, L, L.oi!, L.o!, () => {
    // rp = pad + ((oi hp + 2 ty) wp + 2 tx) 4: the tile's top-left padded value
    c.get(L.pad!).get(L.oi!).get(L.hp!).i32Mul().get(L.ty!).i32Const(1).i32Shl().i32Add().get(L.wp!).i32Mul();
    c.get(L.tx!).i32Const(1).i32Shl().i32Add().i32Const(4).i32Mul().i32Add().set(L.rp!);
    for (let r = 0; r < 4; r++) {
      // columns 2 tx + s of row r for the four tiles: padded values 0..9 from the row, lanes by shuffles
      c.get(L.rp!).v128Load(0).set(L.l0!);
      c.get(L.rp!).v128Load(16).set(L.l1!);
      c.get(L.rp!).v128Load(32).set(L.l2!);
      c.get(L.l0!).get(L.l1!).i8x16Shuffle(f32Lanes([0, 2, 4, 6])).set(L[`d${4 * r}`]!);
      c.get(L.l0!).get(L.l1!).i8x16Shuffle(f32Lanes([1, 3, 5, 7])).set(L[`d${4 * r + 1}`]!);
      // columns 2-5 and 6-9 (byte rotations), whose even and odd lanes are columns 2, 4, 6, 8 and 3, 5, 7, 9
      c.get(L.l0!).get(L.l1!).i8x16Shuffle(f32Lanes([2, 3, 4, 5])).set(L.x!);
      c.get(L.l1!).get(L.l2!).i8x16Shuffle(f32Lanes([2, 3, 4, 5])).set(L.l2!);
      c.get(L.x!).get(L.l2!).i8x16Shuffle(f32Lanes([0, 2, 4, 6])).set(L[`d${4 * r + 2}`]!);
      c.get(L.x!).get(L.l2!).i8x16Shuffle(f32Lanes([1, 3, 5, 7])).set(L[`d${4 * r + 3}`]!);
      c.get(L.rp!).get(L.wpb!).i32Add().set(L.rp!);
    }
    // vp = v + (oi n + col0 + ty twr + tx) 4
    c.get(L.v!).get(L.oi!).get(L.n!).i32Mul().get(L.col0!).i32Add().get(L.ty!).get(L.twr!).i32Mul().i32Add().get(L.tx!).i32Add();
    c.i32Const(4).i32Mul().i32Add().set(L.vp!);
    for (const [ra, rop, rb] of BT) {
      // t_s = (B^T d)[xi][s], then V[xi][nu] = (t B)[nu], e = 4 xi + nu in order
      for (let s = 0; s < 4; s++) {
        combine(L[`d${4 * ra + s}`]!, rop, L[`d${4 * rb + s}`]!);
        c.set(L[`t${s}`]!);
      }
      for (const [ca, cop, cb] of BT) {
        c.get(L.vp!);
        combine(L[`t${ca}`]!, cop, L[`t${cb}`]!);
        c.v128Store(0);
        c.get(L.vp!).get(L.msb!).i32Add().set(L.vp!);
      }
    }
  });
  return { name: "input", params: f.params, results: [], locals: f.locals, body: c };
}

function outputFunc(): FuncDef {
  const f = frame(
    [["m", I32], ["c", I32], ["n", I32], ["ms", I32], ["col0", I32], ["th", I32], ["twr", I32], ["out", I32], ["wq", I32]] as const,
    [["ci", I32], ["ty", I32], ["tx", I32], ["mp", I32], ["op", I32], ["msb", I32], ["wqb", I32],
      ...Array.from({ length: 16 }, (_, i) => [`m${i}`, V128] as const),
      ["r0", V128], ["r1", V128], ["r2", V128], ["r3", V128], ["y0", V128], ["y1", V128]],
  );
  const L = f.idx as Record<string, number>;
  const c = new Code();
  c.get(L.ms!).i32Const(4).i32Mul().set(L.msb!);
  c.get(L.wq!).i32Const(4).i32Mul().set(L.wqb!);
  eachTileGroup(c, L, L.ci!, L.c!, () => {
    // mp = m + (ci n + col0 + ty twr + tx) 4; the 16 values of four tiles, e = 4 xi + nu
    c.get(L.m!).get(L.ci!).get(L.n!).i32Mul().get(L.col0!).i32Add().get(L.ty!).get(L.twr!).i32Mul().i32Add().get(L.tx!).i32Add();
    c.i32Const(4).i32Mul().i32Add().set(L.mp!);
    for (let e = 0; e < 16; e++) {
      c.get(L.mp!).v128Load(0).set(L[`m${e}`]!);
      if (e < 15) c.get(L.mp!).get(L.msb!).i32Add().set(L.mp!);
    }
    // op = out + ((ci 2 th + 2 ty) wq + 2 tx) 4
    c.get(L.out!).get(L.ci!).get(L.th!).i32Mul().get(L.ty!).i32Add().i32Const(1).i32Shl().get(L.wq!).i32Mul();
    c.get(L.tx!).i32Const(1).i32Shl().i32Add().i32Const(4).i32Mul().i32Add().set(L.op!);
    const m = (xi: number, nu: number): number => L[`m${4 * xi + nu}`]!;
    for (let i = 0; i < 2; i++) {
      // r_nu = (A^T M)[i][nu]: i = 0: (m0 + m1) + m2; i = 1: (m1 - m2) - m3
      for (let nu = 0; nu < 4; nu++) {
        if (i === 0) c.get(m(0, nu)).get(m(1, nu)).f32x4Add().get(m(2, nu)).f32x4Add();
        else c.get(m(1, nu)).get(m(2, nu)).f32x4Sub().get(m(3, nu)).f32x4Sub();
        c.set(L[`r${nu}`]!);
      }
      // Y[i][0] = (r0 + r1) + r2, Y[i][1] = (r1 - r2) - r3; interleaved into output columns 2 tx .. 2 tx + 7
      c.get(L.r0!).get(L.r1!).f32x4Add().get(L.r2!).f32x4Add().set(L.y0!);
      c.get(L.r1!).get(L.r2!).f32x4Sub().get(L.r3!).f32x4Sub().set(L.y1!);
      c.get(L.op!).get(L.y0!).get(L.y1!).i8x16Shuffle(f32Lanes([0, 4, 1, 5])).v128Store(0);
      c.get(L.op!).get(L.y0!).get(L.y1!).i8x16Shuffle(f32Lanes([2, 6, 3, 7])).v128Store(16);
      if (i === 0) c.get(L.op!).get(L.wqb!).i32Add().set(L.op!);
    }
  });
  return { name: "output", params: f.params, results: [], locals: f.locals, body: c };
}

/** The F(2x2, 3x3) transform module's bytes (emitted from TypeScript, deterministic). */
export function winograd23Module(): Uint8Array {
  return emitModule({ minPages: 1, shared: true, funcs: [inputFunc(), outputFunc()] });
}

const kernel = new HeapKernel(winograd23Module);

/** Runs `input` (byte offsets; see the file comment). */
export function input23Wasm(
  pad: number, o: number, hp: number, wp: number, th: number, twr: number, v: number, n: number, ms: number, col0: number,
): void {
  countRun();
  (kernel.exports().input as (...a: number[]) => void)(pad, o, hp, wp, th, twr, v, n, ms, col0);
}

/** Runs `output` (byte offsets; see the file comment). */
export function output23Wasm(
  m: number, c: number, n: number, ms: number, col0: number, th: number, twr: number, out: number, wq: number,
): void {
  countRun();
  (kernel.exports().output as (...a: number[]) => void)(m, c, n, ms, col0, th, twr, out, wq);
}

