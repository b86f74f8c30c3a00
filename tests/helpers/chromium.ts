import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's Chromium (apt-get install chromium; .ci/run installs it), or BITSPIKE_CHROMIUM. */
export const CHROMIUM = process.env.BITSPIKE_CHROMIUM ?? "/usr/bin/chromium";

/**
 * Whether the browser tests can run here. In CI a missing Chromium is an
 * error (the tests fail, loudly); on a developer's machine without it they are skipped.
 */
export function chromiumPresent(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI) throw new Error(`the browser tests need Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);
  console.warn(`browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  return false;
}

/** Headless Chromium with no network of its own (no updates, sync or background requests), a fresh profile. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Every console error and uncaught page error of a page, as text. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => errors.push(`page: ${e.message}`));
  return errors;
}
