/** Differentiable casts between spikes and floats. */
import { Spikes } from "../../tensor/spikes.js";
import { Tensor, type DType } from "../../tensor/tensor.js";
import { record } from "../../autograd/tape.js";

/**
 * Spikes as a float tensor of 0/1. The gradient passes through unchanged to
 * the spikes (and from there into the surrogate of the neuron that fired them).
 */
export function spikesToFloat(s: Spikes, dtype: DType = s.dtype): Tensor {
  const out = s.toFloat(dtype);
  return record("spikesToFloat", out, [s], (g) => [g]);
}
