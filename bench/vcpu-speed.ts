/**
 * Are the pool's cores equally fast? The calling thread and one worker run the same loop on the same amount
 * of work at the same time (each on its own array): in registers, over an L2-sized array, over a large one.
 * Prints each round's two times and their ratio. On the benchmarks' 2-vCPU cloud VM the two threads ran the
 * sweeps equally fast in some minutes and one 1.5x slower than the other in others (2026-12-07), which bounds
 * what a second thread can give whatever the split: claimed splits hand the slower thread less, static ones
 * wait for it.
 *
 *   npx tsx bench/vcpu-speed.ts [--rounds 6]
 */
import { LOOPS, OP_TIMED_LOOP, timedLoop } from "./vcpu-speed-task.js";
import { poolReady, runParts, setThreads, shutdownPool, usableThreads } from "../src/parallel/pool.js";
import { heapArray, heapF32, heapF64 } from "../src/tensor/heap.js";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const rounds = Number(flag("rounds", "6"));
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`bench/vcpu-speed.ts: --rounds takes an integer >= 1, got ${rounds}`);

setThreads(2);
await poolReady();
if (usableThreads() < 2) throw new Error("bench/vcpu-speed.ts: no worker thread could start");
const L2_FLOATS = 200_000, BIG_FLOATS = 16 << 20;
const time = heapArray(Float64Array, 1, true) as Float64Array;
const data = heapArray(Float32Array, 2 * BIG_FLOATS, true) as Float32Array;
data.fill(1);
// Per loop: its rounds and the floats each thread sweeps (the worker's from `len` on); about 30-60 ms a run.
const plans: [number, number][] = [[3e7, 0], [200, L2_FLOATS], [3, BIG_FLOATS]];
const median = (a: number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1]!;
LOOPS.forEach((name, kind) => {
  const [n, len] = plans[kind]!;
  const base = data.byteOffset / 4;
  const cells: string[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let own = 0;
    runParts("vcpuSpeed", [{ op: OP_TIMED_LOOP, args: [time.byteOffset / 8, kind, n, base + len, len], bufs: [heapF32(), heapF64()] }], () => {
      own = timedLoop(kind, n, heapF32(), base, len);
    });
    const worker = time[0]!;
    cells.push(`${own.toFixed(1)} / ${worker.toFixed(1)}`);
    ratios.push(worker / own);
  }
  console.log(`${name}: calling thread / worker ms ${cells.join(", ")}; worker over calling thread, median ${median(ratios).toFixed(2)}x`);
});
await shutdownPool();
