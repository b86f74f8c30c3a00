/**
 * 2-D and 1-D convolution (cross-correlation, PyTorch semantics) through
 * im2col + gemm, one image and one group at a time. conv1d is conv2d over a
 * height of 1. Backward: dx by gemm + col2im, dW by gemm over recomputed
 * columns (accumulated over the batch, in batch order, in the data's dtype), db by a per-channel sum.
 */
import { freeArray, heapArray } from "../tensor/heap.js";
import { fail, fmtShape } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";
import { type ConvGeom } from "../kernels/conv/conv.js";
import { convDataThreads, convForwardThreads, convWeightThreads, type ConvDims } from "../kernels/conv/threads.js";
import { addChannelBiasThreads, sumPerChannelThreads } from "../kernels/bias/threads.js";
import { record } from "../autograd/tape.js";
import { commonDtype, empty } from "./util.js";

/** One number for both spatial axes, or [h, w]. */
export type Pair = number | readonly [number, number];

/** Options of {@link conv2d}; each of stride, padding and dilation is one number or [h, w]. */
export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

/** Options of {@link conv1d}. */
export interface Conv1dOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
}

/** A stride / padding / dilation option as [h, w], checked to be integers >= min. */
export function pair(op: string, name: string, v: Pair | undefined, dflt: number, min: number): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === "number" ? [v, v] : [v[0], v[1]];
  for (const x of p) {
    if (!Number.isInteger(x) || x < min) fail(op, `${name} must be an integer >= ${min} (or a pair of them), got ${JSON.stringify(v)}`);
  }
  return p;
}

/** Output size of a window sweep; fails when the (dilated) kernel exceeds the padded input. */
export function convOutSize(op: string, size: number, k: number, s: number, p: number, d: number, what: string): number {
  const eff = d * (k - 1) + 1;
  if (size + 2 * p < eff) {
    fail(op, `kernel ${what} (effective ${eff} with dilation ${d}) is bigger than the padded input ${size} + 2*${p} = ${size + 2 * p}`);
  }
  return Math.floor((size + 2 * p - eff) / s) + 1;
}

/**
 * The geometry of a convolution over an h x wd input, after checking the bias
 * against the weight's output channels and the kernel against the padded input.
 */
export function convGeometry(
  op: string, weight: Tensor, bias: Tensor | null, h: number, wd: number, kh: number, kw: number,
  stride: [number, number], padding: [number, number], dilation: [number, number],
): ConvGeom {
  const o = weight.shape[0]!;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== o)) fail(op, `bias must be [${o}] for weight ${fmtShape(weight.shape)}, got ${fmtShape(bias.shape)}`);
  const oh = convOutSize(op, h, kh, stride[0], padding[0], dilation[0], `height ${kh}`);
  const ow = convOutSize(op, wd, kw, stride[1], padding[1], dilation[1], `width ${kw}`);
  return { h, w: wd, kh, kw, sh: stride[0], sw: stride[1], ph: padding[0], pw: padding[1], dh: dilation[0], dw: dilation[1], oh, ow };
}

