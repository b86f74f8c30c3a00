/**
 * The one memory: every tensor's floats and every spike tensor's words live in
 * one shared `WebAssembly.Memory` per process, which every kernel module
 * imports and every pool worker is handed. A kernel therefore reads its inputs
 * and writes its outputs where they are (a byte offset is all it needs) and
 * threads split work over the same bytes: nothing is copied per call.
 *
 * The memory is shared (`shared: true`), so growing it never detaches a view:
 * a typed array made before a grow stays valid. Where WebAssembly is missing
 * (`node --jitless`) the same allocator runs over a growable SharedArrayBuffer,
 * and the TypeScript kernel twins use it the same way.
 *
 * Allocation: blocks are 64-byte aligned and rounded up to a size class (four
 * classes per power of two above 256 bytes, so at most ~19% is lost to
 * rounding); a freed block goes on its class's free list and is the next one
 * handed out for that class. A request whose list is empty takes a free block
 * of up to four classes up (at most twice its size) before new space: a
 * training step frees the forward's sizes and asks for the backward's, and the
 * memory would otherwise grow past the peak of live bytes (CIFAR b8 step: peak
 * RSS 718 -> 692 MB). Steady training loops allocate the same sizes every step,
 * so after the first step nearly every request is a free-list pop.
 * New space comes from a bump pointer kept in the memory itself (the first
 * cache line), advanced with Atomics so a pool worker can take per-thread
 * scratch without asking the main thread.
 *
 * Release: the engine frees what it knows the end of (an op's temporaries,
 * the tape's gradients after backward, a training step's activations: see
 * {@link heapScope}); a FinalizationRegistry frees the rest once nothing holds
 * it. A block freed while a tensor still points at it marks that tensor
 * released: reading its `data` then throws instead of returning reused bytes.
 */
import { BitspikeError } from "./errors.js";

/** What the heap needs of a WebAssembly.Memory (typed here: the project's libs do not declare WebAssembly). */
export interface SharedMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}

interface WasmMemoryCtor {
  Memory: new (desc: { initial: number; maximum: number; shared: boolean }) => SharedMemory;
}

/** What a pool worker is handed to share the heap. */
export type HeapHandle = SharedMemory | SharedArrayBuffer;

/** Bytes in one WebAssembly page. */
const PAGE = 65536;
/** wasm32 addresses 4 GiB at most. */
const MAX_PAGES = 65536;
/** Bytes of the header line at offset 0 (the bump pointer lives there; offset 0 is never a block). */
const HEADER = 64;
/** Every block starts on a cache line. */
const ALIGN = 64;
const INITIAL_BYTES = 16 << 20;

/** A live allocation. Tensors that view it hold the record, so freeing it can mark them released. */
export class Block {
  /** False once freed; a tensor whose block is not live refuses to hand out its data. */
  live = true;
  /** Why it was freed (for the error a released tensor gives). */
  freedBy = "";
  constructor(
    /** Byte offset in the heap. */
    readonly offset: number,
    /** Bytes reserved (the size class). */
    readonly bytes: number,
    /** Size class index. */
    readonly cls: number,
    /** Serial number of the allocation (scopes use it to tell what they made). */
    readonly serial: number,
  ) {}
}

let memory: SharedMemory | null = null;
/** The SharedArrayBuffer behind the heap where WebAssembly is missing; null over a WebAssembly.Memory. */
let plainSab: SharedArrayBuffer | null = null;
/** The current buffer (a new object after each grow of a WebAssembly.Memory; the same object for a growable SAB). */
let buffer: SharedArrayBuffer | null = null;
/** Every buffer object the heap has handed out views of: tells a heap array from a foreign one. */
const buffers = new Set<ArrayBufferLike>();
let top32: Int32Array | null = null;
/** True in a pool worker: it uses the main thread's memory and may only take scratch. */
let adopted = false;

