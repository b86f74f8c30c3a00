/**
 * Threaded twin of the spike unpack-add (./spike-cast.ts): rows split between
 * threads, each element written once by one thread, so the bits are the same
 * for any split. A memory-bound pass: arrays not in the heap (never the
 * engine's own) stay on the calling thread rather than be staged.
 */
import { inHeap } from "../../tensor/heap.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { unpackAddRange, type UnpackBase } from "./spike-cast.js";
import { asFloats, defineTask, from, wordsView } from "../../parallel/registry.js";
import { runSplit, sabBase } from "../../parallel/pool.js";

const BASE_NONE = 0;
const BASE_FLOAT = 1;
const BASE_BITS = 2;

// Args base kind, bases of base, s, out (base and s as float32 element indices for words), cols, r0, r1; buffers base, s, out.
const OP_UNPACK_ADD = defineTask("spikeCast.rows", import.meta.url, (_raw, a, b) => {
  const base = a[0] === BASE_NONE ? null : a[0] === BASE_BITS ? wordsView(b[0]!, a[1]!) : from(b[0]!, a[1]!);
  unpackAddRange(base, wordsView(b[1]!, a[2]!), from(b[2]!, a[3]!), a[4]!, a[5]!, a[6]!);
});


/**
 * out [rows, cols] = base + the spikes s (or the spikes alone, base null),
 * rows split over `threads` threads (default: by size and the pool).
 */
export function unpackAddThreads(base: UnpackBase, s: Uint32Array, out: FloatArray, rows: number, cols: number, threads?: number): void {
  const kind = base === null ? BASE_NONE : base instanceof Uint32Array ? BASE_BITS : BASE_FLOAT;
  const bb = base === null ? out : base instanceof Uint32Array ? asFloats(base) : base;
  runSplit(
    "spikesToFloat", rows, rows * cols, threads, inHeap(s) && inHeap(out) && inHeap(bb), OP_UNPACK_ADD, [bb, asFloats(s), out],
    (r0, r1) => [kind, sabBase(bb), s.byteOffset / 4, sabBase(out), cols, r0, r1],
    (r0, r1) => unpackAddRange(base, s, out, cols, r0, r1),
  );
}
