import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ssaBackwardRange, ssaForwardRange, type SsaDims } from "../../src/kernels/ssa/ssa.js";
import { ssaBackwardThreads, ssaForwardThreads } from "../../src/kernels/ssa/threads.js";
import { ssaWasmRuns } from "../../src/kernels/ssa/wasm.js";
import { setKernelBackend, type KernelBackend } from "../../src/wasm/backend.js";
import { Spikes } from "../../src/tensor/spikes.js";
import { Rng } from "../../src/tensor/random.js";
import { allocFloat, type FloatArray } from "../../src/tensor/tensor.js";
import { describeTwins } from "../helpers/twins.js";
import { useSplittingPool } from "../helpers/pool.js";
import { expectSameBits } from "../helpers/arrays.js";
import { placed } from "../helpers/placed.js";

/** Spike Q, K, V [heads, N, d] at a random firing rate (ragged N and d, both orders), and an output gradient. */
interface SsaCase { heads: number; dims: SsaDims; f64: boolean; q: Spikes; k: Spikes; v: Spikes; g: FloatArray }

const arbSsa: fc.Arbitrary<SsaCase> = fc
  .record({
    heads: fc.integer({ min: 1, max: 6 }), n: fc.integer({ min: 1, max: 40 }), d: fc.integer({ min: 1, max: 40 }),
    order: fc.constantFrom("qk_v" as const, "q_kv" as const), f64: fc.boolean(), rate: fc.double({ min: 0, max: 1, noNaN: true }), seed: fc.integer(),
    s: fc.constantFrom(0.125, 0.3),
  })
  .map(({ heads, n, d, order, f64, rate, seed, s }) => attentionCase(heads, n, d, order, f64, s, rate, seed));

/** Heads of N x d spikes at a firing rate, an output gradient in (-1, 1) and the scale `s` (rounded to the type). */
function attentionCase(heads: number, n: number, d: number, order: SsaDims["order"], f64: boolean, s: number, rate: number, seed: number): SsaCase {
  const rng = new Rng(seed);
  const bits = () => Spikes.fromValues(Array.from({ length: heads * n * d }, () => (rng.uniform() < rate ? 1 : 0)), [heads, n, d]);
  const g = allocFloat(f64 ? "float64" : "float32", heads * n * d);
  for (let i = 0; i < g.length; i++) g[i] = rng.uniform() * 2 - 1;
  return { heads, dims: { n, d, order, scale: f64 ? s : Math.fround(s) }, f64, q: bits(), k: bits(), v: bits(), g };
}

/** The backward's three gradients on the JS and WASM kernels: the same bits; dQ of order q_kv against its definition. */
function checkBackward(c: SsaCase): void {
  const run = (backend: KernelBackend): FloatArray[] => {
    setKernelBackend(backend);
    try {
      const out = [outLike(c), outLike(c), outLike(c)];
      ssaBackwardRange(c.q.words, c.k.words, c.v.words, c.g, out[0]!, out[1]!, out[2]!, c.dims, 0, c.heads);
      return out;
    } finally {
      setKernelBackend("auto");
    }
  };
  const js = run("js"), wasm = run("wasm");
  js.forEach((a, i) => expectSameBits(wasm[i]!, a, `gradient ${i}`));
  if (c.dims.order !== "q_kv") return;
  const { n, d, scale } = c.dims, dq = outLike(c);
  for (let h = 0; h < c.heads; h++) {
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < d; a++) {
        let acc = 0;
        for (let p = 0; p < d; p++) {
          let vk = 0;
          for (let t = 0; t < n; t++) vk += c.v.get(h, t, p) & c.k.get(h, t, a);
          acc += c.g[(h * n + i) * d + p]! * vk;
        }
        dq[(h * n + i) * d + a] = acc * scale;
      }
    }
  }
  expectSameBits(js[0]!, dq, "dQ against its definition");
}

