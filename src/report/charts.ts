/**
 * The report's charts as scenes (scene.ts): line charts of training curves,
 * horizontal bars, heat maps (confusion matrix, attention map) and spike
 * rasters. Each takes plain numbers and lays out axes, ticks, labels and a
 * legend; nothing here knows about models.
 */
import { fail } from "../tensor/errors.js";
import type { Colour, Scene, Shape } from "./scene.js";

/** Series colours (colour-blind safe, Okabe-Ito). */
export const PALETTE: readonly Colour[] = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"];
const AXIS = "#444444";
const GRID = "#e4e4e4";
const FONT = 11;

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, target);
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  if (out[0]! > lo) out.unshift(Number((out[0]! - step).toPrecision(12)));
  if (out[out.length - 1]! < hi) out.push(Number((out[out.length - 1]! + step).toPrecision(12)));
  return out;
}

/** A short label for a number: 1.2k, 3.4M, 0.0012 as 1.2e-3. */
export function fmtNumber(v: number): string {
  const a = Math.abs(v);
  if (v === 0) return "0";
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a >= 0.01) return String(+v.toPrecision(3));
  return v.toExponential(1).replace("e-", "e-");
}

const text = (x: number, y: number, s: string, anchor: "start" | "middle" | "end" = "start", size = FONT, fill: Colour = AXIS): Shape =>
  ({ kind: "text", x, y, text: s, size, fill, anchor });

/** One line of a line chart. */
export interface Series {
  name: string;
  /** x values (ascending) and y values of the same length; non-finite points are skipped. */
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  colour?: Colour;
  /** Dots at the points (for sparse series such as per-epoch test values). */
  dots?: boolean;
}

export interface LineChartOptions {
  name: string;
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** Forces the y range to include these values (e.g. 0 and 1 for accuracy). */
  yInclude?: readonly number[];
}

/** Where a line chart puts its plot area. */
export const LINE_MARGIN = { left: 56, right: 16, top: 28, bottom: 40 } as const;

/** Line chart of one or more series on shared axes, with a legend for more than one. */
export function lineChart(series: readonly Series[], o: LineChartOptions): Scene {
  const width = o.width ?? 480, height = o.height ?? 260;
  const m = LINE_MARGIN;
  const px0 = m.left, px1 = width - m.right, py0 = m.top, py1 = height - m.bottom;
  let xlo = Infinity, xhi = -Infinity, ylo = Infinity, yhi = -Infinity;
  for (const s of series) {
    if (s.x.length !== s.y.length) fail("lineChart", `series '${s.name}' has ${s.x.length} x values and ${s.y.length} y values`);
    for (let i = 0; i < s.x.length; i++) {
      const x = s.x[i]!, y = s.y[i]!;
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      xlo = Math.min(xlo, x); xhi = Math.max(xhi, x); ylo = Math.min(ylo, y); yhi = Math.max(yhi, y);
    }
  }
  for (const v of o.yInclude ?? []) if (Number.isFinite(ylo)) { ylo = Math.min(ylo, v); yhi = Math.max(yhi, v); }
  const shapes: Shape[] = [text(width / 2, 17, o.title, "middle", 13, "#000000")];
  const xt = niceTicks(xlo, xhi), yt = niceTicks(ylo, yhi);
  if (xt.length === 0 || yt.length === 0) {
    shapes.push(text(width / 2, height / 2, "no data", "middle"));
    return { name: o.name, width, height, shapes };
  }
  const [xa, xb] = [xt[0]!, xt[xt.length - 1]!], [ya, yb] = [yt[0]!, yt[yt.length - 1]!];
  const sx = (x: number): number => px0 + ((x - xa) / (xb - xa)) * (px1 - px0);
  const sy = (y: number): number => py1 - ((y - ya) / (yb - ya)) * (py1 - py0);
  for (const t of yt) {
    shapes.push({ kind: "line", points: [px0, sy(t), px1, sy(t)], stroke: GRID, width: 1 });
    shapes.push(text(px0 - 5, sy(t) + 4, fmtNumber(t), "end"));
  }
  for (const t of xt) shapes.push(text(sx(t), py1 + 15, fmtNumber(t), "middle"));
  shapes.push({ kind: "line", points: [px0, py0, px0, py1, px1, py1], stroke: AXIS, width: 1 });
  shapes.push(text((px0 + px1) / 2, height - 6, o.xLabel, "middle"));
  shapes.push(text(4, py0 - 8, o.yLabel, "start"));
  series.forEach((s, k) => {
    const colour = s.colour ?? PALETTE[k % PALETTE.length]!;
    const pts: number[] = [];
    for (let i = 0; i < s.x.length; i++) if (Number.isFinite(s.x[i]!) && Number.isFinite(s.y[i]!)) pts.push(sx(s.x[i]!), sy(s.y[i]!));
    if (pts.length >= 4) shapes.push({ kind: "line", points: pts, stroke: colour, width: 1.5, mark: true });
    if (s.dots || pts.length === 2) for (let i = 0; i < pts.length; i += 2) shapes.push({ kind: "rect", x: pts[i]! - 2.5, y: pts[i + 1]! - 2.5, w: 5, h: 5, fill: colour, mark: true });
    if (series.length > 1) {
      const lx = px1 - 120, ly = py0 + 4 + k * 14;
      shapes.push({ kind: "rect", x: lx, y: ly, w: 12, h: 3, fill: colour });
      shapes.push(text(lx + 16, ly + 5, s.name, "start", 10));
    }
  });
  return { name: o.name, width, height, shapes };
}

