/**
 * Where a second thread's time goes: the CPU time of each function (self time,
 * the calling thread's and the worker's side by side and summed, from `node --cpu-prof`, which writes a
 * profile per thread) per training step (or inference pass) of an e2e workload
 * on one thread and on two, and their ratio. A kernel whose summed time grows
 * on two threads pays for something the split brings (data another core wrote,
 * waiting, staging), not for its own work, which is the same.
 *
 *   npx tsx bench/thread-cost.ts [--config mnist-b64] [--phase train|infer] [--steps 6] [--top 25]
 *
 * Each thread count runs in a child process: two warm-up steps, then --steps
 * timed ones under the V8 CPU profiler of every thread (the main thread's
 * through node:inspector, each worker's through the pool tasks of
 * bench/thread-profile-tasks.ts). The machine should be otherwise idle; compare
 * numbers from the same run.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { poolReady, runParts, setThreads, shutdownPool, usableThreads } from "../src/parallel/pool.js";
import { stepScope } from "../src/tensor/retain.js";
import { WORKLOADS, workloadSteps } from "./e2e.js";
import { OP_PROFILE_START, OP_PROFILE_STOP, workerProfilePath } from "./thread-profile-tasks.js";

const self = fileURLToPath(import.meta.url);
const repo = resolve(dirname(self), "..");

interface Args { config: string; phase: "train" | "infer"; steps: number; top: number; child: boolean; threads: number }

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { config: "mnist-b64", phase: "train", steps: 6, top: 25, child: false, threads: 1 };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!, v = argv[i + 1];
    const int = (): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`bench/thread-cost.ts: ${f} takes an integer >= 0, got ${v}`);
      i++;
      return n;
    };
    if (f === "--config") { if (!v || !WORKLOADS[v]) throw new Error(`bench/thread-cost.ts: --config takes one of ${Object.keys(WORKLOADS).join(", ")}, got ${v}`); a.config = v; i++; }
    else if (f === "--phase") { if (v !== "train" && v !== "infer") throw new Error(`bench/thread-cost.ts: --phase takes train or infer, got ${v}`); a.phase = v; i++; }
    else if (f === "--steps") a.steps = int();
    else if (f === "--top") a.top = int();
    else if (f === "--threads") a.threads = int();
    else if (f === "--child") a.child = true;
    else throw new Error(`bench/thread-cost.ts: unknown flag '${f}' (usage: [--config mnist-b64] [--phase train|infer] [--steps 6] [--top 25])`);
  }
  return a;
}

/** The child: two warm-up steps, then `steps` timed ones; prints their wall times (ms) as JSON. */
async function child(a: Args): Promise<void> {
  setThreads(a.threads);
  await poolReady();
  const { model, infer, train } = workloadSteps(a.config);
  const step = a.phase === "train" ? train : infer;
  for (let i = 0; i < 2; i++) stepScope(step, model);
  const run = process.pid;
  const workers = usableThreads() - 1;
  const onWorkers = (op: number, arg: number): void => runParts("thread-cost", Array.from({ length: workers }, (_, j) => ({ op, args: [arg, j], bufs: [] })), () => {});
  const main = new Session();
  main.connect();
  await main.post("Profiler.enable");
  await main.post("Profiler.setSamplingInterval", { interval: SAMPLE_US });
  await main.post("Profiler.start");
  onWorkers(OP_PROFILE_START, SAMPLE_US);
  const ms: number[] = [];
  for (let i = 0; i < a.steps; i++) {
    const t0 = performance.now();
    stepScope(step, model);
    ms.push(performance.now() - t0);
  }
  onWorkers(OP_PROFILE_STOP, run);
  const { profile } = await main.post("Profiler.stop");
  await shutdownPool();
  console.log(JSON.stringify({ ms, main: profile, workers: Array.from({ length: workers }, (_, j) => workerProfilePath(run, j)) }));
}

/** Profiler sampling interval, microseconds. */
const SAMPLE_US = 200;

interface CpuProfile { nodes: { id: number; callFrame: { functionName: string; url: string } }[]; samples: number[]; timeDeltas: number[] }

