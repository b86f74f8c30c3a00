import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { startDemoServer, type DemoServer } from "../../src/cli/serve.js";
import { loadMnist } from "../../src/train/data/mnist.js";
import { fingerprintStep } from "../../src/train/fingerprint.js";
import { classifierFromWeights, parseWeights } from "../../src/train/weights.js";
import { chromiumPresent, collectErrors, launchChromium } from "../helpers/chromium.js";

const present = chromiumPresent();

interface DemoApi {
  ready: Promise<{ threads: number; isolated: boolean; why: string | null }>;
  steps: { loss: number }[];
  train(n: number): Promise<{ steps: number; testAccuracy: number }>;
  fingerprint(): Promise<{ value: string; threads: number; workerParts: number }>;
  saveBytes(): Promise<Uint8Array>;
  load(bytes: Uint8Array, name: string): Promise<{ name: string; model: string }>;
}
const demo = (page: Page): Promise<unknown> => page.waitForFunction(() => (window as unknown as { bitspikeDemo?: unknown }).bitspikeDemo !== undefined);

describe.runIf(present)("the demo page in Chromium", () => {
  let browser: Browser;
  let server: DemoServer;
  beforeAll(async () => {
    browser = await launchChromium();
    server = await startDemoServer({ port: 0, host: "127.0.0.1", isolation: true });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("trains 20 steps on a pool of two workers, the loss falls, a drawn digit gets a prediction, and a training step's fingerprint is Node's", async () => {
    const page = await browser.newPage();
    const errors = collectErrors(page);
    await page.goto(`${server.url}?threads=3`);
    await demo(page);
    const ready = await page.evaluate(() => (window as unknown as { bitspikeDemo: DemoApi }).bitspikeDemo.ready);
    expect(ready).toMatchObject({ threads: 3, isolated: true, why: null });
    expect(await page.textContent("#isolation")).toMatch(/Cross-origin isolated: .* pool of 2 more worker/);

    const trained = await page.evaluate(() => (window as unknown as { bitspikeDemo: DemoApi }).bitspikeDemo.train(20));
    expect(trained.steps).toBe(20);
    const losses = await page.evaluate(() => (window as unknown as { bitspikeDemo: DemoApi }).bitspikeDemo.steps.map((s) => s.loss));
    expect(losses.length).toBe(20);
    const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)) - 0.02);
    expect(await page.$$eval("#curves svg .mark", (m) => m.length)).toBeGreaterThan(1);
    expect(await page.textContent("#stats")).toMatch(/images\/s/);

    // Draw a "1" with the mouse: a prediction, its raster and its firing rates appear.
    const box = (await page.locator("#pad").boundingBox())!;
    await page.mouse.move(box.x + 140, box.y + 50);
    await page.mouse.down();
    for (let y = 50; y <= 230; y += 10) await page.mouse.move(box.x + 140 + (y - 50) / 30, box.y + y);
    await page.mouse.up();
    await page.waitForFunction(() => /^[0-9]$/.test(document.querySelector("#prediction")!.textContent ?? ""));
    expect(await page.$$eval("#raster svg .mark", (m) => m.length)).toBeGreaterThan(4);
    expect(await page.$$eval("#rates svg .mark", (m) => m.length)).toBeGreaterThan(4);

    // Same seed, same bits: the page's step on three threads against this process's.
    const fp = await page.evaluate(() => (window as unknown as { bitspikeDemo: DemoApi }).bitspikeDemo.fingerprint());
    const { train } = loadMnist({ trainSize: 32, testSize: 1 });
    expect(fp.value).toBe(fingerprintStep(train.images, train.labels));
    expect(fp.workerParts).toBeGreaterThan(0); // the pool's workers took part

    // Weights: the page's file is a CLI weights file, and loads back.
    // (moved across as base64: a JSON array of half a million numbers is slow)
    const b64 = await page.evaluate(async () => {
      const b = await (window as unknown as { bitspikeDemo: DemoApi }).bitspikeDemo.saveBytes();
      let s = "";
      for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
      return btoa(s);
    });
    const bytes = new Uint8Array(Buffer.from(b64, "base64"));
    const model = classifierFromWeights(parseWeights(bytes, "page.safetensors"), "page.safetensors");
    expect(model.config).toMatchObject({ imgSize: 28, inChannels: 1, numClasses: 10 });
    const loaded = await page.evaluate((b) => (window as unknown as { bitspikeDemo: DemoApi }).bitspikeDemo.load(Uint8Array.from(atob(b), (c) => c.charCodeAt(0)), "page.safetensors"), b64);
    expect(loaded).toEqual({ type: "loaded", name: "page.safetensors", model: "spikformer-cifar-1-64" });
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);

  it("without the isolation headers the page says so and runs on one thread", async () => {
    const plain = await startDemoServer({ port: 0, host: "127.0.0.1", isolation: false });
    try {
      const page = await browser.newPage();
      const errors = collectErrors(page);
      await page.goto(`${plain.url}?threads=3`);
      await demo(page);
      const ready = await page.evaluate(() => (window as unknown as { bitspikeDemo: DemoApi }).bitspikeDemo.ready);
      expect(ready.isolated).toBe(false);
      expect(ready.threads).toBe(1);
      expect(await page.textContent("#isolation")).toMatch(/not cross-origin isolated .* runs on one thread/);
      const trained = await page.evaluate(() => (window as unknown as { bitspikeDemo: DemoApi }).bitspikeDemo.train(2));
      expect(trained.steps).toBe(2);
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      await plain.close();
    }
  });
});
