/** Fully connected layer, PyTorch convention: y = x Wᵀ + b. */
import { fail, fmtShape } from "../tensor/errors.js";
import { sizeOf } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { gemmThreads } from "../kernels/gemm/threads.js";
import { addChannelBiasThreads, sumPerChannelThreads } from "../kernels/bias/threads.js";
import { record } from "../autograd/tape.js";
import { commonDtype, empty } from "./util.js";

/** Shape checks of a linear layer (dense, spike or counts input [..., in]); returns [out, in]. */
export function checkLinear(op: string, xShape: readonly number[], weight: Tensor, bias: Tensor | null): [number, number] {
  if (weight.rank !== 2) fail(op, `weight must be [out, in], got ${fmtShape(weight.shape)}`);
  if (xShape.length < 1) fail(op, `input must have rank >= 1 ([..., in]), got ${fmtShape(xShape)}`);
  const [nOut, nIn] = weight.shape as [number, number];
  const inX = xShape[xShape.length - 1]!;
  if (inX !== nIn) fail(op, `input ${fmtShape(xShape)} has ${inX} features but weight ${fmtShape(weight.shape)} expects ${nIn}`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== nOut)) fail(op, `bias must be [${nOut}] for weight ${fmtShape(weight.shape)}, got ${fmtShape(bias.shape)}`);
  return [nOut, nIn];
}

/**
 * y[..., out] = x[..., in] Wᵀ + b for weight `[out, in]` and optional bias
 * `[out]`. Backward: dx = g W, dW = gᵀ x (summed over all leading axes in
 * order), db = sum of g over the leading axes.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const op = "linear";
  const b = bias ?? null;
  const dtype = b ? commonDtype(op, x, weight, b) : commonDtype(op, x, weight);
  const [nOut, nIn] = checkLinear(op, x.shape, weight, b);
  const rows = sizeOf(x.shape.slice(0, -1));
  const out = empty([...x.shape.slice(0, -1), nOut], dtype);
  gemmThreads(x.data, 0, false, weight.data, 0, true, out.data, 0, rows, nOut, nIn, false);
  if (b) addChannelBiasThreads(out.data, b.data, rows, nOut, 1);
  const inputs = b ? [x, weight, b] : [x, weight];
  return record(op, out, inputs, (g) => {
    let gx: Tensor | null = null;
    let gw: Tensor | null = null;
    let gb: Tensor | null = null;
    if (x.requiresGrad) {
      gx = empty(x.shape, dtype);
      gemmThreads(g.data, 0, false, weight.data, 0, false, gx.data, 0, rows, nIn, nOut, false);
    }
    if (weight.requiresGrad) {
      gw = empty(weight.shape, dtype);
      gemmThreads(g.data, 0, true, x.data, 0, false, gw.data, 0, nOut, nIn, rows, false);
    }
    if (b && b.requiresGrad) {
      gb = empty(b.shape, dtype);
      sumPerChannelThreads(g.data, gb.data, rows, nOut, 1);
    }
    return [gx, gw, gb];
  });
}
