import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { transposeWasmCall } from "../../src/kernels/transpose/wasm.js";
import { heapArray } from "../../src/tensor/heap.js";
import { wasmSimdAvailable } from "../../src/wasm/backend.js";
import { transpose, transposeRangeJs, transposeRangeReference, transposeRangeWasm } from "../../src/kernels/transpose/transpose.js";
import { transposeThreads } from "../../src/kernels/transpose/threads.js";
import { Rng } from "../../src/tensor/random.js";
import { placed } from "../helpers/placed.js";
import { describeTwins } from "../helpers/twins.js";

/**
 * Batches of matrices at offsets, ragged sizes (tiles cut at every edge),
 * float32 or float64 source and destination (float64 into float32 rounds), in
 * the heap or foreign (staged by the WASM twin); destinations hold stale values
 * every twin must overwrite, and keep them outside the matrices.
 */
interface TransposeCase { batch: number; rows: number; cols: number; sOff: number; dOff: number; src: Float32Array | Float64Array; dst64: boolean; heap: boolean }

const arbTranspose: fc.Arbitrary<TransposeCase> = fc
  .record({
    // 512 / 1024 rows: destination rows a multiple of 4 KB apart (float64 / float32), the WASM twin's narrower tiles.
    batch: fc.integer({ min: 1, max: 4 }), rows: fc.oneof(fc.integer({ min: 1, max: 70 }), fc.constantFrom(512, 1024)), cols: fc.integer({ min: 1, max: 70 }),
    sOff: fc.integer({ min: 0, max: 5 }), dOff: fc.integer({ min: 0, max: 5 }), src64: fc.boolean(), dst64: fc.boolean(), heap: fc.boolean(), seed: fc.integer(),
  })
  .map((o) => {
    const rng = new Rng(o.seed);
    const n = o.sOff + o.batch * o.rows * o.cols;
    const raw = o.src64 ? new Float64Array(n) : new Float32Array(n);
    for (let i = 0; i < n; i++) raw[i] = rng.normal() * 1e3;
    return { batch: o.batch, rows: o.rows, cols: o.cols, sOff: o.sOff, dOff: o.dOff, src: placed(raw, o.heap), dst64: o.dst64 && o.src64, heap: o.heap };
  });

function dstOf(c: TransposeCase): Float32Array | Float64Array {
  const n = c.dOff + c.batch * c.rows * c.cols + 3;
  return placed(c.dst64 ? new Float64Array(n).fill(-7) : new Float32Array(n).fill(-7), c.heap);
}

/** The stacked rows in two ranges (a cut mid-matrix), so a range twin must start and stop anywhere. */
const range = (f: typeof transposeRangeReference) => (c: TransposeCase) => {
  const d = dstOf(c), units = c.batch * c.rows, cut = Math.floor(units / 3) + 1;
  f(c.src, c.sOff, c.rows, c.cols, d, c.dOff, 0, Math.min(cut, units));
  f(c.src, c.sOff, c.rows, c.cols, d, c.dOff, Math.min(cut, units), units);
  return [d];
};

describeTwins("transpose", arbTranspose, {
  reference: (c) => {
    const d = dstOf(c);
    transposeRangeReference(c.src, c.sOff, c.rows, c.cols, d, c.dOff, 0, c.batch * c.rows);
    return [d];
  },
  js: range(transposeRangeJs),
  wasm: range(transposeRangeWasm),
  dispatch: (c) => {
    const d = dstOf(c);
    transpose(c.src, c.sOff, c.rows, c.cols, d, c.dOff, c.batch);
    return [d];
  },
  threads: (c, t) => {
    const d = dstOf(c);
    transposeThreads(c.src, c.sOff, c.rows, c.cols, d, c.dOff, c.batch, t);
    return [d];
  },
}, 150);

describe("transposeWasmCall: destination rows a stride apart", () => {
  it.skipIf(!wasmSimdAvailable())("writes each destination row at its stride and leaves the gap after it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 9 }), fc.integer(), (rows, cols, gap, seed) => {
        const rng = new Rng(seed);
        const src = heapArray(Float32Array, rows * cols);
        for (let i = 0; i < src.length; i++) src[i] = rng.normal();
        const ds = rows + gap;
        const dst = heapArray(Float32Array, cols * ds).fill(-7);
        transposeWasmCall("t32", src.byteOffset, dst.byteOffset, rows, cols, 0, rows, cols, ds);
        for (let j = 0; j < cols; j++) {
          for (let i = 0; i < ds; i++) if (!Object.is(dst[j * ds + i], i < rows ? src[i * cols + j] : -7)) return false;
        }
        return true;
      }),
      { numRuns: 60 },
    );
    expect(() => transposeWasmCall("t32", 0, 0, 4, 3, 0, 4, 3, 3)).toThrow(/destination rows 3 elements apart, expected at least 4/);
  });
});
