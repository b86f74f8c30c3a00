import { fail, fmtShape } from "./errors.js";
import { checkShape, normAxis, sameShape, sizeOf, type Shape } from "./shape.js";
import { allocFloat, releasedError, Tensor, type DType, type Differentiable, type TapeNode } from "./tensor.js";
import { blockOf, heapArray, holdBlock, type Block } from "./heap.js";
import { packRows, popcountAll, tailMask, transposeBits, unpackRows, wordsFor } from "./bits.js";

/**
 * Set while spikes are built from words known to keep their pad bits zero
 * (zeroed words, or a valid tensor's words under a shape with the same last
 * axis): the constructor then skips its pad-bit scan, a pass over every row.
 */
let trusted = false;

function trustedSpikes(words: Uint32Array, shape: Shape, dtype: DType): Spikes {
  trusted = true;
  try {
    return new Spikes(words, shape, dtype);
  } finally {
    trusted = false;
  }
}

/**
 * A tensor of 0/1 values packed 32 to a word along the last axis. Rows (all
 * axes but the last) start on word boundaries and pad bits are always zero.
 * Spikes take part in autograd like tensors: their gradient is a float Tensor
 * of the same shape (dL/dS, which feeds a neuron's surrogate).
 */
export class Spikes implements Differentiable {
  readonly shape: Shape;
  private readonly _words: Uint32Array;
  /** The heap block the words start (null for a foreign array or a view into a block). */
  private readonly block: Block | null;
  /** Length of the last axis (bits per row). */
  readonly cols: number;
  /** Number of rows (product of all axes but the last). */
  readonly rows: number;
  /** 32-bit words per row: ceil(cols / 32). */
  readonly wordsPerRow: number;
  /** dtype of the gradients that flow through these spikes. */
  readonly dtype: DType;
  requiresGrad = false;
  grad: Tensor | null = null;
  node: TapeNode | null = null;
  retainsGrad = false;

  constructor(words: Uint32Array, shape: Shape, dtype: DType = "float32") {
    checkShape("Spikes", shape);
    if (shape.length === 0) fail("Spikes", "spikes need at least one axis (bits are packed along the last)");
    this.shape = Object.freeze([...shape]);
    this.cols = shape[shape.length - 1]!;
    this.rows = sizeOf(shape.slice(0, -1));
    this.wordsPerRow = wordsFor(this.cols);
    if (words.length !== this.rows * this.wordsPerRow) {
      fail("Spikes", `got ${words.length} words for shape ${fmtShape(shape)}, expected ${this.rows} rows x ${this.wordsPerRow} words`);
    }
    if (!trusted && (this.cols & 31) !== 0 && this.wordsPerRow > 0) {
      const bad = ~tailMask(this.cols) >>> 0;
      for (let r = 0; r < this.rows; r++) {
        if ((words[r * this.wordsPerRow + this.wordsPerRow - 1]! & bad) !== 0) fail("Spikes", `row ${r} has pad bits set beyond column ${this.cols}`);
      }
    }
    this._words = words;
    this.block = blockOf(words);
    if (this.block !== null) holdBlock(this, this.block);
    this.dtype = dtype;
  }

  /** The heap block holding the values (null for an array outside the heap): for the engine's bookkeeping. */
  get heapBlock(): Block | null {
    return this.block;
  }

  get storage(): Uint32Array {
    return this._words;
  }

  /** The packed words. Throws once the engine has released the memory (see src/tensor/heap.ts). */
  get words(): Uint32Array {
    if (this.block !== null && !this.block.live) releasedError(`Spikes${fmtShape(this.shape)}`, this.block);
    return this._words;
  }

  /**
   * A word array in the heap, for spike tensors made by kernels: zeroed, or with `zero` false not (a
   * reused block keeps its old bytes), for a kernel that writes every word, padding bits included.
   */
  static allocWords(n: number, zero = true): Uint32Array {
    const a = heapArray(Uint32Array, n, zero);
    holdBlock(a, blockOf(a)!);
    return a;
  }

  /** Number of elements. */
  get size(): number {
    return this.rows * this.cols;
  }
  get rank(): number {
    return this.shape.length;
  }

  /**
   * Spikes over words a kernel wrote in full, pad bits zero (the neuron kernels: each row's bits past its
   * last column are written as 0, which their tests check on words filled with ones first). Skips the
   * constructor's pad-bit scan: a serial pass over every row, 3.8 ms of the calling thread's time a MNIST b64
   * inference pass on two threads (28-column rows; bench/thread-cost.ts).
   */
  static fromKernelWords(words: Uint32Array, shape: Shape, dtype: DType = "float32"): Spikes {
    return trustedSpikes(words, shape, dtype);
  }

  /** All-zero spikes. */
  static zeros(shape: Shape, dtype: DType = "float32"): Spikes {
    checkShape("Spikes.zeros", shape);
    if (shape.length === 0) fail("Spikes.zeros", "spikes need at least one axis");
    return trustedSpikes(Spikes.allocWords(sizeOf(shape.slice(0, -1)) * wordsFor(shape[shape.length - 1]!)), shape, dtype);
  }

  /** Packs a float tensor whose values are all 0 or 1; any other value is an error. */
  static fromFloat(t: Tensor): Spikes {
    for (let i = 0; i < t.data.length; i++) {
      const v = t.data[i];
      if (v !== 0 && v !== 1) fail("Spikes.fromFloat", `element ${i} is ${v}; spikes must be 0 or 1`);
    }
    return Spikes.fromValues(t.data, t.shape, t.dtype);
  }

