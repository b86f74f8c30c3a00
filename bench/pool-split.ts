/**
 * Is a second thread's shortfall in the split, the waits or the code that stays serial? Steps of an e2e
 * workload alternate in one process between the pool's threads and `poolProfile("serial")` (every part of
 * every threaded call run on the calling thread, the same split, the same bits), so the machine's drift
 * hits both alike. Per op (per pass where an op has several: batchNorm.meanVar, conv2d.data,
 * multiStepNeuron.backward, ...): the serial time of all its parts, the calling thread's own part on two
 * threads and its wait for the worker after it; per step: the threaded ops' parts, the waits and the rest (serial
 * code: the graph, allocation, unsplit passes). With perfect threads the calling thread's part would be
 * the serial time over the thread count and the waits zero. Then the split's balance in work: the calling
 * thread's part against a worker's, both timed on one thread (its own part first, which favours the others' by a
 * few percent of warm caches: dense gemms, evenly split, read 1.04x); how long after its dispatch began a worker
 * started its part (ms a step; the workers' stamps, `poolProfile`'s startMs), how long the workers had been idle
 * before the dispatch (from the end of their previous part: the gaps that the calling thread's serial code and
 * its longer parts leave them; `idleMs`), and how many parts found their worker asleep (past its
 * spin time), each a wake-up to pay. A claimed call that took a part beside it
 * (runBesideOr in src/parallel/pool.ts) counts that part as its own: the sparse weight gradients of the linears
 * and spike convs (scatter, transpose, bias sum) show under `gemm` and `conv2d.data` where they ran beside them.
 *
 *   npx tsx bench/pool-split.ts [--config mnist-b64|cifar-b8] [--phase train|infer] [--threads 2] [--steps 6] [--top 24]
 */
import { noOpTimes, poolProfile, poolReady, setThreads, shutdownPool, usableThreads, type PoolOpTimes } from "../src/parallel/pool.js";
import { stepScope } from "../src/tensor/retain.js";
import { workloadSteps } from "./e2e.js";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const name = flag("config", "mnist-b64"), phase = flag("phase", "train"), threads = Number(flag("threads", "2"));
const steps = Number(flag("steps", "6")), top = Number(flag("top", "24"));
if (phase !== "train" && phase !== "infer") throw new Error(`bench/pool-split.ts: --phase takes train or infer, got ${phase}`);
if (!(Number.isInteger(threads) && threads >= 2)) throw new Error(`bench/pool-split.ts: --threads takes an integer >= 2, got ${threads}`);
if (!(Number.isInteger(steps) && steps >= 1)) throw new Error(`bench/pool-split.ts: --steps takes an integer >= 1, got ${steps}`);

setThreads(threads);
await poolReady();
if (usableThreads() < 2) throw new Error(`bench/pool-split.ts: no worker threads could start (${usableThreads()} usable)`);
const { model, infer, train } = workloadSteps(name);
const step = phase === "train" ? train : infer;
for (let i = 0; i < 2; i++) stepScope(step, model);

const NONE = noOpTimes();
const modes = ["threads", "serial"] as const;
const ops = modes.map(() => new Map<string, PoolOpTimes>());
const wall = [0, 0];
for (let i = 0; i < steps; i++) {
  for (const [m, mode] of modes.entries()) {
    poolProfile(mode);
    const t0 = performance.now();
    stepScope(step, model);
    wall[m]! += performance.now() - t0;
    for (const [op, t] of poolProfile("off")) {
      const s = ops[m]!.get(op) ?? NONE;
      // Every counter summed over the steps, whatever counters PoolOpTimes holds.
      ops[m]!.set(op, Object.fromEntries(Object.keys(NONE).map((k) => [k, s[k as keyof PoolOpTimes] + t[k as keyof PoolOpTimes]])) as unknown as PoolOpTimes);
    }
  }
}
await shutdownPool();

const [par, ser] = ops as [Map<string, PoolOpTimes>, Map<string, PoolOpTimes>];
const f = (v: number): string => (v / steps).toFixed(1);
const sum = (m: Map<string, PoolOpTimes>, k: keyof PoolOpTimes): number => [...m.values()].reduce((a, t) => a + t[k], 0);
console.log(`${name} ${phase}, ${threads} threads against the same parts on one thread, ${steps} steps each (ms a step)\n`);
console.log("| op | calls | one thread, all parts | calling thread's part | its wait | the slowest worker's part | part / (all / threads) | one thread: own part / a worker's | workers idle before | workers' start | woken parts |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
const rows = [...ser].sort((a, b) => b[1].localMs - a[1].localMs).slice(0, top);
for (const [op, s] of rows) {
  const p = par.get(op) ?? NONE;
  // The split's balance in work: the calling thread's part against the mean of the others, all timed on one thread.
  const balance = s.ownMs / ((s.localMs - s.ownMs) / (threads - 1));
  console.log(`| ${op} | ${(s.calls / steps).toFixed(0)} | ${f(s.localMs)} | ${f(p.localMs)} | ${f(p.waitMs)} | ${f(p.workerMs)} | ${(p.localMs / (s.localMs / threads)).toFixed(2)}x | ${balance.toFixed(2)}x | ${f(p.idleMs)} | ${f(p.startMs)} | ${(p.wokenParts / steps).toFixed(1)} |`);
}
const serialThreaded = sum(ser, "localMs"), parLocal = sum(par, "localMs"), parWait = sum(par, "waitMs");
const woken = sum(par, "wokenParts"), parts = sum(par, "calls");
console.log(`\nstep on one thread ${f(wall[1]!)}: threaded ops ${f(serialThreaded)}, the rest ${f(wall[1]! - serialThreaded)}`);
console.log(`step on ${threads} threads ${f(wall[0]!)}: calling thread's parts ${f(parLocal)}, waits ${f(parWait)}, the rest ${f(wall[0]! - parLocal - parWait)}; ` +
  `workers idle ${f(sum(par, "idleMs"))} before their dispatches (from their previous parts' ends) and starting ${f(sum(par, "startMs"))} after them, ` +
  `${(woken / steps).toFixed(0)} parts a step found their worker asleep (of ${(parts / steps).toFixed(0)} threaded calls)`);
console.log(`speed-up ${(wall[1]! / wall[0]!).toFixed(2)}x; with the parts split perfectly and no waits it would be ` +
  `${(wall[1]! / (wall[0]! - parLocal - parWait + serialThreaded / threads)).toFixed(2)}x`);
