/**
 * Where a step's time goes, one thread: the V8 CPU profile's self time of an e2e workload's steps,
 * grouped by kernel family (event sums, dense gemm, bucket fills, neuron, batch norm, transposes,
 * Winograd transforms, SSA popcount, other WASM, and JavaScript: the graph, allocation, small loops).
 * Run it on two commits (a `git worktree` of the older one) one after the other, alternately, for a
 * before / after table; the sampling adds a few percent to the step.
 *
 *   npx tsx bench/kernel-families.ts [--config cifar-b8|mnist-b64] [--phase infer|train] [--steps 6]
 */
import { Session } from "node:inspector/promises";
import { setThreads } from "../src/parallel/pool.js";
import { stepScope } from "../src/tensor/retain.js";
import { workloadSteps } from "./e2e.js";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const config = flag("config", "cifar-b8"), phase = flag("phase", "infer"), steps = Number(flag("steps", "6"));
if (phase !== "train" && phase !== "infer") throw new Error(`bench/kernel-families.ts: --phase takes train or infer, got ${phase}`);
if (!(Number.isInteger(steps) && steps >= 1)) throw new Error(`bench/kernel-families.ts: --steps takes an integer >= 1, got ${steps}`);

/** The family of a profile frame: WASM functions by their export names (src/kernels/), the rest is JavaScript. */
function family(functionName: string, url: string): string {
  const n = functionName || "(anon)";
  if (!url.startsWith("wasm")) return "JS (graph, allocation, small loops)";
  if (/^w?sum(32|64)f?(Panels)?$/.test(n)) return "event sums (spike and counts)";
  if (/^gemm|^(rows|strips)ToPanels/.test(n)) return "dense gemm";
  if (/^fillBy|Buckets32$/.test(n)) return "bucket fills";
  if (/lif|sigmoid|exp/i.test(n)) return "neuron (LIF forward and backward)";
  if (/^t(32|64)$|^channelsFirst/.test(n)) return "transposes";
  if (/^(input|output|weights)$/.test(n)) return "Winograd transforms";
  if (/grad|Sums|affine|shifted|^sums$/.test(n)) return "batch norm";
  if (/^popW|^oneWord|^scaleF64|^rowsTimes/.test(n)) return "SSA popcount";
  return "other WASM";
}

setThreads(1);
const { model, infer, train } = workloadSteps(config);
const step = phase === "train" ? train : infer;
for (let i = 0; i < 2; i++) stepScope(step, model);
const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.setSamplingInterval", { interval: 200 });
await session.post("Profiler.start");
const t0 = performance.now();
for (let i = 0; i < steps; i++) stepScope(step, model);
const wall = (performance.now() - t0) / steps;
const { profile } = await session.post("Profiler.stop");
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map<string, number>();
const samples = profile.samples ?? [], deltas = profile.timeDeltas ?? [];
for (let i = 0; i < samples.length; i++) {
  const f = nodes.get(samples[i]!)!.callFrame;
  // A JS-to-WASM wrapper frame holds the samples of short WASM calls it does not name (the main job's small
  // gemm tiles: 16 of its 19 ms of "other WASM"); the JS function calling it does.
  const caller = f.functionName.startsWith("js-to-wasm") ? nodes.get(parent.get(samples[i]!) ?? -1)?.callFrame.functionName ?? "" : "";
  const k0 = /^gemm/.test(caller) ? "dense gemm" : family(f.functionName, f.url); const k = k0.startsWith("JS") || k0.startsWith("other") ? `${k0.slice(0,5)} ${f.functionName} ${f.url.split("/").slice(-2).join("/")}` : k0;
  self.set(k, (self.get(k) ?? 0) + (deltas[i + 1] ?? 0) / 1000 / steps);
}
console.log(`${config} ${phase}, one thread, ${steps} steps: ${wall.toFixed(0)} ms a step (profiled)`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${v.toFixed(1).padStart(8)} ms  ${k}`);
process.exit(0);