/** The shared core: x [N, C, H, W], w [O, C/groups, kh, kw], results reshaped to the caller's ranks. */
function convCore(
  op: string, x: Tensor, weight: Tensor, bias: Tensor | null,
  n: number, cIn: number, h: number, wd: number,
  o: number, kh: number, kw: number,
  stride: [number, number], padding: [number, number], dilation: [number, number], groups: number,
  outShape: (oh: number, ow: number) => number[],
): Tensor {
  const dtype = bias ? commonDtype(op, x, weight, bias) : commonDtype(op, x, weight);
  if (!Number.isInteger(groups) || groups < 1) fail(op, `groups must be a positive integer, got ${groups}`);
  if (cIn % groups !== 0 || o % groups !== 0) {
    fail(op, `groups ${groups} must divide both the input channels ${cIn} (input ${fmtShape(x.shape)}) and the output channels ${o} (weight ${fmtShape(weight.shape)})`);
  }
  const cg = cIn / groups;
  if (weight.shape[1] !== cg) {
    fail(op, `weight ${fmtShape(weight.shape)} expects ${weight.shape[1]! * groups} input channels (${weight.shape[1]} per group x ${groups} groups) but the input ${fmtShape(x.shape)} has ${cIn}`);
  }
  const g = convGeometry(op, weight, bias, h, wd, kh, kw, stride, padding, dilation);
  const { oh, ow } = g;
  const kk = cg * kh * kw; // gemm depth
  const ohw = oh * ow;
  const out = empty(outShape(oh, ow), dtype);
  // The loops (im2col + gemm per image and group) live in src/kernels/conv/ranges.ts; the twins split them over threads.
  const dims: ConvDims = { n, cIn, o, groups, g };
  convForwardThreads(dims, x.data, weight.data, out.data);
  if (bias) addChannelBiasThreads(out.data, bias.data, n, o, ohw);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(op, out, inputs, (gy) => {
    let gx: Tensor | null = null;
    let gw: Tensor | null = null;
    let gb: Tensor | null = null;
    if (x.requiresGrad) {
      gx = empty(x.shape, dtype);
      convDataThreads(dims, gy.data, weight.data, gx.data);
    }
    if (weight.requiresGrad) {
      // Accumulated over the batch in the data's dtype (float32 adds for float32, as PyTorch's CPU conv), in batch order.
      const acc = heapArray(dtype === "float32" ? Float32Array : Float64Array, o * kk);
      convWeightThreads(dims, gy.data, x.data, acc);
      gw = empty(weight.shape, dtype);
      gw.data.set(acc);
      freeArray(acc, "released by conv2d backward (its accumulator)");
    }
    if (bias && bias.requiresGrad) {
      gb = empty(bias.shape, dtype);
      sumPerChannelThreads(gy.data, gb.data, n, o, ohw);
    }
    return [gx, gw, gb];
  });
}

/**
 * 2-D convolution: x `[N, C, H, W]`, weight `[O, C/groups, kh, kw]`, optional
 * bias `[O]` -> `[N, O, OH, OW]` with OH = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1.
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const op = "conv2d";
  if (x.rank !== 4) fail(op, `input must be [N, C, H, W], got ${fmtShape(x.shape)}`);
  if (weight.rank !== 4) fail(op, `weight must be [O, C/groups, kh, kw], got ${fmtShape(weight.shape)}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [o, , kh, kw] = weight.shape as [number, number, number, number];
  return convCore(
    op, x, weight, bias ?? null, n, c, h, w, o, kh, kw,
    pair(op, "stride", opts.stride, 1, 1), pair(op, "padding", opts.padding, 0, 0), pair(op, "dilation", opts.dilation, 1, 1),
    opts.groups ?? 1, (oh, ow) => [n, o, oh, ow],
  );
}

/**
 * 1-D convolution: x `[N, C, L]`, weight `[O, C/groups, k]`, optional bias
 * `[O]` -> `[N, O, OL]`; computed as conv2d over a height of 1.
 */
export function conv1d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv1dOptions = {}): Tensor {
  const op = "conv1d";
  if (x.rank !== 3) fail(op, `input must be [N, C, L], got ${fmtShape(x.shape)}`);
  if (weight.rank !== 3) fail(op, `weight must be [O, C/groups, k], got ${fmtShape(weight.shape)}`);
  const [n, c, l] = x.shape as [number, number, number];
  const [o, , k] = weight.shape as [number, number, number];
  const [s] = pair(op, "stride", opts.stride, 1, 1);
  const [p] = pair(op, "padding", opts.padding, 0, 0);
  const [d] = pair(op, "dilation", opts.dilation, 1, 1);
  return convCore(op, x, weight, bias ?? null, n, c, 1, l, o, 1, k, [1, s], [0, p], [1, d], opts.groups ?? 1, (_oh, ol) => [n, o, ol]);
}
