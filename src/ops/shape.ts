/**
 * Shape ops: reshape, permute, slice, concat, stack, pad, expand, flatten,
 * gather, indexSelect. Outputs own fresh storage except reshape/flatten,
 * which share it (tensors are never mutated by ops, so sharing is safe).
 */
import { fail, fmtShape } from "../tensor/errors.js";
import { broadcastShapes, broadcastStrides, normAxis, sameShape, sizeOf, stridesOf, type Shape } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { copyStridedThreads } from "../kernels/copy/threads.js";
import { gatherBlocks, scatterAddBlocks } from "../kernels/gather.js";
import { record } from "../autograd/tape.js";
import { commonDtype, empty, unbroadcast, unzeroed } from "./util.js";

/** Integer indices with a shape (row-major), e.g. token indices `[B, K]` for {@link gather}. */
export interface Indices {
  readonly data: Int32Array;
  readonly shape: Shape;
}

/** Builds {@link Indices}, checking that the shape fits the data. */
export function indices(data: Int32Array | readonly number[], shape?: Shape): Indices {
  const d = data instanceof Int32Array ? data : Int32Array.from(data);
  const s = shape ?? [d.length];
  if (sizeOf(s) !== d.length) fail("indices", `${d.length} indices do not fill shape ${fmtShape(s)}`);
  return { data: d, shape: Object.freeze([...s]) };
}

/**
 * A new shape over the same elements; one size may be -1 (inferred). Shares
 * storage with x.
 */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const op = "reshape";
  let infer = -1;
  let known = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === -1) {
      if (infer >= 0) fail(op, `only one size may be -1, got ${fmtShape(shape)}`);
      infer = i;
    } else if (!Number.isInteger(d) || d < 0) {
      fail(op, `sizes must be non-negative integers or -1, got ${fmtShape(shape)}`);
    } else known *= d;
  }
  const target = [...shape];
  if (infer >= 0) {
    if (known === 0 || x.size % known !== 0) fail(op, `cannot infer -1 in ${fmtShape(shape)} for ${x.size} elements (input ${fmtShape(x.shape)})`);
    target[infer] = x.size / known;
  } else if (known !== x.size) {
    fail(op, `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)} (${known} elements)`);
  }
  const out = new Tensor(x.data, target);
  return record(op, out, [x], (g) => [new Tensor(g.data, x.shape)]);
}

/**
 * Merges axes startAxis..endAxis (inclusive, negative counts from the end) into
 * one. A scalar becomes `[1]` (PyTorch). Shares storage with x.
 */
