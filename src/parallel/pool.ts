/**
 * A persistent pool of worker threads for the threaded kernel twins.
 *
 * Tasks are signalled through Atomics on a per-worker shared control block
 * (the worker sleeps in Atomics.wait; the caller spins briefly, then waits),
 * not by a postMessage per task. With `t` threads the calling thread runs one
 * part itself and `t - 1` workers run the others. Workers start lazily and in
 * the background: until they are ready the twins run on the calling thread,
 * which gives the same bits, only slower. If workers cannot start (no way to
 * load TypeScript in a worker, say) the pool quietly stays at one thread.
 * Idle workers do not keep the process alive.
 */
import { fail } from "../tensor/errors.js";
import type { FloatArray } from "../tensor/tensor.js";
import { countStaged, heapF32, heapF64, heapHandle, inHeap, Scratch } from "../tensor/heap.js";
import {
  BUF, CMD, DONE, KERNEL_BACKENDS, KERNELS, LINE, MAX_ARGS, MAX_BUFS, msBetween, MSG_BYTES, MSGLEN, NBUF, OPCODE, OP_QUIT, PART_US, PROFILED, PROGRESS, SLEEPING,
  SPIN_US, spinFor, stampUs, STARTED_US, STATE, STATUS, WOKEN,
  type WorkerInit,
} from "./protocol.js";
import { getKernelBackend } from "../wasm/backend.js";
import { OP_SEQUENCE, taskBody, taskModules } from "./registry.js";
import { evenCuts, partCosts } from "./balance.js";
import { learnSpeeds, threadSpeed, type PartTime } from "./speeds.js";

import { nodeThreadHost, type ThreadHost, type WorkerHandle } from "./host.js";

/** The platform's threads: Node's where it exists; none (one thread) elsewhere until a host is set. */
let host: ThreadHost | null = nodeThreadHost();

/** One part of a parallel task, for a worker: op code, Float64 arguments, heap arrays. */
export interface Part {
  op: number;
  args: readonly number[];
  /** Heap arrays; the worker sees each as a whole-heap view of its element type (see {@link sabBase}). */
  bufs: readonly FloatArray[];
}

interface Slot {
  worker: WorkerHandle;
  ctrl: Int32Array;
  args: Float64Array;
  msg: Uint8Array;
  seq: number;
  exited: boolean;
  /** How many task modules the worker was started with. */
  tasks: number;
  index: number;
  /** When its latest profiled part ended ({@link stampUs}), or -1: the start of its idle time before the next (poolProfile). */
  endUs: number;
}

let threads = host === null ? 1 : host.cores();
let slots: Slot[] = [];
/** Why workers are unavailable (set once start-up failed; the pool then stays at one thread). */
let disabled: string | null = null;
let nextWorker = 0;
let workerParts = 0;
/** A caller waiting on a worker gives up after this long without progress. */
let stallMs = 120_000;
/**
 * Multiply-adds below which a part is not worth a thread: ~100-200 µs of gemm
 * here (0.5-1 GMAC/s per thread), against ~15 µs to signal and wait plus the copies.
 */
let minPartWork = 1 << 17;
/**
 * How long a thread spins for the other before it sleeps, ms: a worker for its next task, the caller for a
 * worker's part. Waking a sleeping thread costs the caller 0.04-0.08 ms on an idle 2-core VM, but 0.4-0.7 ms
 * when another process competes for the cores (its scheduling delay); see setPoolSpin.
 */
let spinMs = 0.2;
/** The longest spin setPoolSpin takes, ms. */
export const MAX_POOL_SPIN_MS = 10_000;


/**
 * Runs the pool's workers on another platform's threads (a browser's Web
 * Workers): stops the current workers; the pool restarts on the next threaded
 * call. The thread count becomes the host's core count.
 */
export async function setThreadHost(h: ThreadHost): Promise<void> {
  await shutdownPool();
  host = h;
  disabled = null;
  threads = h.cores();
}

/** Sets the number of threads (the caller plus n - 1 workers); 1 means no workers at all. */
export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) fail("setThreads", `thread count must be an integer >= 1, got ${n}`);
  threads = n;
  if (slots.length > n - 1) {
    for (const s of slots.slice(n - 1)) stopSlot(s);
    slots = slots.slice(0, n - 1);
  }
}

/** The configured number of threads (default `os.availableParallelism()`). */
export function getThreads(): number {
  return threads;
}

