import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { logSoftmax, softmax } from "../../src/ops/activation.js";
import { dropout } from "../../src/ops/dropout.js";
import { sum } from "../../src/ops/reduce.js";
import { backward } from "../../src/autograd/tape.js";
import { arbShape, gradcheck, GRAD_RUNS, rand64 } from "../helpers/gradcheck.js";

describe("softmax and logSoftmax", () => {
  for (const [name, f] of Object.entries({ softmax, logSoftmax })) {
    it(`${name} gradient along a random axis`, () => {
      fc.assert(
        fc.property(arbShape(1, 4), fc.integer(), fc.nat(), (s, seed, a) => {
          gradcheck((x) => f(x, a % s.length - s.length), [rand64(s, new Rng(seed), -3, 3)]);
        }),
        { numRuns: GRAD_RUNS },
      );
    });
  }
  it("softmax sums to 1 along the axis; logSoftmax = log(softmax)", () => {
    fc.assert(
      fc.property(arbShape(1, 4), fc.integer(), fc.nat(), (s, seed, a) => {
        const ax = a % s.length;
        const x = Tensor.uniform(s, new Rng(seed), -5, 5, "float64");
        const y = softmax(x, ax);
        const tot = sum(y, ax);
        for (const v of tot.data) expect(Math.abs(v - 1)).toBeLessThan(1e-14);
        const ly = logSoftmax(x, ax);
        for (let i = 0; i < y.size; i++) expect(Math.abs(Math.exp(ly.data[i]!) - y.data[i]!)).toBeLessThan(1e-14);
      }),
      { numRuns: 30 },
    );
  });
  it("matches exp(x) / sum exp(x) and is stable for large inputs", () => {
    const x = Tensor.from([[1, 2, 3]], undefined, "float64");
    const e = [1, 2, 3].map(Math.exp);
    const z = e[0]! + e[1]! + e[2]!;
    softmax(x).data.forEach((v, i) => expect(v).toBeCloseTo(e[i]! / z, 15));
    const big = softmax(Tensor.from([1000, 1001, -1000], [3]));
    expect(Array.from(big.data).every(Number.isFinite)).toBe(true);
    expect(big.data[1]! / big.data[0]!).toBeCloseTo(Math.E, 5);
    expect(logSoftmax(Tensor.from([0, -2000], [2], "float64")).data[1]).toBe(-2000); // log(softmax) would be -inf
  });
  it("bad axis is a typed error", () => {
    expect(() => softmax(Tensor.zeros([2, 3]), 2)).toThrow(/softmax: axis 2 is out of range for a tensor of rank 2/);
    expect(() => logSoftmax(Tensor.zeros([2]), -2)).toThrow(/logSoftmax: axis -2 is out of range/);
  });
});

describe("dropout", () => {
  it("gradient = mask * 1/(1-p) (same seed each call, so the mask is fixed)", () => {
    fc.assert(
      fc.property(arbShape(0, 3), fc.integer(), fc.double({ min: 0, max: 0.9, noNaN: true }), (s, seed, p) => {
        gradcheck((x) => dropout(x, p, new Rng(seed), true), [rand64(s, new Rng(seed + 1))]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("is the identity in eval mode and for p = 0, and draws nothing then", () => {
    const x = Tensor.ones([10]);
    const rng = new Rng(5);
    const state = rng.getState();
    expect(dropout(x, 0.5, rng, false)).toBe(x);
    expect(dropout(x, 0, rng, true)).toBe(x);
    expect(rng.getState()).toEqual(state);
  });
  it("keeps about 1 - p, scales survivors, preserves the mean, is reproducible", () => {
    const x = Tensor.ones([20000]);
    const y = dropout(x, 0.3, new Rng(9), true);
    let kept = 0;
    for (const v of y.data) {
      if (v !== 0) {
        kept++;
        expect(v).toBeCloseTo(1 / 0.7, 6);
      }
    }
    expect(Math.abs(kept / 20000 - 0.7)).toBeLessThan(0.015);
    expect(Math.abs(sum(y).item() / 20000 - 1)).toBeLessThan(0.03);
    expect(Array.from(dropout(x, 0.3, new Rng(9), true).data)).toEqual(Array.from(y.data));
    expect(Array.from(dropout(x, 1, new Rng(9), true).data).every((v) => v === 0)).toBe(true);
  });
  it("gradient is zero where dropped", () => {
    const x = Tensor.ones([50], "float64").requireGrad();
    const y = dropout(x, 0.5, new Rng(2), true);
    backward(sum(y));
    for (let i = 0; i < 50; i++) expect(x.grad!.data[i]).toBe(y.data[i]);
  });
  it("rejects p outside [0, 1]", () => {
    expect(() => dropout(Tensor.zeros([2]), 1.5, new Rng(1), true)).toThrow(/dropout: p must be in \[0, 1\], got 1.5/);
    expect(() => dropout(Tensor.zeros([2]), NaN, new Rng(1), true)).toThrow(/dropout: p must be in \[0, 1\]/);
  });
});
