/** Helpers shared by the ops: dtype agreement, output allocation, broadcast reduction. */
import { fail, fmtShape } from "../tensor/errors.js";
import { broadcastStrides, sameShape, sizeOf, stridesOf, type Shape } from "../tensor/shape.js";
import { allocFloat, Tensor, type DType } from "../tensor/tensor.js";
import { sumTo } from "../kernels/reduce/reduce.js";
import { sumPerChannelThreads } from "../kernels/bias/threads.js";

/** The dtype shared by all inputs; mixing float32 and float64 is an error. */
export function commonDtype(op: string, ...xs: readonly { dtype: DType }[]): DType {
  const d = xs[0]!.dtype;
  for (const x of xs) if (x.dtype !== d) fail(op, `inputs mix dtypes ${d} and ${x.dtype}; convert one with clone(dtype)`);
  return d;
}

/** A fresh output tensor (zeroed). */
export function empty(shape: Shape, dtype: DType): Tensor {
  return new Tensor(allocFloat(dtype, sizeOf(shape)), shape);
}

/**
 * A fresh output tensor whose memory is not zeroed (a reused heap block keeps
 * its old bytes): only for an output the next kernel writes in every element,
 * where zeroing it first was a whole extra pass over the memory.
 */
export function unzeroed(shape: Shape, dtype: DType): Tensor {
  return new Tensor(allocFloat(dtype, sizeOf(shape), true, false), shape);
}

/** Sums a gradient of a broadcast output back to an input's shape. */
export function unbroadcast(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const out = empty(shape, g.dtype);
  const kept = leadingOnly(g.shape, shape);
  // Broadcast over leading axes only (a value repeated over T, say): per element the same float64 sum
  // over the leading index in order as sumTo's, as rows summed per column, threaded and in WASM.
  if (kept > 0) sumPerChannelThreads(g.data, out.data, g.size / kept, kept, 1);
  else sumTo(g.data, g.shape, out.data, broadcastStrides(shape, g.shape));
  return out;
}

/**
 * The size of `shape` when broadcasting it to `to` repeats it over leading
 * axes only (shape, leading 1s dropped, is a non-empty suffix of `to`), else 0.
 */
function leadingOnly(to: Shape, shape: Shape): number {
  let i = 0;
  while (i < shape.length && shape[i] === 1) i++;
  const n = shape.length - i;
  if (n === 0 || n > to.length) return 0;
  for (let j = 1; j <= n; j++) if (shape[shape.length - j] !== to[to.length - j]) return 0;
  return sizeOf(shape);
}

/** Throws unless two shapes are equal. */
export function expectSameShape(op: string, a: Shape, b: Shape): void {
  if (!sameShape(a, b)) fail(op, `shapes ${fmtShape(a)} and ${fmtShape(b)} must be equal`);
}

/** Throws unless x has the given rank. */
export function expectRank(op: string, name: string, shape: Shape, ranks: number | readonly number[]): void {
  const ok = typeof ranks === "number" ? shape.length === ranks : ranks.includes(shape.length);
  if (!ok) fail(op, `${name} must have rank ${typeof ranks === "number" ? ranks : ranks.join(" or ")}, got shape ${fmtShape(shape)}`);
}

export { stridesOf };
