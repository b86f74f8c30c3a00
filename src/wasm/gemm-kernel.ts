/**
 * The WebAssembly SIMD twin of gemm's register-tile loop. Its bytes are
 * emitted from TypeScript by {@link gemmKernelModule} (see emit.ts) at first
 * use, in each thread that needs it: no .wasm file is shipped or loaded, and
 * `npm run build:wasm` only writes a copy to dist/wasm/ for inspection.
 *
 * The module exports one function over its imported memory:
 *
 *   gemmTiles(pa, pb, cs, k, mPanels, nPanels, accumulate)
 *
 * pa: mPanels packed A panels, each [k][4] float64 (gemm.ts's layout);
 * pb: nPanels packed B panels, each [k][4] float64;
 * cs: a float64 C scratch [mPanels*4][nPanels*4], row-major (read first when
 *     accumulate != 0, else the tiles start at +0); all three are byte offsets.
 *
 * For each 4x4 tile it keeps 8 f64x2 accumulators: row r, columns (0,1) and
 * (2,3). Each lane is one output element, and for p = 0..k-1 in order it does
 * `acc = acc + a[r,p] * b[p,j]` with a separate f64x2.mul and f64x2.add (no
 * fused multiply-add), which are IEEE double operations exactly like
 * JavaScript's `acc += a * b`. So every element sees the same roundings in the
 * same order as gemmReference: the results are bit-identical.
 */
import { Code, emitModule, I32, V128, type ValType } from "./emit.js";
import { LazyKernel } from "./runtime.js";

/** Register tile, the same as gemm.ts (the packed layouts must agree). */
const MR = 4;
const NR = 4;
/** Bytes of one packed panel row (4 float64). */
const ROW = 8 * MR;

/** Names locals in declaration order, so the body can say `L.x` rather than a bare index. */
function locals<P extends string, I extends string, V extends string>(params: readonly P[], i32s: readonly I[], v128s: readonly V[]) {
  const idx = {} as Record<P | I | V, number>;
  let n = 0;
  for (const s of [...params, ...i32s, ...v128s]) idx[s as P | I | V] = n++;
  const types: ValType[] = [...i32s.map((): ValType => I32), ...v128s.map((): ValType => V128)];
  return { idx, types, params: params.map((): ValType => I32) };
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

  return emitModule({ minPages: 1, funcs: [{ name: "gemmTiles", params, results: [], locals: types, body: c }] });
}

type GemmTiles = (pa: number, pb: number, cs: number, k: number, mPanels: number, nPanels: number, accumulate: number) => void;

/** This thread's instance (each pool worker loads its own copy of this file, hence its own instance). */
const kernel = new LazyKernel(gemmKernelModule);
let view = new Float64Array(0);
let runs = 0;

/**
 * A float64 view of the whole kernel memory holding at least `doubles`
 * elements, growing the memory if needed (a grow detaches the old buffer, so
 * callers must take the view again after every call). Null when the memory
 * cannot grow that far (the caller then falls back to the JS kernel).
 */
export function gemmWasmMemory(doubles: number): Float64Array | null {
  const buf = kernel.reserve(doubles * 8);
  if (buf === null) return null;
  if (view.buffer !== buf) view = new Float64Array(buf);
  return view;
}

/**
 * Runs gemmTiles on panels already packed in the kernel memory; offsets are
 * element indices into the float64 view of {@link gemmWasmMemory}.
 */
export function gemmWasmTiles(pa: number, pb: number, cs: number, k: number, mPanels: number, nPanels: number, accumulate: boolean): void {
  runs++;
  (kernel.exports().gemmTiles as GemmTiles)(pa * 8, pb * 8, cs * 8, k, mPanels, nPanels, accumulate ? 1 : 0);
}

/** How many times this thread has run the WASM gemm kernel (lets tests see which backend ran). */
export function gemmWasmRuns(): number {
  return runs;
}

/** Size of this thread's kernel memory in bytes (0 before first use); for tests of growth. */
export function gemmWasmMemoryBytes(): number {
  return kernel.bytes();
}
