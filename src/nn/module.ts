/**
 * Modules in the PyTorch mould: a tree of layers owning parameters (trainable
 * tensors), buffers (running statistics and the like) and child modules, with
 * PyTorch's dotted state-dict names (`block.0.attn.q_linear.weight`) and order.
 *
 * Registration is explicit, since TypeScript cannot intercept assignments:
 * `this.weight = this.registerParameter("weight", t)`.
 */
import { fail, fmtShape } from "../tensor/errors.js";
import { sameShape, sizeOf, type Shape } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { freeBlock } from "../tensor/heap.js";

/** An int64 tensor for integer buffers such as BatchNorm's `num_batches_tracked` (a scalar). */
export class Int64Buffer {
  readonly data: BigInt64Array;
  readonly shape: Shape;
  /** For writers that look at `dtype` (safetensors accepts `int64`). */
  readonly dtype = "int64" as const;

  constructor(data: BigInt64Array, shape: Shape = [data.length]) {
    if (data.length !== sizeOf(shape)) fail("Int64Buffer", `data has ${data.length} elements but shape ${fmtShape(shape)} needs ${sizeOf(shape)}`);
    this.data = data;
    this.shape = Object.freeze([...shape]);
  }

  /** A scalar (shape `[]`). */
  static scalar(value: bigint | number = 0): Int64Buffer {
    return new Int64Buffer(new BigInt64Array([BigInt(value)]), []);
  }

  /** The value of a one-element buffer. */
  item(): bigint {
    if (this.data.length !== 1) fail("Int64Buffer.item", `buffer of shape ${fmtShape(this.shape)} has ${this.data.length} elements, expected 1`);
    return this.data[0]!;
  }
}

/** A state-dict value. */
export type StateValue = Tensor | Int64Buffer;

/**
 * What {@link Module.loadStateDict} accepts per key: a Tensor, an Int64Buffer,
 * or any `{shape, data}` (e.g. an entry of `parseSafetensors(...).tensors`).
 */
export interface StateSource {
  readonly shape: readonly number[];
  readonly data: ArrayLike<number> | BigInt64Array;
}

export interface LoadStateDictOptions {
  /** Refuse missing and unexpected keys (default true). Shape mismatches are refused either way. */
  strict?: boolean;
  /** Where the values come from (a file), named in errors: `loadStateDict(FILE)`. */
  source?: string;
}

export interface LoadStateDictResult {
  missing: string[];
  unexpected: string[];
}

interface BufferSlot {
  value: StateValue;
  persistent: boolean;
}

function checkName(op: string, name: string): void {
  if (typeof name !== "string" || name === "" || name.includes(".")) {
    fail(op, `name must be a non-empty string without '.', got ${JSON.stringify(name)}`);
  }
}

/** Base class of all layers and models. */
export class Module {
  /** Training mode (batch statistics, dropout...); set through {@link train} / {@link eval}. */
  training = true;
  private readonly _parameters = new Map<string, Tensor>();
  private readonly _buffers = new Map<string, BufferSlot>();
  private readonly _modules = new Map<string, Module>();

  private checkFree(op: string, name: string, kind: "parameter" | "buffer" | "module"): void {
    checkName(op, name);
    const taken = this._parameters.has(name) ? "parameter" : this._buffers.has(name) ? "buffer" : this._modules.has(name) ? "module" : null;
    if (taken !== null && taken !== kind) fail(op, `${JSON.stringify(name)} is already registered as a ${taken} of ${this.constructor.name}`);
  }

  /**
   * Registers (or replaces) a parameter; it is marked `requiresGrad` unless
   * `requiresGrad: false` is passed (a frozen parameter). Returns the tensor.
   */
  registerParameter(name: string, t: Tensor, requiresGrad = true): Tensor {
    this.checkFree("registerParameter", name, "parameter");
    if (!(t instanceof Tensor)) fail("registerParameter", `${JSON.stringify(name)} must be a Tensor`);
    if (t.node !== null) fail("registerParameter", `${JSON.stringify(name)} must be a leaf tensor (detach it first)`);
    t.requiresGrad = requiresGrad;
    this._parameters.set(name, t);
    return t;
  }

  /**
   * Registers (or replaces) a buffer: state that is not trained. Persistent
   * buffers (the default) are part of the state dict. Returns the value.
   */
  registerBuffer<T extends StateValue>(name: string, value: T, persistent = true): T {
    this.checkFree("registerBuffer", name, "buffer");
    if (!(value instanceof Tensor) && !(value instanceof Int64Buffer)) fail("registerBuffer", `${JSON.stringify(name)} must be a Tensor or an Int64Buffer`);
    this._buffers.set(name, { value, persistent });
    return value;
  }

