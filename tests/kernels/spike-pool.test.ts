import fc from "fast-check";
import { maxPoolBits, maxPoolBitsRange, maxPoolBitsRangeJs, maxPoolBitsRangeReference, maxPoolBitsRangeRows, maxPoolBitsRangeWasm, maxPoolGradRange, oneWordFits, oneWordRows, oneWordRowsWasm, maxPoolGradRangeJs, maxPoolGradRangeReference, maxPoolGradRangeWasm, type PoolGeometry } from "../../src/kernels/spike-pool/spike-pool.js";
import { maxPoolBitsThreads, maxPoolGradThreads } from "../../src/kernels/spike-pool/threads.js";
import { wordsFor } from "../../src/tensor/bits.js";
import { Rng } from "../../src/tensor/random.js";
import { bitRows } from "../helpers/random-spikes.js";
import { placed } from "../helpers/placed.js";
import { describeTwins } from "../helpers/twins.js";

/** Spike planes and a pooling window: ragged widths, windows up to 33 wide, strides, padding, any density; argmax or not. */
interface PoolCase { g: PoolGeometry; src: Uint32Array; argmax: boolean; heap: boolean }

const poolCases = (maxW: number): fc.Arbitrary<PoolCase> => fc
  .record({
    planes: fc.integer({ min: 1, max: 5 }), h: fc.integer({ min: 1, max: 9 }), w: fc.integer({ min: 1, max: maxW }),
    kh: fc.integer({ min: 1, max: 4 }), kw: fc.constantFrom(1, 2, 3, 5, 31, 33), sh: fc.integer({ min: 1, max: 3 }), sw: fc.integer({ min: 1, max: 3 }),
    ph: fc.integer({ min: 0, max: 2 }), pw: fc.integer({ min: 0, max: 2 }), density: fc.constantFrom(0, 0.05, 0.3, 1),
    argmax: fc.boolean(), heap: fc.boolean(), seed: fc.integer(),
  })
  .filter((o) => o.h + 2 * o.ph >= o.kh && o.w + 2 * o.pw >= o.kw)
  .map((o) => {
    const oh = Math.floor((o.h + 2 * o.ph - o.kh) / o.sh) + 1, ow = Math.floor((o.w + 2 * o.pw - o.kw) / o.sw) + 1;
    const g = { planes: o.planes, h: o.h, w: o.w, kh: o.kh, kw: o.kw, sh: o.sh, sw: o.sw, ph: o.ph, pw: o.pw, oh, ow };
    return { g, src: placed(bitRows(o.planes * o.h, o.w, o.density, new Rng(o.seed)), o.heap), argmax: o.argmax, heap: o.heap };
  });
const arbPool = poolCases(100);

/** Fresh outputs: the pooled bits (zeroed, as the kernels require) and, when asked, the argmax (stale values a twin must overwrite). */
function outputs(c: PoolCase): { d: Uint32Array; a: Int32Array | null } {
  const { planes, oh, ow } = c.g;
  const d = placed(new Uint32Array(planes * oh * wordsFor(ow)), c.heap);
  return { d, a: c.argmax ? placed(new Int32Array(planes * oh * ow).fill(-5), c.heap) : null };
}

const range = (f: typeof maxPoolBitsRange) => (c: PoolCase) => {
  const o = outputs(c);
  f(c.src, o.d, o.a, c.g, 0, c.g.planes);
  return o.a ? [o.d, o.a] : [o.d];
};

describeTwins("spike max-pool", arbPool, {
  reference: range(maxPoolBitsRangeReference),
  js: range(maxPoolBitsRangeJs),
  // The WASM twin takes heap arrays and windows up to 31 wide (the dispatch keeps the rest on the TypeScript twin).
  wasm: (c) => range(c.heap && c.g.kw <= 31 ? maxPoolBitsRangeWasm : maxPoolBitsRangeJs)(c),
  dispatch: (c) => {
    const o = outputs(c);
    maxPoolBits(c.src, o.d, o.a, c.g);
    return o.a ? [o.d, o.a] : [o.d];
  },
  threads: (c, t) => {
    const o = outputs(c);
    maxPoolBitsThreads(c.src, o.d, o.a, c.g, t);
    return o.a ? [o.d, o.a] : [o.d];
  },
}, 150);