/**
 * Pool state: configured threads, workers ready now, why workers are off (if
 * they are), and how many parts workers have run so far.
 */
export function poolInfo(): { threads: number; readyWorkers: number; disabled: string | null; workerParts: number } {
  return { threads, readyWorkers: readySlots().length, disabled, workerParts };
}

/** Starts the workers if needed and resolves, once each is ready or failed, to the number of usable threads. */
export async function poolReady(timeoutMs = 60_000): Promise<number> {
  ensureWorkers();
  const t0 = Date.now();
  while (slots.some((s) => !s.exited && Atomics.load(s.ctrl, STATE) === 0) && Date.now() - t0 < timeoutMs) {
    await new Promise((r) => setTimeout(r, 5));
  }
  return usableThreads();
}

/** Stops every worker (the pool restarts lazily on the next threaded call). */
export async function shutdownPool(): Promise<void> {
  const old = slots;
  slots = [];
  await Promise.all(old.map((s) => stopSlot(s)));
}

/**
 * Threads a twin may use right now: 1 plus the ready workers (never more than
 * configured). Starts missing workers in the background.
 */
export function usableThreads(): number {
  if (threads <= 1) return 1;
  ensureWorkers();
  return 1 + Math.min(threads - 1, readySlots().length);
}

/**
 * What share of a static split each of `parts` parts should get (the calling thread's first, then the
 * workers' that {@link runParts} will hand the others to, in order): their learned speeds (./speeds.ts), for
 * `weightedCuts` and `evenCuts` (./balance.ts); pass the parts' costs on to runParts so it keeps learning.
 */
export function partShares(parts: number): number[] {
  const ready = readySlots();
  const out = [threadSpeed(0, -1)];
  for (let j = 1; j < parts; j++) out.push(threadSpeed(j, ready[j - 1]?.index ?? -1));
  return out;
}

/** Element index of a heap array's first element in the whole heap (workers view the whole heap). */
export function sabBase(a: FloatArray): number {
  return a.byteOffset / a.BYTES_PER_ELEMENT;
}

const staging = new Scratch();

/**
 * Heap views for staging foreign arrays, one per request ([float64?, length,
 * working?]), each 64-byte aligned. Valid until the next call. The requested
 * bytes are counted as staged (a twin asks only for the arrays that are not
 * in the heap), except those marked `working`: the pool's own exchange areas.
 */
export function scratchViews(requests: readonly (readonly [boolean, number, boolean?])[]): FloatArray[] {
  let total = 0;
  const offs: number[] = [];
  for (const [, len] of requests) {
    offs.push(total);
    total += Math.ceil((len * 8) / 64) * 64;
  }
  const base = staging.take(total);
  const staged = requests.reduce((t, [f64, len, working]) => t + (working ? 0 : len * (f64 ? 8 : 4)), 0);
  if (staged > 0) countStaged(staged);
  return requests.map(([f64, len], i) => (f64 ? heapF64().subarray((base + offs[i]!) / 8, (base + offs[i]!) / 8 + len) : heapF32().subarray((base + offs[i]!) / 4, (base + offs[i]!) / 4 + len)));
}

/**
 * Runs `parts` on workers and `local` on the calling thread at the same time,
 * and returns when all are done. Callers must pass at most usableThreads() - 1
 * parts. A part that throws, or a worker that dies or stalls, raises a
 * BitspikeError naming `op` (after every other part has finished); the pool is
 * then restarted on the next call. `costs` (the calling thread's part first, then
 * `parts`' in order, in any one unit): the split was cut by {@link partShares},
 * and the parts' times teach the pool the threads' speeds for the next cuts.
 */
