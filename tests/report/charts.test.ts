import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { barChart, blues, heatmap, LINE_MARGIN, lineChart, niceTicks, spikeRaster } from "../../src/report/charts.js";
import { rasterize, toSvg, type Scene, type Shape } from "../../src/report/scene.js";
import { glyph } from "../../src/report/font.js";

const of = <K extends Shape["kind"]>(s: Scene, kind: K): Extract<Shape, { kind: K }>[] => s.shapes.filter((x): x is Extract<Shape, { kind: K }> => x.kind === kind);
const pixel = (r: ReturnType<typeof rasterize>, x: number, y: number): number[] => Array.from(r.pixels.subarray((y * r.width + x) * 4, (y * r.width + x) * 4 + 3));

describe("report charts", () => {
  it("nice ticks cover the range in steps of 1, 2 or 5 times a power of ten", () => {
    fc.assert(fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: 1e-3, max: 1e6, noNaN: true }), (lo, span) => {
      const t = niceTicks(lo, lo + span);
      expect(t[0]!).toBeLessThanOrEqual(lo);
      expect(t[t.length - 1]!).toBeGreaterThanOrEqual(lo + span);
      const step = t[1]! - t[0]!;
      // The ticks are rounded to 12 significant digits, so far from 0 their difference carries that rounding
      // (-196310.909 - -196310.91 = 0.00099999998929): the tolerance follows it, and the exponent is taken
      // from a log nudged up by 0.01, which such an error cannot cross.
      const mant = step / 10 ** Math.floor(Math.log10(step) + 0.01);
      const tol = ((Math.abs(t[0]!) + Math.abs(t[1]!)) * 1e-12) / step + 1e-9;
      expect([1, 2, 5].some((m) => Math.abs(mant - m) <= tol * m)).toBe(true);
    }), { examples: [[-196310.90900000004, 0.002499999987776391]] }); // a CI run's counterexample to the old check
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it("a line chart puts its points on the axes' scale", () => {
    const s = lineChart([{ name: "a", x: [0, 5, 10], y: [0, 0.5, 1] }], { name: "t", title: "T", xLabel: "x", yLabel: "y", width: 400, height: 200 });
    const line = of(s, "line").find((l) => l.stroke !== "#e4e4e4" && l.stroke !== "#444444")!;
    const { left, right, top, bottom } = LINE_MARGIN;
    expect(line.points).toEqual([left, 200 - bottom, (left + 400 - right) / 2, (200 - bottom + top) / 2, 400 - right, top]);
    // tick labels of both axes
    const labels = of(s, "text").map((t) => t.text);
    for (const v of ["0", "0.2", "1", "4", "10"]) expect(labels).toContain(v);
    // a chart without points says so instead of drawing axes from NaN
    const empty = lineChart([{ name: "a", x: [1], y: [NaN] }], { name: "e", title: "E", xLabel: "x", yLabel: "y" });
    expect(of(empty, "text").map((t) => t.text)).toContain("no data");
  });

  it("bars are proportional to their values; mismatched lengths are refused", () => {
    const s = barChart(["a", "b"], [{ name: "v", values: [1, 0.5] }], { name: "b", title: "B", valueLabel: "v" });
    const bars = of(s, "rect").filter((r) => r.title?.startsWith("a v") || r.title?.startsWith("b v"));
    expect(bars.length).toBe(2);
    expect(bars[1]!.w * 2).toBeCloseTo(bars[0]!.w, 9);
    expect(() => barChart(["a"], [{ name: "v", values: [1, 2] }], { name: "b", title: "B", valueLabel: "v" })).toThrow(/barChart: series 'v' has 2 values for 1 labels/);
  });

  it("a heat map colours cells by value and writes the counts of a small matrix", () => {
    const s = heatmap([5, 0, 1, 4], 2, 2, { name: "h", title: "H", rowLabel: "r", colLabel: "c", annotate: true });
    const cells = of(s, "rect").filter((r) => r.title?.startsWith("("));
    expect(cells.map((c) => c.fill)).toEqual([blues(1), blues(0), blues(0.2), blues(0.8)]);
    expect(blues(0)).toBe("#ffffff");
    expect(of(s, "text").map((t) => t.text)).toEqual(expect.arrayContaining(["5", "0", "1", "4"]));
    expect(() => heatmap([1, 2, 3], 2, 2, { name: "h", title: "H", rowLabel: "r", colLabel: "c" })).toThrow(/3 values for a 2 x 2 matrix/);
  });

  it("a raster draws one mark per spike", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 70 }), fc.infiniteStream(fc.boolean()), (T, n, bits) => {
      const b = Uint8Array.from(bits.take(T * n), (v) => (v ? 1 : 0));
      const s = spikeRaster([{ name: "layer", steps: T, neurons: n, bits: b }], { name: "r", title: "R" });
      expect(of(s, "rect").filter((r) => r.fill === "#000000").length).toBe(b.reduce((a, v) => a + v, 0));
    }), { numRuns: 30 });
  });

  it("the bitmap font draws the characters of chart labels, lower case as capitals, a box for the rest", () => {
    const box = glyph("\u0001");
    const seen = new Set<string>();
    const chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.,:;-+=_/%()[]'\"!?<>*#|^";
    for (const ch of chars) {
      const g = glyph(ch);
      expect(g.length, ch).toBe(7);
      expect(g, ch).not.toEqual(box);
      seen.add(g.join());
    }
    expect(seen.size).toBe(chars.length); // no two alike
    for (const ch of "abcxyz") expect(glyph(ch)).toEqual(glyph(ch.toUpperCase()));
    expect(glyph(" ").every((r) => r === 0)).toBe(true);
  });

  it("SVG and pixels come from the same shapes", () => {
    const s: Scene = { name: "x<y", width: 40, height: 20, shapes: [
      { kind: "rect", x: 10, y: 5, w: 10, h: 10, fill: "#ff0000" },
      { kind: "line", points: [0, 18, 40, 18], stroke: "#00ff00", width: 2 },
      { kind: "text", x: 30, y: 12, text: "A&1", size: 10, fill: "#0000ff", anchor: "start" },
    ] };
    const svg = toSvg(s);
    expect(svg).toContain('data-chart="x&lt;y"');
    expect(svg).toContain('<rect x="10" y="5" width="10" height="10" fill="#ff0000"/>');
    expect(svg).toContain('<polyline points="0,18 40,18"');
    expect(svg).toContain(">A&amp;1</text>");
    const r = rasterize(s, 2);
    expect([r.width, r.height]).toEqual([80, 40]);
    expect(pixel(r, 30, 20)).toEqual([255, 0, 0]);
    expect(pixel(r, 5, 20)).toEqual([255, 255, 255]);
    expect(pixel(r, 40, 36)).toEqual([0, 255, 0]);
    // the text's glyphs land left of and above its baseline origin, in its colour
    let blue = 0;
    for (let y = 0; y < r.height; y++) for (let x = 60; x < r.width; x++) if (pixel(r, x, y).join() === "0,0,255") blue++;
    expect(blue).toBeGreaterThan(10);
    expect(() => rasterize({ ...s, shapes: [{ kind: "rect", x: 0, y: 0, w: 1, h: 1, fill: "red" }] })).toThrow(/colour must be #rrggbb, got 'red'/);
  });
});
