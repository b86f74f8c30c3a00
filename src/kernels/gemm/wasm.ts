/**
 * The WebAssembly SIMD twin of gemm's register-tile loop. Its bytes are
 * emitted from TypeScript by {@link gemmKernelModule} (see emit.ts) at first
 * use, in each thread that needs it: no .wasm file is shipped or loaded, and
 * `npm run build:wasm` only writes a copy to dist/wasm/ for inspection.
 *
 * The module imports the heap (src/tensor/heap.ts: the one memory every
 * tensor lives in) and exports a tile loop per contract family of gemm.ts,
 *
 *   gemmTiles(pa, pb, cs, k, mPanels, nPanels, accumulate)          float64
 *   gemmTilesF32(pa, pb, cs, ldc, k, mPanels, nPanels, accumulate)  float32
 *   gemmTilesF32Rows(a, pb, cs, ldc, k, mPanels, nPanels, accumulate, lda)  float32, A row-major in place
 *
 * and, for the float32 family, the packing helpers copy32, interleave4,
 * rowsToPanels4/8 and stripsToPanels4/8 (gemm.ts packs A and B with them
 * straight from where they are in the heap: JS element loops cost several
 * times more). Panels and scratch live in the module's heap scratch.
 *
 * gemmTiles: pa holds mPanels packed A panels, each [k][4] float64 (gemm.ts's
 * layout); pb nPanels packed B panels, each [k][4] float64; cs a float64 C
 * scratch [mPanels*4][nPanels*4], row-major (read first when accumulate != 0,
 * else the tiles start at +0); all three are byte offsets.
 * For each 4x4 tile it keeps 8 f64x2 accumulators: row r, columns (0,1) and
 * (2,3). Each lane is one output element, and for p = 0..k-1 in order it does
 * `acc = acc + a[r,p] * b[p,j]` with a separate f64x2.mul and f64x2.add (no
 * fused multiply-add), which are IEEE double operations exactly like
 * JavaScript's `acc += a * b`. So every element sees the same roundings in the
 * same order as gemmReference: the results are bit-identical.
 *
 * gemmTilesF32: the same over float32: A panels [k][4], B panels [k][8], a
 * float32 C of `ldc` bytes per row (tile (ip, jp) at row 4 ip, column 8 jp:
 * C itself where whole tiles fit, else a scratch). Each 4x8 tile keeps 8 f32x4
 * accumulators (row r, columns 0-3 and 4-7) and does, per lane and for p in
 * order, f32x4.mul then f32x4.add: IEEE float32 operations, each rounded,
 * never fused, which is `acc = fround(acc + fround(a * b))`, the float32
 * contract of gemmReference, bit for bit.
 */
