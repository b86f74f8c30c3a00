import fc from "fast-check";
import { unpackAddRange, unpackAddRangeJs, unpackAddRangeReference, unpackAddRangeWasm, type UnpackBase } from "../../src/kernels/spike-cast/spike-cast.js";
import { unpackAddThreads } from "../../src/kernels/spike-cast/threads.js";
import { Rng } from "../../src/tensor/random.js";
import { bitRows } from "../helpers/random-spikes.js";
import { placed } from "../helpers/placed.js";
import { describeTwins } from "../helpers/twins.js";

/**
 * Spike rows of ragged widths (pad bits in the last word), any density, added
 * to nothing, to spikes, or to floats (with -0, which + 0 turns into +0);
 * float32 or float64 output holding stale values; heap or foreign.
 */
interface CastCase { rows: number; cols: number; s: Uint32Array; base: UnpackBase; f32: boolean; heap: boolean }

const arbCast: fc.Arbitrary<CastCase> = fc
  .record({
    rows: fc.integer({ min: 1, max: 9 }), cols: fc.integer({ min: 1, max: 100 }), density: fc.constantFrom(0, 0.1, 0.5, 1),
    base: fc.constantFrom("none", "bits", "float"), f32: fc.boolean(), heap: fc.boolean(), seed: fc.integer(),
  })
  .map((o) => {
    const rng = new Rng(o.seed);
    let base: UnpackBase = null;
    if (o.base === "bits") base = placed(bitRows(o.rows, o.cols, 0.5, rng), o.heap);
    else if (o.base === "float") {
      const f = o.f32 ? new Float32Array(o.rows * o.cols) : new Float64Array(o.rows * o.cols);
      for (let i = 0; i < f.length; i++) f[i] = rng.uniform() < 0.2 ? -0 : (rng.uniform() - 0.5) * 2 ** (rng.int(60) - 30);
      base = placed(f, o.heap);
    }
    return { rows: o.rows, cols: o.cols, s: placed(bitRows(o.rows, o.cols, o.density, rng), o.heap), base, f32: o.f32, heap: o.heap };
  });

const outOf = (c: CastCase) => placed((c.f32 ? new Float32Array(c.rows * c.cols) : new Float64Array(c.rows * c.cols)).fill(-9), c.heap);

/** A range twin over two ranges of rows. */
const halves = (f: typeof unpackAddRangeJs) => (c: CastCase) => {
  const out = outOf(c), k = Math.ceil(c.rows / 2);
  f(c.base, c.s, out, c.cols, 0, k);
  f(c.base, c.s, out, c.cols, k, c.rows);
  return [out];
};

describeTwins("spike unpack-add", arbCast, {
  reference: (c) => {
    const out = outOf(c);
    unpackAddRangeReference(c.base, c.s, out, c.cols, 0, c.rows);
    return [out];
  },
  js: halves(unpackAddRangeJs),
  // The WASM twin takes heap arrays (the dispatch keeps foreign ones on the TypeScript twin).
  wasm: (c) => halves(c.heap && (c.base === null || c.base instanceof Uint32Array || c.base instanceof Float32Array === c.f32) ? unpackAddRangeWasm : unpackAddRangeJs)(c),
  dispatch: halves(unpackAddRange),
  threads: (c, t) => {
    const out = outOf(c);
    unpackAddThreads(c.base, c.s, out, c.rows, c.cols, t);
    return [out];
  },
}, 150);
