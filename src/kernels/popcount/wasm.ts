/**
 * The WebAssembly SIMD twin of the AND-popcount product (andPopcountGemm in
 * src/kernels/spike-gemm.ts): C[i, j] = sum_w popcnt(A[i, w] & B[j, w]) over
 * bit rows of `words` 32-bit words. Its bytes are emitted from TypeScript by
 * {@link spikeGemmModule} at first use, per thread (no .wasm file is loaded),
 * over the heap memory: A, B and C are read and written where they are.
 *
 * Counts are integers, so any summation order gives the same result; the twin
 * equals the JS kernel exactly. Two function shapes, each in three output
 * types (suffix _i32, _f32, _f64: the count is converted on the store, exact
 * since counts stay far below 2^24):
 *
 *   pop1(a, b, c, m, n)         one word a row (Spikformer's head size d = 32):
 *                               A[i] is splat to 4 lanes and ANDed with 4 rows
 *                               of B at once, so 4 outputs per step;
 *   pop2(a, b, c, m, n)         two words a row (33 to 64 tokens: Kᵀ V of a
 *                               CIFAR or MNIST head): A[i]'s two words splat
 *                               to 4 lanes, two vectors of B (4 rows) a step,
 *                               the lanes' counts added in pairs;
 *   popW(a, b, c, m, n, words)  any width: 4 words a step (v128.and,
 *                               i8x16.popcnt, summed in bytes for up to 31
 *                               steps, then pairwise widening adds to i32x4),
 *                               the words % 4 tail by scalar i32.popcnt.
 *
 * a, b, c are heap byte offsets of A [m][words], B [n][words] (u32) and
 * C [m][n] (i32, f32 or f64), any element alignment.
 */
import { Code, emitModule, I32, V128, type ValType } from "../../wasm/emit.js";
import { inHeap } from "../../tensor/heap.js";
import { HeapKernel, heapPtr, unstage } from "../../wasm/runtime.js";

/** Appends `while (x < end) { body }` (the test at the top, so zero trips are fine). */
function whileLt(c: Code, x: number, end: number, body: () => void): void {
  c.block().loop();
  c.get(x).get(end).i32LtU().i32Eqz().brIf(1);
  body();
  c.br(0).end().end();
}

function addConst(c: Code, local: number, v: number): void {
  c.get(local).i32Const(v).i32Add().set(local);
}

/** Replaces the v128 on the stack by the popcounts of its four 32-bit lanes. */
function popcnt32x4(c: Code): void {
  c.i8x16Popcnt().i16x8ExtaddPairwiseI8x16U().i32x4ExtaddPairwiseI16x8U();
}

/** The element type C is stored in. */
type Out = "i32" | "f32" | "f64";

/** Stores the i32 count on the stack (after the address) as one `out` element. */
function storeCount(c: Code, out: Out): void {
  if (out === "i32") c.i32Store();
  else if (out === "f32") c.f32ConvertI32S().f32Store();
  else c.f64ConvertI32S().f64Store();
}

/**
 * pop1 (`words` 1) and pop2 (`words` 2): A's row splat over a v128 (four copies of its word, or two of its two
 * words) and ANDed with B's rows at once, four outputs a step; with two words a row the step's two vectors hold
 * rows j, j + 1 and j + 2, j + 3, and their lanes' counts are added in pairs (word 0 and word 1 of each row).
 */
