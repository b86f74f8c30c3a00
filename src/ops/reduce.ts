/** Reductions over axes, with keepdims. */
import { broadcastStrides, normAxes, sizeOf } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { sumTo } from "../kernels/reduce.js";
import { record } from "../autograd/tape.js";
import { empty } from "./util.js";
import { binaryBroadcast } from "../kernels/elementwise.js";

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
  const out = empty(to, g.dtype);
  const zero = new (g.data.constructor as Float32ArrayConstructor)(1);
  binaryBroadcast(g.data, broadcastStrides(g.shape, to), zero, to.map(() => 0), out.data, to, (p) => p);
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
    const gx = broadcastTo(new Tensor(g.data, kept), x.shape);
    for (let i = 0; i < gx.data.length; i++) gx.data[i]! /= count;
    return [gx];
  });
}
