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

/**
 * A float tensor of exact 0/1 values as Spikes; any other value is an error.
 * The gradient passes through unchanged (used where a float kernel computes
 * what is by construction a spike tensor, e.g. a max-pool of spikes).
 */
export function floatToSpikes(x: Tensor): Spikes {
  const out = Spikes.fromFloat(x);
  return record("floatToSpikes", out, [x], (g) => [g]);
}
