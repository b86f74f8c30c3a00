/**
 * The run report: the charts of a run (charts.ts) laid out as one
 * self-contained HTML file (inline SVG, inline CSS, the MAE picture as a data
 * URL; nothing fetched), and the same charts as PNG files beside it.
 */
import { basename, dirname, join } from "node:path";
import { encodePng } from "../io/png.js";
import { makeOutputDir } from "../io/files.js";
import { writeFileAtomic } from "../io/safetensors-file.js";
import type { EnergyReport } from "../energy/energy.js";
import { barChart, fmtNumber, heatmap, lineChart, spikeRaster, type Series } from "./charts.js";
import { rasterize, toSvg, type Scene } from "./scene.js";
import type { ReportData } from "./collect.js";

const pick = <T>(rows: readonly T[], f: (r: T) => number | undefined): number[] => rows.map((r) => f(r) ?? NaN);

/** The training curves: loss, accuracy (classifiers), learning rate, images per second. */
export function curveScenes(d: Pick<ReportData, "log">): Scene[] {
  const { steps, epochs, kind } = d.log;
  const it = pick(steps, (s) => s.iteration);
  const ei = pick(epochs, (e) => e.iteration);
  const testName = kind === "pretrain" ? "test masked loss (epoch)" : "test loss (epoch)";
  const loss: Series[] = [
    { name: "train loss (step)", x: it, y: pick(steps, (s) => s.loss), colour: "#9ecae1" },
    { name: "train loss (epoch)", x: ei, y: pick(epochs, (e) => e.trainLoss), dots: true },
    { name: testName, x: ei, y: pick(epochs, (e) => e.testLoss), dots: true },
  ];
  const out = [lineChart(loss, { name: "loss", title: kind === "pretrain" ? "Masked-patch loss" : "Loss", xLabel: "iteration", yLabel: "loss" })];
  if (kind === "train") {
    const acc: Series[] = [
      { name: "train acc. (step)", x: it, y: pick(steps, (s) => s.accuracy), colour: "#9ecae1" },
      { name: "train acc. (epoch)", x: ei, y: pick(epochs, (e) => e.trainAccuracy), dots: true },
      { name: "test acc. (epoch)", x: ei, y: pick(epochs, (e) => e.testAccuracy), dots: true },
    ];
    out.push(lineChart(acc, { name: "accuracy", title: "Accuracy", xLabel: "iteration", yLabel: "accuracy", yInclude: [0, 1] }));
  }
  out.push(lineChart([{ name: "lr", x: it, y: pick(steps, (s) => s.lr) }], { name: "lr", title: "Learning rate", xLabel: "iteration", yLabel: "lr", yInclude: [0] }));
  out.push(lineChart([{ name: "images/s", x: it, y: pick(steps, (s) => s.imagesPerSecond) }], { name: "images-per-second", title: "Training speed", xLabel: "iteration", yLabel: "images/s", yInclude: [0] }));
  return out;
}

/** Per-layer input firing rates of the synaptic layers fed by spikes. */
export function firingScene(e: EnergyReport): Scene {
  const rows = e.rows.filter((r) => r.input === "spikes");
  return barChart(rows.map((r) => r.name), [{ name: "firing rate", values: rows.map((r) => r.firingRate) }], { name: "firing-rates", title: `Input firing rate per layer (${e.images} test images)`, valueLabel: "fraction of inputs that spike" });
}

/** Exact synaptic operations per image beside the papers' estimate, per layer. */
export function energyScene(e: EnergyReport): Scene {
  const rows = e.rows.filter((r) => r.input === "spikes");
  return barChart(rows.map((r) => r.name), [
    { name: "SOPs exact", values: rows.map((r) => r.sops / e.images) },
    { name: "SOPs papers' estimate", values: rows.map((r) => r.estimatedSops / e.images) },
  ], { name: "energy", title: "Synaptic operations per image", valueLabel: "synaptic operations" });
}

