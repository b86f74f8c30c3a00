/** 2-D max and average pooling with PyTorch semantics (floor output size, no dilation). */
import { fail, fmtShape } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";
import type { ConvGeom } from "../kernels/conv/conv.js";
import { avgPool2dBackward, avgPool2dForward, maxPool2dBackward, maxPool2dForward } from "../kernels/pool.js";
import { record } from "../autograd/tape.js";
import { empty } from "./util.js";
import { convOutSize } from "./conv.js";

type Pair = number | readonly [number, number];

/** Options of the 2-D pools: stride defaults to the kernel size, padding to 0. */
export interface Pool2dOptions {
  kernel: Pair;
  stride?: Pair;
  padding?: Pair;
}

function pair(op: string, name: string, v: Pair | undefined, dflt: [number, number], min: number): [number, number] {
  const p: [number, number] = v === undefined ? dflt : typeof v === "number" ? [v, v] : [v[0], v[1]];
  for (const x of p) {
    if (!Number.isInteger(x) || x < min) fail(op, `${name} must be an integer >= ${min} (or a pair of them), got ${JSON.stringify(v)}`);
  }
  return p;
}

function geometry(op: string, x: Tensor, opts: Pool2dOptions): ConvGeom {
  if (x.rank !== 4) fail(op, `input must be [N, C, H, W], got ${fmtShape(x.shape)}`);
  if (opts === undefined || opts.kernel === undefined) fail(op, "opts.kernel is required");
  const [kh, kw] = pair(op, "kernel", opts.kernel, [1, 1], 1);
  const [sh, sw] = pair(op, "stride", opts.stride, [kh, kw], 1);
  const [ph, pw] = pair(op, "padding", opts.padding, [0, 0], 0);
  if (2 * ph > kh || 2 * pw > kw) fail(op, `padding [${ph}, ${pw}] must be at most half the kernel [${kh}, ${kw}]`);
  const h = x.shape[2]!;
  const w = x.shape[3]!;
  const oh = convOutSize(op, h, kh, sh, ph, 1, `height ${kh}`);
  const ow = convOutSize(op, w, kw, sw, pw, 1, `width ${kw}`);
  return { h, w, kh, kw, sh, sw, ph, pw, dh: 1, dw: 1, oh, ow };
}

/**
 * Max pooling of x `[N, C, H, W]`; padding counts as -inf. The gradient goes
 * to the first maximum of each window (row-major order), like PyTorch.
 */
export function maxPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  const op = "maxPool2d";
  const g = geometry(op, x, opts);
  const [n, c] = x.shape as [number, number];
  const planes = n * c;
  const out = empty([n, c, g.oh, g.ow], x.dtype);
  const arg = new Int32Array(out.size);
  maxPool2dForward(x.data, planes, g, out.data, arg);
  return record(op, out, [x], (gy) => {
    const gx = empty(x.shape, x.dtype);
    maxPool2dBackward(gy.data, arg, planes, g.h * g.w, g.oh * g.ow, gx.data);
    return [gx];
  });
}

/**
 * Average pooling of x `[N, C, H, W]`; zero padding is counted in the divisor
 * (PyTorch's count_include_pad = true), so every window divides by kh kw.
 */
export function avgPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  const op = "avgPool2d";
  const g = geometry(op, x, opts);
  const [n, c] = x.shape as [number, number];
  const planes = n * c;
  const out = empty([n, c, g.oh, g.ow], x.dtype);
  avgPool2dForward(x.data, planes, g, out.data);
  return record(op, out, [x], (gy) => {
    const gx = empty(x.shape, x.dtype);
    avgPool2dBackward(gy.data, planes, g, gx.data);
    return [gx];
  });
}
