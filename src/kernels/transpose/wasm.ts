/**
 * The WebAssembly twin of the transposes (./transpose.ts): one matrix's source
 * rows r0..r1-1 copied to their destination columns, the columns taken in
 * tiles of {@link TILE} so the tile's destination lines stay in cache while
 * the rows sweep past (fewer when their stride aliases in L1, {@link TILE_ALIASED}).
 * Three element paths, each a bit-exact copy of what the JS store does: 4-byte
 * elements (float32 or int32, moved as i32), float64, and float64 into float32
 * (f32.demote_f64 rounds to nearest even, as a JS store into a Float32Array does).
 *
 *   t32 / t64 / t64to32(src, dst, rows, cols, r0, r1, tile, ss, ds)
 *
 * src, dst: byte offsets of the matrix's first element in the heap; ss: the
 * elements from one source row to the next (cols, or more for a window of
 * columns of a wider matrix); ds: from one destination row to the next (rows,
 * or more to leave a gap after each).
 */
import { Code, emitModule, frame, I32, V128, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";

/** Columns per tile: 16 destination runs stay cached even when a power-of-two stride maps them to few cache sets (64 and 32 thrashed at rows = 512: measured 10x and 6x slower there; 16 was also fastest at 64 x 784). */
const TILE = 16;
/**
 * Columns per tile when the destination rows lie a multiple of 4 KB apart: then all of a tile's runs fall in
 * the same L1 set (48 KB of 12 ways of 4 KB: 16 runs thrash it). 1024 x 96 (a CIFAR spike conv's 32 x 32
 * output, channels last to first) 0.94 -> 0.31 ns a value, 2048 x 64 0.91 -> 0.30, 2048 x 384 0.97 -> 0.63;
 * at other strides 8 is slower than 16 (512 x 128 0.24 -> 0.31, 784 x 64 0.24 -> 0.27).
 */
const TILE_ALIASED = 8;

/** i32 lane indices of a two-vector shuffle as its 16 byte indices. */
const lanes32 = (l: readonly number[]): number[] => l.flatMap((x) => [4 * x, 4 * x + 1, 4 * x + 2, 4 * x + 3]);

/**
 * One transpose function. With `block4` (4-byte elements), whole 4 x 4 blocks
 * of a tile move as four v128 loads, eight shuffles and four stores (a
 * 784 x 16 transpose was several times slower element by element); the rows
 * and columns a block does not fill go element by element.
 */
function transposeFunc(name: string, es: number, ed: number, move: (c: Code, s: number, d: number) => void, block4 = false): FuncDef {
  const f = frame(
    [["src", I32], ["dst", I32], ["rows", I32], ["cols", I32], ["r0", I32], ["r1", I32], ["tile", I32], ["ss", I32], ["ds", I32]] as const,
    [
      ["ct", I32], ["ce", I32], ["r", I32], ["s", I32], ["d", I32], ["end", I32], ["step", I32], ["ce4", I32], ["cb", I32], ["rowBytes", I32],
      ["a0", V128], ["a1", V128], ["a2", V128], ["a3", V128], ["t0", V128], ["t1", V128], ["t2", V128], ["t3", V128],
    ] as const,
  );
  const L = f.idx;
  const c = new Code();
  /** Source row `r` (a local), columns [from, to) (locals), element by element into its destination column run. */
  const scalarRow = (r: number, from: number, to: number): void => {
    c.get(L.src).get(r).get(L.ss).i32Mul().get(from).i32Add().i32Const(es).i32Mul().i32Add().set(L.s);
    c.get(L.src).get(r).get(L.ss).i32Mul().get(to).i32Add().i32Const(es).i32Mul().i32Add().set(L.end);
    c.get(L.dst).get(from).get(L.ds).i32Mul().get(r).i32Add().i32Const(ed).i32Mul().i32Add().set(L.d);
    c.whileLtU(L.s, L.end, () => {
      move(c, L.s, L.d);
      c.get(L.s).i32Const(es).i32Add().set(L.s);
      c.get(L.d).get(L.step).i32Add().set(L.d);
    });
  };
  c.get(L.ds).i32Const(ed).i32Mul().set(L.step);
  c.get(L.ss).i32Const(es).i32Mul().set(L.rowBytes);
  c.i32Const(0).set(L.ct);
  c.whileLtU(L.ct, L.cols, () => {
    // ce = min(ct + tile, cols)
    c.get(L.ct).get(L.tile).i32Add().get(L.cols).get(L.ct).get(L.tile).i32Add().get(L.cols).i32LtU().select().set(L.ce);
    c.get(L.r0).set(L.r);
    if (block4) {
      c.get(L.ce).get(L.ct).i32Sub().i32Const(-4).i32And().get(L.ct).i32Add().set(L.ce4);
      // while (r + 4 <= r1): the 4 x 4 blocks of rows r..r+3, then their columns past ce4
      c.block().loop();
      c.get(L.r1).get(L.r).i32Const(4).i32Add().i32LtU().brIf(1);
      c.get(L.ct).set(L.cb);
      c.whileLtU(L.cb, L.ce4, () => {
        c.get(L.src).get(L.r).get(L.ss).i32Mul().get(L.cb).i32Add().i32Const(4).i32Mul().i32Add().set(L.s);
        const rows4 = [L.a0, L.a1, L.a2, L.a3];
        rows4.forEach((a, i) => {
          c.get(L.s);
          if (i > 0) c.get(L.rowBytes).i32Const(i).i32Mul().i32Add();
          c.v128Load(0).set(a);
        });
        // Rows a0..a3 -> columns: interleave pairs, then halves.
        c.get(L.a0).get(L.a1).i8x16Shuffle(lanes32([0, 4, 1, 5])).set(L.t0);
        c.get(L.a0).get(L.a1).i8x16Shuffle(lanes32([2, 6, 3, 7])).set(L.t1);
        c.get(L.a2).get(L.a3).i8x16Shuffle(lanes32([0, 4, 1, 5])).set(L.t2);
        c.get(L.a2).get(L.a3).i8x16Shuffle(lanes32([2, 6, 3, 7])).set(L.t3);
        c.get(L.dst).get(L.cb).get(L.ds).i32Mul().get(L.r).i32Add().i32Const(4).i32Mul().i32Add().set(L.d);
        const outs: [number, number, number[]][] = [[L.t0, L.t2, [0, 1, 4, 5]], [L.t0, L.t2, [2, 3, 6, 7]], [L.t1, L.t3, [0, 1, 4, 5]], [L.t1, L.t3, [2, 3, 6, 7]]];
        outs.forEach(([x, y, l], j) => {
          c.get(L.d);
          if (j > 0) c.get(L.step).i32Const(j).i32Mul().i32Add();
          c.get(x).get(y).i8x16Shuffle(lanes32(l)).v128Store(0);
        });
        c.get(L.cb).i32Const(4).i32Add().set(L.cb);
      });
      for (let i = 0; i < 4; i++) {
        scalarRow(L.r, L.ce4, L.ce);
        c.get(L.r).i32Const(1).i32Add().set(L.r);
      }
      c.br(0).end().end();
    }
    c.whileLtU(L.r, L.r1, () => {
      scalarRow(L.r, L.ct, L.ce);
      c.get(L.r).i32Const(1).i32Add().set(L.r);
    });
    c.get(L.ct).get(L.tile).i32Add().set(L.ct);
  });
  return { name, params: f.params, results: [], locals: f.locals, body: c };
}

/** The transpose module's bytes (emitted from TypeScript, deterministic). */
export function transposeKernelModule(): Uint8Array {
  return emitModule({
    minPages: 1, shared: true, funcs: [
      transposeFunc("t32", 4, 4, (c, s, d) => c.get(d).get(s).i32Load(0).i32Store(0), true),
      transposeFunc("t64", 8, 8, (c, s, d) => c.get(d).get(s).f64Load(0).f64Store(0)),
      transposeFunc("t64to32", 8, 4, (c, s, d) => c.get(d).get(s).f64Load(0).f32DemoteF64().f32Store(0)),
    ],
  });
}

/** This thread's instance, over the heap; its scratch stages foreign arrays. */
export const transposeKernel = new HeapKernel(transposeKernelModule);

/** Which WASM path copies src's elements into dst's: "t32", "t64", "t64to32", or null (float32 into float64: the JS twin). */
export function transposePath(src: ArrayBufferView, dst: ArrayBufferView): "t32" | "t64" | "t64to32" | null {
  const bs = (src as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT, bd = (dst as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  if (bs === 4 && bd === 4) return src instanceof Float64Array || dst instanceof Float64Array ? null : "t32";
  if (bs === 8 && bd === 8) return "t64";
  if (src instanceof Float64Array && dst instanceof Float32Array) return "t64to32";
  return null;
}

/**
 * Runs one matrix's rows r0..r1-1 (byte offsets of the matrix in the heap); `srcStride`: elements from one
 * source row to the next (a window of `cols` columns of a wider matrix); `dstStride`: from one destination
 * row to the next (rows, or more: each destination row padded).
 */
export function transposeWasmCall(
  path: "t32" | "t64" | "t64to32", src: number, dst: number, rows: number, cols: number, r0: number, r1: number, srcStride = cols, dstStride = rows,
): void {
  if (dstStride < rows) throw new Error(`transposeWasmCall: destination rows ${dstStride} elements apart, expected at least ${rows}`);
  const dstRowBytes = dstStride * (path === "t64" ? 8 : 4);
  (transposeKernel.exports()[path] as (...a: number[]) => void)(src, dst, rows, cols, r0, r1, dstRowBytes % 4096 === 0 ? TILE_ALIASED : TILE, srcStride, dstStride);
}
