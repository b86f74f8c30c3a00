import fc from "fast-check";
import {
  addChannelBias, addChannelBiasRangeJs, addChannelBiasRangeReference, addChannelBiasRangeWasm,
  sumPerChannel, sumPerChannelRangeJs, sumPerChannelRangeReference, sumPerChannelRangeWasm,
} from "../../src/kernels/bias/bias.js";
import { addChannelBiasThreads, sumPerChannelThreads } from "../../src/kernels/bias/threads.js";
import { Rng } from "../../src/tensor/random.js";
import { placed } from "../helpers/placed.js";
import { describeTwins } from "../helpers/twins.js";

/** [outer, channels, inner] data (inner = 1 has its own loops), values over 20 binades so the order of additions shows, float32 or float64, heap or foreign. */
interface BiasCase { outer: number; channels: number; inner: number; x: Float32Array | Float64Array; bias: Float32Array | Float64Array; heap: boolean }

const arbBias: fc.Arbitrary<BiasCase> = fc
  .record({
    outer: fc.integer({ min: 1, max: 40 }), channels: fc.integer({ min: 1, max: 45 }), inner: fc.constantFrom(1, 1, 2, 5, 33),
    f32: fc.boolean(), heap: fc.boolean(), seed: fc.integer(),
  })
  .map((o) => {
    const rng = new Rng(o.seed);
    const make = (len: number) => {
      const a = o.f32 ? new Float32Array(len) : new Float64Array(len);
      for (let i = 0; i < len; i++) a[i] = (rng.uniform() - 0.5) * 2 ** (rng.int(20) - 10);
      return placed(a, o.heap);
    };
    return { outer: o.outer, channels: o.channels, inner: o.inner, x: make(o.outer * o.channels * o.inner), bias: make(o.channels), heap: o.heap };
  });

/** The add, then the per-channel sum of the result, through the given twins; ranges in two pieces so a twin must start and stop anywhere. */
function both(
  add: (out: Float32Array | Float64Array, c: BiasCase) => void, sum: (dst: Float32Array | Float64Array, c: BiasCase, g: Float32Array | Float64Array) => void,
) {
  return (c: BiasCase) => {
    const out = placed(c.x, c.heap);
    add(out, c);
    const dst = placed(c.bias.slice().fill(-3), c.heap);
    sum(dst, c, out);
    return [out, dst];
  };
}

const split = (units: number) => Math.floor(units / 2) + 1;

/** A range twin pair run in two pieces each. */
const pieces = (add: typeof addChannelBiasRangeJs, sum: typeof sumPerChannelRangeJs) => both(
  (out, c) => {
    const k = Math.min(split(c.outer), c.outer);
    add(out, c.bias, c.outer, c.channels, c.inner, 0, k);
    add(out, c.bias, c.outer, c.channels, c.inner, k, c.outer);
  },
  (dst, c, g) => {
    const k = Math.min(split(c.channels), c.channels);
    sum(g, dst, c.outer, c.channels, c.inner, 0, k);
    sum(g, dst, c.outer, c.channels, c.inner, k, c.channels);
  },
);

describeTwins("bias", arbBias, {
  reference: both(
    (out, c) => addChannelBiasRangeReference(out, c.bias, c.outer, c.channels, c.inner, 0, c.outer),
    (dst, c, g) => sumPerChannelRangeReference(g, dst, c.outer, c.channels, c.inner, 0, c.channels),
  ),
  js: pieces(addChannelBiasRangeJs, sumPerChannelRangeJs),
  // The linear layout (inner = 1) on heap arrays runs SIMD; other cases fall back to the TypeScript twin inside.
  wasm: pieces(addChannelBiasRangeWasm, sumPerChannelRangeWasm),
  dispatch: both(
    (out, c) => addChannelBias(out, c.bias, c.outer, c.channels, c.inner),
    (dst, c, g) => sumPerChannel(g, dst, c.outer, c.channels, c.inner),
  ),
  threads: (c, t) => both(
    (out) => addChannelBiasThreads(out, c.bias, c.outer, c.channels, c.inner, t),
    (dst, _c, g) => sumPerChannelThreads(g, dst, c.outer, c.channels, c.inner, t),
  )(c),
}, 150);
