/**
 * How much a busy neighbour core slows one thread: one-thread steps of an e2e workload alternate between
 * "alone" (a twin process running the same workload paused) and "beside a twin" (the twin stepping), in one
 * process, so the machine's drift hits both alike. The twin shares no data with this process, so the
 * slowdown is the machine's (shared cache, memory bandwidth, clock), not the pool's: it is the part of a
 * two-thread step's shortfall (`bench/pool-split.ts`: the calling thread's part over half the one-thread
 * time) that no split can remove. The twin pauses between its steps when a flag file appears (and says so
 * in another), and exits when this process is gone (removing the flags' folder).
 *
 *   npx tsx bench/neighbour.ts [--config mnist-b64|cifar-b8] [--phase train|infer] [--rounds 8]
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setThreads } from "../src/parallel/pool.js";
import { stepScope } from "../src/tensor/retain.js";
import { workloadSteps } from "./e2e.js";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const config = flag("config", "mnist-b64"), phase = flag("phase", "train"), rounds = Number(flag("rounds", "8"));
if (phase !== "train" && phase !== "infer") throw new Error(`bench/neighbour.ts: --phase takes train or infer, got ${phase}`);
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`bench/neighbour.ts: --rounds takes an integer >= 1, got ${rounds}`);

const nap = new Int32Array(new SharedArrayBuffer(4));
/** Blocks this thread for `ms` (no busy wait: a paused twin must leave its core idle). */
const sleep = (ms: number): void => void Atomics.wait(nap, 0, 0, ms);

setThreads(1);
const { model, infer, train } = workloadSteps(config);
const step = phase === "train" ? train : infer;

const twinDir = flag("twin", "");
if (twinDir !== "") {
  // The twin: steps until its parent is gone (re-parented), pausing while the pause file exists.
  const parent = process.ppid, pause = join(twinDir, "pause"), paused = join(twinDir, "paused");
  while (process.ppid === parent) {
    if (!existsSync(pause)) {
      stepScope(step, model);
      continue;
    }
    writeFileSync(paused, "");
    while (existsSync(pause) && process.ppid === parent) sleep(2);
    unlinkSync(paused);
  }
  rmSync(twinDir, { recursive: true, force: true }); // the parent is gone: its flag files too
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), "bitspike-neighbour-"));
const pause = join(dir, "pause"), paused = join(dir, "paused");
const twin = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--config", config, "--phase", phase, "--twin", dir], { stdio: "ignore" });
const waitFor = (done: () => boolean, what: string): void => {
  const end = Date.now() + 120_000;
  while (!done()) {
    if (twin.exitCode !== null || Date.now() > end) throw new Error(`bench/neighbour.ts: the twin did not ${what} (exit code ${twin.exitCode})`);
    sleep(1);
  }
};
try {
  await new Promise((r) => setTimeout(r, 5000)); // the twin builds its model and warms up
  for (let i = 0; i < 2; i++) stepScope(step, model);
  const alone: number[] = [], beside: number[] = [];
  const timed = (into: number[]): void => {
    const t0 = performance.now();
    stepScope(step, model);
    into.push(performance.now() - t0);
  };
  for (let r = 0; r < rounds; r++) {
    writeFileSync(pause, "");
    waitFor(() => existsSync(paused), "pause");
    timed(alone);
    unlinkSync(pause);
    waitFor(() => !existsSync(paused), "resume");
    sleep(20);
    timed(beside);
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
  const paired = median(beside.map((b, i) => b / alone[i]!));
  console.log(`${config} ${phase}, one thread, ${rounds} rounds (ms a step, median (min-max))`);
  for (const [name, v] of [["alone", alone], ["beside a twin", beside]] as const) {
    console.log(`  ${name.padEnd(14)} ${median(v).toFixed(1)} (${Math.min(...v).toFixed(0)}-${Math.max(...v).toFixed(0)})`);
  }
  console.log(`  beside / alone, paired median: ${paired.toFixed(3)}x`);
} finally {
  twin.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