  /** Registers (or replaces) a child module; its keys get the prefix `name.`. Returns the child. */
  registerModule<M extends Module>(name: string, m: M): M {
    this.checkFree("registerModule", name, "module");
    if (!(m instanceof Module)) fail("registerModule", `${JSON.stringify(name)} must be a Module`);
    this._modules.set(name, m);
    return m;
  }

  /** This module's own parameter by name (no dots), or undefined. */
  getParameter(name: string): Tensor | undefined {
    return this._parameters.get(name);
  }

  /** This module's own buffer by name (no dots), or undefined. */
  getBuffer(name: string): StateValue | undefined {
    return this._buffers.get(name)?.value;
  }

  /** A descendant by dotted path (`block.0.attn`); "" is this module. */
  getSubmodule(path: string): Module {
    let m: Module = this;
    if (path === "") return m;
    for (const part of path.split(".")) {
      const next = m._modules.get(part);
      if (next === undefined) fail("getSubmodule", `${this.constructor.name} has no submodule ${JSON.stringify(path)} (no ${JSON.stringify(part)} in ${m.constructor.name})`);
      m = next;
    }
    return m;
  }

  /** Direct children with their names, in registration order (each module once). */
  *namedChildren(): Generator<[string, Module]> {
    const seen = new Set<Module>();
    for (const [n, m] of this._modules) {
      if (seen.has(m)) continue;
      seen.add(m);
      yield [n, m];
    }
  }

  /** Direct children in registration order. */
  *children(): Generator<Module> {
    for (const [, m] of this.namedChildren()) yield m;
  }

  /** This module and all descendants, pre-order, with dotted names ("" for this one); each module once. */
  *namedModules(prefix = "", seen: Set<Module> = new Set()): Generator<[string, Module]> {
    if (seen.has(this)) return;
    seen.add(this);
    yield [prefix, this];
    for (const [n, m] of this._modules) yield* m.namedModules(prefix === "" ? n : `${prefix}.${n}`, seen);
  }