import { Code, emitModule, frame, I32, V128, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";

/** Register tile, the same as gemm.ts (the packed layouts must agree). */
const MR = 4;
const NR = 4;
/** Bytes of one packed panel row (4 float64). */
const ROW = 8 * MR;
/**
 * Register tile of the float32 kernel, the same as gemm.ts's MR32 x NR32 (the
 * packed layouts must agree): 4 rows x 8 columns, 8 f32x4 accumulators; with
 * 2 B vectors, the 4 A splats (TurboFan loads them all before the multiplies)
 * and one for the product, that is all 15 xmm registers V8 allocates on x64,
 * without a spill (checked with --print-wasm-code). Measured on 1024^3 (Zen 4,
 * Node 20; GFLOP/s of the whole gemm at the time): 4x8 37; 2x16 31, 3x8 28,
 * 4x4 25; 6x8 22, 4x12 21, 3x12 19, 5x8 17, 8x4 16 (these need more than 15
 * registers: 6x8's code spills accumulators to the stack every step); 4x8 with
 * the p loop unrolled twice here 24 (TurboFan unrolls it already). The kernel
 * alone runs at 40-46 GFLOP/s, near the bound of 2 f32x4 multiplies and 2 adds
 * a cycle without fused multiply-add.
 */
const MR32 = 4;
const NR32 = 8;

/** {@link frame} for kernels whose parameters are all i32 and locals i32 then v128, in declaration order. */
function locals<P extends string, I extends string, V extends string>(params: readonly P[], i32s: readonly I[], v128s: readonly V[]) {
  const f = frame<P, I | V>(params.map((p) => [p, I32] as const), [...i32s.map((n) => [n, I32] as const), ...v128s.map((n) => [n, V128] as const)]);
  return { idx: f.idx, types: f.locals, params: f.params };
}

/** The gemm kernel module's bytes (emitted from TypeScript, deterministic). */
export function gemmKernelModule(): Uint8Array {
  const { idx: L, types, params } = locals(
    ["pa", "pb", "cs", "k", "mPanels", "nPanels", "accumulate"] as const,
    ["ldc", "stride", "ip", "aBase", "cRow", "jp", "bBase", "ct", "x", "y", "end", "t"] as const,
    ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "b0", "b1", "a"] as const,
  );
  const acc = [L.c0, L.c1, L.c2, L.c3, L.c4, L.c5, L.c6, L.c7];
  const c = new Code();
  const addTo = (local: number, v: number) => c.get(local).get(v).i32Add().set(local);

  // ldc: bytes per scratch row; stride: bytes per packed panel.
  c.get(L.nPanels).i32Const(5).i32Shl().set(L.ldc);
  c.get(L.k).i32Const(5).i32Shl().set(L.stride);
  c.i32Const(0).set(L.ip).get(L.pa).set(L.aBase).get(L.cs).set(L.cRow);
  c.block().loop(); // over A panels (rows of tiles)
  c.get(L.ip).get(L.mPanels).i32LtU().i32Eqz().brIf(1);
  c.i32Const(0).set(L.jp).get(L.pb).set(L.bBase).get(L.cRow).set(L.ct);
  c.block().loop(); // over B panels (tiles of this row)
  c.get(L.jp).get(L.nPanels).i32LtU().i32Eqz().brIf(1);

  // Start each element from C (accumulate) or from +0, as the reference does.
  c.get(L.accumulate).if();
  c.get(L.ct).set(L.t);
  for (let r = 0; r < MR; r++) {
    if (r > 0) addTo(L.t, L.ldc);
    c.get(L.t).v128Load(0).set(acc[2 * r]!);
    c.get(L.t).v128Load(16).set(acc[2 * r + 1]!);
  }
  c.else();
  for (const a of acc) c.v128Const(new Array<number>(16).fill(0)).set(a);
  c.end();

  // The p loop: k >= 1 (the caller never passes k = 0), so test at the bottom.
  c.get(L.aBase).set(L.x).get(L.bBase).set(L.y);
  c.get(L.aBase).get(L.stride).i32Add().set(L.end);
  c.loop();
  c.get(L.y).v128Load(0).set(L.b0);
  c.get(L.y).v128Load(16).set(L.b1);
  for (let r = 0; r < MR; r++) {
    c.get(L.x).v128Load64Splat(8 * r).set(L.a);
    c.get(acc[2 * r]!).get(L.a).get(L.b0).f64x2Mul().f64x2Add().set(acc[2 * r]!);
    c.get(acc[2 * r + 1]!).get(L.a).get(L.b1).f64x2Mul().f64x2Add().set(acc[2 * r + 1]!);
  }
  c.get(L.x).i32Const(ROW).i32Add().set(L.x);
  c.get(L.y).i32Const(ROW).i32Add().set(L.y);
  c.get(L.x).get(L.end).i32LtU().brIf(0);
  c.end();

  // Store the tile into the scratch.
  c.get(L.ct).set(L.t);
  for (let r = 0; r < MR; r++) {
    if (r > 0) addTo(L.t, L.ldc);
    c.get(L.t).get(acc[2 * r]!).v128Store(0);
    c.get(L.t).get(acc[2 * r + 1]!).v128Store(16);
  }

  c.get(L.jp).i32Const(1).i32Add().set(L.jp);
  addTo(L.bBase, L.stride);
  c.get(L.ct).i32Const(8 * NR).i32Add().set(L.ct);
  c.br(0).end().end(); // next B panel
  c.get(L.ip).i32Const(1).i32Add().set(L.ip);
  addTo(L.aBase, L.stride);
  c.get(L.cRow).get(L.ldc).i32Const(2).i32Shl().i32Add().set(L.cRow); // 4 scratch rows down
  c.br(0).end().end(); // next A panel

  return emitModule({
    minPages: 1,
    shared: true,
    funcs: [
      { name: "gemmTiles", params, results: [], locals: types, body: c },
      tilesF32(MR32, NR32),
      tilesF32(MR32, NR32, true),
      copy32(),
      rowsToPanels("rowsToPanels4", 1),
      rowsToPanels("rowsToPanels8", 2),
      interleave4(),
      stripsToPanels("stripsToPanels4", 1),
      stripsToPanels("stripsToPanels8", 2),
    ],
  });
}