let f32: Float32Array = new Float32Array(0);
let f64: Float64Array = new Float64Array(0);
let u32: Uint32Array = new Uint32Array(0);
let i32: Int32Array = new Int32Array(0);
let u8: Uint8Array = new Uint8Array(0);

/**
 * Zeroes `bytes` from byte offset `off` (64-aligned; the block holds the rounding up to 8).
 * Element stores into shared memory go one atomic store at a time in V8, so a Float64 fill
 * (8 bytes a store) beats a byte fill 8x; the WASM runtime swaps in memory.fill (a memset).
 */
const f64Fill = (off: number, bytes: number): void => void heapF64().fill(0, off / 8, (off + bytes + 7) >> 3);
let wasmFill: ((off: number, bytes: number) => void) | null = null;
const zeroFill = (off: number, bytes: number): void => (wasmFill !== null && plainSab === null ? wasmFill : f64Fill)(off, bytes);

/** Sets the zero fill of reused blocks over a WebAssembly heap (src/wasm/runtime.ts installs memory.fill). */
export function setZeroFill(f: (off: number, bytes: number) => void): void {
  wasmFill = f;
}

const liveBlocks = new Map<number, Block>();
const freeLists: number[][] = [];
let liveBytes = 0;
let peakBytes = 0;
let serial = 0;
let staged = 0;

function wasmCtor(): WasmMemoryCtor | null {
  const w = (globalThis as { WebAssembly?: WasmMemoryCtor }).WebAssembly;
  return w === undefined || typeof w.Memory !== "function" ? null : w;
}

function init(): void {
  if (buffer !== null) return;
  const w = wasmCtor();
  if (w !== null) {
    // Ask for the whole 4 GiB range first (reserved address space, not memory); smaller where a runtime refuses.
    for (let max = MAX_PAGES; max >= 1024 && memory === null; max >>= 1) {
      try {
        memory = new w.Memory({ initial: INITIAL_BYTES / PAGE, maximum: max, shared: true });
      } catch {
        memory = null;
      }
    }
  }
  if (memory === null) {
    overSab(new (SharedArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => SharedArrayBuffer)(
      INITIAL_BYTES, { maxByteLength: (MAX_PAGES - 1) * PAGE },
    ));
  }
  refresh();
  Atomics.compareExchange(top32!, 0, 0, HEADER);
}

/** Re-takes the whole-heap views when the memory has grown (here or in another thread). */
function refresh(): void {
  const b = memory!.buffer as SharedArrayBuffer;
  if (b === buffer && b.byteLength === u8.length) return;
  buffer = b;
  buffers.add(b);
  f32 = new Float32Array(b, 0, b.byteLength >>> 2);
  f64 = new Float64Array(b, 0, b.byteLength >>> 3);
  u32 = new Uint32Array(b, 0, b.byteLength >>> 2);
  i32 = new Int32Array(b, 0, b.byteLength >>> 2);
  u8 = new Uint8Array(b, 0, b.byteLength);
  top32 = new Int32Array(b, 0, 16);
}

/**
 * The memory every kernel module imports (`env.memory`). Created at first use;
 * a pool worker gets the main thread's through {@link adoptHeap}.
 */
export function heapMemory(): SharedMemory {
  init();
  return memory!;
}

/** True when the heap is a WebAssembly.Memory (kernels can import it), false over a plain SharedArrayBuffer. */
export function heapIsWasm(): boolean {
  init();
  return plainSab === null;
}

/** What a pool worker needs to use this heap: the WebAssembly.Memory, or the SharedArrayBuffer where WebAssembly is missing. */
export function heapHandle(): HeapHandle {
  init();
  return plainSab ?? memory!;
}

/**
 * Makes this thread use the main thread's heap (from {@link heapHandle})
 * instead of creating its own: called by a pool worker before anything allocates.
 */
export function adoptHeap(h: HeapHandle): void {
  if (h instanceof SharedArrayBuffer) overSab(h);
  else memory = h;
  buffer = null;
  adopted = true;
  refresh();
}

