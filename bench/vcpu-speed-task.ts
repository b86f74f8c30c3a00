/**
 * The pool task of bench/vcpu-speed.ts (in a module of its own: a worker imports the module that defines a
 * task, and the bench script's top level must not run there): one of three loops over the same work on
 * whichever thread runs it, its time written back into the heap.
 */
import { defineTask } from "../src/parallel/registry.js";

/** The loops: 0 in registers (a dependent multiply-add chain), 1 repeated sweeps of an L2-sized array, 2 sweeps of a large one. */
export const LOOPS = ["registers", "L2 sweeps", "memory sweeps"] as const;

/** Runs loop `kind` `rounds` times over f32[from .. from + len) (the registers loop: `rounds` steps); returns its ms. */
export function timedLoop(kind: number, rounds: number, f32: Float32Array, from: number, len: number): number {
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
  if (Number.isNaN(s)) throw new Error("vcpu-speed: the loop's sum is NaN");
  return ms;
}

/** Args: the float64 heap index for the time, the loop, its rounds, the array's float32 index and length; buffers f32, f64 views. */
export const OP_TIMED_LOOP = defineTask("bench.vcpuSpeed.loop", import.meta.url, (_raw, a, b) => {
  b[1]![a[0]!] = timedLoop(a[1]!, a[2]!, b[0] as Float32Array, a[3]!, a[4]!);
});
