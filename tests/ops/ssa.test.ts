import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { Spikes } from "../../src/tensor/spikes.js";
import { Rng } from "../../src/tensor/random.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { backward } from "../../src/autograd/tape.js";
import { matmul } from "../../src/ops/matmul.js";
import { mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { transpose } from "../../src/ops/shape.js";
import { andPopcountGemm } from "../../src/kernels/popcount/popcount.js";
import { resolveSsaOrder, spikingSelfAttention, ssaCost } from "../../src/ops/spike/ssa.js";
import { attentionVariant } from "../../src/ops/spike/attention-variants.js";
import { splitHeads } from "../../src/ops/spike/spike-layout.js";
import { mergeHeads } from "../../src/models/heads.js";
import { gradcheck, GRAD_RUNS, rand64 } from "../helpers/gradcheck.js";
import { expectBitEqual, expectClose, leaf, randSpikes } from "../helpers/random-spikes.js";

/** The float reference: (Q Kᵀ) V · s with matmul on the 0/1 values. */
function floatSsa(q: Tensor, k: Tensor, v: Tensor, s: number): Tensor {
  return mul(matmul(matmul(q, transpose(k, -1, -2)), v), s);
}

describe("andPopcountGemm", () => {
  it("equals the float product A Bᵀ of the same 0/1 values", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 140 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer(), (m, n, cols, p, seed) => {
        const rng = new Rng(seed);
        const a = randSpikes([m, cols], p, rng);
        const b = randSpikes([n, cols], p, rng);
        const c = new Int32Array(m * n);
        andPopcountGemm(a.words, 0, b.words, 0, c, 0, m, n, a.wordsPerRow);
        const ref = matmul(a.toFloat(), transpose(b.toFloat(), 0, 1));
        expect(Array.from(c)).toEqual(Array.from(ref.data));
      }),
      { numRuns: 60 },
    );
  });
});