/**
 * copy32(src, srcStride, dst, dstStride, count): copies `count` 4-byte values,
 * stepping src and dst by their strides (bytes). As i32 loads and stores, so
 * the bits move untouched. Packs the panels that gather a row of A or B
 * across the panel (interleaving) and the ragged edge panels.
 */
function copy32(): FuncDef {
  const [src, srcStride, dst, dstStride, count] = [0, 1, 2, 3, 4];
  const c = new Code();
  c.block().get(count).i32Eqz().brIf(0);
  c.loop();
  c.get(dst).get(src).i32Load(0).i32Store(0);
  c.get(src).get(srcStride).i32Add().set(src);
  c.get(dst).get(dstStride).i32Add().set(dst);
  c.get(count).i32Const(1).i32Sub().tee(count).brIf(0);
  c.end().end();
  return { name: "copy32", params: [I32, I32, I32, I32, I32], results: [], locals: [], body: c };
}

/**
 * rowsToPanelsW(src, ld, dst, k, panels): packs k rows (ld bytes apart) of
 * panels * 4w contiguous floats into `panels` panels [k][4w] at dst, panel
 * after panel: each row is read once, front to back, w v128 at a time. Packs
 * full panels of A stored [k, m] (w = 1) and of B stored [k, n] (w = 2).
 */
function rowsToPanels(name: string, w: number): FuncDef {
  const [src, ld, dst, k, panels, stride, s, d, j] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const c = new Code();
  c.block();
  c.get(k).i32Eqz().get(panels).i32Eqz().i32Or().brIf(0);
  c.get(k).i32Const(16 * w).i32Mul().set(stride); // bytes per panel
  c.loop(); // over rows
  c.get(src).set(s).get(dst).set(d).get(panels).set(j);
  c.loop(); // over panels
  for (let v = 0; v < w; v++) c.get(d).get(s).v128Load(16 * v).v128Store(16 * v);
  c.get(s).i32Const(16 * w).i32Add().set(s);
  c.get(d).get(stride).i32Add().set(d);
  c.get(j).i32Const(1).i32Sub().tee(j).brIf(0);
  c.end();
  c.get(src).get(ld).i32Add().set(src);
  c.get(dst).i32Const(16 * w).i32Add().set(dst);
  c.get(k).i32Const(1).i32Sub().tee(k).brIf(0);
  c.end().end();
  return { name, params: [I32, I32, I32, I32, I32], results: [], locals: [I32, I32, I32, I32], body: c };
}

/** i8x16.shuffle lane bytes that pick the given 32-bit lanes (0-3 of a, 4-7 of b). */
function lanes32(...l: number[]): number[] {
  return l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]);
}

