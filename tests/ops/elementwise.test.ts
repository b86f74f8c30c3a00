import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import {
  abs, clamp, eq, exp, ge, gelu, gt, le, leakyRelu, log, lt, ne, pow, relu, sigmoid, sqrt, tanh, where,
} from "../../src/ops/elementwise.js";
import { erf, erfc, erfReference, normalCdf } from "../../src/kernels/unary.js";
import { sum } from "../../src/ops/reduce.js";
import { backward } from "../../src/autograd/tape.js";
import { arbBroadcastPair, arbShape, gradcheck, GRAD_RUNS, rand64 } from "../helpers/gradcheck.js";

/** Moves every value at least `margin` away from each kink point (central differences break there). */
function awayFrom(t: Tensor, kinks: readonly number[], margin = 0.02): Tensor {
  for (let i = 0; i < t.data.length; i++) {
    for (const k of kinks) {
      const d = t.data[i]! - k;
      if (Math.abs(d) < margin) t.data[i] = k + (d >= 0 ? margin : -margin);
    }
  }
  return t;
}

describe("unary ops: gradients vs central differences", () => {
  const cases: [string, (x: Tensor) => Tensor, number, number, number[]][] = [
    ["exp", exp, -2, 2, []],
    ["log", log, 0.3, 3, []],
    ["sqrt", sqrt, 0.3, 3, []],
    ["abs", abs, -2, 2, [0]],
    ["relu", relu, -2, 2, [0]],
    ["leakyRelu", (x) => leakyRelu(x, 0.1), -2, 2, [0]],
    ["leakyRelu default slope", (x) => leakyRelu(x), -2, 2, [0]],
    ["clamp both", (x) => clamp(x, -0.5, 0.7), -2, 2, [-0.5, 0.7]],
    ["clamp min only", (x) => clamp(x, -0.5), -2, 2, [-0.5]],
    ["clamp max only", (x) => clamp(x, undefined, 0.3), -2, 2, [0.3]],
    ["sigmoid", sigmoid, -6, 6, []],
    ["tanh", tanh, -3, 3, []],
    ["gelu", gelu, -5, 5, []],
    ["pow 2", (x) => pow(x, 2), -2, 2, []],
    ["pow 3", (x) => pow(x, 3), -2, 2, []],
    ["pow 0.5", (x) => pow(x, 0.5), 0.3, 3, []],
    ["pow -1.5", (x) => pow(x, -1.5), 0.3, 3, []],
    ["pow 0", (x) => pow(x, 0), -2, 2, []],
    ["pow 1", (x) => pow(x, 1), -2, 2, []],
  ];
  for (const [name, f, lo, hi, kinks] of cases) {
    it(name, () => {
      fc.assert(
        fc.property(arbShape(0, 3), fc.integer(), (s, seed) => {
          gradcheck(f, [awayFrom(rand64(s, new Rng(seed), lo, hi), kinks)]);
        }),
        { numRuns: GRAD_RUNS },
      );
    });
  }
});

