/**
 * End-to-end timings of whole Spikformer models on the workloads of the PyTorch
 * peer (../shared/peers/torch_ref/bench.py), with the same definitions:
 *
 *   inference   model.eval(), noGrad(() => model.forward(x)), the batch norms' running statistics
 *               first set to one train-mode batch's (see calibrateNorms: spike rates as trained)
 *   train step  model.train(), zeroGrad, crossEntropy(model.forward(x), y), backward
 *               (no optimizer step; BN uses batch statistics and updates its running ones)
 *
 * on random inputs (x ~ N(0, 1), labels uniform in 0..9; the peer uses torch.randn,
 * so the spike rates are comparable, but not the exact values). Warm-up iterations,
 * then timed ones: median (min-max) ms per iteration. Peak memory per phase is the
 * kernel's resident-set high-water mark (VmHWM in /proc/self/status, reset through
 * /proc/self/clear_refs before each phase, so it covers the model, the inputs, the
 * worker threads and every intermediate of that phase); where that reset is not
 * possible it falls back to the highest process.memoryUsage().rss sampled after each
 * iteration (a lower bound) and says so. process.resourceUsage().maxRSS (the
 * process's lifetime peak) is printed as well.
 *
 * Besides the peer's workloads, main-b32 is the step of the main job (npm start: Spikformer-1-96, T = 1,
 * batch 32 of MNIST; no peer runs it), for the other benches (pool-split.ts, knobs.ts, kernel-families.ts).
 *
 *   npx tsx bench/e2e.ts [--configs cifar-b8,mnist-b64] [--iters 5] [--warmup 5]
 *                        [--threads 2 | --threads 1,2] [--rounds N] [--paired N] [--json]
 *
 * Each (workload, thread count) pair runs in its own Node process (this file
 * with --in-process), so memory kept by an earlier workload or JIT state never
 * colours the next one; --in-process runs them all in this process instead.
 * Progress goes to stderr; results (a table, or JSON with --json) to stdout.
 * With several thread counts, one thread's median over more threads' is printed per workload and phase. `--rounds N`
 * runs everything N times (a workload's thread counts one after the other each round): on a machine whose speed
 * drifts within minutes, each round's own ratio is the fair one, and their median is printed with the rounds'.
 * `--paired N` then also reads the speed-up of the largest thread count pass by pass in this process
 * ({@link pairedThreadSpeedups}): on a host whose vCPUs change speed within a minute, the fairer reading.
 * bench/peers.ts imports {@link runAll}, {@link WORKLOADS}, the formatters and the rounds' helpers.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Spikformer } from "../src/models/spikformer.js";
import { spikformerConfig, type SpikformerOverrides } from "../src/models/config.js";
import { BatchNorm1d, BatchNorm2d } from "../src/nn/norm.js";
import { Tensor } from "../src/tensor/tensor.js";
import { Rng } from "../src/tensor/random.js";
import { crossEntropy } from "../src/ops/loss.js";
import { backward, noGrad } from "../src/autograd/tape.js";
import { poolInfo, poolReady, setThreads, shutdownPool } from "../src/parallel/pool.js";
import { heapStats, resetHeapCounters } from "../src/tensor/heap.js";
import { stepScope } from "../src/tensor/retain.js";
import { measureBalance, medianRatio } from "./vcpu-balance.js";
import { alternatePasses, fmtInterval, medianOf, pairedInterval, pairedMedian, setSplits } from "./paired.js";

export { medianOf };

/** One workload of the peer's bench.py. */
export interface Workload {
  name: string;
  /** The peer's description of it. */
  desc: string;
  model: string;
  overrides: SpikformerOverrides;
  batch: number;
  /** Image shape [C, H, W]. */
  input: readonly [number, number, number];
  /** Parameter count the PyTorch peer prints for it (results-torch.md); null: no peer runs it. */
  peerParams: number | null;
}