export function flatten(x: Tensor, startAxis = 0, endAxis = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const s = normAxis("flatten", startAxis, x.rank);
  const e = normAxis("flatten", endAxis, x.rank);
  if (s > e) fail("flatten", `startAxis ${startAxis} comes after endAxis ${endAxis} for shape ${fmtShape(x.shape)}`);
  return reshape(x, [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/** Reorders the axes: output axis i is input axis perm[i] (negative allowed). */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const op = "permute";
  if (perm.length !== x.rank) fail(op, `perm [${perm.join(", ")}] must list ${x.rank} axes for shape ${fmtShape(x.shape)}`);
  const p = perm.map((a) => normAxis(op, a, x.rank));
  if (new Set(p).size !== p.length) fail(op, `perm [${perm.join(", ")}] repeats an axis`);
  const st = stridesOf(x.shape);
  const shape = p.map((a) => x.shape[a]!);
  const out = unzeroed(shape, x.dtype);
  copyStridedThreads(x.data, 0, p.map((a) => st[a]!), out.data, 0, stridesOf(shape), shape);
  return record(op, out, [x], (g) => {
    const inv = new Array<number>(p.length);
    for (let i = 0; i < p.length; i++) inv[p[i]!] = i;
    return [permute(g, inv)];
  });
}

/** Swaps two axes. */
export function transpose(x: Tensor, axisA: number, axisB: number): Tensor {
  const a = normAxis("transpose", axisA, x.rank);
  const b = normAxis("transpose", axisB, x.rank);
  const perm = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, perm);
}

/**
 * Elements start, start + step, ... < end along `axis`, Python/PyTorch-style:
 * negative start/end count from the end, and both are clamped to [0, n]
 * (an empty range gives size 0). step must be a positive integer.
 */
export function slice(x: Tensor, axis: number, start: number, end: number = Infinity, step = 1): Tensor {
  const op = "slice";
  const ax = normAxis(op, axis, x.rank);
  if (!Number.isInteger(step) || step < 1) fail(op, `step must be a positive integer, got ${step}`);
  if (!Number.isInteger(start) || (end !== Infinity && !Number.isInteger(end))) {
    fail(op, `start and end must be integers, got ${start} and ${end}`);
  }
  const n = x.shape[ax]!;
  const lo = Math.min(n, Math.max(0, start < 0 ? start + n : start));
  const hi = Math.min(n, Math.max(0, end < 0 ? end + n : end));
  const len = hi > lo ? Math.ceil((hi - lo) / step) : 0;
  const shape = [...x.shape];
  shape[ax] = len;
  const st = stridesOf(x.shape);
  const view = [...st];
  view[ax] = st[ax]! * step;
  const out = unzeroed(shape, x.dtype);
  copyStridedThreads(x.data, lo * st[ax]!, view, out.data, 0, stridesOf(shape), shape);
  return record(op, out, [x], (g) => {
    const gx = empty(x.shape, x.dtype);
    copyStridedThreads(g.data, 0, stridesOf(shape), gx.data, lo * st[ax]!, view, shape);
    return [gx];
  });
}

/** Joins tensors along an existing axis; all other sizes must agree. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  const op = "concat";
  if (xs.length === 0) fail(op, "needs at least one tensor");
  const first = xs[0]!;
  const dtype = commonDtype(op, ...xs);
  const ax = normAxis(op, axis, first.rank);
  let total = 0;
  for (const x of xs) {
    const ok = x.rank === first.rank && x.shape.every((d, i) => i === ax || d === first.shape[i]);
    if (!ok) {
      fail(op, `shapes ${xs.map((t) => fmtShape(t.shape)).join(", ")} must agree on every axis but ${ax}`);
    }
    total += x.shape[ax]!;
  }
  const shape = [...first.shape];
  shape[ax] = total;
  // The inputs' blocks along the axis cover the output.
  const out = unzeroed(shape, dtype);
  const ost = stridesOf(shape);
  const offsets: number[] = [];
  let at = 0;
  for (const x of xs) {
    offsets.push(at * ost[ax]!);
    copyStridedThreads(x.data, 0, stridesOf(x.shape), out.data, at * ost[ax]!, ost, x.shape);
    at += x.shape[ax]!;
  }
  return record(op, out, xs, (g) =>
    xs.map((x, i) => {
      if (!x.requiresGrad) return null;
      const gx = unzeroed(x.shape, x.dtype);
      copyStridedThreads(g.data, offsets[i]!, ost, gx.data, 0, stridesOf(x.shape), x.shape);
      return gx;
    }),
  );
}

/** Joins equal-shaped tensors along a new axis (axis in -(rank+1)..rank). */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  const op = "stack";
  if (xs.length === 0) fail(op, "needs at least one tensor");
  const first = xs[0]!;
  for (const x of xs) {
    if (!sameShape(x.shape, first.shape)) fail(op, `shapes ${xs.map((t) => fmtShape(t.shape)).join(", ")} must be equal`);
  }
  const ax = normAxis(op, axis, first.rank + 1);
  const shape = [...first.shape.slice(0, ax), 1, ...first.shape.slice(ax)];
  return concat(xs.map((x) => reshape(x, shape)), ax);
}

/**
 * Pads with a constant. `pads` lists [before, after] per axis, for the LAST
 * pads.length axes in axis order: on `[N, C, H, W]`, `[[1, 1], [2, 2]]` pads H
 * by 1 and W by 2 on each side. (PyTorch's F.pad lists pairs last axis first;
 * this list is in axis order.) Pads are non-negative integers.
 */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  const op = "pad";
  if (pads.length > x.rank) fail(op, `${pads.length} [before, after] pairs for a tensor of rank ${x.rank} (shape ${fmtShape(x.shape)})`);
  const first = x.rank - pads.length;
  const shape = [...x.shape];
  let off = 0;
  const before: number[] = new Array<number>(x.rank).fill(0);
  pads.forEach(([b, a], i) => {
    if (!Number.isInteger(b) || !Number.isInteger(a) || b < 0 || a < 0) {
      fail(op, `pads must be non-negative integers, got [${b}, ${a}] for axis ${first + i}`);
    }
    before[first + i] = b;
    shape[first + i] = x.shape[first + i]! + b + a;
  });
  const st = stridesOf(shape);
  for (let i = 0; i < x.rank; i++) off += before[i]! * st[i]!;
  const out = empty(shape, x.dtype);
  if (value !== 0) out.data.fill(value);
  copyStridedThreads(x.data, 0, stridesOf(x.shape), out.data, off, st, x.shape);
  return record(op, out, [x], (g) => {
    const gx = unzeroed(x.shape, x.dtype);
    copyStridedThreads(g.data, off, st, gx.data, 0, stridesOf(x.shape), x.shape);
    return [gx];
  });
}

