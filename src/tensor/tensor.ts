import { fail, fmtShape } from "./errors.js";
import { checkShape, sizeOf, type Shape } from "./shape.js";
import type { Rng } from "./random.js";
import { blockOf, heapArray, holdBlock, type Block } from "./heap.js";

/** Element types of float tensors. float64 exists for gradient checks. */
export type DType = "float32" | "float64";
export type FloatArray = Float32Array | Float64Array;

/**
 * A recorded op on the autograd tape (see `src/autograd/tape.ts`). Declared here,
 * below autograd, so values can point at the node that made them.
 */
export interface TapeNode {
  /** Creation order; backward runs nodes in decreasing id, a valid topological order. */
  readonly id: number;
  readonly op: string;
  readonly inputs: readonly Differentiable[];
  /** Gradients of the inputs from the output's gradient; null once released. */
  backward: ((grad: Tensor) => readonly (Tensor | null | undefined)[]) | null;
  /** Heap arrays private to the backward closure, freed once it has run (see record()). */
  readonly release?: readonly ArrayBufferView[] | undefined;
}

/** Anything autograd can differentiate through: float tensors and packed spikes. */
export interface Differentiable {
  readonly shape: Shape;
  readonly dtype: DType;
  requiresGrad: boolean;
  /** Accumulated gradient (leaves, or values marked with `retainGrad`). Always a float Tensor. */
  grad: Tensor | null;
  /** The op that produced this value, null for leaves. */
  node: TapeNode | null;
  /** Keep `grad` on a non-leaf value too (like PyTorch's `retain_grad()`). */
  retainsGrad: boolean;
  /** The array holding the values (floats or spike words), without the released check: for the engine's bookkeeping. */
  readonly storage: ArrayBufferView;
  /** The heap block of `storage` (null outside the heap), even once released: for the engine's bookkeeping. */
  readonly heapBlock: Block | null;
}

/**
 * Allocates a zeroed float array in the heap (src/tensor/heap.ts), where every
 * kernel and pool worker uses it in place; `inHeap = false` gives an ordinary
 * array instead (kernels then copy it, counted as staged bytes). `zero =
 * false` skips zeroing a reused block: only for a caller whose kernel writes
 * every element before anything reads one.
 */
export function allocFloat(dtype: DType, n: number, inHeap = true, zero = true): FloatArray {
  const Ctor = dtype === "float64" ? Float64Array : Float32Array;
  if (!inHeap) return new Ctor(n);
  const a = heapArray(Ctor, n, zero) as FloatArray;
  holdBlock(a, blockOf(a)!);
  return a;
}

/** The error a released value gives when its data is read. */
export function releasedError(what: string, b: Block): never {
  fail(what, `its memory was ${b.freedBy}; clone() a value you want to keep past that point`);
}

export function dtypeOf(data: FloatArray): DType {
  return data instanceof Float64Array ? "float64" : "float32";
}

type Nested = number | readonly Nested[];

/**
 * A dense float tensor: a shape over a contiguous row-major typed array.
 * Tensors are immutable from the point of view of ops (every op allocates its
 * output), which keeps saved-for-backward values valid.
 */
export class Tensor implements Differentiable {
  readonly shape: Shape;
  private readonly _data: FloatArray;
  /** The heap block the data starts (null for a foreign array or a view into a block). */
  private readonly block: Block | null;
  requiresGrad = false;
  grad: Tensor | null = null;
  node: TapeNode | null = null;
  retainsGrad = false;

  constructor(data: FloatArray, shape: Shape) {
    checkShape("Tensor", shape);
    if (data.length !== sizeOf(shape)) {
      fail("Tensor", `data has ${data.length} elements but shape ${fmtShape(shape)} needs ${sizeOf(shape)}`);
    }
    this._data = data;
    this.block = blockOf(data);
    if (this.block !== null) holdBlock(this, this.block);
    this.shape = Object.freeze([...shape]);
  }

  /** The heap block holding the values (null for an array outside the heap): for the engine's bookkeeping. */
  get heapBlock(): Block | null {
    return this.block;
  }

  get storage(): FloatArray {
    return this._data;
  }

  /** The elements, row-major. Throws once the engine has released the memory (see src/tensor/heap.ts). */
  get data(): FloatArray {
    if (this.block !== null && !this.block.live) releasedError(`Tensor${fmtShape(this.shape)}`, this.block);
    return this._data;
  }