/** A plane-range kernel run as two ranges (the second starting mid-way: plane offsets exercised). */
const split = (f: typeof maxPoolBitsRange) => (c: PoolCase) => {
  const o = outputs(c), k = c.g.planes >> 1;
  f(c.src, o.d, o.a, c.g, 0, k);
  f(c.src, o.d, o.a, c.g, k, c.g.planes);
  return o.a ? [o.d, o.a] : [o.d];
};

// Rows of one word (every Spikformer stem): the shift loop and its WASM twin, argmax or not, strides 1-3.
describeTwins("spike max-pool on one-word rows", poolCases(32).filter((c) => oneWordFits(c.g)), {
  reference: range(maxPoolBitsRangeReference),
  js: split(oneWordRows),
  wasm: (c) => split(c.heap ? oneWordRowsWasm : oneWordRows)(c),
}, 200);

// Without argmax (inference) the dispatch takes the row-OR loop: its own twin check on those cases, in two plane ranges.
describeTwins("spike max-pool without argmax", arbPool.map((c) => ({ ...c, argmax: false })).filter((c) => c.g.kw <= 31), {
  reference: range(maxPoolBitsRangeReference),
  js: (c) => {
    const o = outputs(c), k = c.g.planes >> 1;
    maxPoolBitsRangeRows(c.src, o.d, c.g, 0, k);
    maxPoolBitsRangeRows(c.src, o.d, c.g, k, c.g.planes);
    return [o.d];
  },
}, 150);

/** Gradients through argmax tables: planes of ragged sizes, inputs hit several times (overlapping windows) or never, float32 or float64, heap or foreign. */
interface GradCase { planes: number; inPlane: number; outPlane: number; g: Float32Array | Float64Array; argmax: Int32Array; heap: boolean }

const arbGrad: fc.Arbitrary<GradCase> = fc
  .record({ planes: fc.integer({ min: 1, max: 6 }), inPlane: fc.integer({ min: 1, max: 40 }), outPlane: fc.integer({ min: 1, max: 70 }), f32: fc.boolean(), heap: fc.boolean(), seed: fc.integer() })
  .map((o) => {
    const rng = new Rng(o.seed);
    const g = o.f32 ? new Float32Array(o.planes * o.outPlane) : new Float64Array(o.planes * o.outPlane);
    for (let i = 0; i < g.length; i++) g[i] = (rng.uniform() - 0.5) * 2 ** (rng.int(20) - 10);
    const argmax = new Int32Array(o.planes * o.outPlane);
    for (let i = 0; i < argmax.length; i++) argmax[i] = rng.int(o.inPlane);
    return { planes: o.planes, inPlane: o.inPlane, outPlane: o.outPlane, g: placed(g, o.heap), argmax: placed(argmax, o.heap), heap: o.heap };
  });

const gradOut = (c: GradCase) => placed(c.g instanceof Float32Array ? new Float32Array(c.planes * c.inPlane) : new Float64Array(c.planes * c.inPlane), c.heap);

/** A range twin over two ranges of planes. */
const gradHalves = (f: typeof maxPoolGradRangeJs) => (c: GradCase) => {
  const gx = gradOut(c), k = Math.ceil(c.planes / 2);
  f(c.g, c.argmax, gx, c.inPlane, c.outPlane, 0, k);
  f(c.g, c.argmax, gx, c.inPlane, c.outPlane, k, c.planes);
  return [gx];
};

describeTwins("spike max-pool gradient", arbGrad, {
  reference: (c) => {
    const gx = gradOut(c);
    maxPoolGradRangeReference(c.g, c.argmax, gx, c.inPlane, c.outPlane, 0, c.planes);
    return [gx];
  },
  js: gradHalves(maxPoolGradRangeJs),
  // The WASM twin takes heap arrays (the dispatch keeps foreign ones on the TypeScript twin).
  wasm: (c) => gradHalves(c.heap ? maxPoolGradRangeWasm : maxPoolGradRangeJs)(c),
  dispatch: gradHalves(maxPoolGradRange),
  threads: (c, t) => {
    const gx = gradOut(c).fill(Number.NaN); // it writes gx whole: nothing of the old values may show
    maxPoolGradThreads(c.g, c.argmax, gx, c.planes, c.inPlane, c.outPlane, t);
    return [gx];
  },
}, 150);
