import { fail, fmtShape } from "../tensor/errors.js";
import { sameShape } from "../tensor/shape.js";
import { allocFloat, Tensor, type Differentiable, type TapeNode } from "../tensor/tensor.js";
import { addArraysThreads } from "../kernels/elementwise/threads.js";
import { blockOf, freeArray, freeBlock, heapScope, nextSerial, type Block } from "../tensor/heap.js";

let gradEnabled = true;
let nextId = 0;

/** Whether ops currently record onto the tape. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording anything (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** True when an op over these inputs must be recorded. */
export function needsGrad(...inputs: readonly (Differentiable | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const x of inputs) if (x && x.requiresGrad) return true;
  return false;
}

/**
 * Records `output = op(inputs)` with its backward. The closure is the only
 * holder of what the op saved, so releasing it frees the saved tensors;
 * `release` lists heap arrays only the closure can see (the op's private
 * saved values), which go back to the heap as soon as the node has run.
 * Returns `output` for chaining. Does nothing when no input needs a gradient.
 */
export function record<T extends Differentiable>(
  op: string,
  output: T,
  inputs: readonly Differentiable[],
  backward: (grad: Tensor) => readonly (Tensor | null | undefined)[],
  release?: readonly ArrayBufferView[],
): T {
  if (!needsGrad(...inputs)) return output;
  const node: TapeNode = { id: nextId++, op, inputs, backward, release };
  output.node = node;
  output.requiresGrad = true;
  return output;
}

/** Options of {@link backward}. */
export interface BackwardOptions {
  /** Keep the saved tensors so backward can run again through the same graph. */
  retainGraph?: boolean;
  /**
   * Free each op's output once its node has run (the tape needs it no more;
   * outputs that view an input's memory are left to whoever owns that): the
   * training loops' way to give activations back during backward, lowering the
   * peak. Only for a caller that reads no intermediate value after backward
   * (reading one then throws); ignored with retainGraph.
   */
  releaseActivations?: boolean;
}

/**
 * Reverse-mode differentiation from `root`. Walks the tape with an explicit
 * stack (an unrolled network can be 100,000 nodes deep), runs each node once in
 * reverse creation order, accumulates (`+=`) into `.grad` of leaves and of
 * values marked `retainGrad`, then releases what the nodes saved.
 */
export function backward(root: Differentiable, grad?: Tensor, options: BackwardOptions = {}): void {
  if (!root.requiresGrad) fail("backward", "the value does not require a gradient (no input had requiresGrad)");
  if (grad === undefined) {
    if (root.shape.length !== 0 && !(root.shape.length > 0 && root.shape.every((d) => d === 1))) {
      fail("backward", `an implicit gradient needs a one-element output, got shape ${fmtShape(root.shape)}; pass the gradient`);
    }
    // Made here, so it is the tape's own: backward() releases it with the other gradients.
    const ones = Tensor.ones(root.shape, root.dtype);
    try {
      backward(root, ones, options);
    } finally {
      freeArray(ones.data, "released by backward() (the implicit output gradient)");
    }
    return;
  } else if (!sameShape(grad.shape, root.shape)) {
    fail("backward", `gradient shape ${fmtShape(grad.shape)} does not match the output shape ${fmtShape(root.shape)}`);
  }
  if (root.node === null) {
    accumulateLeaf(root, grad);
    return;
  }

  // Collect the reachable nodes (explicit stack, no recursion).
  const seen = new Set<TapeNode>();
  const stack: TapeNode[] = [root.node];
  seen.add(root.node);
  while (stack.length > 0) {
    const n = stack.pop()!;
    for (const x of n.inputs) {
      if (x.node !== null && !seen.has(x.node)) {
        seen.add(x.node);
        stack.push(x.node);
      }
    }
  }
  const order = [...seen].sort((a, b) => b.id - a.id);

  const pending = new Map<TapeNode, Tensor>();
  const owners = new Map<TapeNode, Differentiable>();
  pending.set(root.node, grad);
  owners.set(root.node, root);
  const prevEnabled = gradEnabled;
  gradEnabled = false; // backward closures use ops; they must not record
  // The gradients flowing between nodes are the tape's own: they go back to the
  // heap when backward ends; the accumulated .grad of leaves and retained values stay.
  const touched: Differentiable[] = [];
  try {
    heapScope(
      () => runNodes(order, pending, owners, options, touched),
      () => touched.map((x) => x.grad?.data),
      "released by backward() (an intermediate gradient)",
    );
  } finally {
    gradEnabled = prevEnabled;
  }
}

/**
 * How many pending gradients view each heap block, so a gradient can go back
 * to the heap as soon as its node has used it (a backward may pass its
 * incoming gradient on unchanged, to several inputs).
 */