/** Every chart of a report, in the order the page shows them. */
export function reportScenes(d: ReportData): Scene[] {
  const scenes = [...curveScenes(d), firingScene(d.energy), energyScene(d.energy)];
  if (d.confusion) {
    const K = d.confusion.classes;
    const names = Array.from({ length: K }, (_, i) => String(i));
    scenes.push(heatmap(d.confusion.counts, K, K, { name: "confusion", title: "Confusion matrix (test split)", rowLabel: "true", colLabel: "predicted", annotate: true, rowNames: names, colNames: names }));
  }
  scenes.push(spikeRaster(d.bands, { name: "raster", title: `Spikes entering each layer: test image 0 (label ${d.sample.label})` }));
  if (d.attention) {
    const a = d.attention;
    scenes.push(heatmap(a.values, a.size, a.size, { name: "attention", title: `SSA map Q K^T, head 0, t = 0 (${a.layer})`, rowLabel: "query token", colLabel: "key token" }));
  }
  return scenes;
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

function energyTable(e: EnergyReport): string {
  const f = (v: number): string => fmtNumber(v / e.images);
  const rows = e.rows.map((r) => `<tr><td>${esc(r.name)}</td><td>${r.input}</td><td>${r.input === "real" ? "-" : r.firingRate.toFixed(3)}</td><td>${f(r.sops)}</td><td>${f(r.estimatedSops)}</td><td>${f(r.macs)}</td><td>${(r.energyMj * 1e3).toFixed(4)}</td><td>${(r.estimatedEnergyMj * 1e3).toFixed(4)}</td></tr>`);
  return `<table class="energy"><thead><tr><th>layer</th><th>input</th><th>firing rate</th><th>SOPs exact</th><th>SOPs estimate</th><th>MACs</th><th>µJ exact</th><th>µJ estimate</th></tr></thead><tbody>${rows.join("")}</tbody>` +
    `<tfoot><tr><td>total</td><td></td><td></td><td>${f(e.totalSops)}</td><td>${f(e.estimatedSops)}</td><td>${f(e.totalMacs)}</td><td>${(e.energyMj * 1e3).toFixed(4)}</td><td>${(e.estimatedEnergyMj * 1e3).toFixed(4)}</td></tr></tfoot></table>` +
    `<p class="note">Per image, averaged over ${e.images} test images; E<sub>MAC</sub> 4.6 pJ, E<sub>AC</sub> 0.9 pJ. Exact: synaptic operations counted from the spike bits entering each layer. Estimate: the papers' firing rate × dense operations.</p>`;
}

const CSS = `body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.grid{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}svg{max-width:100%;height:auto;border:1px solid #eee}table{border-collapse:collapse;font-size:13px}
td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}td:first-child,th:first-child{text-align:left}.note{color:#666;font-size:12px}dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:14px}dt{color:#666}`;

/** The report as one HTML document (nothing to fetch: it opens from disk). */
export function reportHtml(d: ReportData, scenes: readonly Scene[]): string {
  const svg = (name: string): string => {
    const s = scenes.find((x) => x.name === name);
    return s ? `<figure>${toSvg(s)}</figure>` : "";
  };
  const c = d.config;
  const t = d.confusion?.test ?? d.log.finalTest;
  const facts: [string, string][] = [
    ["run", d.dir], ["kind", d.log.kind === "pretrain" ? "masked-autoencoder pre-training" : "classifier training"],
    ["model", `spikformer-${c.variant}-${c.depths}-${c.embedDims}, T = ${c.T}, ${c.numHeads} heads, ${c.imgSize}x${c.imgSize}x${c.inChannels}, ${d.parameters.toLocaleString("en-US")} parameters`],
    ["data", d.dataDescription], ["steps logged", String(d.log.steps.length)],
  ];
  if (t) facts.push(["test accuracy", `${(100 * t.accuracy).toFixed(2)}% on ${t.samples} images (loss ${t.loss.toFixed(4)})`]);
  if (d.log.seconds !== null) facts.push(["training time", `${d.log.seconds.toFixed(1)} s`]);
  facts.push(["energy per image", `${d.energy.energyMj.toFixed(5)} mJ exact (papers' estimate ${d.energy.estimatedEnergyMj.toFixed(5)} mJ)`]);
  const parts = [
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bitspike report: ${esc(d.dir)}</title><style>${CSS}</style></head><body>`,
    `<h1>bitspike run report</h1><dl>${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>`,
    `<h2 id="curves">Training curves</h2><div class="grid">${["loss", "accuracy", "lr", "images-per-second"].map(svg).join("")}</div>`,
    `<h2 id="firing">Firing rates</h2>${svg("firing-rates")}`,
    `<h2 id="energy">Energy</h2>${energyTable(d.energy)}${svg("energy")}`,
  ];
  if (d.confusion) parts.push(`<h2 id="confusion">Confusion matrix</h2>${svg("confusion")}`);
  else parts.push(`<h2 id="confusion">Confusion matrix</h2><p class="note">A pre-training run has no classifier head: no confusion matrix.</p>`);
  const pred = d.sample.predicted === null ? "" : `, predicted ${d.sample.predicted}`;
  parts.push(`<h2 id="raster">Spike raster</h2><p class="note">Test image 0 (label ${d.sample.label}${pred}): the spikes entering each synaptic layer, up to 256 neurons a layer (evenly picked), one row per time step; the layer's share of spikes on the right.</p>${svg("raster")}`);
  parts.push(`<h2 id="attention">Attention map</h2>${d.attention ? svg("attention") : `<p class="note">This model has no spiking self-attention.</p>`}`);
  if (d.reconstruction) {
    const b64 = Buffer.from(d.reconstruction.png).toString("base64");
    parts.push(`<h2 id="mae">MAE reconstructions</h2><p class="note">Original | masked | reconstruction, ${d.reconstruction.count} test images, masked loss ${d.reconstruction.loss.toFixed(4)}.</p><img alt="MAE reconstructions" data-chart="mae" src="data:image/png;base64,${b64}">`);
  }
  parts.push(`<p class="note">Written by bitspike report; the charts are also PNG files beside this page.</p></body></html>`);
  return parts.join("\n");
}

/** Writes the HTML report to `out` and each chart as `<out name>-<chart>.png` beside it; returns the PNG paths. */
export function writeReport(d: ReportData, out: string): { html: string; pngs: string[] } {
  const dir = dirname(out);
  makeOutputDir("bitspike report", dir);
  const scenes = reportScenes(d);
  const stem = basename(out).replace(/\.html?$/i, "");
  const pngs: string[] = [];
  for (const s of scenes) {
    const r = rasterize(s);
    const p = join(dir, `${stem}-${s.name}.png`);
    writeFileAtomic(p, encodePng(r.width, r.height, 4, r.pixels));
    pngs.push(p);
  }
  if (d.reconstruction) {
    const p = join(dir, `${stem}-mae.png`);
    writeFileAtomic(p, d.reconstruction.png);
    pngs.push(p);
  }
  writeFileAtomic(out, new TextEncoder().encode(reportHtml(d, scenes)));
  return { html: out, pngs };
}
