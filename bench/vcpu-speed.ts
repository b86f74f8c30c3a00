/**
 * Are the pool's cores equally fast? The calling thread and one worker run the same loop on the same amount
 * of work at the same time (each on its own array): in registers, over an L2-sized array, over a large one
 * (bench/vcpu-balance.ts). Prints each round's two times and their ratio. On the benchmarks' 2-vCPU cloud VM
 * (2026-12-07) the registers loop ran alike throughout, while the sweeps ran alike in some minutes and
 * 1.44-1.58x slower on one thread in others, on arrays from 16 KB (in L1) to 800 KB alike, on either thread, the
 * slow one changing within a minute: something beside our threads shares one vCPU's core (its loads) at times.
 * That bounds what a second thread gives whatever the split: claimed splits hand the slower thread less,
 * static ones wait for it.
 *
 *   npx tsx bench/vcpu-speed.ts [--rounds 6]
 */
import { LOOPS, measureBalance, medianRatio } from "./vcpu-balance.js";
import { shutdownPool } from "../src/parallel/pool.js";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const rounds = Number(flag("rounds", "6"));
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`bench/vcpu-speed.ts: --rounds takes an integer >= 1, got ${rounds}`);

for (let kind = 0; kind < LOOPS.length; kind++) {
  const runs = await measureBalance(kind, rounds);
  const cells = runs.map(([own, worker]) => `${own.toFixed(1)} / ${worker.toFixed(1)}`);
  console.log(`${LOOPS[kind]!.name}: calling thread / worker ms ${cells.join(", ")}; worker over calling thread, median ${medianRatio(runs).toFixed(2)}x`);
}
await shutdownPool();