function popNarrow(outType: Out, words: 1 | 2): Code {
  // params a b c m n; locals: endA, x, ai, y, endV, endAll, out, ai1; v128 va, cnt, cnt2
  const [a, b, cc, m, n] = [0, 1, 2, 3, 4];
  const [endA, x, ai, y, endV, endAll, out, ai1, va, cnt, cnt2] = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const es = outType === "f64" ? 8 : 4;
  const rowShift = words === 1 ? 2 : 3; // log2 bytes a row
  const lanes = (ls: readonly number[]): number[] => ls.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
  const c = new Code();
  c.get(a).get(m).i32Const(rowShift).i32Shl().i32Add().set(endA);
  c.get(a).set(x).get(cc).set(out);
  whileLt(c, x, endA, () => {
    if (words === 1) c.get(x).i32Load().tee(ai).i32x4Splat().set(va);
    else c.get(x).i32Load().set(ai).get(x).i32Load(4).set(ai1).get(x).v128Load64Splat().set(va);
    c.get(b).set(y);
    c.get(b).get(n).i32Const(-4).i32And().i32Const(rowShift).i32Shl().i32Add().set(endV);
    c.get(b).get(n).i32Const(rowShift).i32Shl().i32Add().set(endAll);
    whileLt(c, y, endV, () => {
      c.get(va).get(y).v128Load().v128And();
      popcnt32x4(c);
      c.set(cnt);
      if (words === 2) {
        c.get(va).get(y).v128Load(16).v128And();
        popcnt32x4(c);
        c.set(cnt2);
        // Lanes [j w0, j w1, j+1 w0, j+1 w1] and the same for j + 2, j + 3: the even lanes plus the odd ones.
        c.get(cnt).get(cnt2).i8x16Shuffle(lanes([0, 2, 4, 6])).get(cnt).get(cnt2).i8x16Shuffle(lanes([1, 3, 5, 7])).i32x4Add().set(cnt);
      }
      if (outType === "f64") {
        // Two f64x2 stores: lanes 0-1, then lanes 2-3 moved down.
        c.get(out).get(cnt).f64x2ConvertLowI32x4S().v128Store(0);
        c.get(out).get(cnt).get(cnt).i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]).f64x2ConvertLowI32x4S().v128Store(16);
      } else {
        c.get(out).get(cnt);
        if (outType === "f32") c.f32x4ConvertI32x4S();
        c.v128Store();
      }
      addConst(c, y, 16 * words);
      addConst(c, out, 4 * es);
    });
    whileLt(c, y, endAll, () => {
      c.get(out).get(ai).get(y).i32Load().i32And().i32Popcnt();
      if (words === 2) c.get(ai1).get(y).i32Load(4).i32And().i32Popcnt().i32Add();
      storeCount(c, outType);
      addConst(c, y, 4 * words);
      addConst(c, out, es);
    });
    addConst(c, x, 4 * words);
  });
  return c;
}

/** 128-bit steps whose byte popcounts (8 at most each) can add up in an i8x16 without overflow. */
const BYTE_STEPS = 31;

function popW(outType: Out): Code {
  const [a, b, cc, m, n, words] = [0, 1, 2, 3, 4, 5];
  const es = outType === "f64" ? 8 : 4;
  const [rowBytes, vecBytes, xRow, endA, yRow, endB, x, y, end4, endRow, s, out, chunkEnd, acc, acc8] = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
  const c = new Code();
  c.get(words).i32Const(2).i32Shl().set(rowBytes);
  c.get(words).i32Const(-4).i32And().i32Const(2).i32Shl().set(vecBytes);
  c.get(a).get(m).get(rowBytes).i32Mul().i32Add().set(endA);
  c.get(b).get(n).get(rowBytes).i32Mul().i32Add().set(endB);
  c.get(a).set(xRow).get(cc).set(out);
  whileLt(c, xRow, endA, () => {
    c.get(b).set(yRow);
    whileLt(c, yRow, endB, () => {
      c.get(xRow).set(x).get(yRow).set(y);
      c.get(xRow).get(vecBytes).i32Add().set(end4);
      c.get(xRow).get(rowBytes).i32Add().set(endRow);
      c.v128Const(new Array<number>(16).fill(0)).set(acc);
      // Byte counts add up in i8x16 lanes for up to 31 steps (at most 8 a step: 248 < 256), then widen into acc.
      whileLt(c, x, end4, () => {
        c.get(x).i32Const(16 * BYTE_STEPS).i32Add().get(end4).get(x).i32Const(16 * BYTE_STEPS).i32Add().get(end4).i32LtU().select().set(chunkEnd);
        c.v128Const(new Array<number>(16).fill(0)).set(acc8);
        whileLt(c, x, chunkEnd, () => {
          c.get(acc8).get(x).v128Load().get(y).v128Load().v128And().i8x16Popcnt().i8x16Add().set(acc8);
          addConst(c, x, 16);
          addConst(c, y, 16);
        });
        c.get(acc).get(acc8).i16x8ExtaddPairwiseI8x16U().i32x4ExtaddPairwiseI16x8U().i32x4Add().set(acc);
      });
      c.get(acc).i32x4ExtractLane(0).get(acc).i32x4ExtractLane(1).i32Add();
      c.get(acc).i32x4ExtractLane(2).i32Add().get(acc).i32x4ExtractLane(3).i32Add().set(s);
      whileLt(c, x, endRow, () => {
        c.get(s).get(x).i32Load().get(y).i32Load().i32And().i32Popcnt().i32Add().set(s);
        addConst(c, x, 4);
        addConst(c, y, 4);
      });
      c.get(out).get(s);
      storeCount(c, outType);
      addConst(c, out, es);
      c.get(yRow).get(rowBytes).i32Add().set(yRow);
    });
    c.get(xRow).get(rowBytes).i32Add().set(xRow);
  });
  return c;
}

