import fc from "fast-check";
import { addArraysRange, addArraysRangeReference, addArraysRangeWasm } from "../../src/kernels/elementwise/elementwise.js";
import { addArraysThreads } from "../../src/kernels/elementwise/threads.js";
import { Rng } from "../../src/tensor/random.js";
import { inHeap } from "../../src/tensor/heap.js";
import { placed } from "../helpers/placed.js";
import { describeTwins } from "../helpers/twins.js";

/**
 * Sums of arrays of ragged lengths (SIMD tails), float32 or float64, with
 * -0, infinities and values over many binades; into a fresh array or in place
 * (out = a, the tape's accumulation); heap arrays (the WASM twin's case) or foreign.
 */
interface AddCase { a: Float32Array | Float64Array; b: Float32Array | Float64Array; inPlace: boolean; heap: boolean }

const arbAdd: fc.Arbitrary<AddCase> = fc
  .record({ n: fc.integer({ min: 0, max: 300 }), f32: fc.boolean(), inPlace: fc.boolean(), heap: fc.boolean(), seed: fc.integer() })
  .map((o) => {
    const rng = new Rng(o.seed);
    const make = () => {
      const x = o.f32 ? new Float32Array(o.n) : new Float64Array(o.n);
      for (let i = 0; i < o.n; i++) {
        const u = rng.uniform();
        x[i] = u < 0.05 ? -0 : u < 0.07 ? Infinity : (rng.uniform() - 0.5) * 2 ** (rng.int(80) - 40);
      }
      return placed(x, o.heap);
    };
    return { a: make(), b: make(), inPlace: o.inPlace, heap: o.heap };
  });

/** Runs a twin on a copy of a (in place) or into a stale fresh array; returns the result. */
const run = (f: (a: Float32Array | Float64Array, b: Float32Array | Float64Array, out: Float32Array | Float64Array) => void) => (c: AddCase) => {
  const a = placed(c.a, c.heap);
  const out = c.inPlace ? a : placed(c.a.slice().fill(7), c.heap);
  f(a, c.b, out);
  return [out];
};

const halves = (f: typeof addArraysRangeReference) => run((a, b, out) => {
  const k = Math.floor(out.length / 2) + 1;
  f(a, b, out, 0, Math.min(k, out.length));
  f(a, b, out, Math.min(k, out.length), out.length);
});

describeTwins("array sum", arbAdd, {
  reference: run((a, b, out) => addArraysRangeReference(a, b, out, 0, out.length)),
  js: halves(addArraysRangeReference),
  // The WASM twin takes heap arrays only (the dispatch keeps foreign ones on the loop).
  wasm: halves((a, b, out, i0, i1) => (inHeap(a) && inHeap(b) && inHeap(out) ? addArraysRangeWasm : addArraysRangeReference)(a, b, out, i0, i1)),
  dispatch: halves(addArraysRange),
  threads: (c, t) => run((a, b, out) => addArraysThreads(a, b, out, t))(c),
}, 150);