export function runParts(op: string, parts: readonly Part[], local: () => void, costs?: readonly number[]): void {
  if (profile !== null && profile.serial) {
    const t0 = performance.now();
    local();
    const t1 = performance.now();
    for (const p of parts) runHere(p);
    record(op, performance.now() - t0, 0, t1 - t0);
    return;
  }
  const ready = readySlots();
  if (parts.length > ready.length) fail(op, `internal: ${parts.length} parts for ${ready.length} ready workers`);
  const sent = profile !== null ? stampUs() : 0;
  const used: Slot[] = [];
  const seqs: number[] = [];
  let localError: unknown = null;
  let dispatchError: unknown = null;
  try {
    for (let j = 0; j < parts.length; j++) {
      seqs.push(dispatch(ready[j]!, parts[j]!));
      used.push(ready[j]!);
    }
  } catch (e) {
    dispatchError = e;
  }
  const timed = profile !== null || costs !== undefined;
  const t0 = timed ? performance.now() : 0;
  if (dispatchError === null) {
    try {
      local();
    } catch (e) {
      localError = e;
    }
  }
  const t1 = timed ? performance.now() : 0;
  const problems: string[] = [];
  let dead = false;
  for (let j = 0; j < used.length; j++) {
    const r = awaitSlot(used[j]!, seqs[j]!);
    if (r !== null) {
      problems.push(r.message);
      dead ||= r.dead;
    }
  }
  if (profile !== null) {
    let start = 0, woken = 0, worker = 0, idle = 0;
    for (const s of used) {
      start += msBetween(sent, s.ctrl[STARTED_US]!);
      woken += s.ctrl[WOKEN]!;
      worker = Math.max(worker, s.ctrl[PART_US]! / 1000);
      // From the end of its previous part to this dispatch (0 when it was still busy: a stamp a little past `sent`).
      if (s.endUs >= 0) idle += Math.max(0, msBetween(s.endUs, sent));
      s.endUs = (s.ctrl[STARTED_US]! + s.ctrl[PART_US]!) % 2 ** 30;
    }
    const n = used.length > 0 ? used.length : 1;
    record(op, t1 - t0, performance.now() - t1, t1 - t0, start / n, woken, worker, idle / n);
  }
  if (costs !== undefined && problems.length === 0 && dispatchError === null && localError === null) {
    const workers: PartTime[] = used.map((s, j) => ({ index: s.index, cost: costs[j + 1]!, ms: s.ctrl[PART_US]! / 1000 }));
    learnSpeeds(costs[0]!, t1 - t0, workers);
  }
  if (dead) void shutdownPool();
  if (dispatchError !== null) throw dispatchError;
  if (localError !== null) throw localError;
  if (problems.length > 0) fail(op, `thread pool: ${problems.join("; ")}`);
}

/** The part {@link runBeside} offers to the next claimed call, until one takes it. */
let beside: Part | null = null;
/** Whether {@link runBeside} offers its parts (see {@link setPoolBeside}). */
let besideOn = true;

/**
 * Whether {@link runBeside} offers its parts to claimed calls (the default) or declines every one (so its
 * callers split each pass on its own): bench/knobs.ts --knob beside times the two. Same bits either way.
 * Returns the previous setting.
 */
export function setPoolBeside(on: boolean): boolean {
  const old = besideOn;
  besideOn = on;
  return old;
}

/**
 * Runs `f`, offering `part` (a whole task, e.g. a weight gradient) to the first call f makes whose threads
 * claim their work as they go (src/parallel/claims.ts): that call's first worker runs `part` before it starts
 * claiming, so the calling thread claims from the start and the worker joins when `part` is done. Two
 * independent passes then run at once, each whole on one thread (no split, nothing packed twice), and the
 * claims even out whatever `part` and the threads' speeds leave. True when a call took `part` (it has run
 * when f returns); false when none did (one thread, or f made no claimed call): the caller then runs that
 * work itself. `part` must not touch what f reads or writes.
 */
export function runBeside(part: Part, f: () => void): boolean {
  if (beside !== null) fail("thread pool", "internal: runBeside inside runBeside");
  if (!besideOn) {
    f();
    return false;
  }
  beside = part;
  try {
    f();
    return beside === null;
  } finally {
    beside = null;
  }
}

/** True while a {@link runBeside} part waits for a claimed call to take it (for tests and diagnostics). */
export function besidePending(): boolean {
  return beside !== null;
}

/**
 * `then` (a claimed call's first worker part) preceded by the part {@link runBeside} offers, which it takes,
 * where one is offered and the two fit one worker's task slots; else `then` alone (an offer left untaken:
 * runBeside then returns false and its caller does that work itself).
 */
export function withBeside(then: Part): Part {
  if (beside === null) return then;
  const both = sequencePart(beside, then);
  if (both.args.length > MAX_ARGS || both.bufs.length > MAX_BUFS) return then;
  beside = null;
  return both;
}