/**
 * interleave4(src, ld, dst, dstStride, groups): transposes 4 rows (ld bytes
 * apart) of 4 * groups floats at src into 4 * groups rows of 4 floats,
 * dstStride bytes apart, at dst: out row p = (row0[p], row1[p], row2[p],
 * row3[p]). A 4x4 block at a time (4 loads, 8 shuffles, 4 stores). Packs
 * panels that gather rows of A [m, k] (dstStride 16) and halves of panels
 * from rows of B [n, k] (dstStride 32).
 */
function interleave4(): FuncDef {
  const [src, ld, dst, dstStride, groups] = [0, 1, 2, 3, 4];
  const [s1, s2, s3] = [5, 6, 7];
  const [r0, r1, r2, r3, t0, t1, t2, t3] = [8, 9, 10, 11, 12, 13, 14, 15];
  const c = new Code();
  c.block().get(groups).i32Eqz().brIf(0);
  c.get(src).get(ld).i32Add().tee(s1).get(ld).i32Add().tee(s2).get(ld).i32Add().set(s3);
  c.loop();
  c.get(src).v128Load(0).set(r0);
  c.get(s1).v128Load(0).set(r1);
  c.get(s2).v128Load(0).set(r2);
  c.get(s3).v128Load(0).set(r3);
  c.get(r0).get(r1).i8x16Shuffle(lanes32(0, 4, 1, 5)).set(t0); // a0 b0 a1 b1
  c.get(r0).get(r1).i8x16Shuffle(lanes32(2, 6, 3, 7)).set(t1); // a2 b2 a3 b3
  c.get(r2).get(r3).i8x16Shuffle(lanes32(0, 4, 1, 5)).set(t2); // c0 d0 c1 d1
  c.get(r2).get(r3).i8x16Shuffle(lanes32(2, 6, 3, 7)).set(t3); // c2 d2 c3 d3
  c.get(dst).get(t0).get(t2).i8x16Shuffle(lanes32(0, 1, 4, 5)).v128Store(0); // a0 b0 c0 d0
  c.get(dst).get(dstStride).i32Add().tee(dst).get(t0).get(t2).i8x16Shuffle(lanes32(2, 3, 6, 7)).v128Store(0);
  c.get(dst).get(dstStride).i32Add().tee(dst).get(t1).get(t3).i8x16Shuffle(lanes32(0, 1, 4, 5)).v128Store(0);
  c.get(dst).get(dstStride).i32Add().tee(dst).get(t1).get(t3).i8x16Shuffle(lanes32(2, 3, 6, 7)).v128Store(0);
  c.get(dst).get(dstStride).i32Add().set(dst);
  for (const x of [src, s1, s2, s3]) c.get(x).i32Const(16).i32Add().set(x);
  c.get(groups).i32Const(1).i32Sub().tee(groups).brIf(0);
  c.end().end();
  return { name: "interleave4", params: [I32, I32, I32, I32, I32], results: [], locals: [I32, I32, I32, V128, V128, V128, V128, V128, V128, V128, V128], body: c };
}

/**
 * stripsToPanelsW(src, ld, dst, k, strips): rowsToPanelsW a 64-byte strip at
 * a time: for each strip (16 floats of every row, 4 / w panels), the k rows
 * (ld bytes apart) one after the other, one cache line each, into the strip's
 * panels [k][4w] at dst (panel after panel). Reads every line of the source
 * once and writes 4 / w sequential streams.
 */