/** An output filled with NaN: the kernels write theirs whole (the op allocates them unzeroed), so none may be left. */
const outLike = (c: SsaCase): FloatArray => allocFloat(c.f64 ? "float64" : "float32", c.heads * c.dims.n * c.dims.d).fill(Number.NaN);

/** The forward on one thread under a kernel backend. */
const forwardWith = (backend: KernelBackend) => (c: SsaCase) => {
  setKernelBackend(backend);
  try {
    const out = outLike(c);
    ssaForwardRange(c.q.words, c.k.words, c.v.words, out, c.dims, 0, c.heads);
    return [out];
  } finally {
    setKernelBackend("auto");
  }
};

// Q Kᵀ V is an integer matrix (exact in either order); times the scale, rounded once to the output type: the definition.
describeTwins("spiking self-attention heads", arbSsa, {
  reference: (c) => {
    const { n, d, scale } = c.dims;
    const out = outLike(c);
    for (let h = 0; h < c.heads; h++) {
      const bit = (s: Spikes, i: number, j: number) => s.get(h, i, j);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < d; j++) {
          let acc = 0;
          for (let t = 0; t < n; t++) {
            if (!bit(c.v, t, j)) continue;
            for (let a = 0; a < d; a++) acc += bit(c.q, i, a) & bit(c.k, t, a);
          }
          out[(h * n + i) * d + j] = acc * scale;
        }
      }
    }
    return [out];
  },
  js: forwardWith("js"),
  wasm: forwardWith("wasm"),
  dispatch: forwardWith("auto"),
  threads: (c, t) => {
    const out = outLike(c);
    ssaForwardThreads(c.q.words, c.k.words, c.v.words, out, c.dims, c.heads, t);
    return [out];
  },
}, 60);