/** One worker's part that runs `parts` one after the other (OP_SEQUENCE in ./registry.ts). */
export function sequencePart(...parts: readonly Part[]): Part {
  return {
    op: OP_SEQUENCE,
    args: [parts.length, ...parts.flatMap((p) => [p.op, p.args.length, p.bufs.length]), ...parts.flatMap((p) => p.args)],
    bufs: parts.flatMap((p) => p.bufs),
  };
}

/**
 * Runs `f` with `parts` (in order, all on one worker) beside it where the pool can ({@link runBeside}: every
 * part there, none null, two threads or more); else `f`, then `otherwise` (which does the parts' work itself).
 */
export function runBesideOr(parts: readonly (Part | null)[], f: () => void, otherwise: () => void): void {
  const ready = usableThreads() > 1 && parts.length > 0 && parts.every((p) => p !== null);
  if (ready && runBeside(parts.length === 1 ? parts[0]! : sequencePart(...(parts as Part[])), f)) return;
  if (!ready) f();
  otherwise();
}

/**
 * The whole of a {@link runSplit} pass over `units` as one worker's part (for {@link runBesideOr}), from the
 * same task and arguments; null where its arrays are not all in the heap.
 */
export function wholePart(units: number, shared: boolean, op: number, bufs: readonly FloatArray[], args: (u0: number, u1: number) => readonly number[]): Part | null {
  return shared ? { op, args: args(0, units), bufs } : null;
}

/** Timings of one op's threaded calls (see {@link poolProfile}). */
export interface PoolOpTimes {
  calls: number;
  /** The calling thread's own parts, ms (with `serial`: every part, all on the calling thread). */
  localMs: number;
  /** The calling thread's wait for the workers after its part, ms. */
  waitMs: number;
  /**
   * With `serial`: the calling thread's own part alone, ms (it runs first, the workers' parts after it, which
   * favours theirs by a few percent of warm caches), so a split's balance shows; else `localMs`.
   */
  ownMs: number;
  /** How long after the dispatch began the workers started their parts, ms (a call's mean over its workers, summed over calls). */
  startMs: number;
  /** Parts whose worker had gone to sleep (spun out its spin time), so the pool had to wake it. */
  wokenParts: number;
  /** The longest worker part of a call, ms (the workers' own clocks; 0 with `serial`), summed over calls. */
  workerMs: number;
  /**
   * How long the workers had been idle when the call dispatched their parts: from the end of each one's
   * previous part in this profile (a call's mean over its workers, summed over calls; 0 with `serial`).
   */
  idleMs: number;
}

/** Timings of no call: every counter 0 (a profile's start for an op, and what a bench shows for an op a mode never ran). */
export function noOpTimes(): PoolOpTimes {
  return { calls: 0, localMs: 0, waitMs: 0, ownMs: 0, startMs: 0, wokenParts: 0, workerMs: 0, idleMs: 0 };
}

let profile: { serial: boolean; ops: Map<string, PoolOpTimes> } | null = null;

function record(op: string, localMs: number, waitMs: number, ownMs = localMs, startMs = 0, wokenParts = 0, workerMs = 0, idleMs = 0): void {
  let t = profile!.ops.get(op);
  if (t === undefined) profile!.ops.set(op, (t = noOpTimes()));
  t.calls++;
  t.localMs += localMs;
  t.waitMs += waitMs;
  t.ownMs += ownMs;
  t.startMs += startMs;
  t.wokenParts += wokenParts;
  t.workerMs += workerMs;
  t.idleMs += idleMs;
}

/** Runs a worker's part on the calling thread, as the worker would (the same task body, arguments and heap views). */
function runHere(p: Part): void {
  const body = taskBody(p.op);
  if (body === undefined) fail("thread pool", `internal: unknown op code ${p.op}`);
  body(Float64Array.from(p.args), p.args.map((v) => v | 0), p.bufs.map((b) => (b instanceof Float64Array ? heapF64() : heapF32())), () => {});
}

/**
 * Where a second thread's time goes (bench/pool-split.ts): from this call on, times every threaded call
 * by op name, the calling thread's part and its wait for the workers; `mode` "serial" runs the workers'
 * parts on the calling thread after its own instead (the same split on one thread, the same bits), so one
 * process compares the two; "off" stops. Returns the timings since the previous call (and resets them).
 */
export function poolProfile(mode: "threads" | "serial" | "off"): Map<string, PoolOpTimes> {
  const before = profile?.ops ?? new Map<string, PoolOpTimes>();
  for (const s of slots) s.endUs = -1; // idle times count from parts this profile saw end
  profile = mode === "off" ? null : { serial: mode === "serial", ops: new Map() };
  return before;
}