export interface BarChartOptions {
  name: string;
  title: string;
  /** Label of the value axis. */
  valueLabel: string;
  width?: number;
}

/**
 * Horizontal bars, one row per label, one bar per series in each row (e.g.
 * exact and estimated synaptic operations of each layer).
 */
export function barChart(labels: readonly string[], series: readonly { name: string; values: ArrayLike<number>; colour?: Colour }[], o: BarChartOptions): Scene {
  for (const s of series) if (s.values.length !== labels.length) fail("barChart", `series '${s.name}' has ${s.values.length} values for ${labels.length} labels`);
  const width = o.width ?? 560;
  const barH = 9, gap = 6;
  const rowH = series.length * barH + gap;
  const left = Math.min(230, 14 + 6.2 * Math.max(4, ...labels.map((l) => l.length)));
  const top = 28 + (series.length > 1 ? 14 : 0), right = 60;
  const height = top + labels.length * rowH + 34;
  let max = 0;
  for (const s of series) for (let i = 0; i < s.values.length; i++) if (Number.isFinite(s.values[i]!)) max = Math.max(max, s.values[i]!);
  const ticks = niceTicks(0, max > 0 ? max : 1, 4);
  const vmax = ticks[ticks.length - 1]!;
  const sx = (v: number): number => left + (v / vmax) * (width - left - right);
  const shapes: Shape[] = [text(width / 2, 17, o.title, "middle", 13, "#000000")];
  const bottom = top + labels.length * rowH;
  for (const t of ticks) {
    shapes.push({ kind: "line", points: [sx(t), top, sx(t), bottom], stroke: GRID, width: 1 });
    shapes.push(text(sx(t), bottom + 14, fmtNumber(t), "middle"));
  }
  shapes.push(text((left + width - right) / 2, height - 4, o.valueLabel, "middle"));
  labels.forEach((l, i) => {
    const y = top + i * rowH;
    shapes.push(text(left - 6, y + (series.length * barH) / 2 + 4, l, "end", 10));
    series.forEach((s, k) => {
      const v = s.values[i]!;
      const w = Number.isFinite(v) ? Math.max(0, sx(v) - left) : 0;
      shapes.push({ kind: "rect", x: left, y: y + k * barH, w, h: barH - 1, fill: s.colour ?? PALETTE[k % PALETTE.length]!, title: `${l} ${s.name}: ${v}`, mark: true });
      if (series.length === 1) shapes.push(text(left + w + 4, y + barH - 1, fmtNumber(v), "start", 9));
    });
  });
  shapes.push({ kind: "line", points: [left, top, left, bottom], stroke: AXIS, width: 1 });
  if (series.length > 1) {
    series.forEach((s, k) => {
      shapes.push({ kind: "rect", x: left + k * 130, y: 27, w: 12, h: 8, fill: s.colour ?? PALETTE[k % PALETTE.length]! });
      shapes.push(text(left + k * 130 + 16, 35, s.name, "start", 10));
    });
  }
  return { name: o.name, width, height, shapes };
}

/** White to dark blue as v goes from 0 to 1 (clamped). */
export function blues(v: number): Colour {
  const t = Math.max(0, Math.min(1, Number.isFinite(v) ? v : 0));
  const c = (a: number, b: number): string => Math.round(a + (b - a) * t).toString(16).padStart(2, "0");
  return `#${c(255, 8)}${c(255, 48)}${c(255, 107)}`;
}

export interface HeatmapOptions {
  name: string;
  title: string;
  rowLabel: string;
  colLabel: string;
  /** Write each cell's value in it (for small matrices such as a confusion matrix). */
  annotate?: boolean;
  rowNames?: readonly string[];
  colNames?: readonly string[];
  /** Size of a cell in pixels (default: fits about 320 pixels). */
  cell?: number;
}