function stripsToPanels(name: string, w: number): FuncDef {
  const [src, ld, dst, k, strips, stride, s, d, p] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const c = new Code();
  c.block();
  c.get(k).i32Eqz().get(strips).i32Eqz().i32Or().brIf(0);
  c.get(k).i32Const(16 * w).i32Mul().set(stride); // bytes per panel
  c.loop(); // over strips
  c.get(src).set(s).get(dst).set(d).get(k).set(p);
  c.loop(); // over rows
  for (let v = 0; v < 4; v++) {
    const panel = Math.floor(v / w), within = 16 * (v % w);
    c.get(d);
    if (panel > 0) c.get(stride).i32Const(panel).i32Mul().i32Add();
    c.get(s).v128Load(16 * v).v128Store(within);
  }
  c.get(s).get(ld).i32Add().set(s);
  c.get(d).i32Const(16 * w).i32Add().set(d);
  c.get(p).i32Const(1).i32Sub().tee(p).brIf(0);
  c.end();
  c.get(src).i32Const(64).i32Add().set(src);
  c.get(dst).get(stride).i32Const(4 / w).i32Mul().i32Add().set(dst);
  c.get(strips).i32Const(1).i32Sub().tee(strips).brIf(0);
  c.end().end();
  return { name, params: [I32, I32, I32, I32, I32], results: [], locals: [I32, I32, I32, I32], body: c };
}

/**
 * gemmTilesF32 for an mr x nr register tile (nr a multiple of 4): mr * nr/4
 * f32x4 accumulators, nr/4 B vectors and one A splat held in locals (V8's
 * TurboFan unrolls the p loop itself; unrolling it here measured slower).
 */
function tilesF32(mr: number, nr: number, rowsA = false): FuncDef {
  const nv = nr / 4;
  const accNames = Array.from({ length: mr * nv }, (_, i) => `c${i}`);
  const bNames = Array.from({ length: nv }, (_, i) => `b${i}`);
  // rowsA: A read where it is, row-major with `lda` bytes a row, mr rows a tile row: one pointer a row
  // (row 0's is x, the packed panel's pointer; rows 1.. have their own).
  const rowPtrs = Array.from({ length: mr - 1 }, (_, i) => `x${i + 1}`);
  const { idx: L, types, params } = locals(
    ["pa", "pb", "cs", "ldc", "k", "mPanels", "nPanels", "accumulate", ...(rowsA ? ["lda"] : [])] as const,
    ["strideA", "strideB", "ip", "aBase", "cRow", "jp", "bBase", "ct", "x", "y", "end", "t", ...(rowsA ? rowPtrs : [])] as const,
    [...accNames, ...bNames, "a"],
  );
  const V = L as Record<string, number>;
  const acc = accNames.map((s) => V[s]!);
  const bv = bNames.map((s) => V[s]!);
  const rowA = 4 * mr, rowB = 4 * nr; // bytes of one packed panel row
  const c = new Code();
  const addTo = (local: number, v: number) => c.get(local).get(v).i32Add().set(local);

  // strideA / strideB: bytes per packed panel (rowsA: per mr rows of A).
  if (rowsA) c.get(V.lda!).i32Const(mr).i32Mul().set(L.strideA);
  else c.get(L.k).i32Const(rowA).i32Mul().set(L.strideA);
  c.get(L.k).i32Const(rowB).i32Mul().set(L.strideB);
  c.i32Const(0).set(L.ip).get(L.pa).set(L.aBase).get(L.cs).set(L.cRow);
  c.block().loop(); // over A panels (rows of tiles)
  c.get(L.ip).get(L.mPanels).i32LtU().i32Eqz().brIf(1);
  c.i32Const(0).set(L.jp).get(L.pb).set(L.bBase).get(L.cRow).set(L.ct);
  c.block().loop(); // over B panels (tiles of this row)
  c.get(L.jp).get(L.nPanels).i32LtU().i32Eqz().brIf(1);

  // Start each element from C (accumulate) or from +0, as the reference does.
  c.get(L.accumulate).if();
  c.get(L.ct).set(L.t);
  for (let r = 0; r < mr; r++) {
    if (r > 0) addTo(L.t, L.ldc);
    for (let v = 0; v < nv; v++) c.get(L.t).v128Load(16 * v).set(acc[r * nv + v]!);
  }
  c.else();
  for (const a of acc) c.v128Const(new Array<number>(16).fill(0)).set(a);
  c.end();

  // The p loop: k >= 1 (the caller never passes k = 0), so test at the bottom.
  // Each accumulator lane is one output element: f32x4.mul, then f32x4.add.
  c.get(L.aBase).set(L.x).get(L.bBase).set(L.y);
  if (rowsA) {
    // Row r of the tile at aBase + r lda; the loop ends when row 0 has gone k floats on.
    for (let r = 1; r < mr; r++) c.get(L.aBase).get(V.lda!).i32Const(r).i32Mul().i32Add().set(V[rowPtrs[r - 1]!]!);
    c.get(L.aBase).get(L.k).i32Const(2).i32Shl().i32Add().set(L.end);
  } else {
    c.get(L.aBase).get(L.strideA).i32Add().set(L.end);
  }
  const rowPtr = (r: number): number => (rowsA && r > 0 ? V[rowPtrs[r - 1]!]! : L.x);
  c.loop();
  for (let v = 0; v < nv; v++) c.get(L.y).v128Load(16 * v).set(bv[v]!);
  for (let r = 0; r < mr; r++) {
    c.get(rowPtr(r)).v128Load32Splat(rowsA ? 0 : 4 * r).set(L.a);
    for (let v = 0; v < nv; v++) {
      const q = acc[r * nv + v]!;
      c.get(q).get(L.a).get(bv[v]!).f32x4Mul().f32x4Add().set(q);
    }
  }
  if (rowsA) for (let r = 0; r < mr; r++) c.get(rowPtr(r)).i32Const(4).i32Add().set(rowPtr(r));
  else c.get(L.x).i32Const(rowA).i32Add().set(L.x);
  c.get(L.y).i32Const(rowB).i32Add().set(L.y);
  c.get(L.x).get(L.end).i32LtU().brIf(0);
  c.end();

  // Store the tile into C (or the scratch).
  c.get(L.ct).set(L.t);
  for (let r = 0; r < mr; r++) {
    if (r > 0) addTo(L.t, L.ldc);
    for (let v = 0; v < nv; v++) c.get(L.t).get(acc[r * nv + v]!).v128Store(16 * v);
  }

  c.get(L.jp).i32Const(1).i32Add().set(L.jp);
  addTo(L.bBase, L.strideB);
  c.get(L.ct).i32Const(rowB).i32Add().set(L.ct);
  c.br(0).end().end(); // next B panel
  c.get(L.ip).i32Const(1).i32Add().set(L.ip);
  addTo(L.aBase, L.strideA);
  c.get(L.cRow).get(L.ldc).i32Const(mr).i32Mul().i32Add().set(L.cRow); // mr scratch rows down
  c.br(0).end().end(); // next A panel

  return { name: rowsA ? "gemmTilesF32Rows" : "gemmTilesF32", params, results: [], locals: types, body: c };
}

