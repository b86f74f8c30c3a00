import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Spikes } from "../../src/tensor/spikes.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { backward } from "../../src/autograd/tape.js";
import { maxPool2dSpikes, reshapeSpikes, splitHeads, transposeSpikes } from "../../src/ops/spike/spike-layout.js";
import { addSpikes, floatToSpikes } from "../../src/ops/spike/cast.js";
import { sum } from "../../src/ops/reduce.js";
import { add, mul } from "../../src/ops/elementwise.js";
import { spikesToFloat } from "../../src/ops/spike/cast.js";

function randomSpikes(shape: number[], density: number, rng: Rng): Spikes {
  const n = shape.reduce((a, b) => a * b, 1);
  return Spikes.fromValues(Array.from({ length: n }, () => (rng.uniform() < density ? 1 : 0)), shape, "float64");
}

/** Backpropagates a fixed random weighting of `out` and returns the gradient reaching `s`. */
function gradThrough(s: Spikes, f: (s: Spikes) => Spikes, rng: Rng): { out: Spikes; w: Tensor; grad: Tensor } {
  const leaf = s.detach();
  leaf.requiresGrad = true;
  const out = f(leaf);
  const w = Tensor.uniform(out.shape, rng, -1, 1, "float64");
  backward(sum(mul(spikesToFloat(out), w)));
  return { out, w, grad: leaf.grad! };
}

describe("splitHeads", () => {
  it("moves channel c of token i to head c div d, and its gradient back", () => {
    // d of whole words (32, 64) often: those heads are copied a word at a time
    const d = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(32, 64));
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), d, fc.integer(), (outer, n, heads, d, seed) => {
      const rng = new Rng(seed);
      const s = randomSpikes([outer, n, heads * d], 0.4, rng);
      const { out, w, grad } = gradThrough(s, (x) => splitHeads(x, heads), rng);
      expect(out.shape).toEqual([outer, heads, n, d]);
      for (let o = 0; o < outer; o++) for (let i = 0; i < n; i++) for (let c = 0; c < heads * d; c++) {
        const h = Math.floor(c / d);
        expect(out.get(o, h, i, c - h * d)).toBe(s.get(o, i, c));
        expect(grad.data[(o * n + i) * heads * d + c]).toBe(w.data[((o * heads + h) * n + i) * d + c - h * d]);
      }
    }), { numRuns: 40 });
  });
  it("rejects channels that do not split", () => {
    expect(() => splitHeads(Spikes.zeros([2, 10]), 3)).toThrow(/splitHeads: 10 channels do not split into 3 heads/);
  });
});

describe("maxPool2dSpikes", () => {
  it("equals an OR over each window, with PyTorch's first-max gradient routing", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 40 }), fc.constantFrom([3, 2, 1], [2, 2, 0], [3, 1, 1], [1, 1, 0]), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer(), (c, h, wd, [k, st, pad], density, seed) => {
      if (h + 2 * pad < k || wd + 2 * pad < k) return;
      const rng = new Rng(seed);
      const s = randomSpikes([1, c, h, wd], density, rng);
      const { out, w, grad } = gradThrough(s, (x) => maxPool2dSpikes(x, { kernel: k, stride: st, padding: pad }), rng);
      const oh = Math.floor((h + 2 * pad - k) / st) + 1;
      const ow = Math.floor((wd + 2 * pad - k) / st) + 1;
      expect(out.shape).toEqual([1, c, oh, ow]);
      const expectGrad = new Float64Array(c * h * wd);
      for (let p = 0; p < c; p++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
        let best = -Infinity;
        let arg = -1;
        for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
          const y = oy * st - pad + ky;
          const x = ox * st - pad + kx;
          if (y < 0 || y >= h || x < 0 || x >= wd) continue;
          const v = s.get(0, p, y, x);
          if (v > best) { best = v; arg = y * wd + x; }
        }
        expect(out.get(0, p, oy, ox)).toBe(best);
        expectGrad[p * h * wd + arg]! += w.data[(p * oh + oy) * ow + ox]!;
      }
      expect(Array.from(grad.data)).toEqual(Array.from(expectGrad));
    }), { numRuns: 60 });
  });
});

