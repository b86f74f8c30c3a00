import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { linear } from "../../src/ops/linear.js";
import { conv1d, conv2d } from "../../src/ops/conv.js";
import { matmul } from "../../src/ops/matmul.js";
import { arbShape, gradcheck, GRAD_RUNS, rand64 } from "../helpers/gradcheck.js";
import { kernelFields, kernelFits } from "../helpers/conv-geom.js";

/** Random conv2d configuration whose kernel fits the padded input. */
const arbConv2d = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    groups: fc.integer({ min: 1, max: 3 }),
    cg: fc.integer({ min: 1, max: 2 }),
    og: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 6 }),
    w: fc.integer({ min: 1, max: 6 }),
    ...kernelFields,
    withBias: fc.boolean(),
    seed: fc.integer(),
  })
  .filter(kernelFits);

describe("linear", () => {
  it("gradients of x, weight and bias (any leading axes)", () => {
    fc.assert(
      fc.property(arbShape(0, 2, 3), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.boolean(), fc.integer(), (lead, nIn, nOut, withBias, seed) => {
        const rng = new Rng(seed);
        const x = rand64([...lead, nIn], rng);
        const w = rand64([nOut, nIn], rng);
        const inputs = withBias ? [x, w, rand64([nOut], rng)] : [x, w];
        gradcheck((a, b, c) => linear(a!, b!, c ?? null), inputs);
      }),
      { numRuns: GRAD_RUNS },
    );
  });
  it("equals x Wᵀ + b", () => {
    const x = Tensor.from([[1, 2], [3, 4], [5, 6]]);
    const w = Tensor.from([[1, 0], [0, 1], [1, 1]]);
    const b = Tensor.from([10, 20, 30]);
    expect(linear(x, w, b).toArray()).toEqual([[11, 22, 33], [13, 24, 37], [15, 26, 41]]);
    expect(linear(x, w).shape).toEqual([3, 3]);
  });
  it("errors name the op and shapes", () => {
    expect(() => linear(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))).toThrow(BitspikeError);
    expect(() => linear(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))).toThrow(/linear: input \[2, 3\] has 3 features but weight \[4, 5\] expects 5/);
    expect(() => linear(Tensor.zeros([2, 3]), Tensor.zeros([4, 3]), Tensor.zeros([3]))).toThrow(/linear: bias must be \[4\].*got \[3\]/);
    expect(() => linear(Tensor.zeros([2, 3]), Tensor.zeros([12]))).toThrow(/linear: weight must be \[out, in\], got \[12\]/);
  });
});

/** im2col written from the definition (index by index), for the composition property. */
function naiveCols(x: Tensor, n: number, c0: number, cn: number, c: { kh: number; kw: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number }, oh: number, ow: number): Tensor {
  const [, C, H, W] = x.shape as [number, number, number, number];
  const K = cn * c.kh * c.kw;
  const out = Tensor.zeros([K, oh * ow], "float64");
  for (let ci = 0; ci < cn; ci++)
    for (let i = 0; i < c.kh; i++)
      for (let j = 0; j < c.kw; j++)
        for (let y = 0; y < oh; y++)
          for (let z = 0; z < ow; z++) {
            const r = y * c.sh - c.ph + i * c.dh;
            const q = z * c.sw - c.pw + j * c.dw;
            const v = r >= 0 && r < H && q >= 0 && q < W ? x.data[((n * C + c0 + ci) * H + r) * W + q]! : 0;
            out.data[((ci * c.kh + i) * c.kw + j) * oh * ow + y * ow + z] = v;
          }
  return out;
}

