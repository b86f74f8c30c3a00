/**
 * Dense layers with PyTorch's parameter names, shapes and default
 * initialisation: Linear, Conv1d, Conv2d, MaxPool2d, Identity.
 * (Models re-initialise where their reference does, e.g. trunc-normal Linear.)
 */
import { fail } from "../tensor/errors.js";
import type { Rng } from "../tensor/random.js";
import { Tensor, type DType } from "../tensor/tensor.js";
import { linear } from "../ops/linear.js";
import { conv1d, conv2d } from "../ops/conv.js";
import { maxPool2d } from "../ops/pool.js";
import { defaultBias_, kaimingUniform_ } from "./init.js";
import { Module, type TensorModule } from "./module.js";

type Pair = number | readonly [number, number];

function positiveInt(op: string, name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) fail(op, `${name} must be a positive integer, got ${v}`);
  return v;
}

function pair(op: string, name: string, v: Pair, min: number): [number, number] {
  const p: [number, number] = typeof v === "number" ? [v, v] : [v[0], v[1]];
  for (const x of p) if (!Number.isInteger(x) || x < min) fail(op, `${name} must be an integer >= ${min} (or a pair of them), got ${JSON.stringify(v)}`);
  return p;
}

/** Options of {@link Linear}. */
export interface LinearOptions {
  /** Seeded generator for the initial weights (required: there is no global RNG). */
  rng: Rng;
  /** Add a learnable bias (default true). */
  bias?: boolean;
  dtype?: DType;
}

/**
 * y = x Wᵀ + b, weight `[out, in]`, bias `[out]`. PyTorch init: weight
 * kaiming-uniform (a = sqrt 5), bias uniform ±1/sqrt(in).
 */
export class Linear extends Module implements TensorModule {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions) {
    super();
    const op = "Linear";
    this.inFeatures = positiveInt(op, "inFeatures", inFeatures);
    this.outFeatures = positiveInt(op, "outFeatures", outFeatures);
    if (opts?.rng === undefined) fail(op, "opts.rng (a seeded Rng) is required");
    const dtype = opts.dtype ?? "float32";
    this.weight = this.registerParameter("weight", kaimingUniform_(Tensor.zeros([outFeatures, inFeatures], dtype), opts.rng));
    this.bias = opts.bias === false ? null
      : this.registerParameter("bias", defaultBias_(Tensor.zeros([outFeatures], dtype), this.weight.shape, opts.rng));
  }

  /** x `[..., in]` -> `[..., out]`. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** Options shared by the conv layers. */
export interface ConvLayerOptions<P> {
  rng: Rng;
  stride?: P;
  padding?: P;
  dilation?: P;
  groups?: number;
  /** Add a learnable bias (default true; Spikformer's stems use false). */
  bias?: boolean;
  dtype?: DType;
}

/** Creates weight and bias of a conv layer with PyTorch's default init. */
function convParams(
  m: Module, op: string, inChannels: number, outChannels: number, kernel: readonly number[], opts: ConvLayerOptions<unknown>,
): [Tensor, Tensor | null, number] {
  positiveInt(op, "inChannels", inChannels);
  positiveInt(op, "outChannels", outChannels);
  if (opts?.rng === undefined) fail(op, "opts.rng (a seeded Rng) is required");
  const groups = positiveInt(op, "groups", opts.groups ?? 1);
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    fail(op, `groups ${groups} must divide inChannels ${inChannels} and outChannels ${outChannels}`);
  }
  const dtype = opts.dtype ?? "float32";
  const weight = m.registerParameter("weight", kaimingUniform_(Tensor.zeros([outChannels, inChannels / groups, ...kernel], dtype), opts.rng));
  const bias = opts.bias === false ? null
    : m.registerParameter("bias", defaultBias_(Tensor.zeros([outChannels], dtype), weight.shape, opts.rng));
  return [weight, bias, groups];
}

/** 2-D convolution over `[N, C, H, W]`; weight `[out, in/groups, kh, kw]`. */
export class Conv2d extends Module implements TensorModule {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: ConvLayerOptions<Pair>) {
    super();
    const op = "Conv2d";
    const kernel = pair(op, "kernelSize", kernelSize, 1);
    this.stride = pair(op, "stride", opts?.stride ?? 1, 1);
    this.padding = pair(op, "padding", opts?.padding ?? 0, 0);
    this.dilation = pair(op, "dilation", opts?.dilation ?? 1, 1);
    [this.weight, this.bias, this.groups] = convParams(this, op, inChannels, outChannels, kernel, opts);
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
}

/** 1-D convolution over `[N, C, L]`; weight `[out, in/groups, k]`. */
export class Conv1d extends Module implements TensorModule {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly groups: number;

  constructor(inChannels: number, outChannels: number, kernelSize: number, opts: ConvLayerOptions<number>) {
    super();
    const op = "Conv1d";
    const k = positiveInt(op, "kernelSize", kernelSize);
    this.stride = positiveInt(op, "stride", opts?.stride ?? 1);
    this.padding = opts?.padding ?? 0;
    if (!Number.isInteger(this.padding) || this.padding < 0) fail(op, `padding must be an integer >= 0, got ${this.padding}`);
    this.dilation = positiveInt(op, "dilation", opts?.dilation ?? 1);
    [this.weight, this.bias, this.groups] = convParams(this, op, inChannels, outChannels, [k], opts);
  }

  forward(x: Tensor): Tensor {
    return conv1d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }
}

/** Max pooling over `[N, C, H, W]`; stride defaults to the kernel size (as in PyTorch). No parameters. */
export class MaxPool2d extends Module implements TensorModule {
  readonly kernel: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];

  constructor(kernelSize: Pair, opts: { stride?: Pair; padding?: Pair } = {}) {
    super();
    const op = "MaxPool2d";
    this.kernel = pair(op, "kernelSize", kernelSize, 1);
    this.stride = pair(op, "stride", opts.stride ?? kernelSize, 1);
    this.padding = pair(op, "padding", opts.padding ?? 0, 0);
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, { kernel: this.kernel, stride: this.stride, padding: this.padding });
  }
}

/** Returns its input (a placeholder where a reference model has `nn.Identity`). */
export class Identity extends Module implements TensorModule {
  forward(x: Tensor): Tensor {
    return x;
  }
}