const CIFAR_B8: Workload = {
  name: "cifar-b8",
  desc: "Spikformer-4-384 V1, CIFAR 32x32x3, patch 4 (64 tokens), T=4, 12 heads",
  model: "spikformer-cifar-4-384",
  overrides: { imgSize: 32, inChannels: 3, patchSize: 4, T: 4, numHeads: 12, numClasses: 10, mlpRatio: 4 },
  batch: 8,
  input: [3, 32, 32],
  peerParams: 9_324_730,
};

const MNIST_B64: Workload = {
  name: "mnist-b64",
  desc: "Spikformer-2-128 V1, MNIST 28x28x1, patch 4 (49 tokens), T=4, 4 heads",
  model: "spikformer-cifar-2-128",
  overrides: { imgSize: 28, inChannels: 1, patchSize: 4, T: 4, numHeads: 4, numClasses: 10, mlpRatio: 4 },
  batch: 64,
  input: [1, 28, 28],
  peerParams: 646_522,
};

/** The peer's configurations (bench.py CONFIGS), mapped onto our model names and overrides; and the main job's step. */
export const WORKLOADS: Record<string, Workload> = {
  "cifar-b8": CIFAR_B8,
  "cifar-b32": { ...CIFAR_B8, name: "cifar-b32", batch: 32 },
  "mnist-b64": MNIST_B64,
  "main-b32": {
    ...MNIST_B64,
    name: "main-b32",
    desc: "Spikformer-1-96 V1, MNIST 28x28x1, patch 4 (49 tokens), T=1, 3 heads: the main job's step (npm start)",
    model: "spikformer-cifar-1-96",
    overrides: { ...MNIST_B64.overrides, T: 1, numHeads: 3 },
    batch: 32,
    peerParams: null,
  },
};

export const DEFAULT_CONFIGS = ["cifar-b8", "mnist-b64"];

/** Per-iteration times of one phase, ms. */
export interface Timing {
  median: number;
  min: number;
  max: number;
  warmup: number;
  times: number[];
}

/** Peak memory of one phase. */
export interface PhaseMemory {
  /** Peak resident set, MB (10^6 bytes). */
  peakMB: number;
  /** Peak bytes live in the heap (src/tensor/heap.ts) during the phase, MB. */
  heapPeakMB: number;
  /** Bytes kernels copied into or out of the heap during the phase (foreign arrays): 0 when every operand is a heap array. */
  stagedBytes: number;
  /** "VmHWM" (kernel high-water mark, reset at the start of the phase) or "rss-sampled" (lower bound). */
  method: "VmHWM" | "rss-sampled";
}

export interface E2EResult {
  name: string;
  desc: string;
  model: string;
  batch: number;
  /** Trainable parameter values of our model. */
  params: number;
  /** Of those, in the LayerNorms norm1 / norm2 the official code builds but never uses. */
  unusedParams: number;
  /** What the PyTorch peer prints (its model has no unused LayerNorms). */
  peerParams: number | null;
  threads: number;
  /** Threads actually usable (1 + ready workers) after poolReady(). */
  usableThreads: number;
  infer: Timing;
  train: Timing;
  /** RSS before the workload's first phase (model and inputs built), MB. */
  baselineMB: number;
  inferMem: PhaseMemory;
  trainMem: PhaseMemory;
  /** process.resourceUsage().maxRSS after the workload, MB: the lifetime peak of the process that ran it. */
  processMaxRssMB: number;
  /** Loss of the last train step (a sanity value: about ln 10 = 2.30 at initialisation). */
  loss: number;
  /** Worker parts run during the workload (0 means everything ran on the main thread). */
  workerParts: number;
  /** True when the workload had a process of its own. */
  isolated: boolean;
}