/** Minimum multiply-adds per thread before a twin splits its work. */
export function minWorkPerThread(): number {
  return minPartWork;
}

/** Sets the minimum work per thread (tests lower it to thread small problems); returns the old value. */
export function setMinWorkPerThread(macs: number): number {
  const old = minPartWork;
  minPartWork = macs;
  return old;
}

/**
 * Parts to split `work` multiply-adds into: at most `units` (rows, images),
 * at most the usable threads, and only as many as each get minWorkPerThread().
 */
export function partsFor(work: number, units: number): number {
  const byWork = Math.floor(work / minPartWork);
  if (byWork < 2 || units < 2 || threads <= 1) return 1;
  return Math.min(byWork, units, usableThreads());
}

/**
 * Sets how long the pool's threads spin before they sleep, ms (default 0.2): a worker waiting for its next
 * task, the caller for a worker's part. On a machine shared with other busy processes, 20 (like OpenMP's
 * block time; Intel's KMP_BLOCKTIME is 200) keeps the threads on their cores through a step's gaps: a
 * training step there took 0.66-0.78x the time. On an idle machine it gains 1-2%, and where several
 * spinning runs share the cores it loses (1.6x): a spinning thread keeps its core after its last task.
 * 0 sleeps at once. Returns the old value. The same bits whatever the value.
 */
export function setPoolSpin(ms: number): number {
  if (!(ms >= 0 && ms <= MAX_POOL_SPIN_MS)) fail("setPoolSpin", `spin time ${ms} ms: expected 0 to ${MAX_POOL_SPIN_MS}`);
  const old = spinMs;
  spinMs = ms;
  for (const s of slots) Atomics.store(s.ctrl, SPIN_US, Math.round(ms * 1000));
  return old;
}

/** Sets how long a caller waits for a worker that makes no progress (for tests); returns the old value. */
export function setStallTimeout(ms: number): number {
  const old = stallMs;
  stallMs = ms;
  return old;
}

function readySlots(): Slot[] {
  return slots.filter((s) => !s.exited && Atomics.load(s.ctrl, STATE) === 1);
}

function ensureWorkers(): void {
  if (disabled !== null) return;
  // A family whose tasks registered after a worker started is unknown to it: replace such workers.
  const known = taskModules().length;
  for (const s of slots) if (!s.exited && s.tasks < known) void stopSlot(s);
  slots = slots.filter((s) => !s.exited);
  while (slots.length < threads - 1) {
    const s = startSlot();
    if (s === null) return;
    slots.push(s);
  }
}

function startSlot(): Slot | null {
  if (host === null) {
    disabled = "this platform has no worker threads (set one with setThreadHost)";
    return null;
  }
  const ctrlSab = new SharedArrayBuffer(LINE * 4);
  const argsSab = new SharedArrayBuffer(MAX_ARGS * 8);
  const msgSab = new SharedArrayBuffer(MSG_BYTES);
  const index = nextWorker++;
  const init: WorkerInit = { index, ctrl: ctrlSab, args: argsSab, msg: msgSab, heap: heapHandle(), tasks: taskModules() };
  const ctrl = new Int32Array(ctrlSab);
  ctrl[SPIN_US] = Math.round(spinMs * 1000);
  let slot: Slot | null = null;
  const exited = (): void => {
    if (slot) markExited(slot);
    else Atomics.store(ctrl, STATE, -1);
  };
  let worker: WorkerHandle;
  try {
    worker = host.start(
      init,
      (message) => {
        // A worker that fails while loading means workers cannot run here: stay at one thread.
        if (Atomics.load(ctrl, STATE) === 0) disabled = `worker failed to start: ${message}`;
        exited();
      },
      exited,
    );
  } catch (e) {
    disabled = `workers cannot start: ${(e as Error).message}`;
    return null;
  }
  slot = {
    worker, ctrl, args: new Float64Array(argsSab), msg: new Uint8Array(msgSab),
    seq: 0, exited: Atomics.load(ctrl, STATE) === -1, index, tasks: init.tasks.length, endUs: -1,
  };
  return slot;
}

function markExited(s: Slot): void {
  s.exited = true;
  Atomics.store(s.ctrl, STATE, -1);
}

