/**
 * In-place parameter initialisers (PyTorch `nn.init` and timm semantics), all
 * drawing from a seeded {@link Rng} so a model's initial weights are
 * reproducible. Each returns its tensor.
 */
import { fail, fmtShape } from "../tensor/errors.js";
import type { Rng } from "../tensor/random.js";
import type { Tensor } from "../tensor/tensor.js";

/**
 * PyTorch's fan-in of a weight: `shape[1] * prod(shape[2:])` (input features
 * times kernel size). Needs rank >= 2, as in PyTorch.
 */
export function fanIn(shape: readonly number[]): number {
  if (shape.length < 2) fail("fanIn", `fan in needs a weight of rank >= 2, got ${fmtShape(shape)}`);
  let n = shape[1]!;
  for (let i = 2; i < shape.length; i++) n *= shape[i]!;
  return n;
}

/** Fills with `value`. */
export function constant_(t: Tensor, value: number): Tensor {
  t.data.fill(value);
  return t;
}

/** Fills with zeros. */
export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

/** Fills with ones. */
export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

/** Uniform in [low, high). */
export function uniform_(t: Tensor, rng: Rng, low = 0, high = 1): Tensor {
  if (!(low <= high)) fail("uniform_", `needs low <= high, got [${low}, ${high}]`);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = low + (high - low) * rng.uniform();
  return t;
}

/** Normal(mean, std). */
export function normal_(t: Tensor, rng: Rng, mean = 0, std = 1): Tensor {
  if (!(std >= 0)) fail("normal_", `std must be >= 0, got ${std}`);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = mean + std * rng.normal();
  return t;
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7); used only to refuse hopeless bounds. */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const k = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * k - 1.453152027) * k + 1.421413741) * k - 0.284496736) * k + 0.254829592) * k * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/**
 * timm's `trunc_normal_`: Normal(mean, std) restricted to [a, b], where the
 * bounds are ABSOLUTE values (not multiples of std): with std 0.02 and the
 * default [-2, 2] the truncation practically never bites. Sampled by
 * rejection, which is exact; bounds holding almost no mass are refused rather
 * than looping for ever.
 */
export function truncNormal_(t: Tensor, rng: Rng, std = 0.02, a = -2, b = 2, mean = 0): Tensor {
  const op = "truncNormal_";
  if (!(std > 0) || !Number.isFinite(std)) fail(op, `std must be a finite number > 0, got ${std}`);
  if (!(a < b)) fail(op, `needs a < b, got [${a}, ${b}]`);
  const mass = normalCdf((b - mean) / std) - normalCdf((a - mean) / std);
  if (!(mass > 1e-4)) fail(op, `[${a}, ${b}] holds almost none (${mass.toExponential(2)}) of Normal(${mean}, ${std}); rejection sampling would not finish`);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = rng.truncNormal(mean, std, a, b);
  return t;
}

/**
 * PyTorch's `kaiming_normal_` (mode fan_in, leaky_relu gain): Normal(0, gain /
 * sqrt(fan_in)), gain = sqrt(2 / (1 + a²)); the default a = 0 is ReLU's gain
 * sqrt 2 (what Spikeformer's tokenizer convolutions use).
 */
export function kaimingNormal_(t: Tensor, rng: Rng, a = 0): Tensor {
  if (t.size === 0) return t;
  return normal_(t, rng, 0, Math.sqrt(2 / (1 + a * a)) / Math.sqrt(fanIn(t.shape)));
}

/**
 * PyTorch's `kaiming_uniform_` (mode fan_in, leaky_relu gain): uniform in
 * ±sqrt(3) * gain / sqrt(fan_in), gain = sqrt(2 / (1 + a²)). The default
 * a = sqrt(5) is what Linear and Conv layers use, giving ±1/sqrt(fan_in).
 * A tensor with no elements is left alone.
 */
export function kaimingUniform_(t: Tensor, rng: Rng, a = Math.sqrt(5)): Tensor {
  if (t.size === 0) return t;
  const fan = fanIn(t.shape);
  const gain = Math.sqrt(2 / (1 + a * a));
  const bound = (Math.sqrt(3) * gain) / Math.sqrt(fan);
  return uniform_(t, rng, -bound, bound);
}

/**
 * PyTorch's default bias of Linear and Conv layers: uniform in
 * ±1/sqrt(fan_in) of the layer's weight (0 when the fan-in is 0).
 */
export function defaultBias_(bias: Tensor, weightShape: readonly number[], rng: Rng): Tensor {
  const fan = fanIn(weightShape);
  const bound = fan > 0 ? 1 / Math.sqrt(fan) : 0;
  return uniform_(bias, rng, -bound, bound);
}