export interface RunOptions {
  iters: number;
  warmup: number;
  threads: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

const MB = 1e6;

/** Resets the kernel's peak-RSS counter of this process; false where that is not allowed. */
function resetPeak(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** VmHWM of this process in bytes, or null where /proc is missing. */
function readPeak(): number | null {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function summarise(times: number[], warmup: number): Timing {
  const s = [...times].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[(n - 1) >> 1]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { median, min: s[0]!, max: s[n - 1]!, warmup, times };
}

/**
 * Sets every batch norm's running statistics to those of one train-mode
 * forward of x, as a trained model's would be for such inputs. At their
 * initial values (mean 0, variance 1) the eval-mode network after the stem
 * barely fires (the projections' outputs are small), and event-driven
 * inference would be timed on nearly no spikes; PyTorch's dense time does
 * not depend on the values.
 */
export function calibrateNorms(model: Spikformer, x: Tensor): void {
  const norms = [...model.modules()].filter((m): m is BatchNorm1d | BatchNorm2d => m instanceof BatchNorm1d || m instanceof BatchNorm2d);
  const momenta = norms.map((m) => m.momentum);
  for (const m of norms) {
    m.resetRunningStats();
    m.momentum = null; // the first batch's statistics exactly
  }
  model.train();
  stepScope(() => void noGrad(() => model.forward(x)), model);
  norms.forEach((m, i) => (m.momentum = momenta[i]!));
}

/** The workload called `name`, or an error naming the known ones. */
function workload(name: string): Workload {
  const w = WORKLOADS[name];
  if (!w) throw new Error(`unknown workload '${name}'; known: ${Object.keys(WORKLOADS).join(", ")}`);
  return w;
}

/** A workload's fresh model and its seeded input (x ~ N(0, 1)) and labels (uniform in 0..9). */
function workloadInputs(w: Workload): { model: Spikformer; x: Tensor; labels: Int32Array } {
  const model = new Spikformer(spikformerConfig(w.model, w.overrides));
  const rng = new Rng(0);
  const x = Tensor.normal([w.batch, ...w.input], rng);
  const labels = Int32Array.from({ length: w.batch }, () => Math.min(9, Math.floor(rng.uniform() * 10)));
  return { model, x, labels };
}

/**
 * A workload's model (norms calibrated) on its seeded input and labels, with its two timed steps: inference
 * (eval mode, no gradients) and a training step (forward, cross-entropy, backward releasing activations as
 * the training loop does; no optimizer step). For the scripts that time steps their own way.
 */
export function workloadSteps(name: string): { model: Spikformer; infer: () => void; train: () => void } {
  const { model, x, labels } = workloadInputs(workload(name));
  calibrateNorms(model, x);
  return {
    model,
    infer: () => { model.eval(); noGrad(() => void model.forward(x)); },
    train: () => { model.train(); model.zeroGrad(); backward(crossEntropy(model.forward(x), labels), undefined, { releaseActivations: true }); },
  };
}

/** Builds the model and inputs of a workload and times inference, then a train step. */
export async function runWorkload(name: string, opts: RunOptions): Promise<E2EResult> {
  const w = workload(name);
  if (!(opts.iters >= 1)) throw new Error(`--iters must be >= 1, got ${opts.iters}`);
  const log = opts.log ?? ((l: string) => process.stderr.write(l + "\n"));

  setThreads(opts.threads);
  const usableThreads = await poolReady();
  if (usableThreads < opts.threads) log(`  note: ${opts.threads} threads requested, ${usableThreads} usable${poolInfo().disabled ? ` (${poolInfo().disabled})` : ""}`);

  const { model, x, labels } = workloadInputs(w);
  let params = 0, unusedParams = 0;
  for (const [n, p] of model.namedParameters()) {
    if (!p.requiresGrad) continue;
    params += p.size;
    if (/\.norm[12]\./.test(n)) unusedParams += p.size;
  }
  const parts0 = poolInfo().workerParts;
  const baselineMB = process.memoryUsage().rss / MB;

  const phase = (label: string, step: () => number | void): { timing: Timing; mem: PhaseMemory; last: number } => {
    const exact = resetPeak() && readPeak() !== null;
    resetHeapCounters();
    let sampled = process.memoryUsage().rss;
    const times: number[] = [];
    let last = NaN;
    const total = opts.warmup + opts.iters;
    for (let i = 0; i < total; i++) {
      const t0 = performance.now();
      const v = stepScope(step, model);
      const ms = performance.now() - t0;
      if (typeof v === "number") last = v;
      sampled = Math.max(sampled, process.memoryUsage().rss);
      const warm = i < opts.warmup;
      if (!warm) times.push(ms);
      log(`  ${w.name} ${label} ${warm ? `warm-up ${i + 1}/${opts.warmup}` : `${i - opts.warmup + 1}/${opts.iters}`}: ${ms.toFixed(0)} ms`);
    }
    const peak = exact ? readPeak() : null;
    const hs = heapStats();
    const heap = { heapPeakMB: hs.peakBytes / MB, stagedBytes: hs.stagedBytes };
    const mem: PhaseMemory = peak !== null ? { peakMB: peak / MB, method: "VmHWM", ...heap } : { peakMB: sampled / MB, method: "rss-sampled", ...heap };
    return { timing: summarise(times, opts.warmup), mem, last };
  };

  log(`${w.name}: ${w.model} B=${w.batch}, ${params.toLocaleString("en-US")} params, ${opts.threads} thread(s) (usable ${usableThreads}), ${opts.warmup} warm-up + ${opts.iters} timed`);
  calibrateNorms(model, x);
  const inf = phase("inference", () => {
    model.eval();
    noGrad(() => model.forward(x));
  });
  const tr = phase("train step", () => {
    model.train();
    model.zeroGrad();
    const loss = crossEntropy(model.forward(x), labels);
    const l = loss.item();
    backward(loss, undefined, { releaseActivations: true }); // as the training loop does
    return l;
  });
  model.zeroGrad();

  return {
    name: w.name, desc: w.desc, model: w.model, batch: w.batch, params, unusedParams, peerParams: w.peerParams,
    threads: opts.threads, usableThreads,
    infer: inf.timing, train: tr.timing,
    baselineMB, inferMem: inf.mem, trainMem: tr.mem,
    processMaxRssMB: (process.resourceUsage().maxRSS * 1024) / MB,
    loss: tr.last,
    workerParts: poolInfo().workerParts - parts0,
    isolated: false,
  };
}

/** "median (min-max)" in ms. */
export function fmtTiming(t: Timing): string {
  const d = t.median >= 100 ? 0 : 1;
  return `${t.median.toFixed(d)} (${t.min.toFixed(d)}-${t.max.toFixed(d)})`;
}

export function fmtMem(m: PhaseMemory): string {
  return `${m.peakMB.toFixed(0)}${m.method === "VmHWM" ? "" : "*"}`;
}

/** A markdown-style table of results, with the notes it needs. */
export function formatResults(results: readonly E2EResult[]): string {
  const lines = [
    "| workload | threads | params (peer) | inference ms, median (min-max) | train step ms, median (min-max) | img/s infer / train | peak RSS MB infer / train (baseline) | peak heap MB infer / train | bytes staged infer / train |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of results) {
    const ips = (t: Timing): string => ((r.batch * 1000) / t.median).toFixed(1);
    lines.push(`| ${r.name} (B=${r.batch}) | ${r.threads}${r.usableThreads !== r.threads ? ` (usable ${r.usableThreads})` : ""} | ` +
      `${r.params.toLocaleString("en-US")} (${r.peerParams?.toLocaleString("en-US") ?? "no peer"}) | ${fmtTiming(r.infer)} | ${fmtTiming(r.train)} | ` +
      `${ips(r.infer)} / ${ips(r.train)} | ${fmtMem(r.inferMem)} / ${fmtMem(r.trainMem)} (${r.baselineMB.toFixed(0)}) | ` +
      `${r.inferMem.heapPeakMB.toFixed(0)} / ${r.trainMem.heapPeakMB.toFixed(0)} | ${r.inferMem.stagedBytes} / ${r.trainMem.stagedBytes} |`);
  }
  const notes: string[] = [];
  const iters = [...new Set(results.map((r) => `${r.infer.warmup} warm-up + ${r.infer.times.length} timed`))].join(", ");
  notes.push(`Timing: ${iters} iterations per phase; inference = eval mode under noGrad, train step = train-mode forward + cross-entropy + backward (no optimizer step).`);
  if (results.some((r) => r.inferMem.method === "VmHWM" || r.trainMem.method === "VmHWM")) {
    notes.push("Peak RSS: kernel high-water mark (VmHWM, /proc/self/status) reset via /proc/self/clear_refs at the start of each phase: model, inputs, workers and every intermediate of the phase; baseline = RSS with model and inputs built.");
  }
  if (results.some((r) => r.inferMem.method === "rss-sampled" || r.trainMem.method === "rss-sampled")) {
    notes.push("* = VmHWM could not be reset here: highest process.memoryUsage().rss sampled after each iteration (a lower bound).");
  }
  notes.push(`process.resourceUsage().maxRSS, lifetime peak of the process that ran the workload: ` +
    results.map((r) => `${r.name} ${r.threads}t ${r.processMaxRssMB.toFixed(0)} MB`).join(", ") +
    (results.some((r) => r.isolated === false) ? " (one process ran several workloads: later rows include earlier ones' retained memory)." : "."));
  const unused = results.filter((r, i) => r.peerParams !== null && r.params !== r.peerParams && results.findIndex((q) => q.name === r.name) === i);
  for (const r of unused) {
    const diff = r.params - r.peerParams!;
    notes.push(`${r.name}: ${r.params.toLocaleString("en-US")} params vs the peer's ${r.peerParams!.toLocaleString("en-US")} (+${diff.toLocaleString("en-US")}); ` +
      `${r.unusedParams.toLocaleString("en-US")} are in the LayerNorms norm1/norm2 that the official model builds but never calls (kept for its state dict; the peer omits them)` +
      `${diff === r.unusedParams ? ", so the models used are the same size" : ""}.`);
  }
  for (const r of results) if (r.threads > 1 && r.workerParts === 0) notes.push(`${r.name}: ${r.threads} threads requested but no part ran on a worker.`);
  return [...lines, "", ...notes.map((n) => `- ${n}`)].join("\n");
}

/** A timing's spread: its median, min and max. */
export interface Spread { median: number; min: number; max: number }

/** Rounds' timings of one cell as one: the median of their medians, the least min and the largest max. */
export function mergeTimings(ts: readonly Spread[]): Spread {
  return { median: medianOf(ts.map((t) => t.median)), min: Math.min(...ts.map((t) => t.min)), max: Math.max(...ts.map((t) => t.max)) };
}

/**
 * Takes every `flag V` and `flag=V` out of argv: the last V, undefined when the flag is absent, "" when it
 * has none (at the end, or followed by another flag).
 */
export function takeFlag(argv: string[], flag: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    if (f !== flag && !f.startsWith(`${flag}=`)) continue;
    const inline = f.includes("=");
    const v = inline ? f.slice(f.indexOf("=") + 1) : argv[i + 1];
    value = v === undefined || v.startsWith("--") ? "" : v;
    argv.splice(i, inline || value === "" ? 1 : 2);
    i--;
  }
  return value;
}

/**
 * Takes `--rounds N` (or `--rounds=N`) out of argv: how many rounds a bench runs (bench/peers.ts: bitspike then
 * PyTorch; this file: each workload at each thread count, one after the other); 1 when absent. Anything but an
 * integer >= 1 is an error before anything runs.
 */
export function takeRounds(argv: string[]): number {
  return takeCount(argv, "--rounds", 1);
}

/**
 * Takes `--paired N` out of argv: the rounds of {@link pairedThreadSpeedups} this file runs after its own; 0
 * (none) when absent. Anything but an integer >= 1 is an error before anything runs.
 */
export function takePaired(argv: string[]): number {
  return takeCount(argv, "--paired", 0);
}

/** Takes `flag N` out of argv: N, an integer >= 1, or `absent` when the flag is not there. */
export function takeCount(argv: string[], flag: string, absent: number): number {
  const v = takeFlag(argv, flag);
  if (v === undefined) return absent;
  const n = Number(v);
  if (v === "" || !Number.isInteger(n) || n < 1) throw new Error(`${flag} needs an integer >= 1, got '${v}'`);
  return n;
}

/**
 * One workload phase's two-thread speed-up read pass by pass: the paired median, the central 95% of it over the
 * rounds resampled (bench/paired.ts pairedInterval), and each arm's median ms.
 */
export interface PairedSpeedup { speedUp: number; interval: [number, number]; oneMs: number; manyMs: number }

/**
 * More threads over one, pass by pass in this process (bench/paired.ts): per workload and phase, `rounds`
 * alternations of a pass with the pool's splits off (a one-thread run's code path, the workers asleep) and on
 * at `threads` threads, after two warm-up passes. Keys as {@link threadSpeedups}'. Where each thread count runs in
 * its own process minutes apart, a host whose vCPUs change speed within a minute puts its drift into the ratio.
 */
export async function pairedThreadSpeedups(
  configs: readonly string[], threads: number, rounds: number, log: (line: string) => void,
): Promise<Map<string, PairedSpeedup>> {
  setThreads(threads);
  const usable = await poolReady();
  if (usable < threads) log(`  note: --paired: ${threads} threads requested, ${usable} usable`);
  const out = new Map<string, PairedSpeedup>();
  for (const name of configs) {
    const s = workloadSteps(name);
    for (const [phase, pass] of [["inference", s.infer], ["train step", s.train]] as const) {
      log(`${name} ${phase}: ${rounds} rounds of one thread's pass against ${threads} threads'`);
      for (let i = 0; i < 2; i++) stepScope(pass, s.model);
      const [one, many] = alternatePasses(pass, s.model, [() => setSplits(false), () => setSplits(true)], rounds) as [number[], number[]];
      setSplits(true);
      out.set(`${name}/${phase}/${threads} threads`, { speedUp: pairedMedian(one, many), interval: pairedInterval(one, many), oneMs: medianOf(one), manyMs: medianOf(many) });
    }
  }
  return out;
}

/** Rounds' results (the same workloads in the same order each round) as one round's: each timing merged ({@link mergeTimings}), the rest the last round's. */
export function mergeResults(rounds: readonly (readonly E2EResult[])[]): E2EResult[] {
  const timing = (ts: readonly Timing[]): Timing => ({ ...mergeTimings(ts), warmup: ts[0]!.warmup, times: ts.flatMap((t) => t.times) });
  return rounds[rounds.length - 1]!.map((r, i) => ({ ...r, infer: timing(rounds.map((x) => x[i]!.infer)), train: timing(rounds.map((x) => x[i]!.train)) }));
}

/**
 * Per workload and phase (`name/inference`, `name/train step`) and thread count t > 1 (`.../t threads`), each
 * round's one-thread median over its t-thread median: the speed-up of the same round, paired. Rounds without
 * both counts add none.
 */
export function threadSpeedups(rounds: readonly (readonly E2EResult[])[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const round of rounds) {
    for (const r of round) {
      const one = round.find((x) => x.name === r.name && x.threads === 1);
      if (r.threads <= 1 || one === undefined) continue;
      for (const [phase, t1, tn] of [["inference", one.infer, r.infer], ["train step", one.train, r.train]] as const) {
        const key = `${r.name}/${phase}/${r.threads} threads`;
        out.set(key, [...(out.get(key) ?? []), t1.median / tn.median]);
      }
    }
  }
  return out;
}

export interface E2EArgs {
  configs: string[];
  iters: number;
  warmup: number;
  threads: number[];
  json: boolean;
  /** Run every workload in this process instead of one child process each. */
  inProcess: boolean;
}

/**
 * Warm-up iterations by default: a step's time settles by the fourth to sixth step of a fresh process,
 * as V8 finishes optimising the JavaScript (`node --trace-opt`: functions still completing through step
 * six). Two threads, fresh processes, per-step ms: MNIST b64 inference 163-186 in steps
 * 2-4 against 116-128 from step 5; with 1 warm-up + 3 timed steps its median was 160 ms, with 5 + 5
 * 124 ms (CIFAR b8 inference 220 / 206, training steps 1150 / 1101 and 837 / 795). PyTorch's
 * steps, timed the same way, do not change. `--warmup 1 --iters 3` times the cold steps.
 */
const WARMUP = 5;

/** Parses the CLI flags shared by bench/e2e.ts and bench/peers.ts. */
export function parseArgs(argv: readonly string[], defaults: Partial<E2EArgs> = {}): E2EArgs {
  const a: E2EArgs = {
    configs: defaults.configs ?? DEFAULT_CONFIGS,
    iters: defaults.iters ?? 5,
    warmup: defaults.warmup ?? WARMUP,
    threads: defaults.threads ?? [availableParallelism()],
    json: defaults.json ?? false,
    inProcess: defaults.inProcess ?? false,
  };
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) throw new Error(`${flag} needs an integer >= ${min}, got '${v ?? ""}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    const [flag, inline] = f.includes("=") ? [f.slice(0, f.indexOf("=")), f.slice(f.indexOf("=") + 1)] : [f, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case "--configs": {
        const v = value() ?? "";
        a.configs = v.split(",").map((s) => s.trim()).filter(Boolean);
        for (const c of a.configs) if (!WORKLOADS[c]) throw new Error(`unknown config '${c}'; known: ${Object.keys(WORKLOADS).join(", ")}`);
        if (a.configs.length === 0) throw new Error("--configs needs at least one name");
        break;
      }
      case "--iters": a.iters = int("--iters", value(), 1); break;
      case "--warmup": a.warmup = int("--warmup", value(), 0); break;
      case "--threads": a.threads = (value() ?? "").split(",").map((s) => int("--threads", s.trim(), 1)); break;
      case "--json": a.json = true; break;
      case "--in-process": a.inProcess = true; break;
      case "-h": case "--help":
        throw new Error("usage: [--configs cifar-b8,mnist-b64] [--iters N] [--warmup N] [--threads N|N,M] [--json] [--in-process]");
      default: throw new Error(`unknown flag '${f}'`);
    }
  }
  return a;
}

const self = fileURLToPath(import.meta.url);
const repo = resolve(dirname(self), "..");

/**
 * {@link runWorkload} in a child process of its own (`node --import tsx bench/e2e.ts
 * --in-process --json ...`): its progress lines are passed to `log` as they come.
 */
export function runWorkloadIsolated(name: string, opts: RunOptions): Promise<E2EResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + "\n"));
  const argv = ["--import", "tsx", self, "--in-process", "--json", "--configs", name, "--threads", String(opts.threads),
    "--iters", String(opts.iters), "--warmup", String(opts.warmup)];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, argv, { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", errBuf = "", errAll = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      errBuf += d;
      errAll += d;
      let i: number;
      while ((i = errBuf.indexOf("\n")) >= 0) { log(errBuf.slice(0, i)); errBuf = errBuf.slice(i + 1); }
    });
    child.on("error", (e) => reject(new Error(`bench/e2e.ts child for ${name} could not start: ${e.message}`)));
    child.on("close", (code, signal) => {
      if (errBuf) log(errBuf);
      if (code !== 0) {
        const tail = errAll.trim().split("\n").slice(-3).join(" | ");
        reject(new Error(`bench/e2e.ts child for ${name} (${opts.threads} threads) ${signal ? `was killed by ${signal}` : `exited with status ${code}`}${tail ? `: ${tail}` : ""}`));
        return;
      }
      try {
        const r = (JSON.parse(stdout) as { results: E2EResult[] }).results[0]!;
        resolvePromise({ ...r, isolated: true });
      } catch (e) {
        reject(new Error(`bench/e2e.ts child for ${name}: unreadable output (${(e as Error).message}): ${stdout.slice(0, 200)}`));
      }
    });
  });
}

/**
 * Runs every (config, thread count) pair in sequence, each in its own process unless args.inProcess: a
 * config's thread counts one after the other (the closer in time, the less a drifting machine colours
 * their ratio).
 */
export async function runAll(args: E2EArgs, log?: (line: string) => void): Promise<E2EResult[]> {
  const out: E2EResult[] = [];
  const run = args.inProcess ? runWorkload : runWorkloadIsolated;
  for (const c of args.configs) for (const t of args.threads) out.push(await run(c, { iters: args.iters, warmup: args.warmup, threads: t, log }));
  return out;
}

async function main(): Promise<void> {
  let args: E2EArgs;
  let roundCount: number;
  let paired: number;
  try {
    const argv = process.argv.slice(2);
    roundCount = takeRounds(argv);
    paired = takePaired(argv);
    args = parseArgs(argv);
    if (paired > 0 && Math.max(...args.threads) < 2) throw new Error("--paired needs a thread count above 1 in --threads");
  } catch (e) {
    console.error(`bench/e2e.ts: ${(e as Error).message}`);
    process.exit(2);
  }
  const t0 = Date.now();
  const rounds: E2EResult[][] = [];
  // With several thread counts: how evenly the two vCPUs ran the same L2-sized sweeps before each round and
  // after the last (bench/vcpu-speed.ts), so a two-thread speed-up can be read against the host's state.
  const balance: number[] = [];
  let pairedSpeedups = new Map<string, PairedSpeedup>();
  const noteBalance = async (): Promise<void> => {
    if (args.threads.length > 1) balance.push(medianRatio(await measureBalance(1, 3)));
  };
  try {
    for (let k = 1; k <= roundCount; k++) {
      if (roundCount > 1) process.stderr.write(`round ${k} of ${roundCount}\n`);
      await noteBalance();
      rounds.push(await runAll(args));
    }
    if (paired > 0) pairedSpeedups = await pairedThreadSpeedups(args.configs, Math.max(...args.threads), paired, (l) => process.stderr.write(l + "\n"));
    await noteBalance();
  } catch (e) {
    console.error(`bench/e2e.ts: ${(e as Error).message}`);
    process.exit(1);
  }
  await shutdownPool();
  const results = roundCount > 1 ? mergeResults(rounds) : rounds[0]!;
  const speedups = threadSpeedups(rounds);
  if (args.json) {
    const perRound = roundCount > 1 ? { rounds: roundCount, perRound: rounds } : {};
    const vcpu = balance.length > 0 ? { vcpuBalance: balance } : {};
    const pairs = paired > 0 ? { pairedSpeedups: Object.fromEntries(pairedSpeedups) } : {};
    console.log(JSON.stringify({ node: process.version, cores: availableParallelism(), results, ...perRound, threadSpeedups: Object.fromEntries(speedups), ...pairs, ...vcpu }, null, 2));
    return;
  }
  const inAll = `${((Date.now() - t0) / 1000).toFixed(0)} s in all${roundCount > 1 ? `; ${roundCount} rounds, timings the median of the rounds' medians (least min-largest max)` : ""}`;
  console.log(`\nbitspike end-to-end (node ${process.version}, ${availableParallelism()} cores, ${inAll})\n`);
  console.log(formatResults(results));
  if (speedups.size > 0) {
    console.log("\nOne thread's median over more threads', each round's own (a workload's thread counts run one after the other):");
    for (const [key, rs] of speedups) console.log(`- ${key}: ${medianOf(rs).toFixed(2)}x${rs.length > 1 ? ` (median of ${rs.map((x) => x.toFixed(2)).join(", ")})` : ""}`);
  }
  if (pairedSpeedups.size > 0) {
    console.log(`\nMore threads over one, pass by pass in this process (--paired ${paired}: rounds of a one-thread pass and a threaded one, paired medians; bench/paired.ts):`);
    for (const [key, p] of pairedSpeedups) console.log(`- ${key}: ${p.speedUp.toFixed(2)}x (95% of resamples ${fmtInterval(p.interval, 2)}; one thread ${p.oneMs.toFixed(1)} ms, more ${p.manyMs.toFixed(1)} ms, medians)`);
  }
  if (balance.length > 0) {
    console.log(`- the host: a worker's time over the calling thread's on the same L2-sized sweeps at once (bench/vcpu-speed.ts), before each round and after: ${balance.map((x) => `${x.toFixed(2)}x`).join(", ")}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
