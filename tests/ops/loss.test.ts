import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { crossEntropy, mseLoss, type Reduction } from "../../src/ops/loss.js";
import { backward } from "../../src/autograd/tape.js";
import { gradcheck, GRAD_RUNS, rand64 } from "../helpers/gradcheck.js";

const arbBC = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }));
const arbRed = fc.constantFrom<Reduction>("mean", "sum", "none");
const arbLs = fc.constantFrom(0, 0.1, 0.5);

/** Hand formula: -sum_c ((1 - ls) t_c + ls / C) log softmax(z)_c per row. */
function handLoss(z: number[][], t: number[][], ls: number): number[] {
  return z.map((row, r) => {
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    return -row.reduce((s, v, c) => s + ((1 - ls) * t[r]![c]! + ls / row.length) * (v - lse), 0);
  });
}

describe("crossEntropy", () => {
  it("gradient with class indices, label smoothing, every reduction", () => {
    fc.assert(
      fc.property(arbBC, fc.integer(), arbLs, arbRed, ([b, c], seed, ls, reduction) => {
        const rng = new Rng(seed);
        const y = Int32Array.from({ length: b }, () => rng.int(c));
        gradcheck((z) => crossEntropy(z, y, { labelSmoothing: ls, reduction }), [rand64([b, c], rng, -3, 3)]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("gradient to logits and soft targets (targets need not sum to 1)", () => {
    fc.assert(
      fc.property(arbBC, fc.integer(), arbLs, arbRed, ([b, c], seed, ls, reduction) => {
        const rng = new Rng(seed);
        gradcheck((z, t) => crossEntropy(z, t, { labelSmoothing: ls, reduction }), [rand64([b, c], rng, -3, 3), rand64([b, c], rng, 0, 1)]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("matches the hand formula with label smoothing; indices equal one-hot soft targets", () => {
    fc.assert(
      fc.property(arbBC, fc.integer(), arbLs, ([b, c], seed, ls) => {
        const rng = new Rng(seed);
        const z = Tensor.uniform([b, c], rng, -4, 4, "float64");
        const y = Int32Array.from({ length: b }, () => rng.int(c));
        const onehot = Tensor.zeros([b, c], "float64");
        y.forEach((k, r) => (onehot.data[r * c + k] = 1));
        const want = handLoss(z.toArray() as number[][], onehot.toArray() as number[][], ls);
        const none = crossEntropy(z, y, { labelSmoothing: ls, reduction: "none" });
        want.forEach((w, r) => expect(Math.abs(none.data[r]! - w)).toBeLessThan(1e-12));
        const mean = crossEntropy(z, y, { labelSmoothing: ls }).item();
        expect(Math.abs(mean - want.reduce((s, v) => s + v, 0) / b)).toBeLessThan(1e-12);
        const sum = crossEntropy(z, y, { labelSmoothing: ls, reduction: "sum" }).item();
        expect(Math.abs(sum - want.reduce((s, v) => s + v, 0))).toBeLessThan(1e-12);
        const soft = crossEntropy(z, onehot, { labelSmoothing: ls, reduction: "none" });
        soft.data.forEach((v, r) => expect(Math.abs(v - none.data[r]!)).toBeLessThan(1e-12));
      }),
      { numRuns: 30 },
    );
  });
  it("a worked example: uniform logits give log C; ls = 0.1, C = 2", () => {
    expect(crossEntropy(Tensor.zeros([3, 4], "float64"), Int32Array.from([0, 1, 3])).item()).toBeCloseTo(Math.log(4), 14);
    // z = [0, ln 3]: p = [1/4, 3/4]; y = 1, t' = [0.05, 0.95]
    const l = crossEntropy(Tensor.from([[0, Math.log(3)]], undefined, "float64"), Int32Array.from([1]), { labelSmoothing: 0.1 });
    expect(l.item()).toBeCloseTo(-(0.05 * Math.log(0.25) + 0.95 * Math.log(0.75)), 14);
  });
  it("gradient of the mean loss is (softmax - t') / B", () => {
    const z = Tensor.from([[0, Math.log(3)]], undefined, "float64").requireGrad();
    backward(crossEntropy(z, Int32Array.from([1]), { labelSmoothing: 0.1 }));
    expect(z.grad!.data[0]).toBeCloseTo(0.25 - 0.05, 14);
    expect(z.grad!.data[1]).toBeCloseTo(0.75 - 0.95, 14);
  });
  it("large logits stay finite", () => {
    const l = crossEntropy(Tensor.from([[1000, -1000, 0]]), Int32Array.from([1]));
    expect(l.item()).toBeCloseTo(2000, 2);
  });
  it("errors: class range, counts, shapes, options", () => {
    const z = Tensor.zeros([2, 3]);
    expect(() => crossEntropy(z, Int32Array.from([0, 3]))).toThrow(/crossEntropy: class index 3 of sample 1 is out of range \[0, 3\) for logits \[2, 3\]/);
    expect(() => crossEntropy(z, Int32Array.from([-1, 0]))).toThrow(/class index -1 of sample 0 is out of range/);
    expect(() => crossEntropy(z, Int32Array.from([0]))).toThrow(/crossEntropy: 1 class indices for logits \[2, 3\] \(expected 2\)/);
    expect(() => crossEntropy(Tensor.zeros([2, 3, 1]), Int32Array.from([0, 0]))).toThrow(/crossEntropy: logits must be \[B, C\], got \[2, 3, 1\]/);
    expect(() => crossEntropy(z, Tensor.zeros([2, 2]))).toThrow(/crossEntropy: soft targets \[2, 2\] must have the logits' shape \[2, 3\]/);
    expect(() => crossEntropy(z, Tensor.zeros([2, 3], "float64"))).toThrow(/crossEntropy: inputs mix dtypes/);
    expect(() => crossEntropy(z, Int32Array.from([0, 0]), { labelSmoothing: 1.5 })).toThrow(/crossEntropy: labelSmoothing must be in \[0, 1\], got 1.5/);
    expect(() => crossEntropy(z, Int32Array.from([0, 0]), { reduction: "avg" as Reduction })).toThrow(/crossEntropy: reduction must be "mean", "sum" or "none", got "avg"/);
  });
});

describe("mseLoss", () => {
  it("gradient to pred and target, every reduction", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 }), fc.integer(), arbRed, (s, seed, reduction) => {
        const rng = new Rng(seed);
        gradcheck((p, t) => mseLoss(p, t, reduction), [rand64(s, rng), rand64(s, rng)]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("values", () => {
    const p = Tensor.from([1, 2, 3]);
    const t = Tensor.from([1, 0, 0]);
    expect(mseLoss(p, t).item()).toBeCloseTo(13 / 3, 6);
    expect(mseLoss(p, t, "sum").item()).toBe(13);
    expect(mseLoss(p, t, "none").toArray()).toEqual([0, 4, 9]);
  });
  it("errors", () => {
    expect(() => mseLoss(Tensor.zeros([2]), Tensor.zeros([3]))).toThrow(/mseLoss: pred \[2\] and target \[3\] must have the same shape/);
    expect(() => mseLoss(Tensor.zeros([2]), Tensor.zeros([2]), "max" as Reduction)).toThrow(/mseLoss: reduction must be/);
  });
});
