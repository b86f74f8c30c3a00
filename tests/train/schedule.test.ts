import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CosineSchedule, layerDecayScales, layerIdOf } from "../../src/train/schedule.js";
import { expectBitspikeError } from "../helpers/errors.js";

describe("CosineSchedule", () => {
  const s = new CosineSchedule({ baseLr: 1e-3, totalIters: 110, warmupIters: 10, warmupLr: 1e-6, minLr: 1e-5 });

  it("linear warm-up from warmupLr to baseLr", () => {
    expect(s.lrAt(0)).toBe(1e-6);
    expect(s.lrAt(5)).toBeCloseTo(1e-6 + 0.5 * (1e-3 - 1e-6), 15);
    expect(s.lrAt(9)).toBeCloseTo(1e-6 + 0.9 * (1e-3 - 1e-6), 15);
  });

  it("cosine from baseLr (end of warm-up) to minLr, flat after the end", () => {
    expect(s.lrAt(10)).toBeCloseTo(1e-3, 15);
    expect(s.lrAt(60)).toBeCloseTo(1e-5 + 0.5 * (1e-3 - 1e-5), 15); // half way through the cosine
    expect(s.lrAt(35)).toBeCloseTo(1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + Math.cos(Math.PI / 4)), 15);
    expect(s.lrAt(110)).toBe(1e-5);
    expect(s.lrAt(10_000)).toBe(1e-5);
  });

  it("timm's warmupPrefix=false: the cosine runs on the absolute iteration", () => {
    const t = new CosineSchedule({ baseLr: 1, totalIters: 100, warmupIters: 10, warmupLr: 0, minLr: 0, warmupPrefix: false });
    expect(t.lrAt(5)).toBeCloseTo(0.5, 15);
    expect(t.lrAt(10)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 10)), 15);
    expect(t.lrAt(50)).toBeCloseTo(0.5, 15);
  });

  it("defaults: warmupLr 1e-6, minLr 1e-5, no warm-up", () => {
    const t = new CosineSchedule({ baseLr: 0.1, totalIters: 4 });
    expect([t.warmupLr, t.minLr, t.warmupIters]).toEqual([1e-6, 1e-5, 0]);
    expect(t.lrAt(0)).toBe(0.1);
    expect(t.lrAt(2)).toBeCloseTo(1e-5 + 0.5 * (0.1 - 1e-5), 15);
  });

  it("property: non-decreasing during warm-up, non-increasing after, always within [min(warmupLr, minLr), baseLr]", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.nat(), fc.double({ min: 1e-5, max: 1, noNaN: true }), (total, w, base) => {
        const warm = w % total;
        const sc = new CosineSchedule({ baseLr: base, totalIters: total, warmupIters: warm, warmupLr: 1e-6, minLr: 1e-6 });
        let prev = -Infinity;
        for (let i = 0; i <= total + 1; i++) {
          const lr = sc.lrAt(i);
          expect(lr).toBeGreaterThanOrEqual(1e-6 - 1e-18);
          expect(lr).toBeLessThanOrEqual(base + 1e-15);
          if (i <= warm) expect(lr).toBeGreaterThanOrEqual(prev - 1e-15);
          else expect(lr).toBeLessThanOrEqual(prev + 1e-15);
          prev = lr;
        }
      }),
      { numRuns: 50 },
    );
  });

  it("rejects bad options and iterations", () => {
    expectBitspikeError(() => new CosineSchedule({ baseLr: 1, totalIters: 10, warmupIters: 10 }), "CosineSchedule", /warmupIters .* got 10/);
    expectBitspikeError(() => new CosineSchedule({ baseLr: -1, totalIters: 10 }), "CosineSchedule", /baseLr .* got -1/);
    expectBitspikeError(() => new CosineSchedule({ baseLr: 1, totalIters: 0 }), "CosineSchedule", /totalIters .* got 0/);
    expectBitspikeError(() => s.lrAt(-1), "CosineSchedule.lrAt", /got -1/);
    expectBitspikeError(() => s.lrAt(1.5), "CosineSchedule.lrAt", /got 1.5/);
  });
});

describe("layer-wise lr decay", () => {
  it("scales decay^(L+1-i): stem lowest, head 1", () => {
    expect(layerDecayScales(2, 0.5)).toEqual([0.125, 0.25, 0.5, 1]);
    const s = layerDecayScales(8, 0.7);
    expect(s.length).toBe(10);
    expect(s[9]).toBe(1);
    expect(s[0]).toBeCloseTo(0.7 ** 9, 15);
    for (let i = 1; i < s.length; i++) expect(s[i - 1]! / s[i]!).toBeCloseTo(0.7, 14);
  });

  it("layer ids from parameter names", () => {
    expect(layerIdOf("patch_embed.proj_conv.weight", 4)).toBe(0);
    expect(layerIdOf("pos_embed", 4)).toBe(0);
    expect(layerIdOf("block.0.attn.q_linear.weight", 4)).toBe(1);
    expect(layerIdOf("block.3.mlp.fc2_bn.bias", 4)).toBe(4);
    expect(layerIdOf("head.weight", 4)).toBe(5);
    expect(layerIdOf("blocks.2.x", 4, { blockPrefix: "blocks.", stemPrefixes: ["scs."] })).toBe(3);
    expect(layerIdOf("scs.conv.weight", 4, { blockPrefix: "blocks.", stemPrefixes: ["scs."] })).toBe(0);
  });

  it("rejects bad arguments", () => {
    expectBitspikeError(() => layerDecayScales(2, 0), "layerDecayScales", /decay must be in \(0, 1\], got 0/);
    expectBitspikeError(() => layerDecayScales(-1, 0.5), "layerDecayScales", /got -1/);
    expectBitspikeError(() => layerIdOf("block.7.w", 4), "layerIdOf", /block 7 but there are 4 blocks/);
  });
});