describe("spiking self-attention heads, backward", () => {
  useSplittingPool(3);
  it("the kernel backends give the same bits, and dQ (order q_kv) is f(s Σ_p g[i][p] (Vᵀ K)[p][a]) summed in float64 in p order", () => {
    const before = ssaWasmRuns();
    fc.assert(fc.property(arbSsa, checkBackward), { numRuns: 60, seed: 5 });
    // and the attention shapes of the peer workloads (N 64 / 49, d 32), a scale that is not a power of two
    for (const [n, d] of [[64, 32], [49, 32], [9, 19]] as const) {
      for (const f64 of [false, true]) checkBackward(attentionCase(3, n, d, "q_kv", f64, 0.3, 0.2, n + d));
    }
    expect(ssaWasmRuns()).toBeGreaterThan(before); // the WASM twin ran (float32 cases, order q_kv)
  });
  it("the threaded backward writes the single-thread bits (both orders, any subset of gradients) on 2 and 3 threads", () => {
    fc.assert(
      fc.property(arbSsa, fc.integer({ min: 1, max: 7 }), (c, which) => {
        const grads = () => [1, 2, 4].map((bit) => (which & bit ? outLike(c) : null));
        const [q1, k1, v1] = grads();
        ssaBackwardRange(c.q.words, c.k.words, c.v.words, c.g, q1!, k1!, v1!, c.dims, 0, c.heads);
        for (const a of [q1, k1, v1]) if (a) expect(a.some(Number.isNaN)).toBe(false); // written whole
        for (const t of [2, 3]) {
          const [q2, k2, v2] = grads();
          ssaBackwardThreads(c.q.words, c.k.words, c.v.words, c.g, q2!, k2!, v2!, c.dims, c.heads, t);
          [[q1, q2], [k1, k2], [v1, v2]].forEach(([a, b], i) => { if (a) expectSameBits(b!, a, `gradient ${i} on ${t} threads`); });
        }
      }),
      { numRuns: 60, seed: 12 },
    );
  });
  it("heads claimed in many chunks (96 heads) give the one-thread bits, forward and backward, on 2 and 3 threads", () => {
    for (const order of ["qk_v", "q_kv"] as const) {
      for (const f64 of [false, true]) {
        const c = attentionCase(96, 16, 24, order, f64, 0.3, 0.3, order.length + (f64 ? 1 : 0));
        const [out1] = forwardWith("auto")(c);
        const [q1, k1, v1] = [outLike(c), outLike(c), outLike(c)];
        ssaBackwardRange(c.q.words, c.k.words, c.v.words, c.g, q1, k1, v1, c.dims, 0, c.heads);
        // Repeated: which thread claims which chunk varies from run to run; every run must give the same bits.
        for (let rep = 0; rep < 3; rep++) {
          for (const t of [2, 3]) {
            const out = outLike(c);
            ssaForwardThreads(c.q.words, c.k.words, c.v.words, out, c.dims, c.heads, t);
            expectSameBits(out, out1!, `forward, ${order}, ${t} threads`);
            const [q2, k2, v2] = [outLike(c), outLike(c), outLike(c)];
            ssaBackwardThreads(c.q.words, c.k.words, c.v.words, c.g, q2, k2, v2, c.dims, c.heads, t);
            [[q1, q2], [k1, k2], [v1, v2]].forEach(([a, b], i) => expectSameBits(b!, a!, `gradient ${i}, ${order}, ${t} threads`));
          }
        }
      }
    }
  });

  it("heads side by side in the float rows (rowHeads H) give the head layout's bits in their columns, forward and backward", () => {
    fc.assert(
      fc.property(
        fc.record({
          outer: fc.integer({ min: 1, max: 3 }), H: fc.integer({ min: 2, max: 4 }), n: fc.integer({ min: 1, max: 24 }), d: fc.integer({ min: 1, max: 40 }),
          order: fc.constantFrom("qk_v" as const, "q_kv" as const), f64: fc.boolean(), rate: fc.double({ min: 0, max: 1, noNaN: true }),
          seed: fc.integer(), heap: fc.boolean(), which: fc.integer({ min: 1, max: 7 }),
        }),
        ({ outer, H, n, d, order, f64, rate, seed, heap, which }) => {
          const c = attentionCase(outer * H, n, d, order, f64, 0.3, rate, seed);
          // [outer, H, n, d] <-> [outer, n, H, d]
          const tokens = (a: FloatArray): FloatArray => {
            const t = outLike(c);
            for (let o = 0; o < outer; o++) for (let h = 0; h < H; h++) for (let i = 0; i < n; i++) {
              for (let j = 0; j < d; j++) t[((o * n + i) * H + h) * d + j] = a[((o * H + h) * n + i) * d + j]!;
            }
            return t;
          };
          const rows: SsaDims = { ...c.dims, rowHeads: H };
          const [out1] = forwardWith("auto")(c);
          const grads = () => [1, 2, 4].map((bit) => (which & bit ? outLike(c) : null));
          const [q1, k1, v1] = grads();
          ssaBackwardRange(c.q.words, c.k.words, c.v.words, c.g, q1!, k1!, v1!, c.dims, 0, c.heads);
          const gRows = placed(tokens(c.g), heap);
          for (const backend of ["js", "wasm"] as const) {
            setKernelBackend(backend);
            try {
              for (const t of [1, 2, 3]) {
                const out = placed(outLike(c), heap);
                ssaForwardThreads(c.q.words, c.k.words, c.v.words, out, rows, c.heads, t);
                expectSameBits(out, tokens(out1!), `forward, ${backend}, ${t} threads`);
                const [q2, k2, v2] = grads().map((a) => (a ? placed(a, heap) : null));
                ssaBackwardThreads(c.q.words, c.k.words, c.v.words, gRows, q2!, k2!, v2!, rows, c.heads, t);
                [[q1, q2], [k1, k2], [v1, v2]].forEach(([a, b], i) => { if (a) expectSameBits(b!, tokens(a), `gradient ${i}, ${backend}, ${t} threads`); });
              }
            } finally {
              setKernelBackend("auto");
            }
          }
        },
      ),
      { numRuns: 40, seed: 21 },
    );
  });
});
