/** Reductions over axes, with keepdims. */
import { fail, fmtShape } from "../tensor/errors.js";
import { broadcastStrides, normAxes, sizeOf, stridesOf } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { sumTo } from "../kernels/reduce/reduce.js";
import { offsetsOf } from "../kernels/copy/copy.js";
import { maxOverOffsets, scatterAddAt, varBackward, varOverOffsets } from "../kernels/reduce-axes.js";
import { record } from "../autograd/tape.js";
import { empty, unzeroed } from "./util.js";
import { copyStridedThreads } from "../kernels/copy/threads.js";

/** Shape with the given axes set to 1 (keepdims) or removed. */
export function reducedShape(shape: readonly number[], axes: readonly number[], keepdims: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (axes.includes(i)) {
      if (keepdims) out.push(1);
    } else out.push(shape[i]!);
  }
  return out;
}

/** Broadcasts g (shape `from`, broadcast-compatible) to `to`, copying. */
export function broadcastTo(g: Tensor, to: readonly number[]): Tensor {
  const out = unzeroed(to, g.dtype); // the copy writes every element
  copyStridedThreads(g.data, 0, broadcastStrides(g.shape, to), out.data, 0, stridesOf(to), to);
  return out;
}

/** Sum over `axes` (all when omitted). */
export function sum(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const ax = normAxes("sum", axes, x.rank);
  const kept = reducedShape(x.shape, ax, true);
  const out = empty(kept, x.dtype);
  sumTo(x.data, x.shape, out.data, broadcastStrides(kept, x.shape));
  const result = keepdims ? out : new Tensor(out.data, reducedShape(x.shape, ax, false));
  return record("sum", result, [x], (g) => [broadcastTo(new Tensor(g.data, kept), x.shape)]);
}

/** Mean over `axes` (all when omitted). */
export function mean(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const ax = normAxes("mean", axes, x.rank);
  const count = sizeOf(ax.map((a) => x.shape[a]!));
  const kept = reducedShape(x.shape, ax, true);
  const s = empty(kept, x.dtype);
  sumTo(x.data, x.shape, s.data, broadcastStrides(kept, x.shape));
  for (let i = 0; i < s.data.length; i++) s.data[i]! /= count;
  const result = keepdims ? s : new Tensor(s.data, reducedShape(x.shape, ax, false));
  return record("mean", result, [x], (g) => {
    // Each input's gradient is g / count rounded to the dtype: divided once per output, then copied out (the
    // division over the broadcast copy was a JS pass over every input, 1.6M values for the MNIST b64 head).
    const q = empty(kept, g.dtype);
    for (let i = 0; i < q.data.length; i++) q.data[i] = g.data[i]! / count;
    return [broadcastTo(q, x.shape)];
  });
}

/** Offset lists splitting x's index space into kept axes (outer) and reduced axes (inner). */
function splitOffsets(shape: readonly number[], axes: readonly number[]): { kept: Int32Array; red: Int32Array } {
  const st = stridesOf(shape);
  const keptShape: number[] = [];
  const keptStrides: number[] = [];
  const redShape: number[] = [];
  const redStrides: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (axes.includes(i)) {
      redShape.push(shape[i]!);
      redStrides.push(st[i]!);
    } else {
      keptShape.push(shape[i]!);
      keptStrides.push(st[i]!);
    }
  }
  return { kept: offsetsOf(keptShape, keptStrides), red: offsetsOf(redShape, redStrides) };
}

/**
 * Maximum over `axes` (all when omitted), with keepdims. A NaN is the maximum
 * (it propagates, like PyTorch). The gradient goes entirely to the FIRST
 * maximum of each reduced group, in row-major order over the reduced axes
 * (PyTorch's `amax` would split it evenly among ties instead). Reducing an
 * axis of size 0 is an error.
 */
export function max(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const ax = normAxes("max", axes, x.rank);
  for (const a of ax) if (x.shape[a] === 0) fail("max", `cannot reduce axis ${a} of size 0 (shape ${fmtShape(x.shape)})`);
  const kept = reducedShape(x.shape, ax, true);
  const out = empty(keepdims ? kept : reducedShape(x.shape, ax, false), x.dtype);
  const { kept: ko, red } = splitOffsets(x.shape, ax);
  const arg = new Int32Array(ko.length);
  maxOverOffsets(x.data, ko, red, out.data, arg);
  return record("max", out, [x], (g) => {
    const gx = empty(x.shape, x.dtype);
    scatterAddAt(g.data, arg, gx.data);
    return [gx];
  });
}

/** Options of {@link variance}. */
export interface VarOptions {
  /**
   * Subtracted from the count in the divisor (PyTorch's `correction`): 1 (the
   * default, like `torch.var`) is the unbiased estimate, 0 the population variance.
   */
  correction?: number;
  keepdims?: boolean;
}

/**
 * Variance over `axes` (all when omitted): sum (x - mean)^2 / (N - correction),
 * N the number of reduced elements. Like PyTorch, N <= correction divides by 0
 * (giving NaN or inf) rather than failing. Exported as `var` too.
 */
export function variance(x: Tensor, axes?: number | readonly number[], opts: VarOptions = {}): Tensor {
  const correction = opts.correction ?? 1;
  if (!Number.isFinite(correction) || correction < 0) fail("var", `correction must be a finite number >= 0, got ${correction}`);
  const ax = normAxes("var", axes, x.rank);
  const kept = reducedShape(x.shape, ax, true);
  const out = empty(opts.keepdims ? kept : reducedShape(x.shape, ax, false), x.dtype);
  const { kept: ko, red } = splitOffsets(x.shape, ax);
  const divisor = Math.max(0, red.length - correction);
  const m = new Float64Array(ko.length);
  varOverOffsets(x.data, ko, red, divisor, m, out.data);
  return record("var", out, [x], (g) => {
    const gx = empty(x.shape, x.dtype);
    varBackward(x.data, ko, red, divisor, m, g.data, gx.data);
    return [gx];
  });
}

export { variance as var };
