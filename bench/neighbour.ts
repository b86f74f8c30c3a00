/**
 * How much a busy neighbour core slows one thread: one-thread steps of an e2e workload alternate between
 * "alone" (a twin process running the same workload stopped with SIGSTOP) and "beside a twin" (the twin
 * running), in one process, so the machine's drift hits both alike. The twin shares no data with this
 * process, so the slowdown is the machine's (shared cache, memory bandwidth, clock), not the pool's: it is
 * the part of a two-thread step's shortfall (`bench/pool-split.ts`: the calling thread's part over half the
 * one-thread time) that no split can remove. POSIX only (SIGSTOP / SIGCONT).
 *
 *   npx tsx bench/neighbour.ts [--config mnist-b64|cifar-b8] [--phase train|infer] [--rounds 8]
 */
import { spawn } from "node:child_process";
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
if (process.platform === "win32") throw new Error("bench/neighbour.ts: needs SIGSTOP / SIGCONT (POSIX)");

setThreads(1);
const { model, infer, train } = workloadSteps(config);
const step = phase === "train" ? train : infer;
if (process.argv.includes("--twin")) for (;;) stepScope(step, model); // the neighbour: steps until killed

const twin = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--config", config, "--phase", phase, "--twin"], { stdio: "ignore" });
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
try {
  await pause(5000); // the twin builds its model and warms up
  for (let i = 0; i < 2; i++) stepScope(step, model);
  const alone: number[] = [], beside: number[] = [];
  const timed = (into: number[]) => {
    const t0 = performance.now();
    stepScope(step, model);
    into.push(performance.now() - t0);
  };
  for (let r = 0; r < rounds; r++) {
    twin.kill("SIGSTOP");
    await pause(20);
    timed(alone);
    twin.kill("SIGCONT");
    await pause(20);
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
}
