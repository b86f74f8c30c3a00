/** Differentiable casts between spikes and floats, and the residual join of spikes onto a stream. */
import { Spikes } from "../../tensor/spikes.js";
import { sameShape } from "../../tensor/shape.js";
import { Tensor, type DType } from "../../tensor/tensor.js";
import { record } from "../../autograd/tape.js";
import { unpackAddThreads } from "../../kernels/spike-cast/threads.js";
import { add } from "../elementwise.js";
import { commonDtype, unzeroed } from "../util.js";

/**
 * Spikes as a float tensor of 0/1. The gradient passes through unchanged to
 * the spikes (and from there into the surrogate of the neuron that fired them).
 */
export function spikesToFloat(s: Spikes, dtype: DType = s.dtype): Tensor {
  const out = unzeroed(s.shape, dtype); // the unpack writes every element
  unpackAddThreads(null, s.words, out.data, s.rows, s.cols);
  return record("spikesToFloat", out, [s], (g) => [g]);
}

/**
 * `add(x, spikesToFloat(s))` (x a float tensor, or spikes taken as 0/1) in one
 * pass, without the unpacked copy of s: the same additions, so the same bits,
 * and the gradient g goes to both, as through add and the casts. Shapes that
 * differ (broadcasting) take the unfused ops.
 */
export function addSpikes(x: Tensor | Spikes, s: Spikes): Tensor {
  if (!sameShape(x.shape, s.shape)) return add(x instanceof Spikes ? spikesToFloat(x) : x, spikesToFloat(s));
  const dtype = commonDtype("add", x, s);
  const out = unzeroed(s.shape, dtype);
  unpackAddThreads(x instanceof Spikes ? x.words : x.data, s.words, out.data, s.rows, s.cols);
  return record("addSpikes", out, [x, s], (g) => [g, g]);
}

/**
 * A float tensor of exact 0/1 values as Spikes; any other value is an error.
 * The gradient passes through unchanged (used where a float kernel computes
 * what is by construction a spike tensor, e.g. a max-pool of spikes).
 */
export function floatToSpikes(x: Tensor): Spikes {
  const out = Spikes.fromFloat(x);
  return record("floatToSpikes", out, [x], (g) => [g]);
}
