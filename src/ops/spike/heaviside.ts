/** The spike function as a float op: step forward, surrogate derivative backward. */
import { Tensor } from "../../tensor/tensor.js";
import { unary } from "../elementwise.js";
import type { Surrogate } from "./surrogate.js";

/**
 * Heaviside step with a surrogate gradient: 1 where z >= 0 else 0 (floats, NaN
 * gives 0), backward g * surrogate.derivative(z). The unfused building block
 * of a neuron (the fused `multiStepNeuron` is what models use).
 */
export function heaviside(z: Tensor, surrogate: Surrogate): Tensor {
  const d = surrogate.derivative;
  return unary("heaviside", z, (v) => (v >= 0 ? 1 : 0), (v) => d(v));
}