  /** All modules, pre-order. */
  *modules(): Generator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }

  /** All parameters with dotted names, PyTorch order; a tensor shared by two modules appears once. */
  *namedParameters(): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [n, p] of m._parameters) {
        if (seen.has(p)) continue;
        seen.add(p);
        yield [prefix === "" ? n : `${prefix}.${n}`, p];
      }
    }
  }

  /** All parameters (see {@link namedParameters}). */
  *parameters(): Generator<Tensor> {
    for (const [, p] of this.namedParameters()) yield p;
  }

  /** All buffers (persistent or not) with dotted names; each value once. */
  *namedBuffers(): Generator<[string, StateValue]> {
    const seen = new Set<StateValue>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [n, b] of m._buffers) {
        if (seen.has(b.value)) continue;
        seen.add(b.value);
        yield [prefix === "" ? n : `${prefix}.${n}`, b.value];
      }
    }
  }

  /** All buffers (see {@link namedBuffers}). */
  *buffers(): Generator<StateValue> {
    for (const [, b] of this.namedBuffers()) yield b;
  }

  /**
   * Parameters and persistent buffers by dotted name, in PyTorch's order: per
   * module its parameters, then its buffers, then its children depth-first.
   * The values are the live tensors (not copies), as in PyTorch.
   */
  stateDict(): Map<string, StateValue> {
    const out = new Map<string, StateValue>();
    this.collectState("", out);
    return out;
  }

  private collectState(prefix: string, out: Map<string, StateValue>): void {
    for (const [n, p] of this._parameters) out.set(prefix + n, p);
    for (const [n, b] of this._buffers) if (b.persistent) out.set(prefix + n, b.value);
    for (const [n, m] of this._modules) m.collectState(`${prefix}${n}.`, out);
  }

  /**
   * Copies values into this module's parameters and persistent buffers in
   * place. Everything is checked first, so on error nothing is changed. Strict
   * (default): one BitspikeError lists every missing key, unexpected key and
   * shape or type mismatch. Non-strict: returns the missing and unexpected keys
   * but still refuses mismatches.
   */
  loadStateDict(dict: Map<string, StateSource> | Iterable<readonly [string, StateSource]> | Record<string, StateSource>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    const op = opts.source === undefined ? "loadStateDict" : `loadStateDict(${opts.source})`;
    const strict = opts.strict ?? true;
    const source: Map<string, StateSource> = dict instanceof Map ? dict
      : Symbol.iterator in (dict as object) ? new Map(dict as Iterable<readonly [string, StateSource]>)
        : new Map(Object.entries(dict as Record<string, StateSource>));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !source.has(k));
    const unexpected = [...source.keys()].filter((k) => !own.has(k));
    const mismatched: string[] = [];
    const copies: [StateValue, StateSource][] = [];
    for (const [k, dst] of own) {
      const src = source.get(k);
      if (src === undefined) continue;
      if (src === null || typeof src !== "object" || !Array.isArray(src.shape) || src.data === undefined || typeof src.data.length !== "number") {
        mismatched.push(`${k}: expected a tensor {shape, data}, got ${src === null ? "null" : typeof src}`);
        continue;
      }
      const srcShape = [...src.shape];
      if (!sameShape(srcShape, dst.shape)) {
        mismatched.push(`${k}: shape ${fmtShape(srcShape)} in the state dict, ${fmtShape(dst.shape)} in the module`);
        continue;
      }
      if (src.data.length !== dst.data.length) {
        mismatched.push(`${k}: ${src.data.length} values for shape ${fmtShape(srcShape)}`);
        continue;
      }
      const srcInt = src.data instanceof BigInt64Array;
      if (dst instanceof Tensor && srcInt) {
        mismatched.push(`${k}: int64 values for a float tensor`);
        continue;
      }
      if (dst instanceof Int64Buffer && !srcInt) {
        const data = src.data as ArrayLike<number>;
        let integral = true;
        for (let i = 0; i < data.length; i++) if (!Number.isSafeInteger(data[i])) integral = false;
        if (!integral) {
          mismatched.push(`${k}: non-integer values for an int64 buffer`);
          continue;
        }
      }
      copies.push([dst, src]);
    }
    const problems: string[] = [];
    if (strict && missing.length) problems.push(`missing keys (${missing.length}): ${missing.join(", ")}`);
    if (strict && unexpected.length) problems.push(`unexpected keys (${unexpected.length}): ${unexpected.join(", ")}`);
    if (mismatched.length) problems.push(`mismatched (${mismatched.length}): ${mismatched.join("; ")}`);
    if (problems.length) fail(op, `cannot load into ${this.constructor.name}: ${problems.join(" | ")}`);
    for (const [dst, src] of copies) {
      if (dst instanceof Tensor) {
        dst.data.set(src.data as ArrayLike<number>);
      } else if (src.data instanceof BigInt64Array) {
        dst.data.set(src.data);
      } else {
        const d = src.data as ArrayLike<number>;
        for (let i = 0; i < d.length; i++) dst.data[i] = BigInt(d[i]!);
      }
    }
    return { missing, unexpected };
  }

  /** Sets training mode on this module and all descendants; returns this. */
  train(flag = true): this {
    for (const m of this.modules()) m.training = flag;
    return this;
  }

  /** Evaluation mode (`train(false)`); returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Calls `fn` on every descendant and then on this module (PyTorch's post-order `apply`); returns this. */
  apply(fn: (m: Module) => void): this {
    for (const m of this.children()) m.apply(fn);
    fn(this);
    return this;
  }

  /**
   * Drops every parameter's gradient (PyTorch's `set_to_none` default) and gives its memory back to
   * the heap, as PyTorch frees an unreferenced gradient: without it, a loop that clears gradients at
   * the start of a step kept every step's gradients until a garbage collection. A gradient tensor
   * still held elsewhere throws when read afterwards; clone it to keep it.
   */
  zeroGrad(): void {
    for (const p of this.parameters()) releaseGrad(p);
  }

  /** Number of trainable parameter values (shared tensors counted once). */
  numParameters(): number {
    let n = 0;
    for (const p of this.parameters()) if (p.requiresGrad) n += p.size;
    return n;
  }
}

/** A module that maps one tensor to one tensor. */
export interface TensorModule extends Module {
  forward(x: Tensor): Tensor;
}

/** A list of child modules named `0`, `1`, ... (PyTorch's `nn.ModuleList`). */
export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  private readonly items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  /** Appends a module under the next index; returns this. */
  push(m: M): this {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
    return this;
  }

  /** The module at index i (negative counts from the end). */
  at(i: number): M {
    const j = i < 0 ? this.items.length + i : i;
    const m = this.items[j];
    if (!Number.isInteger(i) || m === undefined) fail("ModuleList.at", `index ${i} out of range for ${this.items.length} modules`);
    return m;
  }

  get length(): number {
    return this.items.length;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

/** Modules applied in order (PyTorch's `nn.Sequential`); children named `0`, `1`, ... */
export class Sequential<M extends TensorModule = TensorModule> extends ModuleList<M> implements TensorModule {
  constructor(...modules: M[]) {
    super(modules);
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this) y = m.forward(y);
    return y;
  }
}

/**
 * Sets `p.grad` to null and frees the gradient's own heap block (not whatever block starts at its
 * offset now), unless it is already free or is the parameter's own storage.
 */
export function releaseGrad(p: Tensor): void {
  const g = p.grad;
  p.grad = null;
  const b = g?.heapBlock ?? null;
  if (b !== null && b.live && b !== p.heapBlock) freeBlock(b, "released by zeroGrad() (clone a gradient to keep it)");
}
