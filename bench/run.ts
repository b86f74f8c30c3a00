/**
 * The whole benchmark set (`npm run bench`): every bench/*.bench.ts suite in
 * turn, each in its own Node process (`node --import tsx FILE`, so one suite's
 * JIT state, heap and worker pool never colour the next), then bench/e2e.ts
 * with quick settings (both peer workloads, no warm-up, 1 timed iteration per
 * phase). Ends with a summary: each part's exit status and wall time; exits
 * non-zero if any part failed.
 *
 *   npm run bench                       everything
 *   npm run bench -- ssa spike-linear   only suites whose file name contains a word given
 *   npm run bench -- --no-e2e           the suites without the end-to-end part
 *   npm run bench -- --e2e-only         only the end-to-end part
 *
 * For the full end-to-end timings run `npx tsx bench/e2e.ts`; against PyTorch
 * and tfjs, `npm run bench:peers`.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const benchDir = dirname(fileURLToPath(import.meta.url));
const repo = resolve(benchDir, "..");
const argv = process.argv.slice(2);
const noE2e = argv.includes("--no-e2e");
const e2eOnly = argv.includes("--e2e-only");
const unknown = argv.filter((a) => a.startsWith("-") && a !== "--no-e2e" && a !== "--e2e-only");
if (unknown.length) {
  console.error(`bench/run.ts: unknown flag(s) ${unknown.join(" ")}; usage: [WORD ...] [--no-e2e | --e2e-only]`);
  process.exit(2);
}
const words = argv.filter((a) => !a.startsWith("-"));

const suites = e2eOnly ? [] : readdirSync(benchDir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => words.length === 0 || words.some((w) => f.includes(w)))
  .sort();
if (!e2eOnly && suites.length === 0) console.error(`bench/run.ts: no bench/*.bench.ts matches ${words.join(", ")}`);

const parts: { name: string; args: string[] }[] = suites.map((f) => ({ name: `bench/${f}`, args: [join(benchDir, f)] }));
if (!noE2e) parts.push({ name: "bench/e2e.ts (quick: 0 warm-up + 1 timed)", args: [join(benchDir, "e2e.ts"), "--warmup", "0", "--iters", "1"] });

const summary: string[] = [];
let failed = 0;
for (const [i, p] of parts.entries()) {
  console.log(`\n=== [${i + 1}/${parts.length}] ${p.name} ===\n`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ["--import", "tsx", ...p.args], { cwd: repo, stdio: "inherit" });
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  const ok = r.status === 0 && !r.error && !r.signal;
  if (!ok) failed++;
  const why = r.error ? `could not start: ${r.error.message}` : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
  summary.push(`${ok ? "ok    " : "FAILED"} ${String(secs).padStart(5)} s  ${p.name}${ok ? "" : ` (${why})`}`);
}

console.log("\n=== summary ===");
for (const s of summary) console.log(s);
if (failed) {
  console.error(`${failed} of ${parts.length} benchmark part(s) failed`);
  process.exit(1);
}
