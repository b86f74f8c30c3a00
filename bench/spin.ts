/**
 * How long the pool's idle threads should spin (`setPoolSpin`, `--spin`): training steps of an e2e
 * workload at each spin time, alternating step by step in one process so the machine's drift hits all
 * alike, each timed step after an untimed one at the same setting. Prints the median step per spin time
 * and the median of its paired ratio to the first. Run it on an idle machine and beside another busy
 * process (e.g. a one-thread training run) to see the difference the spin makes there.
 *
 *   npx tsx bench/spin.ts [--config cifar-b8|mnist-b64] [--threads 2] [--pairs 8] [--spins 0.2,20]
 */
import { poolReady, setPoolSpin, setThreads, shutdownPool } from "../src/parallel/pool.js";
import { stepScope } from "../src/tensor/retain.js";
import { workloadSteps } from "./e2e.js";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const name = flag("config", "cifar-b8"), threads = Number(flag("threads", "2")), pairs = Number(flag("pairs", "8"));
const spins = flag("spins", "0.2,20").split(",").map(Number);

setThreads(threads);
await poolReady();
const { model, train: step } = workloadSteps(name);
for (let i = 0; i < 2; i++) stepScope(step, model);
const times = spins.map(() => [] as number[]);
for (let i = 0; i < pairs; i++) {
  for (let j = 0; j < spins.length; j++) {
    setPoolSpin(spins[j]!);
    stepScope(step, model);
    const t0 = performance.now();
    stepScope(step, model);
    times[j]!.push(performance.now() - t0);
  }
}
const median = (a: number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1]!;
console.log(`${name}, ${threads} threads, ${pairs} steps each`);
for (let j = 0; j < spins.length; j++) {
  const ratio = median(times[j]!.map((v, i) => v / times[0]![i]!));
  console.log(`spin ${spins[j]} ms: step ${median(times[j]!).toFixed(0)} ms, ${ratio.toFixed(3)}x spin ${spins[0]} ms (paired median)`);
}
await shutdownPool();