describe("spikingSelfAttention", () => {
  it("(Q Kᵀ) V == Q (Kᵀ V) bit for bit, and both equal the float32 matmul product", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 2 }),
        fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(0.125, 0.25, 0.3), fc.integer(),
        (n, d, heads, p, s, seed) => {
          const rng = new Rng(seed);
          const [q, k, v] = [0, 1, 2].map(() => randSpikes([heads, n, d], p, rng));
          const a = spikingSelfAttention(q!, k!, v!, { scale: s, order: "qk_v" });
          const b = spikingSelfAttention(q!, k!, v!, { scale: s, order: "q_kv" });
          expectBitEqual(a, b, "orders");
          expectBitEqual(a, floatSsa(q!.toFloat(), k!.toFloat(), v!.toFloat(), s), "float matmul");
          expectBitEqual(spikingSelfAttention(q!, k!, v!, { scale: s }), a, "auto");
        },
      ),
      { numRuns: 30 },
    );
  });

  it("density extremes: all-zero gives zeros, all-one gives N·d·s", () => {
    const rng = new Rng(3);
    for (const order of ["qk_v", "q_kv"] as const) {
      const z = randSpikes([2, 37, 33], 0, rng);
      expect(Array.from(spikingSelfAttention(z, z, z, { scale: 0.125, order }).data).every((x) => x === 0)).toBe(true);
      const o = randSpikes([37, 33], 1, rng);
      expect(Array.from(spikingSelfAttention(o, o, o, { scale: 0.125, order }).data).every((x) => x === 37 * 33 * 0.125)).toBe(true);
    }
  });

  it("matches a hand-computed example", () => {
    const q = Spikes.fromValues([1, 0, 1, 1], [2, 2]);
    const k = Spikes.fromValues([1, 1, 0, 1], [2, 2]);
    const v = Spikes.fromValues([0, 1, 1, 1], [2, 2]);
    // Q Kᵀ = [[1,0],[2,1]]; (Q Kᵀ) V = [[0,1],[1,3]]
    for (const order of ["qk_v", "q_kv"] as const) {
      expect(spikingSelfAttention(q, k, v, { scale: 0.5, order }).toArray()).toEqual([[0, 0.5], [0.5, 1.5]]);
    }
  });

  it("auto picks (Q Kᵀ) V for few tokens and Q (Kᵀ V) for many", () => {
    expect(resolveSsaOrder("auto", 8, 64)).toBe("qk_v");
    expect(resolveSsaOrder("auto", 196, 64)).toBe("q_kv");
    expect(resolveSsaOrder("qk_v", 196, 64)).toBe("qk_v");
    const c = ssaCost(196, 64);
    expect(c.q_kv).toBeLessThan(c.qk_v);
  });

  it("backward equals autograd of the float matmul reference (both orders, float64)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 2 }),
        fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom<"qk_v" | "q_kv">("qk_v", "q_kv"),
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.integer(),
        (n, d, heads, p, order, needs, seed) => {
          if (!needs.some((x) => x)) needs[0] = true;
          const rng = new Rng(seed);
          const shape = [heads, n, d];
          const sp = [0, 1, 2].map((i) => leaf(randSpikes(shape, p, rng, "float64"), needs[i]!));
          const fl = sp.map((s, i) => { const t = s.toFloat("float64"); t.requiresGrad = needs[i]!; return t; });
          const g = Tensor.uniform(shape, rng, -1, 1, "float64");
          backward(sum(mul(spikingSelfAttention(sp[0]!, sp[1]!, sp[2]!, { scale: 0.125, order }), g)));
          backward(sum(mul(floatSsa(fl[0]!, fl[1]!, fl[2]!, 0.125), g)));
          for (let i = 0; i < 3; i++) {
            if (!needs[i]) {
              expect(sp[i]!.grad).toBeNull();
              continue;
            }
            expectClose(sp[i]!.grad!, fl[i]!.grad!, 1e-12, 1e-12, `grad ${"qkv"[i]} (${order})`);
          }
        },
      ),
      { numRuns: GRAD_RUNS },
    );
  });

  it("float32 gradients agree between orders and with the reference to float32 rounding", () => {
    const shape = [2, 50, 24];
    const grads = (["qk_v", "q_kv"] as const).map((order) => {
      const r = new Rng(5);
      const sp = [0, 1, 2].map(() => leaf(randSpikes(shape, 0.2, r)));
      backward(spikingSelfAttention(sp[0]!, sp[1]!, sp[2]!, { scale: 0.125, order }), Tensor.uniform(shape, new Rng(6), -1, 1));
      return sp.map((s) => s.grad!);
    });
    for (let i = 0; i < 3; i++) expectClose(grads[0]![i]!, grads[1]![i]!, 1e-6, 1e-6, `grad ${i}`);
  });

  it("heads: on the tokens' layout it equals splitHeads, attention per head and the merge, values and gradients", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom<"qk_v" | "q_kv">("qk_v", "q_kv"), fc.constantFrom<"float32" | "float64">("float32", "float64"), fc.integer(),
        (outer, H, n, d, p, order, dtype, seed) => {
          const rng = new Rng(seed);
          const shape = [outer, n, H * d];
          const sp = [0, 1, 2].map(() => leaf(randSpikes(shape, p, rng, dtype)));
          const ref = sp.map((s) => leaf(Spikes.fromValues(Array.from(s.toFloat().data), shape, dtype)));
          const g = Tensor.uniform(shape, rng, -1, 1, dtype);
          const y = spikingSelfAttention(sp[0]!, sp[1]!, sp[2]!, { scale: 0.3, order, heads: H });
          const yRef = mergeHeads(spikingSelfAttention(splitHeads(ref[0]!, H), splitHeads(ref[1]!, H), splitHeads(ref[2]!, H), { scale: 0.3, order }));
          expectBitEqual(y, yRef, "forward");
          backward(y, g);
          backward(yRef, g);
          for (let i = 0; i < 3; i++) expectBitEqual(sp[i]!.grad!, ref[i]!.grad!, `grad ${"qkv"[i]}`);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("errors name the op and the shapes", () => {
    const a = Spikes.zeros([2, 4, 8]);
    expect(() => spikingSelfAttention(a, Spikes.zeros([2, 4, 9]), a, { scale: 1 })).toThrow(BitspikeError);
    expect(() => spikingSelfAttention(a, Spikes.zeros([2, 4, 9]), a, { scale: 1 })).toThrow(/spikingSelfAttention: q, k and v must have one shape.*\[2, 4, 8\], \[2, 4, 9\] and \[2, 4, 8\]/);
    expect(() => spikingSelfAttention(Spikes.zeros([8]), Spikes.zeros([8]), Spikes.zeros([8]), { scale: 1 })).toThrow(/spikingSelfAttention: q must be \[\.\.\., N, d\].*got \[8\]/);
    expect(() => spikingSelfAttention(a, a, a, { scale: NaN })).toThrow(/spikingSelfAttention: scale must be a finite number, got NaN/);
    expect(() => spikingSelfAttention(a, a, a, { scale: 1, order: "kv" as never })).toThrow(/spikingSelfAttention: order must be/);
    expect(() => spikingSelfAttention(a, Spikes.zeros([2, 4, 8], "float64"), a, { scale: 1 })).toThrow(/spikingSelfAttention: inputs mix dtypes/);
    expect(() => spikingSelfAttention(a, a, a, { scale: 1, heads: 3 })).toThrow(/spikingSelfAttention: heads must be a positive integer dividing the 8 channels, got 3/);
    expect(() => spikingSelfAttention(a, a, a, { scale: 1, heads: 0 })).toThrow(/spikingSelfAttention: heads must be a positive integer dividing the 8 channels, got 0/);
  });
});

