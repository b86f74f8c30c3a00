/**
 * Surrogate gradients: a spike is Heaviside(z) forward, and backward uses the
 * derivative of a smooth primitive that approximates the step (SpikingJelly's
 * `surrogate.Sigmoid`, `surrogate.ATan`). Here z = H - v_th.
 */
import { fail } from "../../tensor/errors.js";
import { expFdlibm, sigmoidGradF32, sigmoidGradF64 } from "../../kernels/neuron/exp.js";

const fr = Math.fround;

/** A smooth stand-in for the Heaviside step, used only for its derivative. */
export interface Surrogate {
  /** Short name for messages and configs, e.g. `sigmoid(4)`. */
  readonly name: string;
  /** The smooth function the step stands for (goes from 0 to 1 around z = 0). */
  primitive(z: number): number;
  /** d primitive / dz: what backward multiplies dL/dS by. */
  derivative(z: number): number;
  /**
   * The same derivative in float32 arithmetic (every operation rounded to
   * float32), for a float32 z: what float32 neurons use, as SpikingJelly
   * computes it in the tensor's dtype. Absent: the float64 derivative rounded
   * once (see {@link surrogateDerivative}).
   */
  readonly derivative32?: (z: number) => number;
  /** Set by {@link sigmoidSurrogate}: lets kernels inline the same derivative instead of calling it per element. */
  readonly sigmoidAlpha?: number;
}

/**
 * sigmoid(v) without overflow for large |v| (the same formula as the sigmoid
 * op), with the exp the neuron kernels inline (and their WASM twin reproduces).
 */
function sig(v: number): number {
  if (v >= 0) return 1 / (1 + expFdlibm(-v));
  const e = expFdlibm(v);
  return e / (1 + e);
}

function checkAlpha(op: string, alpha: number): void {
  if (!Number.isFinite(alpha) || alpha <= 0) fail(op, `alpha must be a finite number > 0, got ${alpha}`);
}

/**
 * SpikingJelly's `Sigmoid(alpha)` (the default, and Spikformer's, with alpha 4):
 * primitive sigmoid(alpha z), derivative alpha s (1 - s) with s = sigmoid(alpha z).
 */
export function sigmoidSurrogate(alpha = 4): Surrogate {
  checkAlpha("sigmoidSurrogate", alpha);
  return {
    name: `sigmoid(${alpha})`,
    sigmoidAlpha: alpha,
    primitive: (z) => sig(alpha * z),
    derivative: (z) => sigmoidGradF64(alpha, z),
    derivative32: (z) => sigmoidGradF32(alpha, z),
  };
}

/**
 * SpikingJelly's `ATan(alpha)` (default alpha 2): primitive atan(pi/2 alpha z) / pi + 1/2,
 * derivative alpha / (2 (1 + (pi/2 alpha z)^2)).
 */
export function atanSurrogate(alpha = 2): Surrogate {
  checkAlpha("atanSurrogate", alpha);
  const c = (Math.PI / 2) * alpha;
  const c32 = fr(c), alpha32 = fr(alpha);
  return {
    name: `atan(${alpha})`,
    primitive: (z) => Math.atan(c * z) / Math.PI + 0.5,
    derivative: (z) => {
      const u = c * z;
      return alpha / (2 * (1 + u * u));
    },
    derivative32: (z) => {
      const u = fr(c32 * z);
      return fr(alpha32 / fr(2 * fr(1 + fr(u * u))));
    },
  };
}

/**
 * A user-defined surrogate. `derivative` must be the derivative of `primitive`
 * (tests can check it numerically); it is what backward uses. `derivative32`,
 * optional, is its float32 form (see {@link Surrogate.derivative32}).
 */
export function customSurrogate(
  name: string, primitive: (z: number) => number, derivative: (z: number) => number, derivative32?: (z: number) => number,
): Surrogate {
  if (typeof primitive !== "function" || typeof derivative !== "function" || (derivative32 !== undefined && typeof derivative32 !== "function")) {
    fail("customSurrogate", `primitive and derivative (and derivative32 if given) must be functions, got ${typeof primitive}, ${typeof derivative} and ${typeof derivative32}`);
  }
  return derivative32 === undefined ? { name, primitive, derivative } : { name, primitive, derivative, derivative32 };
}

/** The derivative a neuron of this dtype uses: float32 neurons the float32 form (or the float64 one rounded once). */
export function surrogateDerivative(s: Surrogate, f32: boolean): (z: number) => number {
  if (!f32) return s.derivative;
  if (s.derivative32) return s.derivative32;
  const d = s.derivative;
  return (z) => fr(d(z));
}
