/**
 * The README's screenshots, taken in Debian's Chromium (as the browser tests drive it):
 *
 *   npx tsx scripts/screenshots.ts report RUN_DIR docs/report.png   the report of a run (bitspike report RUN_DIR first)
 *   npx tsx scripts/screenshots.ts demo STEPS docs/demo.png          the demo after STEPS training steps and a drawn digit
 */
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { startDemoServer } from "../src/cli/serve.js";
import { launchChromium } from "../tests/helpers/chromium.js";

const [what, arg, out] = process.argv.slice(2);
if (!what || !arg || !out) throw new Error("usage: screenshots.ts report RUN_DIR OUT.png | demo STEPS OUT.png");
const browser = await launchChromium();
try {
  if (what === "report") {
    const page = await browser.newPage({ viewport: { width: 1150, height: 900 } });
    await page.goto(pathToFileURL(resolve(join(arg, "report.html"))).href);
    await page.screenshot({ path: out, fullPage: true });
  } else {
    const server = await startDemoServer({ port: 0, host: "127.0.0.1", isolation: true });
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(server.url);
    await page.waitForFunction(() => (window as unknown as { bitspikeDemo?: unknown }).bitspikeDemo !== undefined);
    type Api = { ready: Promise<unknown>; train(n: number): Promise<unknown> };
    await page.evaluate(() => (window as unknown as { bitspikeDemo: Api }).bitspikeDemo.ready);
    await page.evaluate((n) => (window as unknown as { bitspikeDemo: Api }).bitspikeDemo.train(n), Number(arg));
    // A "7": a bar across the top, then a stroke down to the lower left.
    const box = (await page.locator("#pad").boundingBox())!;
    const stroke = async (pts: [number, number][]): Promise<void> => {
      await page.mouse.move(box.x + pts[0]![0], box.y + pts[0]![1]);
      await page.mouse.down();
      for (const [x, y] of pts.slice(1)) await page.mouse.move(box.x + x, box.y + y, { steps: 8 });
      await page.mouse.up();
    };
    await stroke([[70, 60], [210, 60], [150, 150], [115, 235]]);
    await page.waitForFunction(() => /^[0-9]$/.test(document.querySelector("#prediction")!.textContent ?? ""));
    await page.screenshot({ path: out, fullPage: true });
    await server.close();
  }
} finally {
  await browser.close();
}
console.log(`wrote ${out}`);