/** The AND-popcount module's bytes (emitted from TypeScript, deterministic). */
export function spikeGemmModule(): Uint8Array {
  const i32s = (k: number): ValType[] => new Array<ValType>(k).fill(I32);
  return emitModule({
    minPages: 1,
    shared: true,
    funcs: (["i32", "f32", "f64"] as const).flatMap((t) => [
      { name: `pop1_${t}`, params: i32s(5), results: [], locals: [...i32s(8), V128, V128, V128], body: popNarrow(t, 1) },
      { name: `pop2_${t}`, params: i32s(5), results: [], locals: [...i32s(8), V128, V128, V128], body: popNarrow(t, 2) },
      { name: `popW_${t}`, params: i32s(6), results: [], locals: [...i32s(13), V128, V128], body: popW(t) },
    ]),
  });
}

/** pop1 / pop2 (see popNarrow). */
type PopNarrow = (a: number, b: number, c: number, m: number, n: number) => void;
type PopW = (a: number, b: number, c: number, m: number, n: number, words: number) => void;

const kernel = new HeapKernel(spikeGemmModule);
let runs = 0;

/** Bytes a foreign array of `bytes` needs in scratch (16-byte steps), 0 for a heap array (used in place). */
function stageBytes(a: ArrayBufferView, bytes: number): number {
  return inHeap(a) ? 0 : (bytes + 15) & ~15;
}

/**
 * C[i, j] = sum_w popcnt(A[i, w] & B[j, w]), the contract and result of
 * andPopcountGemm (offsets in words / elements). Heap arrays are read and
 * written in place, counts converted to C's type on the store; foreign ones
 * are staged through the module's scratch (counted in heapStats().stagedBytes).
 * Throws where WebAssembly SIMD is unavailable.
 */
export function andPopcountGemmWasm(
  a: Uint32Array, aOff: number,
  b: Uint32Array, bOff: number,
  c: Int32Array | Float32Array | Float64Array, cOff: number,
  m: number, n: number, words: number,
): void {
  if (m === 0 || n === 0) return;
  if (words === 0) {
    c.fill(0, cOff, cOff + m * n);
    return;
  }
  const aw = m * words, bw = n * words, mn = m * n;
  const sa = stageBytes(a, aw * 4), sb = stageBytes(b, bw * 4), sc = stageBytes(c, mn * c.BYTES_PER_ELEMENT);
  const base = sa + sb + sc > 0 ? kernel.scratch.take(sa + sb + sc) : 0;
  const aP = heapPtr(a, aOff, aw, base, true);
  const bP = heapPtr(b, bOff, bw, base + sa, true);
  const cP = heapPtr(c, cOff, mn, base + sa + sb, false);
  runs++;
  const f = fns ??= funcsOf(kernel.exports());
  const t = c instanceof Float64Array ? 2 : c instanceof Float32Array ? 1 : 0;
  if (words === 1) f.pop1[t]!(aP, bP, cP, m, n);
  else if (words === 2) f.pop2[t]!(aP, bP, cP, m, n);
  else f.popW[t]!(aP, bP, cP, m, n, words);
  if (sc > 0) unstage(c, cOff, mn, cP);
}

/** The exported functions by C type (0 int32, 1 float32, 2 float64), looked up once per thread. */
let fns: { pop1: PopNarrow[]; pop2: PopNarrow[]; popW: PopW[] } | null = null;
function funcsOf(ex: Record<string, unknown>): { pop1: PopNarrow[]; pop2: PopNarrow[]; popW: PopW[] } {
  const types = ["i32", "f32", "f64"];
  return {
    pop1: types.map((t) => ex[`pop1_${t}`] as PopNarrow), pop2: types.map((t) => ex[`pop2_${t}`] as PopNarrow), popW: types.map((t) => ex[`popW_${t}`] as PopW),
  };
}

/** How many times this thread has run the WASM AND-popcount kernel. */
export function andPopcountWasmRuns(): number {
  return runs;
}