function stopSlot(s: Slot): Promise<unknown> {
  if (!s.exited && Atomics.load(s.ctrl, STATE) === 1) {
    s.ctrl[OPCODE] = OP_QUIT;
    Atomics.store(s.ctrl, CMD, ++s.seq);
    Atomics.notify(s.ctrl, CMD);
  }
  s.exited = true;
  return s.worker.terminate();
}

function dispatch(s: Slot, p: Part): number {
  if (p.bufs.length > MAX_BUFS || p.args.length > MAX_ARGS) fail("thread pool", `internal: task too large`);
  for (let j = 0; j < p.bufs.length; j++) {
    if (!inHeap(p.bufs[j]!)) fail("thread pool", "internal: a worker buffer is not in the heap");
    s.ctrl[BUF + j] = p.bufs[j] instanceof Float64Array ? 1 : 0;
  }
  s.ctrl[NBUF] = p.bufs.length;
  s.ctrl[PROFILED] = profile !== null ? 1 : 0;
  s.ctrl[OPCODE] = p.op;
  // Workers run the caller's kernel backend (the bits are the same either way; the choice is the user's).
  s.ctrl[KERNELS] = KERNEL_BACKENDS.indexOf(getKernelBackend());
  for (let j = 0; j < p.args.length; j++) s.args[j] = p.args[j]!;
  // The arguments a part does not pass read 0, not what the slot's last task left there.
  s.args.fill(0, p.args.length);
  const seq = ++s.seq;
  workerParts++;
  Atomics.store(s.ctrl, CMD, seq);
  // A spinning worker sees CMD move by itself; one that went to sleep (or is about to: its wait then returns at once) needs waking.
  if (Atomics.load(s.ctrl, SLEEPING) !== 0) Atomics.notify(s.ctrl, CMD);
  return seq;
}

/** Waits for task `seq` of a worker; null when it succeeded, else what went wrong. */
function awaitSlot(s: Slot, seq: number): { message: string; dead: boolean } | null {
  const c = s.ctrl;
  // Spin first: the parts are balanced, so the worker is usually about done, and a wake-up is slow.
  spinFor(c, DONE, seq, false, spinMs);
  let progress = Atomics.load(c, PROGRESS);
  let lastMove = Date.now();
  for (;;) {
    const done = Atomics.load(c, DONE);
    if (done === seq) break;
    if (Atomics.load(c, STATE) === -1) {
      markExited(s);
      return { message: `worker ${s.index} exited during the task`, dead: true };
    }
    Atomics.wait(c, DONE, done, 20);
    const p = Atomics.load(c, PROGRESS);
    if (p !== progress) {
      progress = p;
      lastMove = Date.now();
    } else if (Date.now() - lastMove > stallMs) {
      return { message: `worker ${s.index} made no progress for ${stallMs} ms`, dead: true };
    }
  }
  if (c[STATUS] !== 0) {
    const text = new TextDecoder().decode(s.msg.slice(0, c[MSGLEN]!));
    return { message: `worker ${s.index} failed: ${text}`, dead: false };
  }
  return null;
}

/**
 * The split of a pass over `units` independent units (rows, planes,
 * channels) in arrays every worker sees: as many parts as `work`
 * multiply-adds pay for ({@link partsFor}), or as `threads` asks, at most one
 * a unit and one a usable thread, cut at the threads' speeds ({@link partShares}). The calling thread runs `local(0, cut)`;
 * worker j runs task `op` with `args(u0, u1)` and `bufs`. One part, or
 * `shared` false (an operand not in the heap: a memory-bound pass would pay as
 * much to stage it as to run it), runs `local(0, units)` here.
 */
export function runSplit(
  name: string, units: number, work: number, threads: number | undefined, shared: boolean,
  op: number, bufs: readonly FloatArray[], args: (u0: number, u1: number) => readonly number[], local: (u0: number, u1: number) => void,
): void {
  let p = Math.min(threads ?? partsFor(work, units), units);
  if (p > 1) p = Math.min(p, usableThreads());
  if (p <= 1 || !shared) {
    local(0, units);
    return;
  }
  const cuts = evenCuts(units, p, partShares(p));
  const jobs: Part[] = [];
  for (let j = 1; j < p; j++) jobs.push({ op, args: args(cuts[j]!, cuts[j + 1]!), bufs });
  runParts(name, jobs, () => local(0, cuts[1]!), partCosts(null, cuts));
}
