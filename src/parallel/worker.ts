/**
 * A pool worker: adopts the main thread's heap, imports the modules that
 * define thread tasks (src/parallel/registry.ts), then waits on its line of
 * the control block, runs the task it describes with the same kernel code as
 * the calling thread, and reports.
 */
import { workerData } from "node:worker_threads";
import type { FloatArray } from "../tensor/tensor.js";
import { adoptHeap, heapF32, heapF64 } from "../tensor/heap.js";
import {
  BUF, CMD, DONE, KERNEL_BACKENDS, KERNELS, MAX_ARGS, MSG_BYTES, MSGLEN, NBUF, OPCODE, OP_QUIT, OP_TEST_EXIT, OP_TEST_THROW,
  PROGRESS, STATE, STATUS, type WorkerInit,
} from "./protocol.js";
import { taskBody } from "./registry.js";
import { getKernelBackend, setKernelBackend } from "../wasm/backend.js";

const init = workerData as WorkerInit;
// Every array a task names is in the main thread's heap: use that memory, never one of our own.
adoptHeap(init.heap);
// The families' task modules register their tasks as they load (the same table as the main thread's).
for (const url of init.tasks) await import(url);
const ctrl = new Int32Array(init.ctrl);
// Each worker has its own control block, argument area and message area.
const base = 0;
const args = new Float64Array(init.args, 0, MAX_ARGS);
const msg = new Uint8Array(init.msg, 0, MSG_BYTES);

const ints: number[] = new Array<number>(MAX_ARGS).fill(0);

/** The whole-heap view for a buffer slot code (1: float64, 0: float32), re-taken when the heap has grown. */
function view(code: number): FloatArray {
  return code === 1 ? heapF64() : heapF32();
}

const tick = (): void => {
  Atomics.add(ctrl, base + PROGRESS, 1);
};

function run(op: number): void {
  const kernels = KERNEL_BACKENDS[ctrl[base + KERNELS]!] ?? "auto";
  if (kernels !== getKernelBackend()) setKernelBackend(kernels);
  const b: FloatArray[] = [];
  const nb = ctrl[base + NBUF]!;
  for (let j = 0; j < nb; j++) b.push(view(ctrl[base + BUF + j]!));
  // Arguments are integers: hand them on as small integers, not float64s. A kernel
  // fed doubles indexes with doubles, which V8 compiles to code ~1.7x slower.
  const na = ints.length;
  for (let j = 0; j < na; j++) ints[j] = args[j]! | 0;
  const a = ints;
  if (op === OP_TEST_THROW) throw new Error("test failure requested by the pool");
  if (op === OP_TEST_EXIT) process.exit(3);
  const body = taskBody(op);
  if (body === undefined) throw new Error(`unknown op code ${op} (its family's module was not among the worker's task modules)`);
  body(args, a, b, tick);
}

function report(e: unknown): void {
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const { written } = new TextEncoder().encodeInto(text, msg);
  ctrl[base + MSGLEN] = written;
  ctrl[base + STATUS] = 1;
}

// The thread is ending (process.exit, terminate, end of loop): tell a waiting caller at once.
process.on("exit", () => {
  Atomics.store(ctrl, base + STATE, -1);
  Atomics.notify(ctrl, base + DONE);
});

let seen = Atomics.load(ctrl, base + CMD);
Atomics.store(ctrl, base + STATE, 1);
Atomics.notify(ctrl, base + STATE);
for (;;) {
  Atomics.wait(ctrl, base + CMD, seen);
  const seq = Atomics.load(ctrl, base + CMD);
  if (seq === seen) continue;
  seen = seq;
  const op = ctrl[base + OPCODE]!;
  if (op === OP_QUIT) break;
  ctrl[base + STATUS] = 0;
  try {
    run(op);
  } catch (e) {
    report(e);
  }
  Atomics.store(ctrl, base + DONE, seq);
  Atomics.notify(ctrl, base + DONE);
}
Atomics.store(ctrl, base + STATE, -1);
Atomics.notify(ctrl, base + DONE);
