/**
 * The loop of a pool worker, whatever the platform: adopts the main thread's
 * heap, imports the modules that define thread tasks (src/parallel/registry.ts),
 * then waits on its line of the control block, runs the task it describes
 * with the same kernel code as the calling thread, and reports. A platform's
 * worker entry (worker.ts for Node) calls {@link runWorker}.
 */
import type { FloatArray } from "../tensor/tensor.js";
import { adoptHeap, heapF32, heapF64 } from "../tensor/heap.js";
import {
  BUF, CMD, DONE, KERNEL_BACKENDS, KERNELS, MAX_ARGS, MSG_BYTES, MSGLEN, NBUF, OPCODE, OP_QUIT, OP_TEST_EXIT, OP_TEST_THROW,
  PART_US, PROFILED, PROGRESS, SLEEPING, SPIN_US, spinFor, stampUs, STARTED_US, STATE, STATUS, WOKEN, type WorkerInit,
} from "./protocol.js";
import { taskBody } from "./registry.js";
import { getKernelBackend, setKernelBackend } from "../wasm/backend.js";

/** What the loop needs of its platform: ending the thread at once (a test asks for it), and a hook at its end. */
export interface WorkerPlatform {
  exit(code: number): never;
  onExit(f: () => void): void;
}

/** Runs a worker until the pool tells it to quit. */
export async function runWorker(init: WorkerInit, platform: WorkerPlatform): Promise<void> {
  // Every array a task names is in the main thread's heap: use that memory, never one of our own.
  adoptHeap(init.heap);
  // The families' task modules register their tasks as they load (the same table as the main thread's).
  for (const url of init.tasks) await import(url);
  const ctrl = new Int32Array(init.ctrl);
  const args = new Float64Array(init.args, 0, MAX_ARGS);
  const msg = new Uint8Array(init.msg, 0, MSG_BYTES);
  // The thread is ending (exit, terminate, end of loop): tell a waiting caller at once.
  platform.onExit(() => {
    Atomics.store(ctrl, STATE, -1);
    Atomics.notify(ctrl, DONE);
  });
  serve(ctrl, args, msg, platform);
}

const ints: number[] = new Array<number>(MAX_ARGS).fill(0);

/** The whole-heap view for a buffer slot code (1: float64, 0: float32), re-taken when the heap has grown. */
function view(code: number): FloatArray {
  return code === 1 ? heapF64() : heapF32();
}

function run(op: number, ctrl: Int32Array, args: Float64Array, platform: WorkerPlatform): void {
  const tick = (): void => void Atomics.add(ctrl, PROGRESS, 1);
  const kernels = KERNEL_BACKENDS[ctrl[KERNELS]!] ?? "auto";
  if (kernels !== getKernelBackend()) setKernelBackend(kernels);
  const b: FloatArray[] = [];
  const nb = ctrl[NBUF]!;
  for (let j = 0; j < nb; j++) b.push(view(ctrl[BUF + j]!));
  // Arguments are integers: hand them on as small integers, not float64s. A kernel
  // fed doubles indexes with doubles, which V8 compiles to code ~1.7x slower.
  const na = ints.length;
  for (let j = 0; j < na; j++) ints[j] = args[j]! | 0;
  const a = ints;
  if (op === OP_TEST_THROW) throw new Error("test failure requested by the pool");
  if (op === OP_TEST_EXIT) platform.exit(3);
  const body = taskBody(op);
  if (body === undefined) throw new Error(`unknown op code ${op} (its family's module was not among the worker's task modules)`);
  body(args, a, b, tick);
}

function report(e: unknown, ctrl: Int32Array, msg: Uint8Array): void {
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const { written } = new TextEncoder().encodeInto(text, msg);
  ctrl[MSGLEN] = written;
  ctrl[STATUS] = 1;
}

/** The task loop proper: wait for a command, run it, report, until told to quit. */
function serve(ctrl: Int32Array, args: Float64Array, msg: Uint8Array, platform: WorkerPlatform): void {
  let seen = Atomics.load(ctrl, CMD);
  Atomics.store(ctrl, STATE, 1);
  Atomics.notify(ctrl, STATE);
  for (;;) {
    // Spin for the pool's spin time (setPoolSpin) before sleeping, so a part that follows soon needs no
    // wake-up (a futex wake costs the caller 0.04-0.7 ms on a VM, and this thread its scheduling delay).
    let slept = false;
    if (!spinFor(ctrl, CMD, seen, true, Atomics.load(ctrl, SPIN_US) / 1000)) {
      Atomics.store(ctrl, SLEEPING, 1);
      slept = Atomics.wait(ctrl, CMD, seen) !== "not-equal"; // returns at once if CMD moved after the check: no wake-up is lost
      Atomics.store(ctrl, SLEEPING, 0);
    }
    const seq = Atomics.load(ctrl, CMD);
    if (seq === seen) continue;
    seen = seq;
    const op = ctrl[OPCODE]!;
    if (op === OP_QUIT) break;
    ctrl[STATUS] = 0;
    if (ctrl[PROFILED] === 1) {
      ctrl[STARTED_US] = stampUs();
      ctrl[WOKEN] = slept ? 1 : 0;
    }
    const t0 = performance.now();
    try {
      run(op, ctrl, args, platform);
    } catch (e) {
      report(e, ctrl, msg);
    }
    ctrl[PART_US] = Math.round((performance.now() - t0) * 1000);
    Atomics.store(ctrl, DONE, seq);
    Atomics.notify(ctrl, DONE);
  }
  Atomics.store(ctrl, STATE, -1);
  Atomics.notify(ctrl, DONE);
}