type GemmTiles = (pa: number, pb: number, cs: number, k: number, mPanels: number, nPanels: number, accumulate: number) => void;
type GemmTilesF32 = (pa: number, pb: number, cs: number, ldc: number, k: number, mPanels: number, nPanels: number, accumulate: number) => void;
type Copy32 = (src: number, srcStride: number, dst: number, dstStride: number, count: number) => void;
type RowsToPanels = (src: number, ld: number, dst: number, k: number, panels: number) => void;
type Interleave4 = (src: number, ld: number, dst: number, dstStride: number, groups: number) => void;

/**
 * This thread's instance over the heap, with its scratch (each pool worker
 * loads its own copy of this file, hence its own instance and scratch).
 */
const kernel = new HeapKernel(gemmKernelModule);
let runs = 0;

/**
 * Byte offset of at least `bytes` of this thread's gemm scratch in the heap
 * (64-byte aligned), for packed panels, C scratch and staged foreign
 * operands; valid until the next call. Throws when the heap cannot hold it.
 */
export function gemmScratch(bytes: number): number {
  return kernel.scratch.take(bytes);
}

/** Bytes of this thread's gemm scratch (0 before first use); for tests of its growth. */
export function gemmScratchBytes(): number {
  return kernel.scratch.bytes();
}