describe("conv2d", () => {
  it("gradients of x, weight, bias over random stride, padding, dilation and groups", () => {
    fc.assert(
      fc.property(arbConv2d, (c) => {
        const rng = new Rng(c.seed);
        const x = rand64([c.n, c.cg * c.groups, c.h, c.w], rng);
        const w = rand64([c.og * c.groups, c.cg, c.kh, c.kw], rng);
        const opts = { stride: [c.sh, c.sw] as [number, number], padding: [c.ph, c.pw] as [number, number], dilation: [c.dh, c.dw] as [number, number], groups: c.groups };
        const inputs = c.withBias ? [x, w, rand64([c.og * c.groups], rng)] : [x, w];
        gradcheck((a, b, bb) => conv2d(a!, b!, bb ?? null, opts), inputs);
      }),
      { numRuns: GRAD_RUNS },
    );
  });

  it("equals an explicit im2col + matmul composition", () => {
    fc.assert(
      fc.property(arbConv2d, (c) => {
        const rng = new Rng(c.seed);
        const C = c.cg * c.groups;
        const O = c.og * c.groups;
        const x = Tensor.uniform([c.n, C, c.h, c.w], rng, -1, 1, "float64");
        const w = Tensor.uniform([O, c.cg, c.kh, c.kw], rng, -1, 1, "float64");
        const b = Tensor.uniform([O], rng, -1, 1, "float64");
        const y = conv2d(x, w, c.withBias ? b : null, { stride: [c.sh, c.sw], padding: [c.ph, c.pw], dilation: [c.dh, c.dw], groups: c.groups });
        const oh = Math.floor((c.h + 2 * c.ph - c.dh * (c.kh - 1) - 1) / c.sh) + 1;
        const ow = Math.floor((c.w + 2 * c.pw - c.dw * (c.kw - 1) - 1) / c.sw) + 1;
        expect(y.shape).toEqual([c.n, O, oh, ow]);
        const K = c.cg * c.kh * c.kw;
        for (let n = 0; n < c.n; n++)
          for (let g = 0; g < c.groups; g++) {
            const wg = new Tensor(w.data.slice(g * c.og * K, (g + 1) * c.og * K), [c.og, K]);
            const prod = matmul(wg, naiveCols(x, n, g * c.cg, c.cg, c, oh, ow));
            for (let o = 0; o < c.og; o++)
              for (let p = 0; p < oh * ow; p++) {
                const want = prod.data[o * oh * ow + p]! + (c.withBias ? b.data[g * c.og + o]! : 0);
                const got = y.data[((n * O + g * c.og + o) * oh * ow) + p]!;
                expect(Math.abs(got - want)).toBeLessThan(1e-12);
              }
          }
      }),
      { numRuns: 100 },
    );
  });

  it("float32 conv matches the float64 one", () => {
    const rng = new Rng(3);
    const x = Tensor.uniform([2, 4, 7, 7], rng, -1, 1, "float64");
    const w = Tensor.uniform([6, 2, 3, 3], rng, -1, 1, "float64");
    const opts = { padding: 1, stride: 2, groups: 2 };
    const y64 = conv2d(x, w, null, opts);
    const y32 = conv2d(x.clone("float32"), w.clone("float32"), null, opts);
    for (let i = 0; i < y64.size; i++) expect(Math.abs(y32.data[i]! - y64.data[i]!)).toBeLessThan(1e-5);
  });

  it("errors name the op and shapes", () => {
    const x = Tensor.zeros([1, 4, 5, 5]);
    expect(() => conv2d(x, Tensor.zeros([2, 3, 3, 3]))).toThrow(BitspikeError);
    expect(() => conv2d(x, Tensor.zeros([2, 3, 3, 3]))).toThrow(/conv2d: weight \[2, 3, 3, 3\] expects 3 input channels .* input \[1, 4, 5, 5\] has 4/);
    expect(() => conv2d(x, Tensor.zeros([2, 1, 3, 3]), null, { groups: 3 })).toThrow(/conv2d: groups 3 must divide both the input channels 4/);
    expect(() => conv2d(x, Tensor.zeros([3, 2, 3, 3]), null, { groups: 2 })).toThrow(/conv2d: groups 2 must divide .* output channels 3/);
    expect(() => conv2d(x, Tensor.zeros([2, 4, 7, 3]))).toThrow(/conv2d: kernel height 7 .* bigger than the padded input 5 \+ 2\*0 = 5/);
    expect(() => conv2d(x, Tensor.zeros([2, 4, 3, 3]), null, { dilation: 3 })).toThrow(/conv2d: kernel height 3 \(effective 7 with dilation 3\)/);
    expect(() => conv2d(Tensor.zeros([4, 5, 5]), Tensor.zeros([2, 4, 3, 3]))).toThrow(/conv2d: input must be \[N, C, H, W\], got \[4, 5, 5\]/);
    expect(() => conv2d(x, Tensor.zeros([2, 4, 3]))).toThrow(/conv2d: weight must be \[O, C\/groups, kh, kw\], got \[2, 4, 3\]/);
    expect(() => conv2d(x, Tensor.zeros([2, 4, 3, 3]), Tensor.zeros([3]))).toThrow(/conv2d: bias must be \[2\].*got \[3\]/);
    expect(() => conv2d(x, Tensor.zeros([2, 4, 3, 3]), null, { stride: 0 })).toThrow(/conv2d: stride must be an integer >= 1/);
    expect(() => conv2d(x, Tensor.zeros([2, 4, 3, 3], "float64"))).toThrow(/conv2d: inputs mix dtypes/);
  });
});

describe("conv1d", () => {
  it("gradients over random stride, padding, dilation, groups, bias", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }),
        fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 2 }), fc.boolean(), fc.integer(),
        (n, groups, cg, og, l, k, s, p, d, withBias, seed) => {
          fc.pre(l + 2 * p >= d * (k - 1) + 1);
          const rng = new Rng(seed);
          const x = rand64([n, cg * groups, l], rng);
          const w = rand64([og * groups, cg, k], rng);
          const inputs = withBias ? [x, w, rand64([og * groups], rng)] : [x, w];
          gradcheck((a, b, bb) => conv1d(a!, b!, bb ?? null, { stride: s, padding: p, dilation: d, groups }), inputs);
        },
      ),
      { numRuns: GRAD_RUNS },
    );
  });
  it("kernel size 1 is a per-position linear map", () => {
    const x = Tensor.from([[[1, 2, 3], [4, 5, 6]]]); // [1, 2, 3]
    const w = Tensor.from([[[1], [10]]]); // [1, 2, 1]
    expect(conv1d(x, w, Tensor.from([0.5])).toArray()).toEqual([[[41.5, 52.5, 63.5]]]);
  });
  it("values with padding and stride", () => {
    const x = Tensor.from([[[1, 2, 3, 4]]]);
    const w = Tensor.from([[[1, 1, 1]]]);
    expect(conv1d(x, w, null, { padding: 1, stride: 2 }).toArray()).toEqual([[[3, 9]]]);
  });
  it("errors name the op and shapes", () => {
    expect(() => conv1d(Tensor.zeros([1, 2, 5]), Tensor.zeros([3, 4, 1]))).toThrow(/conv1d: weight \[3, 4, 1\] expects 4 input channels .* \[1, 2, 5\] has 2/);
    expect(() => conv1d(Tensor.zeros([2, 5]), Tensor.zeros([3, 2, 1]))).toThrow(/conv1d: input must be \[N, C, L\], got \[2, 5\]/);
    expect(() => conv1d(Tensor.zeros([1, 2, 2]), Tensor.zeros([3, 2, 4]))).toThrow(/conv1d: kernel width 4 .* bigger than the padded input 2/);
  });
});