class GradRefs {
  private readonly refs = new Map<Block, number>();
  constructor(private readonly firstSerial: number) {}

  hold(t: Tensor): void {
    const b = blockOf(t.data);
    if (b !== null) this.refs.set(b, (this.refs.get(b) ?? 0) + 1);
  }

  /**
   * Whether `t` may become a leaf's `.grad` as it is: it starts a block this backward made that no other
   * pending gradient views (dropping its one reference would free it). The reference is then forgotten.
   */
  adopt(t: Tensor): boolean {
    const b = blockOf(t.data);
    if (b === null || b.serial < this.firstSerial || this.refs.get(b) !== 1) return false;
    this.refs.delete(b);
    return true;
  }

  /** Drops one reference; frees the block when it was made by this backward and nothing else views it. */
  drop(t: Tensor): void {
    const b = blockOf(t.data);
    if (b === null) return;
    const r = (this.refs.get(b) ?? 1) - 1;
    if (r > 0) {
      this.refs.set(b, r);
      return;
    }
    this.refs.delete(b);
    if (b.serial >= this.firstSerial) freeBlock(b, "released by backward() (an intermediate gradient)");
  }
}

function runNodes(
  order: readonly TapeNode[],
  pending: Map<TapeNode, Tensor>,
  owners: Map<TapeNode, Differentiable>,
  options: BackwardOptions,
  touched: Differentiable[],
): void {
  const refs = new GradRefs(nextSerial());
  for (const g of pending.values()) refs.hold(g);
  for (const n of order) {
    const g = pending.get(n);
    pending.delete(n);
    if (g === undefined) continue;
    const out = owners.get(n);
    if (out && out.retainsGrad) {
      accumulateLeaf(out, g);
      touched.push(out);
    }
    if (n.backward === null) {
      fail("backward", `the graph through '${n.op}' was already released by an earlier backward; pass retainGraph: true to run backward twice`);
    }
    const grads = n.backward(g);
    if (!options.retainGraph) {
      n.backward = null;
      if (n.release) for (const a of n.release) freeArray(a, `released by backward() (saved by '${n.op}')`);
      if (options.releaseActivations && out) releaseOutput(n, out);
    }
    // Hold what the node returned before dropping its input: a returned gradient may be the same block.
    for (let i = 0; i < n.inputs.length; i++) {
      const gx = grads[i];
      if (gx && n.inputs[i]!.requiresGrad) refs.hold(gx);
    }
    refs.drop(g);
    for (let i = 0; i < n.inputs.length; i++) {
      const x = n.inputs[i]!;
      const gx = grads[i];
      if (!x.requiresGrad || gx === null || gx === undefined) continue;
      if (!sameShape(gx.shape, x.shape)) {
        fail("backward", `op '${n.op}' returned a gradient of shape ${fmtShape(gx.shape)} for input ${i} of shape ${fmtShape(x.shape)}`);
      }
      if (x.node === null) {
        // A first gradient this backward made for the leaf alone becomes its .grad (no copy of every
        // parameter's gradient on the calling thread); heapScope keeps what `touched` holds.
        if (x.grad === null && gx.dtype === x.dtype && refs.adopt(gx)) x.grad = gx;
        else {
          accumulateLeaf(x, gx);
          refs.drop(gx);
        }
        touched.push(x);
      } else {
        owners.set(x.node, x);
        const prev = pending.get(x.node);
        if (prev === undefined) {
          pending.set(x.node, gx);
        } else {
          const sum = sumGrads(prev, gx);
          refs.hold(sum);
          refs.drop(prev);
          refs.drop(gx);
          pending.set(x.node, sum);
        }
      }
    }
  }
}

/** Frees the memory of `n`'s output unless it views one of n's inputs' (a reshape, say: then its producer owns it). */
function releaseOutput(n: TapeNode, out: Differentiable): void {
  // The value's own block (not whatever block starts at its offset now): a layer may have released it early and the bytes moved on.
  const b = out.heapBlock;
  if (b === null || !b.live || n.inputs.some((x) => x.heapBlock === b)) return;
  freeBlock(b, `released by backward() (the output of '${n.op}'; read values before backward or clone them)`);
}

function sumGrads(a: Tensor, b: Tensor): Tensor {
  // a + b in one pass (the sum writes every element: no zeroing), the same additions as a.clone() += b.
  const out = new Tensor(allocFloat(a.dtype, a.size, true, false), a.shape);
  addArraysThreads(a.data, b.data, out.data);
  return out;
}

function accumulateLeaf(x: Differentiable, g: Tensor): void {
  if (x.grad === null) {
    x.grad = g.dtype === x.dtype ? g.clone() : g.clone(x.dtype);
  } else {
    addArraysThreads(x.grad.data, g.data, x.grad.data);
  }
}
