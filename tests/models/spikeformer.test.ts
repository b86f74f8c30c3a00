/**
 * Spikeformer pieces: the STA rearrangements against the public code's token
 * order (b (n t) m, index n*T + t), their gradients and sequence pooling's
 * against float64 central differences, DropPath, configs and errors.
 */
import { describe, expect, it } from "vitest";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { backward, noGrad } from "../../src/autograd/tape.js";
import { matmul } from "../../src/ops/matmul.js";
import { dropPath } from "../../src/ops/dropout.js";
import { crossEntropy } from "../../src/ops/loss.js";
import {
  Spikeformer, fromSpatialSequences, fromTimeMajor, sequencePool, spatialSequences, temporalSequences, timeMajor,
} from "../../src/models/spikeformer/spikeformer.js";
import { parseStrides, spikeformerConfig, tokenGrid, tokenizerWidths } from "../../src/models/spikeformer/config.js";
import { AdamW } from "../../src/train/optim.js";
import { gradcheck, rand64 } from "../helpers/gradcheck.js";

const [B, N, T, E] = [2, 3, 4, 5];
/** The public layout: x [B, N*T, E] with token n*T + t; ours [B, N, T, E] holds the same numbers in the same order. */
const pub = (x: Tensor, b: number, n: number, t: number, e: number): number => x.data[(b * N * T + n * T + t) * E + e]!;

describe("STA rearrangements: the public code's einops patterns", () => {
  const x = Tensor.uniform([B, N, T, E], new Rng(1), -1, 1, "float64");

  it("temporal '(b h w t) m -> (b h w) t m', spatial '-> (b t) (h w) m', MLP '-> t b (h w) m', element by element", () => {
    const xt = temporalSequences(x), xs = spatialSequences(x), xm = timeMajor(x);
    expect([xt.shape, xs.shape, xm.shape]).toEqual([[B * N, T, E], [B * T, N, E], [T, B, N, E]]);
    for (let b = 0; b < B; b++) for (let n = 0; n < N; n++) for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) {
      const v = pub(x, b, n, t, e);
      expect(xt.data[((b * N + n) * T + t) * E + e]).toBe(v);
      expect(xs.data[((b * T + t) * N + n) * E + e]).toBe(v);
      expect(xm.data[((t * B + b) * N + n) * E + e]).toBe(v);
    }
    expect(Array.from(fromSpatialSequences(xs, B).data)).toEqual(Array.from(x.data));
    expect(Array.from(fromTimeMajor(xm).data)).toEqual(Array.from(x.data));
  });

  it("gradients through each rearrangement and back, with a mixing step between (float64 central differences)", () => {
    const rng = new Rng(2);
    const mixT = rand64([T, T], rng), mixN = rand64([N, N], rng), mixE = rand64([E, E], rng);
    const xi = rand64([B, N, T, E], rng);
    // Mixing along the sequence axis makes a wrong layout give a wrong gradient.
    gradcheck((a, m) => matmul(m, temporalSequences(a)), [xi, mixT]);
    gradcheck((a, m) => fromSpatialSequences(matmul(m, spatialSequences(a)), B), [xi, mixN]);
    gradcheck((a, m) => fromTimeMajor(matmul(timeMajor(a), m)), [xi, mixE]);
  });
});

describe("sequence pooling", () => {
  it("equals softmax(x w + b) over tokens, weighted sum (hand loop), and its gradients pass central differences", () => {
    const rng = new Rng(3);
    const x = rand64([2, 6, 4], rng), w = rand64([1, 4], rng), b = rand64([1], rng);
    const y = noGrad(() => sequencePool(x, w, b));
    for (let bi = 0; bi < 2; bi++) {
      const s = Array.from({ length: 6 }, (_, l) => b.data[0]! + [0, 1, 2, 3].reduce((a, e) => a + x.data[(bi * 6 + l) * 4 + e]! * w.data[e]!, 0));
      const m = Math.max(...s);
      const p = s.map((v) => Math.exp(v - m));
      const z = p.reduce((a, v) => a + v, 0);
      for (let e = 0; e < 4; e++) {
        const want = p.reduce((a, v, l) => a + (v / z) * x.data[(bi * 6 + l) * 4 + e]!, 0);
        expect(y.data[bi * 4 + e]).toBeCloseTo(want, 12);
      }
    }
    gradcheck((a, ww, bb) => sequencePool(a, ww, bb), [x, w, b]);
  });
});

