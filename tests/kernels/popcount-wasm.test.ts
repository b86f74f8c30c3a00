import { describe, expect, it } from "vitest";
import { andPopcountGemmJs } from "../../src/kernels/popcount/popcount.js";
import { wordsFor } from "../../src/tensor/bits.js";
import { wasmSimdAvailable } from "../../src/wasm/backend.js";
import { andPopcountGemmWasm, spikeGemmModule } from "../../src/kernels/popcount/wasm.js";
import { wasmApi } from "../../src/wasm/runtime.js";
import { Rng } from "../../src/tensor/random.js";
import { bitRows } from "../helpers/random-spikes.js";
import { placed } from "../helpers/placed.js";
import { heapStats } from "../../src/tensor/heap.js";

const simd = wasmSimdAvailable();

// Bit-equality with the reference and the TypeScript twin: tests/kernels/popcount.test.ts.
describe.skipIf(!simd)(`WASM SIMD AND-popcount twin${simd ? "" : " (skipped: WebAssembly SIMD is unavailable in this runtime)"}`, () => {
  it("its module validates", () => {
    expect(wasmApi()!.validate(spikeGemmModule())).toBe(true);
  });

  it("reads and writes heap arrays in place (0 staged bytes, every C type); foreign ones are staged and counted", () => {
    const rng = new Rng(4);
    for (const [m, n, cols] of [[9, 7, 32], [5, 6, 200]] as const) {
      const words = wordsFor(cols);
      for (const heap of [true, false]) {
        const a = placed(bitRows(m, cols, 0.3, rng), heap), b = placed(bitRows(n, cols, 0.3, rng), heap);
        for (const c of [new Int32Array(m * n), new Float32Array(m * n), new Float64Array(m * n)]) {
          const cw = placed(c, heap), cj = c.slice();
          const staged = heapStats().stagedBytes;
          andPopcountGemmWasm(a, 0, b, 0, cw, 0, m, n, words);
          const grew = heapStats().stagedBytes - staged;
          if (heap) expect(grew).toBe(0);
          else expect(grew).toBe((m + n) * words * 4 + m * n * c.BYTES_PER_ELEMENT);
          andPopcountGemmJs(a, 0, b, 0, cj, 0, m, n, words);
          expect([...cw]).toEqual([...cj]);
        }
      }
    }
  });

  it("handles all-ones rows (the largest counts), zero words, Spikformer-sized products, two-word rows and rows past the 31-step byte sums", () => {
    const rng = new Rng(9);
    // 3968 bits = 31 steps of 128 exactly; 3969 and 9000 cross into a second byte sum (all ones would overflow a byte at 32 steps).
    // Two words a row (pop2): B's rows four at a time, then a tail of one to three (n = 5, 7, 2).
    const shapes = [[64, 64, 32], [196, 196, 64], [32, 32, 64], [3, 5, 50], [6, 7, 64], [5, 2, 33], [32, 32, 196], [7, 5, 31], [3, 9, 129], [3, 4, 3968], [2, 3, 3969], [3, 2, 9000]] as const;
    for (const [m, n, cols] of shapes) {
      const words = wordsFor(cols);
      for (const rate of [0, 0.15, 1]) {
        const a = bitRows(m, cols, rate, rng), b = bitRows(n, cols, rate, rng);
        const cj = new Float32Array(m * n), cw = new Float32Array(m * n);
        andPopcountGemmJs(a, 0, b, 0, cj, 0, m, n, words);
        andPopcountGemmWasm(a, 0, b, 0, cw, 0, m, n, words);
        expect(cw).toEqual(cj);
        if (rate === 1) expect(cw[0]).toBe(cols);
      }
    }
    const c = new Int32Array([5, 5, 5, 5]);
    andPopcountGemmWasm(new Uint32Array(0), 0, new Uint32Array(0), 0, c, 0, 2, 2, 0);
    expect([...c]).toEqual([0, 0, 0, 0]);
  });
});