describe("attentionVariant", () => {
  it("identity on spikes equals SSA; ssa kind delegates", () => {
    const rng = new Rng(2);
    const [q, k, v] = [0, 1, 2].map(() => randSpikes([3, 20, 16], 0.3, rng));
    const ref = spikingSelfAttention(q!, k!, v!, { scale: 0.125 });
    expectBitEqual(attentionVariant("identity", q!, k!, v!, { scale: 0.125 }), ref);
    expectBitEqual(attentionVariant("ssa", q!, k!, v!, { scale: 0.125, order: "qk_v" }), ref);
  });

  it("relu, leakyrelu and softmax match their formulas", () => {
    const q = Tensor.from([[1, -2], [0.5, 3]]);
    const k = Tensor.from([[-1, 2], [1, 1]]);
    const v = Spikes.fromValues([1, 0, 1, 1], [2, 2]);
    const vf = v.toFloat();
    const relu = (t: Tensor) => Tensor.from(Array.from(t.data, (x) => Math.max(0, x)), t.shape);
    const lrelu = (t: Tensor) => Tensor.from(Array.from(t.data, (x) => (x > 0 ? x : 0.1 * x)), t.shape);
    expectClose(attentionVariant("relu", q, k, v, { scale: 0.5 }), floatSsa(relu(q), relu(k), vf, 0.5), 1e-6, 1e-7);
    expectClose(attentionVariant("leakyrelu", q, k, v, { scale: 0.5, slope: 0.1 }), floatSsa(lrelu(q), lrelu(k), vf, 0.5), 1e-6, 1e-7);
    // softmax(Q Kᵀ / sqrt 2) V by hand
    const qk = [[1 * -1 + -2 * 2, 1 + -2], [0.5 * -1 + 3 * 2, 0.5 + 3]];
    const rows = qk.map((r) => {
      const e = r.map((x) => Math.exp(x / Math.SQRT2));
      const z = e[0]! + e[1]!;
      return [e[0]! / z, e[1]! / z];
    });
    const want = rows.map((a) => [a[0]! * 1 + a[1]! * 1, a[0]! * 0 + a[1]! * 1]);
    expectClose(attentionVariant("softmax", q, k, v), Tensor.from(want), 1e-6, 1e-7);
  });

  it("gradients of the float variants (gradcheck)", () => {
    fc.assert(
      fc.property(fc.constantFrom("identity", "relu", "leakyrelu", "softmax" as const), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer(), (kind, n, d, seed) => {
        const rng = new Rng(seed);
        const xs = [0, 1, 2].map(() => rand64([2, n, d], rng));
        gradcheck((a, b, c) => attentionVariant(kind as "identity", a!, b!, c!, { scale: 0.25, slope: 0.2 }), xs);
      }),
      { numRuns: GRAD_RUNS },
    );
  });

  it("errors", () => {
    const t = Tensor.zeros([2, 3]);
    expect(() => attentionVariant("ssa", t, t, t, { scale: 1 })).toThrow(/attentionVariant: "ssa" needs spike q, k and v/);
    const s = Spikes.zeros([2, 3]);
    expect(() => attentionVariant("ssa", s, s, s)).toThrow(/attentionVariant: "ssa" needs opts.scale/);
    expect(() => attentionVariant("relu", t, t, t)).toThrow(/attentionVariant: "relu" needs opts.scale/);
    expect(() => attentionVariant("bogus" as never, t, t, t, { scale: 1 })).toThrow(/attentionVariant: unknown kind "bogus"/);
    expect(() => attentionVariant("identity", Tensor.zeros([3]), t, t, { scale: 1 })).toThrow(/attentionVariant: q, k and v must be \[\.\.\., N, d\], got \[3\]/);
    expect(() => attentionVariant("identity", t, Tensor.zeros([2, 4]), t, { scale: 1 })).toThrow(/matmul: inner sizes differ/);
  });
});
