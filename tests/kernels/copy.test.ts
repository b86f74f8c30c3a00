import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { copyRows, copyStrided, copyStridedRangeJs, copyStridedRangeReference, copyStridedRangeWasm } from "../../src/kernels/copy/copy.js";
import { copyStridedThreads } from "../../src/kernels/copy/threads.js";
import { stridesOf } from "../../src/tensor/shape.js";
import { Rng } from "../../src/tensor/random.js";
import { placed } from "../helpers/placed.js";
import { describeTwins } from "../helpers/twins.js";

/**
 * Copies of rank 0 to 4 (axes up to 35 long, zero-length axes included):
 * source strides of a permutation of a larger array, with broadcast (0) and
 * stepped axes; destination row-major at an offset, holding stale values.
 */
interface CopyCase { shape: number[]; src: Float32Array | Float64Array; srcOff: number; srcStrides: number[]; dstOff: number; dstLen: number; heap: boolean }

const arbCopy: fc.Arbitrary<CopyCase> = fc
  .record({
    shape: fc.array(fc.integer({ min: 0, max: 35 }), { minLength: 0, maxLength: 4 }),
    kinds: fc.array(fc.constantFrom("plain", "step", "zero"), { minLength: 4, maxLength: 4 }),
    perm: fc.boolean(), srcOff: fc.integer({ min: 0, max: 5 }), dstOff: fc.integer({ min: 0, max: 5 }), f32: fc.boolean(), heap: fc.boolean(), seed: fc.integer(),
  })
  .filter((o) => o.shape.reduce((a, b) => a * b, 1) <= 20_000)
  .map((o) => {
    const rank = o.shape.length;
    const steps = o.shape.map((_, d) => (o.kinds[d] === "step" ? 2 : 1));
    const base = stridesOf(o.shape.map((n, d) => n * steps[d]!));
    let srcStrides = base.map((st, d) => (o.kinds[d] === "zero" ? 0 : st * steps[d]!));
    if (o.perm && rank > 1) srcStrides = [...srcStrides.slice(1), srcStrides[0]!]; // a different axis order over the same span
    let span = 1;
    for (let d = 0; d < rank; d++) span += Math.max(0, o.shape[d]! - 1) * srcStrides[d]!;
    const rng = new Rng(o.seed);
    const src = o.f32 ? new Float32Array(o.srcOff + span) : new Float64Array(o.srcOff + span);
    for (let i = 0; i < src.length; i++) src[i] = rng.normal();
    return { shape: o.shape, src: placed(src, o.heap), srcOff: o.srcOff, srcStrides, dstOff: o.dstOff, dstLen: o.dstOff + o.shape.reduce((a, b) => a * b, 1) + 2, heap: o.heap };
  });

const dstOf = (c: CopyCase) => placed((c.src instanceof Float32Array ? new Float32Array(c.dstLen) : new Float64Array(c.dstLen)).fill(-4), c.heap);

/** A range twin over two ranges of rows, cut at a third (mid-block). */
const thirds = (f: typeof copyStridedRangeJs) => (c: CopyCase) => {
  const d = dstOf(c), rows = c.shape.includes(0) ? 0 : copyRows(c.shape), k = Math.ceil(rows / 3);
  f(c.src, c.srcOff, c.srcStrides, d, c.dstOff, stridesOf(c.shape), c.shape, 0, k);
  f(c.src, c.srcOff, c.srcStrides, d, c.dstOff, stridesOf(c.shape), c.shape, k, rows);
  return [d];
};

describeTwins("strided copy", arbCopy, {
  reference: (c) => {
    const d = dstOf(c);
    if (!c.shape.includes(0)) copyStridedRangeReference(c.src, c.srcOff, c.srcStrides, d, c.dstOff, stridesOf(c.shape), c.shape, 0, copyRows(c.shape));
    return [d];
  },
  js: thirds(copyStridedRangeJs),
  // The WASM twin takes heap arrays (the dispatch keeps foreign ones on the TypeScript twin).
  wasm: (c) => thirds(c.heap ? copyStridedRangeWasm : copyStridedRangeJs)(c),
  dispatch: (c) => {
    const d = dstOf(c);
    copyStrided(c.src, c.srcOff, c.srcStrides, d, c.dstOff, stridesOf(c.shape), c.shape);
    return [d];
  },
  threads: (c, t) => {
    const d = dstOf(c);
    copyStridedThreads(c.src, c.srcOff, c.srcStrides, d, c.dstOff, stridesOf(c.shape), c.shape, t);
    return [d];
  },
}, 150);

describe("strided copy ranges", () => {
  // A thread's range must write its rows and nothing else (two threads' ranges meet mid-block).
  it("write the rows of their range only, whatever block they start and end in", () => {
    fc.assert(fc.property(arbCopy, fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1000 }), (c, a, b) => {
      if (c.shape.length < 2 || c.shape.includes(0)) return;
      const rows = copyRows(c.shape), inner = c.shape[c.shape.length - 1]!;
      const [u0, u1] = [a % (rows + 1), b % (rows + 1)].sort((x, y) => x - y) as [number, number];
      const want = dstOf(c);
      copyStridedRangeReference(c.src, c.srcOff, c.srcStrides, want, c.dstOff, stridesOf(c.shape), c.shape, 0, rows);
      for (const f of c.heap ? [copyStridedRangeJs, copyStridedRangeWasm] : [copyStridedRangeJs]) {
        const d = dstOf(c);
        f(c.src, c.srcOff, c.srcStrides, d, c.dstOff, stridesOf(c.shape), c.shape, u0, u1);
        for (let i = 0; i < d.length; i++) {
          const row = Math.floor((i - c.dstOff) / inner);
          const inRange = i >= c.dstOff && row >= u0 && row < u1;
          expect(Object.is(d[i], inRange ? want[i] : -4)).toBe(true);
        }
      }
    }), { numRuns: 150 });
  });
});