/** Uses a growable SharedArrayBuffer as the memory (no WebAssembly). */
function overSab(sab: SharedArrayBuffer): void {
  plainSab = sab;
  memory = {
    get buffer() { return sab; },
    grow(pages: number): number {
      const old = sab.byteLength / PAGE;
      (sab as unknown as { grow(n: number): void }).grow(sab.byteLength + pages * PAGE);
      return old;
    },
  };
}

/** Whole-heap views (valid until the heap grows; call again after any allocation). */
export function heapF32(): Float32Array {
  init();
  refresh();
  return f32;
}
export function heapF64(): Float64Array {
  init();
  refresh();
  return f64;
}
export function heapU32(): Uint32Array {
  init();
  refresh();
  return u32;
}
/** The whole heap as int32 (bucket tables, the threads' claim counters: Atomics need an Int32Array). */
export function heapI32(): Int32Array {
  init();
  refresh();
  return i32;
}
export function heapU8(): Uint8Array {
  init();
  refresh();
  return u8;
}

/** True when `a` is a view of the heap (kernels use its bytes in place); false for a foreign array. */
export function inHeap(a: ArrayBufferView): boolean {
  return buffers.has(a.buffer);
}

/** Size class of a request: 64-byte steps up to 256, then four classes per power of two. */
function classOf(bytes: number): number {
  if (bytes <= 256) return Math.max(0, Math.ceil(bytes / 64) - 1); // 0..3: 64, 128, 192, 256
  const e = 31 - Math.clz32(bytes - 1); // 2^e < bytes <= 2^(e+1)
  const step = 2 ** (e - 2);
  const q = Math.ceil((bytes - 2 ** e) / step); // 1..4
  return 4 + (e - 8) * 4 + (q - 1);
}

/** Bytes reserved for a class. */
function classBytes(cls: number): number {
  if (cls < 4) return (cls + 1) * 64;
  const e = 8 + ((cls - 4) >> 2);
  const q = ((cls - 4) & 3) + 1;
  return 2 ** e + q * 2 ** (e - 2);
}

/**
 * How many classes up a request may take a free block from when its own list
 * is empty (4 = up to twice its size).
 */
const LARGER_CLASSES = 4;

/** Advances the shared bump pointer by `bytes` (a multiple of 64), growing the memory; the start, or -1 past 4 GiB. */
function bump(bytes: number): number {
  init();
  for (;;) {
    const start = Atomics.load(top32!, 0) >>> 0;
    const end = start + bytes;
    if (end > (MAX_PAGES - 1) * PAGE) return -1;
    if (Atomics.compareExchange(top32!, 0, start | 0, end | 0) !== (start | 0)) continue;
    ensureBytes(end);
    return start;
  }
}

/** Grows the memory (at least doubling, while that fits) until it holds `end` bytes. */
function ensureBytes(end: number): void {
  let have = memory!.buffer.byteLength;
  while (have < end) {
    const pages = Math.ceil((end - have) / PAGE);
    const want = Math.min(Math.max(pages, have / PAGE), MAX_PAGES - 1 - have / PAGE);
    try {
      memory!.grow(Math.max(pages, want));
    } catch {
      try {
        memory!.grow(pages);
      } catch {
        // Another thread may have grown it meanwhile; otherwise this is the end.
        if (memory!.buffer.byteLength >= end) break;
        throw new BitspikeError("heap", `cannot grow the memory to ${mb(end)} (${mb(have)} now): the runtime refused`);
      }
    }
    have = memory!.buffer.byteLength;
  }
  refresh();
}

