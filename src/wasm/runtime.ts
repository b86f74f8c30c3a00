/**
 * The slice of the WebAssembly JS API that bitspike uses, typed here because
 * the project's TypeScript libs (ES2024 + @types/node) do not declare the
 * `WebAssembly` global. Kept local (not a global declaration) so it can never
 * clash with a DOM lib someone adds later.
 */
import { countStaged, heapIsWasm, heapMemory, heapU8, inHeap, Scratch, setZeroFill } from "../tensor/heap.js";
import { Code, emitModule, I32, type ConstTable } from "./emit.js";

/** A linear memory: `buffer` is replaced (the old one detached) by every grow. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** What the kernels need of the `WebAssembly` namespace. */
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  Memory: new (desc: { initial: number; maximum?: number }) => WasmMemory;
}

/** The `WebAssembly` namespace, or null where it is missing (e.g. node --jitless). */
export function wasmApi(): WasmApi | null {
  const w = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  return w === undefined ? null : w;
}

/**
 * Compiles and instantiates `bytes` synchronously over `memory` (imported as
 * `env.memory`) and returns the exports. Synchronous so a kernel can build its
 * module lazily at first use, in whatever thread (main or pool worker) calls it.
 */
export function instantiate(bytes: Uint8Array, memory: WasmMemory): Record<string, unknown> {
  const api = wasmApi();
  if (api === null) throw new Error("WebAssembly is not available in this runtime");
  return new api.Instance(new api.Module(bytes), { env: { memory } }).exports;
}

/**
 * A kernel module instantiated over the heap (src/tensor/heap.ts): the
 * module's functions take byte offsets into the one memory every tensor lives
 * in, so a wrapper passes `array.byteOffset` of a heap array and nothing is
 * copied. Emitted (with `shared: true` in its ModuleDef) and compiled at first
 * use in each thread; each thread's instance also has its own {@link Scratch}
 * for packed panels, tables and accumulators.
 */
export class HeapKernel {
  private ex: Record<string, unknown> | null = null;
  /** This thread's scratch for this module. */
  readonly scratch = new Scratch();
  private readonly constTable: () => number;

  /** `consts`: the table of v128 constants the module's functions load (see ConstTable), filled as it is emitted. */
  constructor(private readonly emit: () => Uint8Array, consts: ConstTable | null = null) {
    this.constTable = heapTable(() => {
      if (consts === null) throw new Error("HeapKernel.constants: this module has no constant table");
      this.exports(); // emitting the module fills the table
      return consts.bytes();
    });
  }

  /** The instance's exports, compiling the module on first call. */
  exports(): Record<string, unknown> {
    if (this.ex === null) {
      if (!heapIsWasm()) throw new Error("WebAssembly is not available in this runtime");
      this.ex = instantiate(this.emit(), heapMemory() as WasmMemory);
    }
    return this.ex;
  }

  /** Byte offset in the heap of this thread's copy of the module's constant table (written at first call): the functions' `consts` argument. */
  constants(): number {
    return this.constTable();
  }
}

/**
 * A constant byte table kernels read from the heap (shuffle masks, v128 constants): a function giving its
 * byte offset, this thread's copy written from `make()` at the first call.
 */
export function heapTable(make: () => Uint8Array): () => number {
  const scratch = new Scratch();
  let at = -1;
  return () => {
    if (at < 0) {
      const t = make();
      const o = scratch.take(Math.max(16, t.length));
      heapU8().set(t, o);
      at = o;
    }
    return at;
  };
}

/** A typed array of any element type (its constructor makes views of the same type). */
type Typed = ArrayBufferView & ArrayLike<number> & { constructor: new (buffer: ArrayBufferLike, offset: number, length: number) => Typed; set(a: Typed): void; subarray(b: number, e: number): Typed };

/**
 * Byte offset of `a`'s data for a kernel: where it is when `a` is a heap
 * array; otherwise `a` (elements from..from+len) is copied to `stage` (a byte
 * offset in the heap the caller reserved, aligned for a's type) when
 * `copyIn`, and the bytes counted as staged, and `stage` is returned. A
 * caller whose kernel writes a staged array copies it back with {@link unstage}.
 * (The copies go element by element of a's own type: V8 stores into shared
 * memory one element at a time, so byte views would be 4-8x slower.)
 */
export function heapPtr(a: ArrayBufferView, from: number, len: number, stage: number, copyIn: boolean): number {
  const t = a as Typed, bpe = (a as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  if (inHeap(a)) return a.byteOffset + from * bpe;
  if (copyIn) {
    new t.constructor(heapU8().buffer, stage, len).set(t.subarray(from, from + len));
    countStaged(len * bpe);
  }
  return stage;
}

/** Copies `len` elements back from heap offset `stage` into foreign `a` at `from` (counted as staged). */
export function unstage(a: ArrayBufferView, from: number, len: number, stage: number): void {
  const t = a as Typed, bpe = (a as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  t.subarray(from, from + len).set(new t.constructor(heapU8().buffer, stage, len));
  countStaged(len * bpe);
}

/** memory.fill over the heap: the allocator's zero fill at memset speed (2-7x a Float64Array fill on shared memory, measured at 4 KB to 4 MB). */
const fillKernel = new HeapKernel(() =>
  emitModule({ minPages: 1, shared: true, funcs: [{ name: "zero", params: [I32, I32], results: [], locals: [], body: new Code().get(0).i32Const(0).get(1).memoryFill() }] }),
);
let zero: ((off: number, bytes: number) => void) | null = null;
// Compiled at the first reuse of a block (the heap itself starts lazily, and a worker adopts the main thread's first).
setZeroFill((off, bytes) => (zero ??= fillKernel.exports().zero as (off: number, bytes: number) => void)(off, bytes));