  /** Packs a flat list of values (nonzero = 1) with a shape. */
  static fromValues(values: ArrayLike<number>, shape: Shape, dtype: DType = "float32"): Spikes {
    checkShape("Spikes.fromValues", shape);
    if (values.length !== sizeOf(shape)) fail("Spikes.fromValues", `got ${values.length} values for shape ${fmtShape(shape)}`);
    const s = Spikes.zeros(shape, dtype);
    packRows(values, s.rows, s.cols, s.words);
    return s;
  }

  /** Unpacks to a float tensor of 0/1 (no gradient; see ops for the differentiable cast). */
  toFloat(dtype: DType = this.dtype): Tensor {
    const out = allocFloat(dtype, this.size, true, false); // unpackRows writes every element
    unpackRows(this.words, this.rows, this.cols, out);
    return new Tensor(out, this.shape);
  }

  /** The bit at a full index. */
  get(...index: number[]): 0 | 1 {
    if (index.length !== this.rank) fail("Spikes.get", `index has ${index.length} axes, spikes have ${this.rank}`);
    let row = 0;
    for (let d = 0; d < this.rank - 1; d++) {
      const i = index[d]!;
      if (!Number.isInteger(i) || i < 0 || i >= this.shape[d]!) fail("Spikes.get", `index ${i} out of range for axis ${d} of size ${this.shape[d]}`);
      row = row * this.shape[d]! + i;
    }
    const c = index[this.rank - 1]!;
    if (!Number.isInteger(c) || c < 0 || c >= this.cols) fail("Spikes.get", `index ${c} out of range for the last axis of size ${this.cols}`);
    return ((this.words[row * this.wordsPerRow + (c >>> 5)]! >>> (c & 31)) & 1) as 0 | 1;
  }

  /** Number of set bits (popcount). */
  count(): number {
    return popcountAll(this.words);
  }

  /** Fraction of set bits (0 for an empty tensor). */
  firingRate(): number {
    return this.size === 0 ? 0 : this.count() / this.size;
  }

  private bitwise(op: string, other: Spikes, f: (a: number, b: number) => number): Spikes {
    if (!sameShape(this.shape, other.shape)) fail(op, `shapes ${fmtShape(this.shape)} and ${fmtShape(other.shape)} must be equal`);
    const out = Spikes.allocWords(this.words.length);
    for (let i = 0; i < out.length; i++) out[i] = f(this.words[i]!, other.words[i]!);
    return new Spikes(out, this.shape, this.dtype);
  }

  /** Bitwise AND (no gradient; see ops for differentiable spike logic). */
  and(other: Spikes): Spikes {
    return this.bitwise("Spikes.and", other, (a, b) => a & b);
  }
  or(other: Spikes): Spikes {
    return this.bitwise("Spikes.or", other, (a, b) => a | b);
  }
  xor(other: Spikes): Spikes {
    return this.bitwise("Spikes.xor", other, (a, b) => a ^ b);
  }
  /** this AND NOT other. Pad bits stay zero because this's are. */
  andNot(other: Spikes): Spikes {
    return this.bitwise("Spikes.andNot", other, (a, b) => a & ~b);
  }

  /** Same bits, new shape; the last axis must not change (rows stay word-aligned). */
  reshape(shape: Shape): Spikes {
    checkShape("Spikes.reshape", shape);
    if (shape.length === 0 || shape[shape.length - 1] !== this.cols || sizeOf(shape) !== this.size) {
      fail("Spikes.reshape", `cannot reshape ${fmtShape(this.shape)} to ${fmtShape(shape)}: the size and the last axis must stay the same`);
    }
    return trustedSpikes(this.words, shape, this.dtype);
  }

  /** Elements [start, end) along a leading axis (any axis but the last); a copy. */
  slice(axis: number, start: number, end: number): Spikes {
    const ax = normAxis("Spikes.slice", axis, this.rank);
    if (ax === this.rank - 1) fail("Spikes.slice", "slicing the packed last axis is not supported; slice a leading axis or unpack");
    const n = this.shape[ax]!;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > n || start > end) {
      fail("Spikes.slice", `range [${start}, ${end}) is out of bounds for axis ${ax} of size ${n}`);
    }
    const outer = sizeOf(this.shape.slice(0, ax));
    const inner = sizeOf(this.shape.slice(ax + 1, -1)) * this.wordsPerRow;
    const shape = [...this.shape];
    shape[ax] = end - start;
    const out = Spikes.allocWords(outer * (end - start) * inner);
    for (let o = 0; o < outer; o++) {
      out.set(this.words.subarray((o * n + start) * inner, (o * n + end) * inner), o * (end - start) * inner);
    }
    return new Spikes(out, shape, this.dtype);
  }

  /** Swaps the last two axes (a bit-matrix transpose of each [R, C] matrix). */
  transposeLast2(): Spikes {
    if (this.rank < 2) fail("Spikes.transposeLast2", `needs rank >= 2, got ${fmtShape(this.shape)}`);
    const r = this.shape[this.rank - 2]!;
    const c = this.cols;
    const batch = sizeOf(this.shape.slice(0, -2));
    const shape = [...this.shape.slice(0, -2), c, r];
    const out = Spikes.allocWords(batch * c * wordsFor(r));
    transposeBits(this.words, batch, r, c, out);
    return new Spikes(out, shape, this.dtype);
  }

  /** Cut from the tape, same bits. */
  detach(): Spikes {
    return trustedSpikes(this.words, this.shape, this.dtype);
  }

  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }

  toString(): string {
    return `Spikes(${fmtShape(this.shape)}, rate ${this.firingRate().toFixed(3)})`;
  }
}
