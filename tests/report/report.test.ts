import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../src/cli/run.js";
import { collectReport, readRunLog } from "../../src/report/collect.js";
import { tinyDataset } from "../helpers/tiny-data.js";
import { tinyRun } from "../helpers/tiny-run.js";

const PNG = [137, 80, 78, 71, 13, 10, 26, 10];

/** The chart names of the inline SVGs of a page, with how many shapes each draws. */
function charts(html: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of html.matchAll(/<svg [^>]*data-chart="([^"]+)"[^>]*>(.*?)<\/svg>/gs)) m.set(x[1]!, (x[2]!.match(/<(rect|polyline|text)/g) ?? []).length);
  return m;
}

describe("bitspike report", () => {
  it("the report of a tiny training run has every section with data, and the PNGs beside it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bitspike-report-"));
    const run = await tinyRun(dir);
    const d = collectReport(run);
    // curves: one point per step, one per epoch
    expect(d.log.steps.map((s) => s.iteration)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(d.log.epochs.map((e) => e.iteration)).toEqual([5, 10]);
    // the confusion matrix counts every test image once, its diagonal the right ones
    const c = d.confusion!;
    expect(c.counts.reduce((a, v) => a + v, 0)).toBe(c.test.samples);
    const diag = Array.from({ length: c.classes }, (_, i) => c.counts[i * c.classes + i]!).reduce((a, v) => a + v, 0);
    expect(diag).toBe(Math.round(c.test.accuracy * c.test.samples));
    expect(c.test.accuracy).toBe(d.log.finalTest!.accuracy);
    // energy from src/energy, raster bands of T rows, the attention map over the tokens
    expect(d.energy.rows.length).toBeGreaterThan(4);
    expect(d.bands.length).toBeGreaterThan(4);
    for (const b of d.bands) expect(b.steps).toBe(2);
    expect(d.bands.reduce((a, b) => a + b.bits.reduce((s, v) => s + v, 0), 0)).toBeGreaterThan(0);
    expect(d.attention!.size).toBe(4); // 8x8 images, patch 4 for cifar: 2x2 tokens
    expect(await runCli(["report", run, "--out", join(dir, "out", "r.html")])).toBe(0);
    const html = readFileSync(join(dir, "out", "r.html"), "utf8");
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//); // nothing fetched
    for (const id of ["curves", "firing", "energy", "confusion", "raster", "attention"]) expect(html).toContain(`id="${id}"`);
    const found = charts(html);
    for (const name of ["loss", "accuracy", "lr", "images-per-second", "firing-rates", "energy", "confusion", "raster", "attention"]) {
      expect(found.get(name), name).toBeGreaterThan(10);
      const png = readFileSync(join(dir, "out", `r-${name}.png`));
      expect([...png.subarray(0, 8)]).toEqual(PNG);
    }
    expect(html).toContain("<table class=\"energy\">");
    expect(html).not.toContain("no data");
  });

  it("the report of a pre-training run shows the reconstructions; a cut last log line is skipped, a bad one refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bitspike-report-mae-"));
    const data = tinyDataset(dir);
    const out = join(dir, "mae");
    expect(await runCli(["pretrain", "--model", "spikformer-v2-1-32", "--patch", "4", "--heads", "2", "--data", `file:${data}`, "--epochs", "2", "--batch", "8",
      "--decoder-dim", "32", "--decoder-depth", "1", "--decoder-heads", "2", "--eval-images", "5", "--out", out])).toBe(0);
    appendFileSync(join(out, "log.jsonl"), '{"event":"step","iter');
    expect(readRunLog(out).kind).toBe("pretrain");
    expect(await runCli(["report", out])).toBe(0);
    const html = readFileSync(join(out, "report.html"), "utf8");
    expect(html).toMatch(/<img alt="MAE reconstructions" data-chart="mae" src="data:image\/png;base64,/);
    expect(existsSync(join(out, "report-mae.png"))).toBe(true);
    expect(charts(html).get("loss")).toBeGreaterThan(10);
    expect(html).toContain("no confusion matrix");
    appendFileSync(join(out, "log.jsonl"), '\n{"event":"step"}\n');
    const errs: string[] = [];
    expect(await runCli(["report", out], (l) => errs.push(l))).toBe(1);
    expect(errs[0]).toMatch(/bitspike report: .*log.jsonl line \d+ is not JSON/);
    expect(await runCli(["report", join(dir, "nothing")], (l) => errs.push(l))).toBe(1);
    expect(errs[1]).toMatch(/has no log.jsonl/);
  });
});