  // Metadata stays readable once the values are released (the tape reads shapes and sizes of freed intermediates).
  get dtype(): DType {
    return dtypeOf(this._data);
  }
  get size(): number {
    return this._data.length;
  }
  get rank(): number {
    return this.shape.length;
  }

  /** A tensor of zeros. */
  static zeros(shape: Shape, dtype: DType = "float32"): Tensor {
    checkShape("zeros", shape);
    return new Tensor(allocFloat(dtype, sizeOf(shape)), shape);
  }

  /** A tensor filled with one value. */
  static full(shape: Shape, value: number, dtype: DType = "float32"): Tensor {
    const t = Tensor.zeros(shape, dtype);
    t.data.fill(value);
    return t;
  }

  static ones(shape: Shape, dtype: DType = "float32"): Tensor {
    return Tensor.full(shape, 1, dtype);
  }

  static scalar(value: number, dtype: DType = "float32"): Tensor {
    return Tensor.full([], value, dtype);
  }

  /**
   * From a flat list with a shape, or from nested arrays (shape inferred).
   * `Tensor.from([[1, 2], [3, 4]])`, `Tensor.from([1, 2, 3, 4], [2, 2])`.
   */
  static from(values: Nested | ArrayLike<number>, shape?: Shape, dtype: DType = "float32"): Tensor {
    if (shape !== undefined) {
      const flat = values as ArrayLike<number>;
      if (typeof values === "number") return Tensor.full(shape, values, dtype);
      const data = allocFloat(dtype, flat.length);
      for (let i = 0; i < flat.length; i++) data[i] = flat[i]!;
      return new Tensor(data, shape);
    }
    const inferred: number[] = [];
    let v: Nested = values as Nested;
    while (Array.isArray(v)) {
      inferred.push(v.length);
      v = (v as readonly Nested[])[0] ?? 0;
    }
    const flat: number[] = [];
    const walk = (x: Nested, depth: number): void => {
      if (depth === inferred.length) {
        if (typeof x !== "number") fail("Tensor.from", "ragged nested array");
        flat.push(x);
        return;
      }
      if (!Array.isArray(x) || x.length !== inferred[depth]) fail("Tensor.from", "ragged nested array");
      for (const y of x as readonly Nested[]) walk(y, depth + 1);
    };
    walk(values as Nested, 0);
    return Tensor.from(flat, inferred, dtype);
  }

  /** Uniform in [low, high) from a seeded generator. */
  static uniform(shape: Shape, rng: Rng, low = 0, high = 1, dtype: DType = "float32"): Tensor {
    const t = Tensor.zeros(shape, dtype);
    for (let i = 0; i < t.data.length; i++) t.data[i] = low + (high - low) * rng.uniform();
    return t;
  }

  /** Normal(mean, std) from a seeded generator. */
  static normal(shape: Shape, rng: Rng, mean = 0, std = 1, dtype: DType = "float32"): Tensor {
    const t = Tensor.zeros(shape, dtype);
    for (let i = 0; i < t.data.length; i++) t.data[i] = mean + std * rng.normal();
    return t;
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.data.length !== 1) fail("item", `tensor of shape ${fmtShape(this.shape)} has ${this.data.length} elements, expected 1`);
    return this.data[0]!;
  }

  /** Nested JavaScript arrays (numbers for a scalar). */
  toArray(): Nested {
    if (this.shape.length === 0) return this.data[0]!;
    const build = (off: number, d: number): Nested => {
      const n = this.shape[d]!;
      if (d === this.shape.length - 1) return Array.from(this.data.subarray(off, off + n));
      const inner = sizeOf(this.shape.slice(d + 1));
      const out: Nested[] = [];
      for (let i = 0; i < n; i++) out.push(build(off + i * inner, d + 1));
      return out;
    };
    return build(0, 0);
  }

  /** A copy with its own storage, cut from the tape. */
  clone(dtype: DType = this.dtype): Tensor {
    const data = allocFloat(dtype, this.data.length, true, false); // set() writes every element
    data.set(this.data);
    return new Tensor(data, this.shape);
  }

  /** The same storage, cut from the tape (no gradient flows through). */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  /** Marks this tensor as a leaf that collects gradients; returns this. */
  requireGrad(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }

  /** Keeps `.grad` on this non-leaf tensor after backward; returns this. */
  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }

  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype})`;
  }
}
