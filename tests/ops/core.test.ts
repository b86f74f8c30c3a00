import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { add, sub, mul, div, neg } from "../../src/ops/elementwise.js";
import { sum, mean } from "../../src/ops/reduce.js";
import { matmul } from "../../src/ops/matmul.js";
import { backward } from "../../src/autograd/tape.js";
import { arbBroadcastPair, arbShape, gradcheck, GRAD_RUNS, rand64 } from "../helpers/gradcheck.js";

describe("binary elementwise ops: gradients vs central differences, with broadcasting", () => {
  const ops = { add, sub, mul, div };
  for (const [name, f] of Object.entries(ops)) {
    it(name, () => {
      fc.assert(
        fc.property(arbBroadcastPair(), fc.integer(), ([sa, sb], seed) => {
          const rng = new Rng(seed);
          const a = rand64(sa, rng);
          // keep divisors away from 0
          const b = name === "div" ? rand64(sb, rng, 0.5, 2) : rand64(sb, rng);
          gradcheck(f, [a, b]);
        }),
        { numRuns: GRAD_RUNS },
      );
    });
  }
  it("neg", () => {
    fc.assert(fc.property(arbShape(), fc.integer(), (s, seed) => void gradcheck(neg, [rand64(s, new Rng(seed))])), { numRuns: GRAD_RUNS });
  });
});

describe("reductions", () => {
  for (const [name, f] of Object.entries({ sum, mean })) {
    it(`${name} over random axes, keepdims both ways`, () => {
      fc.assert(
        fc.property(arbShape(1, 4), fc.integer(), fc.boolean(), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), (s, seed, keep, pick) => {
          const axes = s.map((_, i) => i).filter((i) => pick[i]);
          gradcheck((x) => f(x, axes.length ? axes : undefined, keep), [rand64(s, new Rng(seed))]);
        }),
        { numRuns: GRAD_RUNS },
      );
    });
  }
  it("sum values", () => {
    const x = Tensor.from([[1, 2, 3], [4, 5, 6]]);
    expect(sum(x, 0).toArray()).toEqual([5, 7, 9]);
    expect(sum(x, -1, true).toArray()).toEqual([[6], [15]]);
    expect(mean(x).item()).toBeCloseTo(3.5);
  });
});

describe("matmul", () => {
  it("gradients with batch broadcasting", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), arbBroadcastPair(2, 3), fc.integer(), (m, k, n, [ba, bb], seed) => {
        const rng = new Rng(seed);
        gradcheck(matmul, [rand64([...ba, m, k], rng), rand64([...bb, k, n], rng)]);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("values", () => {
    const a = Tensor.from([[1, 2], [3, 4]]);
    const b = Tensor.from([[5, 6], [7, 8]]);
    expect(matmul(a, b).toArray()).toEqual([[19, 22], [43, 50]]);
  });
  it("names the op and shapes on a mismatch", () => {
    expect(() => matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))).toThrow(BitspikeError);
    expect(() => matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))).toThrow(/matmul: inner sizes differ: \[2, 3\] @ \[4, 5\]/);
  });
});

describe("autograd tape", () => {
  it("a chain of 100,000 nodes backpropagates without recursion", () => {
    const x = Tensor.scalar(1, "float64").requireGrad();
    let y = x;
    for (let i = 0; i < 100_000; i++) y = add(y, 0);
    backward(y);
    expect(x.grad!.item()).toBe(1);
  });
  it("accumulates gradients across backward calls and through shared inputs", () => {
    const x = Tensor.from([2], [1], "float64").requireGrad();
    backward(sum(mul(x, x)));
    expect(x.grad!.data[0]).toBe(4);
    backward(sum(add(x, x)));
    expect(x.grad!.data[0]).toBe(6);
  });
  it("a leaf's gradient is its own memory: never shared with another leaf's, nor with the gradient passed in", () => {
    const x = Tensor.full([3], 2).requireGrad(), w = Tensor.full([3], 3).requireGrad();
    // add's backward hands the same incoming gradient to both inputs
    backward(sum(add(x, w)));
    x.grad!.data[0] = 100;
    expect(Array.from(w.grad!.data)).toEqual([1, 1, 1]);
    const g = Tensor.full([3], 5);
    const v = Tensor.full([3], 1).requireGrad();
    backward(add(v, 0), g);
    g.data[1] = 7;
    expect(Array.from(v.grad!.data)).toEqual([5, 5, 5]);
    // a second backward adds into the gradients the first left
    backward(sum(mul(x, w)));
    expect(Array.from(x.grad!.data)).toEqual([103, 4, 4]);
    expect(Array.from(w.grad!.data)).toEqual([3, 3, 3]);
  });
  it("releases saved tensors: a second backward through the same graph is a clear error", () => {
    const x = Tensor.from([2], [1], "float64").requireGrad();
    const y = sum(mul(x, x));
    backward(y);
    expect(() => backward(y)).toThrow(/already released/);
  });
  it("broadcast mismatch is a typed error", () => {
    expect(() => add(Tensor.zeros([2, 3]), Tensor.zeros([4]))).toThrow(/add: shapes \[2, 3\] and \[4\] do not broadcast/);
  });
});