describe("DropPath", () => {
  it("drops whole slices of the first axis, scales the kept by 1/(1-p), same draws for the same seed; identity in eval", () => {
    const x = Tensor.ones([400, 3]);
    const y = dropPath(x, 0.25, new Rng(5), true);
    const y2 = dropPath(x, 0.25, new Rng(5), true);
    expect(Array.from(y.data)).toEqual(Array.from(y2.data));
    let kept = 0;
    for (let i = 0; i < 400; i++) {
      const row = [y.data[3 * i]!, y.data[3 * i + 1]!, y.data[3 * i + 2]!];
      expect(row[0] === 0 || Math.abs(row[0]! - 1 / 0.75) < 1e-6).toBe(true);
      expect(row[1]).toBe(row[0]);
      expect(row[2]).toBe(row[0]);
      if (row[0] !== 0) kept++;
    }
    expect(kept).toBeGreaterThan(260);
    expect(kept).toBeLessThan(340);
    expect(dropPath(x, 0.25, new Rng(5), false)).toBe(x);
    expect(() => dropPath(x, 1, new Rng(5), true)).toThrow(/dropPath.*\[0, 1\)/);
  });

  it("gradient: the same mask times the scale", () => {
    const x = rand64([6, 2], new Rng(6));
    gradcheck((a) => dropPath(a, 0.5, new Rng(7), true), [x]);
  });
});

describe("configs", () => {
  it("the public tokenizer widths (list and int strides) and token grids", () => {
    expect(tokenizerWidths(spikeformerConfig("spikeformer-dvscifar10"))).toEqual([2, 64, 64, 128, 128, 256, 256]);
    expect(tokenizerWidths(spikeformerConfig("spikeformer-dvsgesture"))).toEqual([2, 64, 128, 256]);
    expect(tokenizerWidths(spikeformerConfig("spikeformer-imagenet"))).toEqual([3, 64, 64, 128, 128, 256, 256, 512, 512]);
    expect(tokenGrid(spikeformerConfig("spikeformer-dvscifar10"))).toBe(16);
    expect(tokenGrid(spikeformerConfig("spikeformer-dvsgesture"))).toBe(16);
    expect(tokenGrid(spikeformerConfig("spikeformer-imagenet"))).toBe(14);
  });

  it("errors name the field", () => {
    expect(() => spikeformerConfig("spikeformer-x")).toThrow(/unknown model 'spikeformer-x'/);
    expect(() => spikeformerConfig("spikeformer-2-64", { layers: 3 })).toThrow(/strides lists 4 values for 3 layers/);
    expect(() => spikeformerConfig("spikeformer-2-64", { layers: 3, strides: [2, 1, 2] })).toThrow(/even number of layers/);
    expect(() => spikeformerConfig("spikeformer-2-64", { imgSize: 28, strides: [2, 1, 2, 1], layers: 4, T: 1 })).not.toThrow();
    expect(() => spikeformerConfig("spikeformer-2-64", { imgSize: 28, strides: 2, layers: 3 })).toThrow(/average pool gives 3x3 from 7x7/);
    expect(() => spikeformerConfig("spikeformer-2-64", { numHeads: 3 })).toThrow(/not divisible by numHeads 3/);
    expect(parseStrides("t", "2,1")).toEqual([2, 1]);
    expect(parseStrides("t", "2")).toBe(2);
    expect(() => parseStrides("t", "2,x")).toThrow(/--tok-strides/);
  });

  it("a small model trains: loss falls on a fixed batch; the input shape is checked", () => {
    const m = new Spikeformer(spikeformerConfig("spikeformer-1-32", { imgSize: 8, inChannels: 1, T: 2, numClasses: 3, layers: 2, strides: [2, 1] }));
    const x = Tensor.normal([6, 1, 8, 8], new Rng(9));
    const labels = Int32Array.from([0, 1, 2, 0, 1, 2]);
    const opt = new AdamW([{ params: [...m.parameters()] }], { lr: 3e-3, weightDecay: 0 });
    const losses: number[] = [];
    for (let step = 0; step < 15; step++) {
      const loss = crossEntropy(m.forward(x), labels);
      losses.push(loss.item());
      backward(loss);
      opt.step();
      opt.zeroGrad();
    }
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
    expect(() => m.forward(Tensor.zeros([2, 3, 8, 8]))).toThrow(/Spikeformer: input \[2, 3, 8, 8\] does not fit/);
    expect(() => m.forward(Tensor.zeros([3, 2, 1, 8, 8]))).toThrow(/frames \[2, B, 1, 8, 8\]/);
  });
});
