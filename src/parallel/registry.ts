/**
 * The thread tasks, registered by the kernel families that own them. A family
 * calls {@link defineTask} at module load with its module's URL; the pool
 * hands every registered URL to each worker it starts, and the worker imports
 * them, so both sides hold the same table. Adding a threaded twin touches
 * only its family folder.
 */
import type { FloatArray } from "../tensor/tensor.js";
import { MAX_ARGS, OP_QUIT, OP_TEST_EXIT, OP_TEST_THROW } from "./protocol.js";

/**
 * One thread's part of a task: `raw` the float64 arguments as sent, `ints`
 * the same as small integers (indexing with doubles compiles to slower code),
 * `bufs` whole-heap views (float32 or float64, as the caller's arrays were),
 * `tick` to call now and then so a stall watchdog sees progress.
 */
export type TaskBody = (raw: Float64Array, ints: readonly number[], bufs: readonly FloatArray[], tick: () => void) => void;

const bodies = new Map<number, { name: string; body: TaskBody }>();
const modules = new Set<string>();

/** Op code of a task name: FNV-1a, kept positive and clear of the pool's reserved codes. */
function codeOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return 1000 + (h % 1_000_000_000);
}

/**
 * Registers a task under `name` (unique across families); `moduleUrl` is the
 * defining module's `import.meta.url`, which workers import to register it
 * too. Returns the op code a {@link Part} names it by.
 */
export function defineTask(name: string, moduleUrl: string, body: TaskBody): number {
  const op = codeOf(name);
  const had = bodies.get(op);
  if (had !== undefined && had.name !== name) throw new Error(`thread task '${name}' collides with '${had.name}'; rename one`);
  if ([OP_QUIT, OP_TEST_EXIT, OP_TEST_THROW].includes(op)) throw new Error(`thread task '${name}' hits a reserved op code`);
  bodies.set(op, { name, body });
  modules.add(moduleUrl);
  return op;
}

/** The body of a registered task, or undefined. */
export function taskBody(op: number): TaskBody | undefined {
  return bodies.get(op)?.body;
}

/**
 * Parts run one after the other on one worker (parts handed to a worker beside another call's, see runBeside
 * in ./pool.ts): arguments [count, then each part's op code, argument count and buffer count, then each part's
 * arguments], buffers each part's in turn. Each part sees its own arguments from index 0 and 0 past them, as
 * it would sent alone.
 */
export const OP_SEQUENCE = defineTask("pool.sequence", import.meta.url, (raw, _ints, bufs, tick) => {
  const count = raw[0]!;
  let at = 1 + 3 * count, buf = 0;
  for (let j = 0; j < count; j++) {
    const op = raw[1 + 3 * j]!, na = raw[2 + 3 * j]!, nb = raw[3 + 3 * j]!;
    const body = taskBody(op);
    if (body === undefined) throw new Error(`unknown op code ${op} in a sequence of ${count} parts`);
    const own = new Float64Array(MAX_ARGS);
    own.set(raw.subarray(at, at + na));
    body(own, Array.from(own, (v) => v | 0), bufs.slice(buf, buf + nb), tick);
    at += na;
    buf += nb;
  }
});

/** URLs of the modules that defined tasks here, in registration order (workers import them at start). */
export function taskModules(): string[] {
  return [...modules];
}

/** The spike words a task received as a whole-heap float32 view, from element `base` on. */
export function wordsView(buf: FloatArray, base: number): Uint32Array {
  return new Uint32Array(buf.buffer, buf.byteOffset + base * 4, buf.length - base);
}

/** A Float32 view of 32-bit words (spike words, argmax indices) on the same memory: what a Part carries for them. */
export function asFloats(w: Uint32Array | Int32Array): Float32Array {
  return new Float32Array(w.buffer, w.byteOffset, w.length);
}

/** A whole-heap view from element `base` on. */
export function from(a: FloatArray, base: number): FloatArray {
  return base === 0 ? a : a.subarray(base);
}
