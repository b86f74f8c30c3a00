/** Softmax and log-softmax along one axis, max-subtracted for numerical stability. */
import { normAxis, sizeOf } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { softmaxBackward, softmaxForward } from "../kernels/softmax.js";
import { record } from "../autograd/tape.js";
import { empty } from "./util.js";

function along(op: string, x: Tensor, axis: number, log: boolean): Tensor {
  const ax = normAxis(op, axis, x.rank);
  const outer = sizeOf(x.shape.slice(0, ax));
  const n = x.shape[ax]!;
  const inner = sizeOf(x.shape.slice(ax + 1));
  const y = empty(x.shape, x.dtype);
  softmaxForward(x.data, outer, n, inner, y.data, log);
  return record(op, y, [x], (g) => {
    const gx = empty(x.shape, x.dtype);
    softmaxBackward(y.data, g.data, outer, n, inner, gx.data, log);
    return [gx];
  });
}

/** exp(x - max) / sum exp(x - max) along `axis` (default the last). */
export function softmax(x: Tensor, axis = -1): Tensor {
  return along("softmax", x, axis, false);
}

/** x - logsumexp(x) along `axis` (default the last); exact in the tails where log(softmax) underflows. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return along("logSoftmax", x, axis, true);
}
