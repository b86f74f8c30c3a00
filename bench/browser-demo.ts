/**
 * Training speed of the browser demo in Debian's Chromium, per thread count:
 * the median images/s of steps 11..STEPS (batch 32) on a fresh page each.
 *
 *   npx tsx bench/browser-demo.ts [threads,threads,...] [steps]     e.g. 1,2,3 40
 */
import { startDemoServer } from "../src/cli/serve.js";
import { launchChromium } from "../tests/helpers/chromium.js";

const args = process.argv.slice(2);
const counts = (args.find((a) => a.includes(",")) ?? "1,2").split(",").map(Number);
const steps = Number(args.find((a) => /^\d+$/.test(a)) ?? 40);
type Api = { ready: Promise<unknown>; train(n: number): Promise<unknown>; steps: { imagesPerSecond: number }[] };

const server = await startDemoServer({ port: 0, host: "127.0.0.1", isolation: true });
const browser = await launchChromium();
try {
  for (const t of counts) {
    const page = await browser.newPage();
    await page.goto(`${server.url}?threads=${t}`);
    await page.waitForFunction(() => (window as unknown as { bitspikeDemo?: unknown }).bitspikeDemo !== undefined);
    await page.evaluate(() => (window as unknown as { bitspikeDemo: Api }).bitspikeDemo.ready);
    await page.evaluate((n) => (window as unknown as { bitspikeDemo: Api }).bitspikeDemo.train(n), steps);
    const ips = await page.evaluate(() => (window as unknown as { bitspikeDemo: Api }).bitspikeDemo.steps.slice(10).map((s) => s.imagesPerSecond).sort((a, b) => a - b));
    console.log(`threads ${t}: median ${ips[ips.length >> 1]!.toFixed(0)} images/s over steps 11-${steps} (${ips[0]!.toFixed(0)}-${ips[ips.length - 1]!.toFixed(0)})`);
    await page.close();
  }
} finally {
  await browser.close();
  await server.close();
}
