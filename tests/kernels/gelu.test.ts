import fc from "fast-check";
import { geluBackwardRange, geluForwardRange } from "../../src/kernels/gelu/gelu.js";
import { geluBackwardThreads, geluForwardThreads } from "../../src/kernels/gelu/threads.js";
import { Rng } from "../../src/tensor/random.js";
import { placed } from "../helpers/placed.js";
import { describeTwins } from "../helpers/twins.js";

/** x and g over both of erf's regions (|x / sqrt 2| on either side of 2.5) and the tails, float32 or float64, heap or foreign; lengths across the split's 256-element runs. */
interface GeluCase { x: Float32Array | Float64Array; g: Float32Array | Float64Array; heap: boolean }

const arbGelu: fc.Arbitrary<GeluCase> = fc
  .record({ n: fc.integer({ min: 0, max: 1300 }), f32: fc.boolean(), heap: fc.boolean(), seed: fc.integer() })
  .map((o) => {
    const rng = new Rng(o.seed);
    const make = (scale: number) => {
      const a = o.f32 ? new Float32Array(o.n) : new Float64Array(o.n);
      for (let i = 0; i < o.n; i++) a[i] = (rng.uniform() - 0.5) * scale;
      return placed(a, o.heap);
    };
    return { x: make(16), g: make(2), heap: o.heap };
  });

/** Forward and backward through the given twins. */
const both = (fwd: (c: GeluCase, out: Float32Array | Float64Array) => void, bwd: (c: GeluCase, dx: Float32Array | Float64Array) => void) => (c: GeluCase) => {
  const out = placed(c.x.slice().fill(NaN), c.heap), dx = placed(c.x.slice().fill(NaN), c.heap);
  fwd(c, out);
  bwd(c, dx);
  return [out, dx];
};

describeTwins("gelu", arbGelu, {
  reference: both((c, out) => geluForwardRange(c.x, out, 0, c.x.length), (c, dx) => geluBackwardRange(c.x, c.g, dx, 0, c.x.length)),
  // The ranges in two pieces: a twin must start and stop anywhere.
  js: both(
    (c, out) => { const k = c.x.length >> 1; geluForwardRange(c.x, out, 0, k); geluForwardRange(c.x, out, k, c.x.length); },
    (c, dx) => { const k = c.x.length >> 1; geluBackwardRange(c.x, c.g, dx, 0, k); geluBackwardRange(c.x, c.g, dx, k, c.x.length); },
  ),
  threads: (c, t) => both((cc, out) => geluForwardThreads(cc.x, out, t), (cc, dx) => geluBackwardThreads(cc.x, cc.g, dx, t))(c),
}, 60);