/** A matrix [rows][cols] as coloured cells, 0 white to the largest value dark blue. */
export function heatmap(values: ArrayLike<number>, rows: number, cols: number, o: HeatmapOptions): Scene {
  if (values.length !== rows * cols) fail("heatmap", `${values.length} values for a ${rows} x ${cols} matrix`);
  const cell = o.cell ?? Math.max(3, Math.min(32, Math.floor(320 / Math.max(rows, cols))));
  const left = 60, top = 44;
  const width = left + cols * cell + 20, height = top + rows * cell + 20;
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]!);
  const shapes: Shape[] = [text(width / 2, 17, o.title, "middle", 13, "#000000"), text(left + (cols * cell) / 2, 34, o.colLabel, "middle")];
  shapes.push(text(4, top - 4, o.rowLabel, "start"));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = values[r * cols + c]!;
      const frac = max > 0 ? v / max : 0;
      shapes.push({ kind: "rect", x: left + c * cell, y: top + r * cell, w: cell, h: cell, fill: blues(frac), title: `(${r}, ${c}): ${v}`, mark: true });
      if (o.annotate && cell >= 16) shapes.push(text(left + c * cell + cell / 2, top + r * cell + cell / 2 + 4, fmtNumber(v), "middle", 9, frac > 0.5 ? "#ffffff" : "#000000"));
    }
  }
  const every = Math.max(1, Math.ceil(12 / cell));
  for (let r = 0; r < rows; r += every) shapes.push(text(left - 4, top + r * cell + cell / 2 + 4, o.rowNames?.[r] ?? String(r), "end", 9));
  if (o.colNames) for (let c = 0; c < cols; c += every) shapes.push(text(left + c * cell + cell / 2, top + rows * cell + 12, o.colNames[c]!, "middle", 9));
  shapes.push({ kind: "line", points: [left, top, left + cols * cell, top, left + cols * cell, top + rows * cell, left, top + rows * cell, left, top], stroke: AXIS, width: 1 });
  return { name: o.name, width, height, shapes };
}

/** One layer's spikes for a raster: `bits[t * neurons + i]` is neuron i's spike at time step t. */
export interface RasterBand {
  name: string;
  steps: number;
  neurons: number;
  bits: Uint8Array;
}

/**
 * A spike raster: one band per layer, one row per time step, one column per
 * neuron; a spike is a black mark. The layer's firing rate over the shown
 * spikes is written beside it.
 */
export function spikeRaster(bands: readonly RasterBand[], o: { name: string; title: string; width?: number }): Scene {
  const width = o.width ?? 720;
  const left = 200, right = 70, top = 34, gap = 8;
  // Rows shrink as time steps grow, so a band is about 16 pixels tall whatever T is.
  const rowH = Math.max(4, Math.round(16 / Math.max(1, ...bands.map((b) => b.steps))));
  const plotW = width - left - right;
  const shapes: Shape[] = [text(width / 2, 17, o.title, "middle", 13, "#000000")];
  let y = top;
  for (const b of bands) {
    if (b.bits.length !== b.steps * b.neurons) fail("spikeRaster", `band '${b.name}' has ${b.bits.length} bits for ${b.steps} steps x ${b.neurons} neurons`);
    const colW = plotW / Math.max(1, b.neurons);
    // The band itself is data too: a layer that did not fire shows an empty band.
    shapes.push({ kind: "rect", x: left, y, w: plotW, h: b.steps * rowH, fill: "#f4f4f4", mark: true });
    let spikes = 0;
    for (let t = 0; t < b.steps; t++) {
      for (let i = 0; i < b.neurons; i++) {
        if (!b.bits[t * b.neurons + i]) continue;
        spikes++;
        shapes.push({ kind: "rect", x: left + i * colW, y: y + t * rowH + 0.5, w: Math.max(colW, 0.8), h: rowH - 1, fill: "#000000", mark: true });
      }
    }
    shapes.push(text(left - 6, y + (b.steps * rowH) / 2 + 4, b.name, "end", 10));
    shapes.push(text(left + plotW + 6, y + (b.steps * rowH) / 2 + 4, `${(100 * spikes / Math.max(1, b.bits.length)).toFixed(1)}%`, "start", 10));
    y += b.steps * rowH + gap;
  }
  shapes.push(text(left + plotW / 2, y + 10, "neurons (columns), time steps (rows in each band)", "middle", 10));
  return { name: o.name, width, height: y + 18, shapes };
}