const mb = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MB`;

/** A scope records what is allocated while it is open; see {@link heapScope}. */
interface Scope {
  blocks: Block[];
}
const scopes: Scope[] = [];

/**
 * Allocates a zeroed block of `bytes` (0 allowed). Throws a BitspikeError
 * naming the request and the live total when the 4 GiB of a wasm32 memory
 * cannot hold it.
 */
export function allocBlock(bytes: number, zero = true): Block {
  if (adopted) throw new BitspikeError("heap", "internal: a pool worker cannot allocate tensors (only scratch)");
  if (!Number.isInteger(bytes) || bytes < 0) throw new BitspikeError("heap", `allocation of ${bytes} bytes: expected a non-negative integer`);
  let cls = classOf(Math.max(bytes, 1));
  let off = -1;
  // Its own class first, then a free block up to LARGER_CLASSES classes up (which keeps its class), before new space:
  // freed blocks of other sizes then serve later requests instead of the memory growing past the peak of live bytes.
  for (let c = cls; c <= cls + LARGER_CLASSES && off < 0; c++) {
    const list = freeLists[c];
    if (list !== undefined && list.length > 0) {
      off = list.pop()!;
      cls = c;
    }
  }
  const size = classBytes(cls);
  const reused = off >= 0;
  if (!reused) {
    off = bump(size);
    if (off < 0) {
      throw new BitspikeError(
        "heap",
        `cannot allocate ${mb(bytes)}: ${mb(liveBytes)} are live in the heap and a WebAssembly memory holds at most 4 GiB ` +
          `(${mb(freeListBytes())} more sit in free lists of other sizes)`,
      );
    }
  }
  if (zero && reused) zeroFill(off, bytes);
  const b = new Block(off, size, cls, serial++);
  liveBlocks.set(off, b);
  liveBytes += size;
  if (liveBytes > peakBytes) peakBytes = liveBytes;
  const s = scopes[scopes.length - 1];
  if (s !== undefined) s.blocks.push(b);
  return b;
}

function freeListBytes(): number {
  let t = 0;
  freeLists.forEach((l, cls) => (t += (l?.length ?? 0) * classBytes(cls)));
  return t;
}

/** Returns a block to its free list (no-op when already freed). */
export function freeBlock(b: Block, why = "released"): void {
  if (!b.live) return;
  b.live = false;
  b.freedBy = why;
  // Its holders' registrations go now: their cells would otherwise wait for a finalization task, which a
  // synchronous training loop never lets run (each kept its block record alive: 76 KB a step of the main job).
  collected.unregister(b);
  liveBlocks.delete(b.offset);
  liveBytes -= b.bytes;
  (freeLists[b.cls] ??= []).push(b.offset);
}

/** The live block that starts where `a` starts, or null (a foreign array, or a view into the middle of a block). */
export function blockOf(a: ArrayBufferView): Block | null {
  if (!buffers.has(a.buffer)) return null;
  return liveBlocks.get(a.byteOffset) ?? null;
}

/** Frees the block `a` views when `a` starts it; returns whether it did. For an op's temporaries. */
export function freeArray(a: ArrayBufferView | null | undefined, why = "released"): boolean {
  if (a === null || a === undefined) return false;
  const b = blockOf(a);
  if (b === null) return false;
  freeBlock(b, why);
  return true;
}

/** Typed-array constructors the heap hands out. */
type HeapCtor = Float32ArrayConstructor | Float64ArrayConstructor | Uint32ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor;

/** A zeroed typed array of `n` elements in the heap. */
export function heapArray<C extends HeapCtor>(C: C, n: number, zero = true): InstanceType<C> {
  const b = allocBlock(n * C.BYTES_PER_ELEMENT, zero);
  return new C(buffer as unknown as ArrayBuffer, b.offset, n) as InstanceType<C>;
}

/**
 * Runs `fn` and then frees every block allocated during it that is still
 * live, except the blocks `keep()` (called at the end) names: the engine's way
 * of releasing a whole training step, backward pass or evaluation batch at once.
 * Tensors that pointed at a freed block are marked released (their `data`
 * throws), so a value that should have been kept can never be read as other
 * bytes. Scopes nest; what an inner scope keeps belongs to the outer one.
 */
export function heapScope<T>(fn: () => T, keep: () => Iterable<ArrayBufferView | null | undefined> = () => [], why = "released at the end of its scope"): T {
  const s: Scope = { blocks: [] };
  scopes.push(s);
  let ok = false;
  try {
    const r = fn();
    ok = true;
    return r;
  } finally {
    scopes.pop();
    const kept = new Set<Block>();
    if (ok) {
      for (const a of keep()) {
        const b = a ? blockOf(a) : null;
        if (b !== null) kept.add(b);
      }
    }
    const outer = scopes[scopes.length - 1];
    for (const b of s.blocks) {
      if (!b.live) continue;
      if (kept.has(b) || !ok) outer?.blocks.push(b);
      else freeBlock(b, why);
    }
  }
}

/** The serial number the next allocation will get (blocks with a serial >= it were made after this call). */
export function nextSerial(): number {
  return serial;
}

/** Counts bytes a kernel had to copy into or out of the heap (foreign arrays); see {@link heapStats}. */
export function countStaged(bytes: number): void {
  staged += bytes;
}

/** Allocator statistics: heap size, live and peak live bytes, bytes in free lists, bytes staged by kernels. */
export function heapStats(): { heapBytes: number; liveBytes: number; peakBytes: number; freeBytes: number; stagedBytes: number; blocks: number } {
  init();
  return { heapBytes: memory!.buffer.byteLength, liveBytes, peakBytes, freeBytes: freeListBytes(), stagedBytes: staged, blocks: liveBlocks.size };
}

/** Resets the peak-live and staged-bytes counters (benches measure a phase from here). */
export function resetHeapCounters(): void {
  peakBytes = liveBytes;
  staged = 0;
}

/**
 * A grow-only scratch region of one kernel module in one thread: the module's
 * packed panels, tables and accumulators between its entry and its exit.
 * In a pool worker it comes from the bump pointer (an outgrown region is
 * abandoned: at most as much again), in the main thread from the allocator,
 * outside any scope.
 */
export class Scratch {
  private off = -1;
  private len = 0;

  /** Byte offset of at least `bytes` of scratch (64-byte aligned); valid until the next take() on this region. */
  take(bytes: number): number {
    if (bytes <= this.len) return this.off;
    const size = Math.ceil(Math.max(bytes, Math.min(2 * this.len, bytes * 2), 1 << 16) / ALIGN) * ALIGN;
    if (adopted) {
      const off = bump(size);
      if (off < 0) throw new BitspikeError("heap", `cannot take ${mb(size)} of kernel scratch: the 4 GiB memory is full`);
      this.off = off;
    } else {
      if (this.off >= 0) freeBlock(liveBlocks.get(this.off)!, "scratch grown");
      // Forget the freed block now: if the allocation below throws, a later take() must not hand it out.
      this.off = -1;
      this.len = 0;
      const open = scopes.splice(0); // the scratch outlives whatever scope is open
      try {
        this.off = allocBlock(size, false).offset;
      } finally {
        scopes.push(...open);
      }
    }
    this.len = size;
    refresh();
    return this.off;
  }

  /** Bytes held now. */
  bytes(): number {
    return this.len;
  }
}

// The safety net: a block whose every holder was collected goes back to its free list.
const holders = new WeakMap<Block, { n: number }>();
const collected = new FinalizationRegistry<Block>((b) => {
  const h = holders.get(b);
  if (h !== undefined && --h.n > 0) return;
  freeBlock(b, "collected");
});

/** Registers `holder` (a tensor, spike tensor or the array itself) as keeping `b` alive. */
export function holdBlock(holder: object, b: Block): void {
  const h = holders.get(b);
  if (h === undefined) holders.set(b, { n: 1 });
  else h.n++;
  collected.register(holder, b, b); // the block is its own unregister token (see freeBlock)
}
