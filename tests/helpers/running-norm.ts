import { Tensor } from "../../src/tensor/tensor.js";
import type { Rng } from "../../src/tensor/random.js";
import type { NormOfNeuron } from "../../src/ops/spike/norm-neuron.js";

/**
 * An eval-mode batch norm over `n` channels with random running statistics (means -0.2..0.2, variances
 * 0.2..1.2) and, when `affine`, weights 0.5..2.5 and biases -0.5..1: a fused BN-LIF test's norm.
 */
export function runningNorm(n: number, rng: Rng, affine = true): NormOfNeuron {
  const vec = (lo: number, span: number) => Tensor.from(Float32Array.from({ length: n }, () => lo + span * rng.uniform()), [n]);
  return {
    runningMean: vec(-0.2, 0.4), runningVar: vec(0.2, 1), weight: affine ? vec(0.5, 2) : null, bias: affine ? vec(-0.5, 1.5) : null,
    opts: { training: false, eps: 1e-5 },
  };
}
