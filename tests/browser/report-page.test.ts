import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser } from "playwright-core";
import { runCli } from "../../src/cli/run.js";
import { chromiumPresent, collectErrors, launchChromium } from "../helpers/chromium.js";
import { tinyRun } from "../helpers/tiny-run.js";

const present = chromiumPresent();

describe.runIf(present)("the report page in Chromium", () => {
  let browser: Browser;
  beforeAll(async () => { browser = await launchChromium(); });
  afterAll(async () => { await browser?.close(); });

  it("opens from disk with no console error, and every chart has data", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bitspike-report-page-"));
    const run = await tinyRun(dir);
    expect(await runCli(["report", run])).toBe(0);
    const page = await browser.newPage();
    const errors = collectErrors(page);
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(pathToFileURL(join(run, "report.html")).href);
    const charts = await page.$$eval("svg[data-chart]", (svgs) => svgs.map((s) => {
      const box = s.getBoundingClientRect();
      // Shapes that show data (curves, bars, cells, spikes, raster bands), not axes, grid or legend.
      const marks = [...s.querySelectorAll(".mark")];
      const visible = marks.filter((m) => { const b = m.getBoundingClientRect(); return b.width > 0 || b.height > 0; }).length;
      return { name: s.getAttribute("data-chart"), width: box.width, height: box.height, marks: marks.length, visible, text: s.textContent ?? "" };
    }));
    expect(charts.map((c) => c.name).sort()).toEqual(["accuracy", "attention", "confusion", "energy", "firing-rates", "images-per-second", "loss", "lr", "raster"]);
    for (const c of charts) {
      expect(c.width, c.name!).toBeGreaterThan(100);
      expect(c.height, c.name!).toBeGreaterThan(100);
      expect(c.visible, c.name!).toBe(c.marks);
      expect(c.marks, c.name!).toBeGreaterThan(c.name === "images-per-second" || c.name === "lr" ? 0 : 3);
      expect(c.text, c.name!).not.toContain("no data");
    }
    expect(await page.$$eval("table.energy tbody tr", (r) => r.length)).toBeGreaterThan(4);
    expect(errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith("file:") && !u.startsWith("data:"))).toEqual([]); // nothing fetched from a network
    await page.close();
  });
});