/**
 * Broadcasts x to `shape` (NumPy rules, x right-aligned; -1 keeps x's size on
 * that axis), copying. The gradient is summed back over the broadcast axes.
 */
export function expand(x: Tensor, shape: Shape): Tensor {
  const op = "expand";
  const off = shape.length - x.rank;
  if (off < 0) fail(op, `cannot expand ${fmtShape(x.shape)} to the lower rank ${fmtShape(shape)}`);
  const target = shape.map((d, i) => {
    if (d === -1) {
      if (i < off) fail(op, `-1 in ${fmtShape(shape)} is at a new leading axis of ${fmtShape(x.shape)}`);
      return x.shape[i - off]!;
    }
    if (!Number.isInteger(d) || d < 0) fail(op, `sizes must be non-negative integers or -1, got ${fmtShape(shape)}`);
    return d;
  });
  const b = broadcastShapes(op, x.shape, target);
  if (!sameShape(b, target)) fail(op, `cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  const out = unzeroed(target, x.dtype);
  copyStridedThreads(x.data, 0, broadcastStrides(x.shape, target), out.data, 0, stridesOf(target), target);
  return record(op, out, [x], (g) => [unbroadcast(g, x.shape)]);
}

function checkRange(op: string, idx: Int32Array, n: number, axis: number, shape: Shape): void {
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i]!;
    if (v < 0 || v >= n) fail(op, `index ${v} at position ${i} is out of range for axis ${axis} of size ${n} (input ${fmtShape(shape)})`);
  }
}

/**
 * Picks entries along `axis` per leading position:
 * `index` has shape `[...x.shape[0:axis], K]` and the result
 * `[...x.shape[0:axis], K, ...x.shape[axis+1:]]` with
 * `out[p, k, q] = x[p, index[p, k], q]` (p the leading, q the trailing indices).
 * This is torch.gather with the index broadcast over the trailing axes; for
 * MAE, `gather(x [B, N, C], 1, idx [B, K]) -> [B, K, C]`. Indices must lie in
 * [0, x.shape[axis]) (no negative indices). The backward scatter-adds, so
 * repeated indices accumulate.
 */
export function gather(x: Tensor, axis: number, index: Indices): Tensor {
  const op = "gather";
  const ax = normAxis(op, axis, x.rank);
  const lead = x.shape.slice(0, ax);
  if (index.shape.length !== ax + 1 || !lead.every((d, i) => index.shape[i] === d)) {
    fail(op, `index shape ${fmtShape(index.shape)} must be [${[...lead, "K"].join(", ")}] for input ${fmtShape(x.shape)} along axis ${ax}`);
  }
  if (index.data.length !== sizeOf(index.shape)) fail(op, `index data has ${index.data.length} entries for shape ${fmtShape(index.shape)}`);
  const n = x.shape[ax]!;
  checkRange(op, index.data, n, ax, x.shape);
  const k = index.shape[ax]!;
  // copied: the backward must not see later edits of the caller's array
  return gatherAlong(op, x, ax, index.data.slice(), k, k);
}

/**
 * The same indices for every leading position: out has x's shape with axis
 * `axis` replaced by indices.length, `out[p, j, q] = x[p, indices[j], q]`.
 * Backward scatter-adds (repeats accumulate).
 */
export function indexSelect(x: Tensor, axis: number, indices: Int32Array | readonly number[]): Tensor {
  const op = "indexSelect";
  const ax = normAxis(op, axis, x.rank);
  const idx = Int32Array.from(indices); // a copy, kept for the backward
  checkRange(op, idx, x.shape[ax]!, ax, x.shape);
  return gatherAlong(op, x, ax, idx, 0, idx.length);
}

function gatherAlong(op: string, x: Tensor, ax: number, idx: Int32Array, idxStride: number, k: number): Tensor {
  const outer = sizeOf(x.shape.slice(0, ax));
  const n = x.shape[ax]!;
  const inner = sizeOf(x.shape.slice(ax + 1));
  const shape = [...x.shape];
  shape[ax] = k;
  const out = empty(shape, x.dtype);
  gatherBlocks(x.data, outer, n, inner, idx, idxStride, k, out.data);
  return record(op, out, [x], (g) => {
    const gx = empty(x.shape, x.dtype);
    scatterAddBlocks(g.data, outer, n, inner, idx, idxStride, k, gx.data);
    return [gx];
  });
}
