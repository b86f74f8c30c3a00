/**
 * Elementwise ops with NumPy broadcasting. Each op: checks, forward through a
 * kernel, and its backward, side by side.
 */
import { fail } from "../tensor/errors.js";
import { broadcastShapes, broadcastStrides } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { BINARY_ROWS, binaryBroadcast, binaryRowOf, mapUnary, type BinaryRow } from "../kernels/elementwise/elementwise.js";
import { geluBackwardThreads, geluForwardThreads } from "../kernels/gelu/threads.js";
import { selectBroadcast } from "../kernels/select.js";
import { needsGrad, record } from "../autograd/tape.js";
import { commonDtype, empty, unbroadcast, unzeroed } from "./util.js";

/** A tensor or a plain number (a scalar of the other operand's dtype). */
export type Operand = Tensor | number;

function asTensor(x: Operand, like: Tensor | null): Tensor {
  return typeof x === "number" ? Tensor.scalar(x, like ? like.dtype : "float32") : x;
}

function binary(op: string, a: Tensor, b: Tensor, row: BinaryRow): Tensor {
  const dtype = commonDtype(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = unzeroed(shape, dtype);
  binaryBroadcast(a.data, broadcastStrides(a.shape, shape), b.data, broadcastStrides(b.shape, shape), out.data, shape, row);
  return out;
}

function operands(a: Operand, b: Operand): [Tensor, Tensor] {
  const ta = asTensor(a, typeof b === "number" ? null : b);
  return [ta, asTensor(b, ta)];
}

/** a + b (broadcasting). */
export function add(a: Operand, b: Operand): Tensor {
  const [x, y] = operands(a, b);
  const out = binary("add", x, y, BINARY_ROWS.add);
  return record("add", out, [x, y], (g) => [unbroadcast(g, x.shape), unbroadcast(g, y.shape)]);
}

/** a - b (broadcasting). */
export function sub(a: Operand, b: Operand): Tensor {
  const [x, y] = operands(a, b);
  const out = binary("sub", x, y, BINARY_ROWS.sub);
  return record("sub", out, [x, y], (g) => [unbroadcast(g, x.shape), y.requiresGrad ? unbroadcast(neg(g), y.shape) : null]);
}

/** a * b (broadcasting). */
export function mul(a: Operand, b: Operand): Tensor {
  const [x, y] = operands(a, b);
  const out = binary("mul", x, y, BINARY_ROWS.mul);
  return record("mul", out, [x, y], (g) => [
    x.requiresGrad ? unbroadcast(mul(g, y), x.shape) : null,
    y.requiresGrad ? unbroadcast(mul(g, x), y.shape) : null,
  ]);
}

/** a / b (broadcasting). */
export function div(a: Operand, b: Operand): Tensor {
  const [x, y] = operands(a, b);
  const out = binary("div", x, y, BINARY_ROWS.div);
  return record("div", out, [x, y], (g) => [
    x.requiresGrad ? unbroadcast(div(g, y), x.shape) : null,
    // d(x/y)/dy = -x / y^2 = -out / y
    y.requiresGrad ? unbroadcast(neg(div(mul(g, out.detach()), y)), y.shape) : null,
  ]);
}

/** Applies f elementwise with derivative df(x, y) (y = f(x)); the building block of unary ops. */
export function unary(op: string, x: Tensor, f: (v: number) => number, df: (v: number, y: number) => number): Tensor {
  const out = unzeroed(x.shape, x.dtype);
  mapUnary(x.data, out.data, f);
  if (!needsGrad(x)) return out;
  return record(op, out, [x], (g) => {
    const gx = unzeroed(x.shape, x.dtype);
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

/** e^x. */
export function exp(x: Tensor): Tensor {
  return unary("exp", x, Math.exp, (_, y) => y);
}

/** Natural logarithm (NaN below 0, -inf at 0, as in IEEE arithmetic). */
export function log(x: Tensor): Tensor {
  return unary("log", x, Math.log, (v) => 1 / v);
}

/** Square root. */
export function sqrt(x: Tensor): Tensor {
  return unary("sqrt", x, Math.sqrt, (_, y) => 0.5 / y);
}

/** |x|; the gradient at 0 is 0 (sign(0) = 0, like PyTorch). */
export function abs(x: Tensor): Tensor {
  return unary("abs", x, Math.abs, (v) => (v > 0 ? 1 : v < 0 ? -1 : 0));
}

/**
 * x ** p, with a number exponent or a tensor exponent (broadcasting). Gradients
 * as PyTorch: d/dx = p x^(p-1) (0 where p = 0), d/dp = x^p log x, taken as 0
 * where x = 0 and p >= 0 (so 0 ** p does not poison the exponent's gradient).
 */
export function pow(x: Tensor, p: Tensor | number): Tensor {
  if (typeof p === "number") {
    if (p === 0) return unary("pow", x, () => 1, () => 0);
    if (p === 1) return unary("pow", x, (v) => v, () => 1);
    if (p === 2) return unary("pow", x, (v) => v * v, (v) => 2 * v);
    const q = p - 1;
    return unary("pow", x, (v) => Math.pow(v, p), (v) => p * Math.pow(v, q));
  }
  const out = binary("pow", x, p, binaryRowOf(Math.pow));
  return record("pow", out, [x, p], (g) => [
    x.requiresGrad ? unbroadcast(mul(g, binary("pow", x, p, binaryRowOf((a, b) => (b === 0 ? 0 : b * Math.pow(a, b - 1))))), x.shape) : null,
    p.requiresGrad ? unbroadcast(mul(g, binary("pow", x, p, binaryRowOf((a, b) => (a === 0 && b >= 0 ? 0 : Math.pow(a, b) * Math.log(a))))), p.shape) : null,
  ]);
}

/**
 * Clamps into [min, max] (either bound may be omitted). The gradient passes
 * where min <= x <= max (bounds included, like PyTorch) and is 0 outside.
 */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  const lo = min ?? -Infinity;
  const hi = max ?? Infinity;
  if (Number.isNaN(lo) || Number.isNaN(hi)) fail("clamp", `bounds must not be NaN, got min ${min} and max ${max}`);
  if (lo > hi) fail("clamp", `min ${lo} is greater than max ${hi}`);
  return unary("clamp", x, (v) => (v < lo ? lo : v > hi ? hi : v), (v) => (v >= lo && v <= hi ? 1 : 0));
}

/** max(x, 0); gradient 0 at x = 0 (PyTorch). */
export function relu(x: Tensor): Tensor {
  return unary("relu", x, (v) => (v > 0 ? v : 0), (v) => (v > 0 ? 1 : 0));
}

/** x for x > 0, slope x otherwise; gradient `slope` at 0 (PyTorch). */
export function leakyRelu(x: Tensor, slope = 0.01): Tensor {
  return unary("leakyRelu", x, (v) => (v > 0 ? v : slope * v), (v) => (v > 0 ? 1 : slope));
}

/** 1 / (1 + e^-x), computed without overflow for large |x|. */
export function sigmoid(x: Tensor): Tensor {
  return unary("sigmoid", x, (v) => {
    if (v >= 0) return 1 / (1 + Math.exp(-v));
    const e = Math.exp(v);
    return e / (1 + e);
  }, (_, y) => y * (1 - y));
}

/** Hyperbolic tangent. */
export function tanh(x: Tensor): Tensor {
  return unary("tanh", x, Math.tanh, (_, y) => 1 - y * y);
}

/** Exact GELU x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, PyTorch's default (approximate = 'none'). */
export function gelu(x: Tensor): Tensor {
  const out = unzeroed(x.shape, x.dtype);
  geluForwardThreads(x.data, out.data);
  return record("gelu", out, [x], (g) => {
    const gx = unzeroed(x.shape, x.dtype);
    geluBackwardThreads(x.data, g.data, gx.data);
    return [gx];
  });
}

function compare(op: string, a: Operand, b: Operand, f: (x: number, y: number) => number): Tensor {
  const [x, y] = operands(a, b);
  return binary(op, x, y, binaryRowOf(f));
}

/** 1 where a == b else 0 (broadcasting); no gradient. */
export function eq(a: Operand, b: Operand): Tensor {
  return compare("eq", a, b, (p, q) => (p === q ? 1 : 0));
}
/** 1 where a != b else 0 (broadcasting; NaN != NaN); no gradient. */
export function ne(a: Operand, b: Operand): Tensor {
  return compare("ne", a, b, (p, q) => (p !== q ? 1 : 0));
}
/** 1 where a < b else 0 (broadcasting); no gradient. */
export function lt(a: Operand, b: Operand): Tensor {
  return compare("lt", a, b, (p, q) => (p < q ? 1 : 0));
}
/** 1 where a <= b else 0 (broadcasting); no gradient. */
export function le(a: Operand, b: Operand): Tensor {
  return compare("le", a, b, (p, q) => (p <= q ? 1 : 0));
}
/** 1 where a > b else 0 (broadcasting); no gradient. */
export function gt(a: Operand, b: Operand): Tensor {
  return compare("gt", a, b, (p, q) => (p > q ? 1 : 0));
}
/** 1 where a >= b else 0 (broadcasting); no gradient. */
export function ge(a: Operand, b: Operand): Tensor {
  return compare("ge", a, b, (p, q) => (p >= q ? 1 : 0));
}

/**
 * cond != 0 ? a : b elementwise, all three broadcast together (NaN in cond is
 * nonzero, so true). `cond` carries no gradient; a and b get g where they were
 * chosen and 0 elsewhere, summed back over their broadcast axes. The result has
 * the dtype of a and b; cond may have either float dtype.
 */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const [x, y] = operands(a, b);
  const dtype = commonDtype("where", x, y);
  const shape = broadcastShapes("where", broadcastShapes("where", cond.shape, x.shape), y.shape);
  const out = empty(shape, dtype);
  selectBroadcast(
    cond.data, broadcastStrides(cond.shape, shape), x.data, broadcastStrides(x.shape, shape),
    y.data, broadcastStrides(y.shape, shape), out.data, shape,
  );
  return record("where", out, [x, y], (g) => [
    x.requiresGrad ? unbroadcast(where(cond, g, 0), x.shape) : null,
    y.requiresGrad ? unbroadcast(where(cond, 0, g), y.shape) : null,
  ]);
}