describe("pow with a tensor exponent (broadcasting)", () => {
  it("gradients to base and exponent", () => {
    fc.assert(
      fc.property(arbBroadcastPair(), fc.integer(), ([sa, sb], seed) => {
        const rng = new Rng(seed);
        gradcheck(pow, [rand64(sa, rng, 0.3, 2.5), rand64(sb, rng, -2, 2)]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("0 ** p gives the exponent a zero gradient (not NaN) where p >= 0", () => {
    const x = Tensor.from([0, 2], [2], "float64").requireGrad();
    const p = Tensor.from([2, 3], [2], "float64").requireGrad();
    backward(sum(pow(x, p)));
    expect(Array.from(p.grad!.data)).toEqual([0, 8 * Math.log(2)]);
    expect(Array.from(x.grad!.data)).toEqual([0, 12]);
  });
  it("values", () => {
    expect(pow(Tensor.from([[2], [3]]), Tensor.from([1, 2, 3])).toArray()).toEqual([[2, 4, 8], [3, 9, 27]]);
    expect(pow(Tensor.from([4, 9]), 0.5).toArray()).toEqual([2, 3]);
  });
  it("shape mismatch is a typed error naming pow", () => {
    expect(() => pow(Tensor.zeros([2, 3]), Tensor.zeros([4]))).toThrow(/pow: shapes \[2, 3\] and \[4\] do not broadcast/);
  });
});

describe("where", () => {
  it("gradients to a and b with cond, a, b all broadcast", () => {
    fc.assert(
      fc.property(arbBroadcastPair(), fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), fc.integer(), ([sa, sb], ones, seed) => {
        const rng = new Rng(seed);
        // cond: a's shape with some axes set to 1
        const sc = sa.map((d, i) => (ones[i] ? 1 : d));
        const cond = Tensor.uniform(sc, rng, 0, 1, "float64");
        for (let i = 0; i < cond.data.length; i++) cond.data[i] = cond.data[i]! < 0.5 ? 0 : 1;
        gradcheck((a, b) => where(cond, a, b), [rand64(sa, rng), rand64(sb, rng)]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("values, number operands, and gradient routing", () => {
    const c = Tensor.from([[1], [0]], undefined, "float64");
    const a = Tensor.from([1, 2, 3], [3], "float64").requireGrad();
    const y = where(c, a, -1);
    expect(y.toArray()).toEqual([[1, 2, 3], [-1, -1, -1]]);
    backward(sum(y));
    expect(Array.from(a.grad!.data)).toEqual([1, 1, 1]);
    expect(where(Tensor.from([0, 1, NaN]), 5, 7).toArray()).toEqual([7, 5, 5]);
  });
  it("mismatched shapes and dtypes are typed errors", () => {
    expect(() => where(Tensor.zeros([2]), Tensor.zeros([3]), 0)).toThrow(/where: shapes \[2\] and \[3\] do not broadcast/);
    expect(() => where(Tensor.zeros([2]), Tensor.zeros([2]), Tensor.zeros([2], "float64"))).toThrow(/where: inputs mix dtypes/);
  });
});

describe("comparisons", () => {
  it("return 0/1 with broadcasting and carry no gradient", () => {
    const a = Tensor.from([[1, 2, 3]], undefined, "float64").requireGrad();
    const b = Tensor.from([[2], [1]], undefined, "float64");
    expect(eq(a, b).toArray()).toEqual([[0, 1, 0], [1, 0, 0]]);
    expect(ne(a, b).toArray()).toEqual([[1, 0, 1], [0, 1, 1]]);
    expect(lt(a, b).toArray()).toEqual([[1, 0, 0], [0, 0, 0]]);
    expect(le(a, b).toArray()).toEqual([[1, 1, 0], [1, 0, 0]]);
    expect(gt(a, 2).toArray()).toEqual([[0, 0, 1]]);
    expect(ge(2, a).toArray()).toEqual([[1, 1, 0]]);
    expect(gt(a, b).requiresGrad).toBe(false);
    expect(gt(a, b).node).toBe(null);
    expect(eq(Tensor.from([NaN]), Tensor.from([NaN])).item()).toBe(0);
    expect(ne(Tensor.from([NaN]), Tensor.from([NaN])).item()).toBe(1);
  });
  it("shape mismatch names the comparison", () => {
    expect(() => lt(Tensor.zeros([2]), Tensor.zeros([3]))).toThrow(/^lt: shapes \[2\] and \[3\]/);
  });
});

describe("erf and gelu values", () => {
  // reference values of erf / erfc (Abramowitz-Stegun tables, 16 digits)
  const erfTable: [number, number][] = [
    [0, 0], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149],
    [1.5, 0.9661051464753108], [2, 0.9953222650189527], [2.5, 0.9995930479825550], [3, 0.9999779095030014],
  ];
  it("erf matches tabulated values to 1e-15 and is odd", () => {
    for (const [x, v] of erfTable) {
      expect(Math.abs(erf(x) - v)).toBeLessThan(1e-15);
      expect(erf(-x)).toBe(-erf(x));
    }
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
    expect(erf(NaN)).toBeNaN();
  });
  it("the tabulated Taylor fast path agrees with the slow series on [0, 2.5)", () => {
    fc.assert(fc.property(fc.double({ min: 0, max: 2.4999999, noNaN: true }), (x) => Math.abs(erf(x) - erfReference(x)) < 3e-15), { numRuns: 2000 });
  });
  it("erfc keeps relative accuracy in the tail", () => {
    expect(Math.abs(erfc(3) / 2.209049699858544e-5 - 1)).toBeLessThan(1e-14);
    expect(Math.abs(erfc(5) / 1.5374597944280349e-12 - 1)).toBeLessThan(1e-14);
    expect(Math.abs(erfc(10) / 2.088487583762545e-45 - 1)).toBeLessThan(1e-13);
    expect(Math.abs(erfc(-1) - 1.8427007929497149)).toBeLessThan(1e-15);
  });
  it("erf + erfc = 1 and erf is continuous across the series/fraction switch", () => {
    fc.assert(fc.property(fc.double({ min: -6, max: 6, noNaN: true }), (x) => Math.abs(erf(x) + erfc(x) - 1) < 2e-16 * 4));
    // the jump across the switch at 2.5 equals the slope times the step: no seam
    const slope = (2 / Math.sqrt(Math.PI)) * Math.exp(-6.25);
    expect(Math.abs(erf(2.5 + 1e-9) - erf(2.5 - 1e-9) - 2e-9 * slope)).toBeLessThan(1e-15);
  });
  it("gelu = x Phi(x) at known points (float64)", () => {
    const x = Tensor.from([-5, -3, -1, 0, 0.5, 1, 3], [7], "float64");
    const want = [
      -5 * 2.866515718791939e-7, -3 * 0.0013498980316300946, -0.15865525393145707, 0,
      0.5 * 0.6914624612740131, 0.8413447460685429, 3 * 0.9986501019683699,
    ];
    const y = gelu(x);
    want.forEach((w, i) => expect(Math.abs(y.data[i]! - w)).toBeLessThanOrEqual(1e-15 * Math.max(1, Math.abs(w)) + 1e-22));
    expect(normalCdf(-40)).toBeGreaterThanOrEqual(0);
  });
  it("gelu in float32 (float32 arithmetic, as PyTorch's) is the float64 result within float32 error", () => {
    const rng = new Rng(7);
    const x64 = Tensor.uniform([1000], rng, -8, 8, "float64");
    const x32 = x64.clone("float32");
    const y64 = gelu(x32.clone("float64"));
    const y32 = gelu(x32);
    expect(y32.dtype).toBe("float32");
    for (let i = 0; i < 1000; i++) {
      const x = x32.data[i]!;
      expect(Math.abs(y32.data[i]! - y64.data[i]!)).toBeLessThanOrEqual((6e-7 + 1.5e-7 * x * x) * Math.abs(y64.data[i]!) + 1e-38);
    }
  });
});

describe("unary values and edge cases", () => {
  it("sigmoid is stable for large |x| and symmetric", () => {
    const y = sigmoid(Tensor.from([-1000, -1, 0, 1, 1000], [5], "float64"));
    expect(y.data[0]).toBe(0);
    expect(y.data[2]).toBe(0.5);
    expect(y.data[4]).toBe(1);
    expect(y.data[1]! + y.data[3]!).toBeCloseTo(1, 15);
  });
  it("relu/leakyRelu/abs/clamp values and gradients at the kinks follow PyTorch", () => {
    const x = Tensor.from([-2, 0, 3], [3], "float64").requireGrad();
    expect(relu(x).toArray()).toEqual([0, 0, 3]);
    expect(leakyRelu(x, 0.5).toArray()).toEqual([-1, 0, 3]);
    expect(abs(x).toArray()).toEqual([2, 0, 3]);
    expect(clamp(x, -1, 1).toArray()).toEqual([-1, 0, 1]);
    backward(sum(relu(x)));
    expect(Array.from(x.grad!.data)).toEqual([0, 0, 1]);
    x.grad = null;
    backward(sum(abs(x)));
    expect(Array.from(x.grad!.data)).toEqual([-1, 0, 1]);
    x.grad = null;
    backward(sum(clamp(x, -2, 3)));
    expect(Array.from(x.grad!.data)).toEqual([1, 1, 1]); // bounds included
    x.grad = null;
    backward(sum(leakyRelu(x, 0.5)));
    expect(Array.from(x.grad!.data)).toEqual([0.5, 0.5, 1]);
  });
  it("exp/log/sqrt/tanh values", () => {
    const x = Tensor.from([1, 4], [2], "float64");
    expect(exp(x).toArray()).toEqual([Math.E, Math.exp(4)]);
    expect(log(x).toArray()).toEqual([0, Math.log(4)]);
    expect(sqrt(x).toArray()).toEqual([1, 2]);
    expect(tanh(x).toArray()).toEqual([Math.tanh(1), Math.tanh(4)]);
  });
  it("clamp rejects min > max and NaN bounds", () => {
    expect(() => clamp(Tensor.zeros([2]), 1, 0)).toThrow(BitspikeError);
    expect(() => clamp(Tensor.zeros([2]), 1, 0)).toThrow(/clamp: min 1 is greater than max 0/);
    expect(() => clamp(Tensor.zeros([2]), NaN)).toThrow(/clamp: bounds must not be NaN/);
  });
});