/** Self time (ms) per function over the profiles (all threads), keyed "name (wasm | file)". */
function selfTimes(profiles: readonly CpuProfile[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of profiles) {
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    for (let i = 0; i < p.samples.length; i++) {
      const n = byId.get(p.samples[i]!)!;
      const url = n.callFrame.url;
      const where = url.startsWith("wasm") ? "wasm" : url.replace(/^.*\/(src|bench|node_modules)\//, "$1/").replace(/^file:\/\//, "");
      const key = `${n.callFrame.functionName || "(anonymous)"}${where ? ` (${where})` : ""}`;
      out.set(key, (out.get(key) ?? 0) + (p.timeDeltas[i + 1] ?? 0) / 1000);
    }
  }
  return out;
}

/** Runs the child; returns the per-function self times of its timed steps (the calling thread's, the workers' summed) and their wall times. */
function profiled(a: Args, threads: number): { main: Map<string, number>; workers: Map<string, number>; ms: number[] } {
  const argv = ["--import", "tsx", self, "--child", "--config", a.config, "--phase", a.phase, "--threads", String(threads), "--steps", String(a.steps)];
  const r = spawnSync(process.execPath, argv, { cwd: repo, encoding: "utf8", maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`bench/thread-cost.ts: the child (${threads} threads) failed: ${(r.stderr || r.error?.message || "").trim().split("\n").slice(-3).join(" | ")}`);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { ms: number[]; main: CpuProfile; workers: string[] };
  const workers: CpuProfile[] = [];
  for (const f of out.workers) {
    if (!existsSync(f)) throw new Error(`bench/thread-cost.ts: worker profile ${f} is missing`);
    workers.push(JSON.parse(readFileSync(f, "utf8")) as CpuProfile);
    rmSync(f, { force: true });
  }
  return { main: selfTimes([out.main]), workers: selfTimes(workers), ms: out.ms };
}

const median = (v: readonly number[]): number => [...v].sort((p, q) => p - q)[v.length >> 1]!;

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.child) return child(a);
  if (a.steps < 1) throw new Error("bench/thread-cost.ts: --steps must be at least 1");
  const perStep = (m: Map<string, number>): Map<string, number> => new Map([...m].map(([k, v]) => [k, v / a.steps]));
  const runs = [1, 2].map((threads) => {
    process.stderr.write(`[thread-cost] ${a.config} ${a.phase}, ${threads} thread(s), ${a.steps} profiled steps\n`);
    const run = profiled(a, threads);
    return { main: perStep(run.main), workers: perStep(run.workers), wall: median(run.ms) };
  });
  const walls = runs.map((r) => r.wall);
  const [one, twoMain, twoWorkers] = [runs[0]!.main, runs[1]!.main, runs[1]!.workers];
  const two = new Map([...twoMain]);
  for (const [k, v] of twoWorkers) two.set(k, (two.get(k) ?? 0) + v);
  const idle = (k: string): boolean => k.startsWith("(idle)");
  const sum = (m: Map<string, number>): number => [...m].filter(([k]) => !idle(k)).reduce((s, [, v]) => s + v, 0);
  const rows = [...new Set([...one.keys(), ...two.keys()])].filter((k) => !idle(k))
    .map((k) => [k, one.get(k) ?? 0, twoMain.get(k) ?? 0, twoWorkers.get(k) ?? 0] as const)
    .sort((p, q) => Math.max(q[1], q[2] + q[3]) - Math.max(p[1], p[2] + p[3]));
  const f = (v: number): string => v.toFixed(1);
  console.log(`\n${a.config} ${a.phase}: ${f(walls[0]!)} ms a step on one thread, ${f(walls[1]!)} on two (${(walls[0]! / walls[1]!).toFixed(2)}x); ` +
    `CPU a step (all threads, idle excluded) ${f(sum(one))} -> ${f(sum(two))} ms (${(sum(two) / sum(one)).toFixed(2)}x); ` +
    `on two threads the calling thread ${f(sum(twoMain))}, the worker ${f(sum(twoWorkers))}\n`);
  console.log("| function | 1 thread, ms a step | 2 threads: calling thread | worker | both / 1 thread |");
  console.log("|---|---:|---:|---:|---:|");
  for (const [k, v1, m, w] of rows.slice(0, a.top)) console.log(`| ${k} | ${f(v1)} | ${f(m)} | ${f(w)} | ${v1 > 0.5 ? `${((m + w) / v1).toFixed(2)}x` : "-"} |`);
  console.log(`\nSelf times per step over ${a.steps} profiled steps (after two warm-up steps), every thread's profile summed.`);
}

main().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exit(1);
});
