/**
 * Layout of the shared control block through which the pool talks to its
 * workers (Atomics on an Int32Array; no postMessage per task). Each worker owns
 * one 128-byte block of Int32 slots (so two workers never share a cache line),
 * one line of Float64 task arguments and a byte area for an error message.
 */

import type { HeapHandle } from "../tensor/heap.js";

/** Int32 slots of a control block. */
export const LINE = 32;
/** Sequence number of the latest task; the main thread bumps it, the worker waits on it. */
export const CMD = 0;
/** Sequence number of the latest finished task; the worker stores it, the main thread waits on it. */
export const DONE = 1;
/** 0: the last task succeeded; 1: it threw (message in the worker's message area). */
export const STATUS = 2;
/** 0 while loading, 1 once ready for tasks, -1 once the worker thread has exited. */
export const STATE = 3;
/** Bumped by the worker as a task advances (a stall watchdog reads it). */
export const PROGRESS = 4;
/** Op code of the task (src/parallel/registry.ts; the pool's own below). */
export const OPCODE = 5;
/** Number of buffer slots used by the task. */
export const NBUF = 6;
/** Byte length of the error message. */
export const MSGLEN = 7;
/** Kernel backend the caller runs (see KERNEL_BACKENDS); the worker switches to it before the task. */
export const KERNELS = 8;
/**
 * 1 while the worker sleeps in Atomics.wait on CMD (it spins a little after a
 * task first): the main thread pays for a wake-up only then.
 */
export const SLEEPING = 9;
/** How long the worker spins for its next task before it sleeps, in microseconds (the pool sets it). */
export const SPIN_US = 10;
/** 1 while the pool times its calls (poolProfile): the worker then stamps each task's start (STARTED_US, WOKEN). */
export const PROFILED = 11;
/** When the worker started its latest task, as {@link stampUs} (written only while PROFILED). */
export const STARTED_US = 12;
/** 1 when the worker had gone to sleep before its latest task, so the pool had to wake it (only while PROFILED). */
export const WOKEN = 13;
/** How long the worker's latest task ran, in microseconds (the pool learns the threads' speeds from it, ./speeds.ts). */
export const PART_US = 14;
/** First buffer slot: 1 for a float64 view of the heap, 0 for float32; slots BUF .. BUF + MAX_BUFS - 1. */
export const BUF = 15;
export const MAX_BUFS = LINE - BUF;
/** Codes of the KERNELS slot. */
export const KERNEL_BACKENDS = ["auto", "js", "wasm"] as const;

/**
 * Float64 task arguments per worker: a sequence of parts (./registry.ts) takes up to 78 by its parts' argument
 * counts (a spike conv's weight gradient, its transpose and bias gradient, then the Winograd input gradient's
 * claims); the most seen over a CIFAR b8 and a MNIST b64 step was 67 (the stems' convs have no bias).
 */
export const MAX_ARGS = 96;
/** Bytes of error message per worker. */
export const MSG_BYTES = 2048;

/**
 * Polls of a spin between two reads of the clock. performance.now() allocates in Node (an hrtime array a
 * call: a loop of it alone runs 315 scavenges a second). Read at every poll (heap-sampling profiles of both
 * threads, 50 main-job steps, bench/e2e.ts main-b32), the spins made 2.6 of a worker's 3.5 MB of garbage a
 * step and 0.3 of the calling thread's 2.2; read every 256 polls (1.5 us of 5.9 ns polls), the worker makes
 * 1.0 MB a step (the spin 0.07), the calling thread 1.9, and 100 steps run 93-94 scavenges instead of 128-129
 * (their parallel phases wake V8's helper threads, which then share the cores with the pool's). The step
 * time did not move measurably.
 */
const POLLS_PER_CLOCK = 256;

/**
 * Spins until `i32[index]` equals `value` (`differs`: until it differs from it) or `ms` milliseconds have
 * passed; true when the value came. Reads the clock only every POLLS_PER_CLOCK polls.
 */
export function spinFor(i32: Int32Array, index: number, value: number, differs: boolean, ms: number): boolean {
  const end = performance.now() + ms;
  for (let i = 1; ; i++) {
    if ((Atomics.load(i32, index) === value) !== differs) return true;
    if (i % POLLS_PER_CLOCK === 0 && performance.now() >= end) return false;
  }
}

/** Microseconds of the wall clock (performance.timeOrigin + now(), which every thread shares) modulo 2^30: an int32 slot's stamp. */
export function stampUs(): number {
  return Math.round(((performance.timeOrigin + performance.now()) * 1000) % 2 ** 30);
}

/** Milliseconds from stamp `from` to stamp `to` ({@link stampUs}; either order, less than 2^29 us apart). */
export function msBetween(from: number, to: number): number {
  return ((((to - from) % 2 ** 30) + 2 ** 30 + 2 ** 29) % 2 ** 30 - 2 ** 29) / 1000;
}

/** Diagnostics for tests: throw inside the task / end the worker thread. */
export const OP_TEST_THROW = 90;
export const OP_TEST_EXIT = 91;
export const OP_QUIT = 99;

/** What a worker receives as workerData. */
export interface WorkerInit {
  /** Worker number (for messages). */
  index: number;
  ctrl: SharedArrayBuffer;
  args: SharedArrayBuffer;
  msg: SharedArrayBuffer;
  /** URLs of the modules defining thread tasks (src/parallel/registry.ts), imported before the first task. */
  tasks: string[];
  /** The main thread's heap (src/tensor/heap.ts), adopted before anything runs. */
  heap: HeapHandle;
}
