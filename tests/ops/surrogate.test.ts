import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { backward } from "../../src/autograd/tape.js";
import { atanSurrogate, customSurrogate, sigmoidSurrogate, type Surrogate } from "../../src/ops/spike/surrogate.js";
import { heaviside } from "../../src/ops/spike/heaviside.js";

/** Central difference of the primitive, float64. */
function numericDerivative(s: Surrogate, z: number, eps = 1e-6): number {
  return (s.primitive(z + eps) - s.primitive(z - eps)) / (2 * eps);
}

const surrogates: [string, Surrogate][] = [
  ["sigmoid(4)", sigmoidSurrogate()],
  ["sigmoid(1.5)", sigmoidSurrogate(1.5)],
  ["atan(2)", atanSurrogate()],
  ["atan(5)", atanSurrogate(5)],
  ["custom fast sigmoid", customSurrogate("fast-sigmoid", (z) => 0.5 + z / (2 * (1 + Math.abs(z))), (z) => 1 / (2 * (1 + Math.abs(z)) ** 2))],
];

describe("surrogate derivative = numeric derivative of its primitive", () => {
  for (const [name, s] of surrogates) {
    it(name, () => {
      fc.assert(
        fc.property(fc.double({ min: -6, max: 6, noNaN: true }), (z) => {
          const a = s.derivative(z);
          const n = numericDerivative(s, z);
          expect(Math.abs(a - n)).toBeLessThanOrEqual(1e-7 + 1e-5 * Math.abs(n));
        }),
        { numRuns: 300 },
      );
    });
  }

  it("a wrong custom derivative is caught by the same check (the check can fail)", () => {
    const wrong = customSurrogate("wrong", (z) => 1 / (1 + Math.exp(-z)), () => 0.25);
    expect(Math.abs(wrong.derivative(2) - numericDerivative(wrong, 2))).toBeGreaterThan(1e-3);
  });
});

describe("surrogate shapes (SpikingJelly's definitions)", () => {
  it("sigmoid(alpha): primitive sigmoid(alpha z), peak alpha / 4 at 0, symmetric", () => {
    const s = sigmoidSurrogate(4);
    expect(s.name).toBe("sigmoid(4)");
    expect(s.primitive(0)).toBe(0.5);
    expect(s.derivative(0)).toBe(1);
    expect(s.primitive(0.5)).toBeCloseTo(1 / (1 + Math.exp(-2)), 15);
    expect(s.derivative(0.3)).toBeCloseTo(s.derivative(-0.3), 15);
    // no overflow far from 0
    expect(s.derivative(-500)).toBe(0);
    expect(s.derivative(500)).toBe(0);
    expect(s.primitive(-500)).toBe(0);
  });

  it("atan(alpha): primitive atan(pi/2 alpha z)/pi + 1/2, peak alpha / 2 at 0", () => {
    const s = atanSurrogate(2);
    expect(s.name).toBe("atan(2)");
    expect(s.primitive(0)).toBe(0.5);
    expect(s.derivative(0)).toBe(1);
    expect(s.derivative(1)).toBeCloseTo(2 / (2 * (1 + Math.PI ** 2)), 15);
    expect(s.primitive(1e9)).toBeCloseTo(1, 8);
    expect(s.primitive(-1e9)).toBeCloseTo(0, 8);
  });

  it("errors: alpha must be finite and > 0; custom parts must be functions", () => {
    for (const bad of [0, -1, NaN, Infinity]) {
      expect(() => sigmoidSurrogate(bad)).toThrow(BitspikeError);
      expect(() => sigmoidSurrogate(bad)).toThrow(new RegExp(`sigmoidSurrogate: alpha must be a finite number > 0, got ${bad}`));
      expect(() => atanSurrogate(bad)).toThrow(/atanSurrogate: alpha/);
    }
    expect(() => customSurrogate("x", (z) => z, 3 as unknown as (z: number) => number)).toThrow(/customSurrogate: .*got function, number and undefined/);
  });
});

describe("heaviside(z, surrogate)", () => {
  it("forward: 1 where z >= 0 (including 0 and -0), 0 below and for NaN", () => {
    const z = Tensor.from([-1, -1e-30, -0, 0, 1e-30, 2, NaN]);
    expect(Array.from(heaviside(z, sigmoidSurrogate()).data)).toEqual([0, 0, 1, 1, 1, 1, 0]);
  });

  it("backward: g * surrogate.derivative(z), any shape", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 3 }), fc.integer(), fc.boolean(), (shape, seed, useAtan) => {
        const rng = new Rng(seed);
        const s = useAtan ? atanSurrogate(2) : sigmoidSurrogate(4);
        const z = Tensor.uniform(shape, rng, -2, 2, "float64").requireGrad();
        const g = Tensor.uniform(shape, rng, -1, 1, "float64");
        const y = heaviside(z, s);
        expect(y.shape).toEqual(shape);
        backward(y, g);
        for (let i = 0; i < z.size; i++) {
          expect(y.data[i]).toBe(z.data[i]! >= 0 ? 1 : 0);
          expect(z.grad!.data[i]).toBe(g.data[i]! * s.derivative(z.data[i]!));
        }
      }),
      { numRuns: 50 },
    );
  });
});