/*
 * The wrappers below take offsets and strides in elements: float32 indices
 * into heapF32() (a heap Float32Array's byteOffset / 4), float64 indices into
 * heapF64() for gemmWasmTiles (src/tensor/heap.ts).
 */

/** interleave4: out row p (dstStride apart from dst) = column p of the 4 rows (ld apart) at src, p < 4 * groups. */
export function gemmWasmInterleave4(src: number, ld: number, dst: number, dstStride: number, groups: number): void {
  (kernel.exports().interleave4 as Interleave4)(src * 4, ld * 4, dst * 4, dstStride * 4, groups);
}

/**
 * stripsToPanels4 / stripsToPanels8: as {@link gemmWasmRowsToPanels} for
 * strips * 16 / width panels, a 16-float strip of the rows at a time.
 */
export function gemmWasmStripsToPanels(width: 4 | 8, src: number, ld: number, dst: number, k: number, strips: number): void {
  (kernel.exports()[width === 4 ? "stripsToPanels4" : "stripsToPanels8"] as RowsToPanels)(src * 4, ld * 4, dst * 4, k, strips);
}

/**
 * Runs gemmTilesF32 on packed panels: the tile at panel row ip, panel column
 * jp lands at row 4 ip, column 8 jp of a float32 C of `ldc` floats per row
 * (C itself, in place, or a scratch).
 */
export function gemmWasmTilesF32(pa: number, pb: number, cs: number, ldc: number, k: number, mPanels: number, nPanels: number, accumulate: boolean): void {
  runs++;
  (kernel.exports().gemmTilesF32 as GemmTilesF32)(pa * 4, pb * 4, cs * 4, ldc * 4, k, mPanels, nPanels, accumulate ? 1 : 0);
}

/**
 * {@link gemmWasmTilesF32} reading A where it is: rows 4 ip .. 4 ip + 3 of a row-major A of `lda` floats a
 * row from float32 index a, the same products and sums in the same order as from its packed panels.
 */
export function gemmWasmTilesF32Rows(a: number, lda: number, pb: number, cs: number, ldc: number, k: number, mPanels: number, nPanels: number, accumulate: boolean): void {
  runs++;
  (kernel.exports().gemmTilesF32Rows as (...x: number[]) => void)(a * 4, pb * 4, cs * 4, ldc * 4, k, mPanels, nPanels, accumulate ? 1 : 0, lda * 4);
}

/** copy32: the 4-byte value at src + i srcStride to dst + i dstStride, for i < count. */
export function gemmWasmCopy32(src: number, srcStride: number, dst: number, dstStride: number, count: number): void {
  (kernel.exports().copy32 as Copy32)(src * 4, srcStride * 4, dst * 4, dstStride * 4, count);
}

/** rowsToPanels4 / rowsToPanels8: k rows, ld apart, of panels * width floats at src into panels [k][width] at dst. */
export function gemmWasmRowsToPanels(width: 4 | 8, src: number, ld: number, dst: number, k: number, panels: number): void {
  (kernel.exports()[width === 4 ? "rowsToPanels4" : "rowsToPanels8"] as RowsToPanels)(src * 4, ld * 4, dst * 4, k, panels);
}

/** Runs gemmTiles (float64) on panels packed at pa and pb into the C scratch [4 mPanels][4 nPanels] at cs. */
export function gemmWasmTiles(pa: number, pb: number, cs: number, k: number, mPanels: number, nPanels: number, accumulate: boolean): void {
  runs++;
  (kernel.exports().gemmTiles as GemmTiles)(pa * 8, pb * 8, cs * 8, k, mPanels, nPanels, accumulate ? 1 : 0);
}

/** How many times this thread has run the WASM gemm kernel (lets tests see which backend ran). */
export function gemmWasmRuns(): number {
  return runs;
}
