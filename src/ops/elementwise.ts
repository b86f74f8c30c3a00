/**
 * Elementwise ops with NumPy broadcasting. Each op: checks, forward through a
 * kernel, and its backward, side by side.
 */
import { broadcastShapes, broadcastStrides } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { binaryBroadcast, mapUnary } from "../kernels/elementwise.js";
import { needsGrad, record } from "../autograd/tape.js";
import { commonDtype, empty, unbroadcast } from "./util.js";

type Operand = Tensor | number;

function asTensor(x: Operand, like: Tensor | null): Tensor {
  return typeof x === "number" ? Tensor.scalar(x, like ? like.dtype : "float32") : x;
}

function binary(op: string, a: Tensor, b: Tensor, f: (x: number, y: number) => number): Tensor {
  const dtype = commonDtype(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = empty(shape, dtype);
  binaryBroadcast(a.data, broadcastStrides(a.shape, shape), b.data, broadcastStrides(b.shape, shape), out.data, shape, f);
  return out;
}

function operands(a: Operand, b: Operand): [Tensor, Tensor] {
  const ta = asTensor(a, typeof b === "number" ? null : b);
  return [ta, asTensor(b, ta)];
}

/** a + b (broadcasting). */
export function add(a: Operand, b: Operand): Tensor {
  const [x, y] = operands(a, b);
  const out = binary("add", x, y, (p, q) => p + q);
  return record("add", out, [x, y], (g) => [unbroadcast(g, x.shape), unbroadcast(g, y.shape)]);
}

/** a - b (broadcasting). */
export function sub(a: Operand, b: Operand): Tensor {
  const [x, y] = operands(a, b);
  const out = binary("sub", x, y, (p, q) => p - q);
  return record("sub", out, [x, y], (g) => [unbroadcast(g, x.shape), y.requiresGrad ? unbroadcast(neg(g), y.shape) : null]);
}

/** a * b (broadcasting). */
export function mul(a: Operand, b: Operand): Tensor {
  const [x, y] = operands(a, b);
  const out = binary("mul", x, y, (p, q) => p * q);
  return record("mul", out, [x, y], (g) => [
    x.requiresGrad ? unbroadcast(mul(g, y), x.shape) : null,
    y.requiresGrad ? unbroadcast(mul(g, x), y.shape) : null,
  ]);
}

/** a / b (broadcasting). */
export function div(a: Operand, b: Operand): Tensor {
  const [x, y] = operands(a, b);
  const out = binary("div", x, y, (p, q) => p / q);
  return record("div", out, [x, y], (g) => [
    x.requiresGrad ? unbroadcast(div(g, y), x.shape) : null,
    // d(x/y)/dy = -x / y^2 = -out / y
    y.requiresGrad ? unbroadcast(neg(div(mul(g, out.detach()), y)), y.shape) : null,
  ]);
}

/** Applies f elementwise with derivative df(x, y) (y = f(x)); the building block of unary ops. */
export function unary(op: string, x: Tensor, f: (v: number) => number, df: (v: number, y: number) => number): Tensor {
  const out = empty(x.shape, x.dtype);
  mapUnary(x.data, out.data, f);
  if (!needsGrad(x)) return out;
  return record(op, out, [x], (g) => {
    const gx = empty(x.shape, x.dtype);
    const xd = x.data;
    const yd = out.data;
    const gd = g.data;
    for (let i = 0; i < gx.data.length; i++) gx.data[i] = gd[i]! * df(xd[i]!, yd[i]!);
    return [gx];
  });
}

/** -x. */
export function neg(x: Tensor): Tensor {
  return unary("neg", x, (v) => -v, () => -1);
}
