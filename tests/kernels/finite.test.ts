import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { firstNonFinite, firstNonFiniteReference, firstNonFiniteWasm } from "../../src/kernels/reduce/reduce.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { Rng } from "../../src/tensor/random.js";
import { inHeap } from "../../src/tensor/heap.js";
import { wasmSimdAvailable } from "../../src/wasm/backend.js";
import { placed } from "../helpers/placed.js";
import { describeTwins } from "../helpers/twins.js";

/**
 * Arrays of ragged lengths (the WASM twin's blocks of 16 and its tail), float32 or float64, heap or foreign,
 * finite values over many binades with zeros of both signs and the largest finite float32, and none, one or a
 * few NaNs and infinities at random places (in a block, at its edges, in the tail).
 */
interface FiniteCase { a: Float32Array | Float64Array }

const arbFinite: fc.Arbitrary<FiniteCase> = fc
  .record({ n: fc.integer({ min: 0, max: 200 }), f32: fc.boolean(), heap: fc.boolean(), seed: fc.integer(), bad: fc.integer({ min: 0, max: 3 }) })
  .map((o) => {
    const rng = new Rng(o.seed);
    const a = o.f32 ? new Float32Array(o.n) : new Float64Array(o.n);
    for (let i = 0; i < o.n; i++) {
      const u = rng.uniform();
      a[i] = u < 0.05 ? -0 : u < 0.08 ? 3.4028234663852886e38 : (rng.uniform() - 0.5) * 2 ** (rng.int(200) - 100);
    }
    for (let k = 0; k < o.bad && o.n > 0; k++) a[rng.int(o.n)] = [NaN, Infinity, -Infinity][rng.int(3)]!;
    return { a: placed(a, o.heap) };
  });

/** The index found, as a one-element array (the twins' contract: the arrays a twin returns). */
const run = (f: (a: Float32Array | Float64Array) => number) => (c: FiniteCase) => [[f(c.a)]];

describeTwins("first non-finite value", arbFinite, {
  // The definition in other words than the loop's x - x test.
  reference: run((a) => Array.from(a).findIndex((x) => !Number.isFinite(x))),
  js: run(firstNonFiniteReference),
  // The WASM twin takes float32 heap arrays only (the dispatch keeps the others on the loop).
  wasm: run((a) => (a instanceof Float32Array && inHeap(a) ? firstNonFiniteWasm(a) : firstNonFiniteReference(a))),
  dispatch: run(firstNonFinite),
}, 300);

describe("first non-finite value: the WASM twin on long arrays and its refusals", () => {
  it.skipIf(!wasmSimdAvailable())("finds a NaN or infinity at every place of a 100-value array, and -1 without one", () => {
    const a = placed(new Float32Array(100).fill(1.5), true);
    expect(firstNonFiniteWasm(a)).toBe(-1);
    for (let i = 0; i < 100; i++) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        a[i] = bad;
        a[Math.min(99, i + 7)] = NaN; // a later one must not win
        expect(firstNonFiniteWasm(a)).toBe(i);
        a.fill(1.5);
      }
    }
  });
  it.skipIf(!wasmSimdAvailable())("refuses a float64 or foreign array with its name", () => {
    expect(() => firstNonFiniteWasm(new Float32Array(4))).toThrow(BitspikeError);
    expect(() => firstNonFiniteWasm(placed(new Float64Array(4), true) as unknown as Float32Array)).toThrow(/firstNonFiniteWasm: needs a float32 array in the heap/);
  });
});