describe("reshapeSpikes", () => {
  it("keeps the bits and reshapes the gradient", () => {
    const rng = new Rng(1);
    const s = randomSpikes([2, 3, 33], 0.5, rng);
    const { out, grad, w } = gradThrough(s, (x) => reshapeSpikes(x, [6, 33]), rng);
    expect(Array.from(out.words)).toEqual(Array.from(s.words));
    expect(grad.shape).toEqual([2, 3, 33]);
    expect(Array.from(grad.data)).toEqual(Array.from(w.data));
    expect(() => reshapeSpikes(s, [3, 66])).toThrow(/Spikes.reshape/);
  });
});

describe("transposeSpikes and floatToSpikes", () => {
  it("transposes bits and routes the gradient through the float transpose", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer(), (b, r, c, seed) => {
      const rng = new Rng(seed);
      const s = randomSpikes([b, r, c], 0.3, rng);
      const { out, w, grad } = gradThrough(s, transposeSpikes, rng);
      for (let i = 0; i < b; i++) for (let y = 0; y < r; y++) for (let x = 0; x < c; x++) {
        expect(out.get(i, x, y)).toBe(s.get(i, y, x));
        expect(grad.data[(i * r + y) * c + x]).toBe(w.data[(i * c + x) * r + y]);
      }
    }), { numRuns: 30 });
  });
  it("floatToSpikes accepts exact 0/1 and passes the gradient through", () => {
    const x = Tensor.from([0, 1, 1, 0], [2, 2], "float64").requireGrad();
    const s = floatToSpikes(x);
    expect(s.count()).toBe(2);
    backward(sum(mul(spikesToFloat(s), Tensor.from([1, 2, 3, 4], [2, 2], "float64"))));
    expect(Array.from(x.grad!.data)).toEqual([1, 2, 3, 4]);
    expect(() => floatToSpikes(Tensor.from([0, 2], [2]))).toThrow(/element 1 is 2/);
  });

  it("addSpikes equals add of the casts, forward and gradients, on a float or spike shortcut (-0 + 0 included)", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 70 }), fc.boolean(), fc.boolean(), fc.integer(), (r, c, spikeBase, f32, seed) => {
      const rng = new Rng(seed);
      const dtype = f32 ? "float32" : "float64";
      const s = Spikes.fromValues(Array.from({ length: r * c }, () => (rng.uniform() < 0.4 ? 1 : 0)), [r, c], dtype);
      const x = spikeBase
        ? Spikes.fromValues(Array.from({ length: r * c }, () => (rng.uniform() < 0.4 ? 1 : 0)), [r, c], dtype)
        : Tensor.from(Array.from({ length: r * c }, () => (rng.uniform() < 0.2 ? -0 : rng.int(4))), [r, c], dtype);
      const w = Tensor.uniform([r, c], rng, -1, 1, dtype);
      const run = (f: (a: Tensor | Spikes, b: Spikes) => Tensor) => {
        const a = x.detach(), b = s.detach();
        a.requiresGrad = true;
        b.requiresGrad = true;
        const y = f(a, b);
        backward(sum(mul(y, w)));
        return [y, a.grad!, b.grad!];
      };
      const got = run(addSpikes), want = run((a, b) => add(a instanceof Spikes ? spikesToFloat(a) : a, spikesToFloat(b)));
      got.forEach((t, i) => {
        expect(t.dtype).toBe(want[i]!.dtype);
        for (let k = 0; k < t.data.length; k++) expect(Object.is(t.data[k], want[i]!.data[k]), `output ${i} element ${k}`).toBe(true);
      });
    }), { numRuns: 60 });
  });
});
