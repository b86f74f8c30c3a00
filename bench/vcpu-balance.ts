/**
 * How fast the pool's two threads run the same work at the same time (bench/vcpu-speed.ts prints it;
 * bench/e2e.ts notes it beside its thread speed-ups). The calling thread and one worker each run one of
 * three loops on their own array: in registers (a dependent multiply-add chain), repeated sweeps of an
 * L2-sized array, sweeps of a large one. The pool task lives in this module (a worker imports the module
 * that defines a task; a script's top level must not run there).
 */
import { defineTask } from "../src/parallel/registry.js";
import { poolReady, runParts, setThreads, usableThreads } from "../src/parallel/pool.js";
import { heapArray, heapF32, heapF64 } from "../src/tensor/heap.js";
import { pairedMedian } from "./paired.js";

/** The loops, and per loop its rounds and the floats each thread sweeps (about 30-60 ms a run here). */
export const LOOPS = [
  { name: "registers", rounds: 3e7, floats: 0 },
  { name: "L2 sweeps", rounds: 200, floats: 200_000 },
  { name: "memory sweeps", rounds: 3, floats: 16 << 20 },
] as const;

/** Runs loop `kind` `rounds` times over f32[from .. from + len) (the registers loop: `rounds` steps); returns its ms. */
function timedLoop(kind: number, rounds: number, f32: Float32Array, from: number, len: number): number {
  const t0 = performance.now();
  let s = 0;
  if (kind === 0) {
    let x = 1.0001;
    for (let i = 0; i < rounds; i++) {
      x = x * 1.0000001 + 1e-9;
      s += x;
    }
  } else {
    for (let r = 0; r < rounds; r++) for (let i = from; i < from + len; i++) s += f32[i]!;
  }
  const ms = performance.now() - t0;
  // Keeps the sum alive (the loop is not dead code) without printing it.
  if (Number.isNaN(s)) throw new Error("vcpu-balance: the loop's sum is NaN");
  return ms;
}

/** Args: the float64 heap index for the time, the loop, its rounds, the array's float32 index and length; buffers f32, f64 views. */
const OP_TIMED_LOOP = defineTask("bench.vcpuBalance.loop", import.meta.url, (_raw, a, b) => {
  b[1]![a[0]!] = timedLoop(a[1]!, a[2]!, b[0] as Float32Array, a[3]!, a[4]!);
});

/** A loop's arrays (both threads' halves of `data`), made at its first measurement: e2e's process holds only the L2 loop's 1.6 MB. */
const arrays = new Map<number, { time: Float64Array; data: Float32Array }>();

/**
 * Loop `kind` of {@link LOOPS} run `rounds` times by the calling thread and a worker at once: each round's
 * [calling thread ms, worker ms]. Starts a two-thread pool (the caller's thread setting is changed).
 */
export async function measureBalance(kind: number, rounds: number): Promise<[number, number][]> {
  setThreads(2);
  await poolReady();
  if (usableThreads() < 2) throw new Error("vcpu-balance: no worker thread could start");
  const { rounds: n, floats: len } = LOOPS[kind]!;
  let made = arrays.get(kind);
  if (made === undefined) {
    made = { time: heapArray(Float64Array, 1, true) as Float64Array, data: (heapArray(Float32Array, Math.max(2, 2 * len), true) as Float32Array).fill(1) };
    arrays.set(kind, made);
  }
  const { time, data } = made;
  const base = data.byteOffset / 4;
  const out: [number, number][] = [];
  for (let r = 0; r < rounds; r++) {
    let own = 0;
    runParts("vcpuBalance", [{ op: OP_TIMED_LOOP, args: [time.byteOffset / 8, kind, n, base + len, len], bufs: [heapF32(), heapF64()] }], () => {
      own = timedLoop(kind, n, heapF32(), base, len);
    });
    out.push([own, time[0]!]);
  }
  return out;
}

/** The median of the rounds' worker time over calling thread time. */
export function medianRatio(runs: readonly [number, number][]): number {
  return pairedMedian(runs.map(([, worker]) => worker), runs.map(([own]) => own));
}
