/**
 * Normalisation layers with PyTorch's names, buffers and defaults:
 * BatchNorm1d, BatchNorm2d (weight, bias, running_mean, running_var,
 * num_batches_tracked) and LayerNorm (weight, bias).
 */
import { fail, fmtShape } from "../tensor/errors.js";
import { Tensor, type DType } from "../tensor/tensor.js";
import { batchNorm, layerNorm } from "../ops/norm.js";
import type { NormOfNeuron } from "../ops/spike/norm-neuron.js";
import { Int64Buffer, Module, type TensorModule } from "./module.js";

/** Options of the batch-norm layers (PyTorch defaults). */
export interface BatchNormLayerOptions {
  /** Default 1e-5. */
  eps?: number;
  /** Weight of the new batch statistic (default 0.1); null = cumulative average over all batches seen. */
  momentum?: number | null;
  /** Learnable weight (init 1) and bias (init 0); default true. */
  affine?: boolean;
  /** Keep running statistics for eval (default true); without them eval uses batch statistics too. */
  trackRunningStats?: boolean;
  dtype?: DType;
}

/** The shared batch-norm layer; {@link BatchNorm1d} and {@link BatchNorm2d} fix the input rank. */
abstract class BatchNormBase extends Module implements TensorModule {
  readonly numFeatures: number;
  readonly eps: number;
  /** Weight of a batch's statistics in the running ones; null = their cumulative average (settable, as in PyTorch). */
  momentum: number | null;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Int64Buffer | null;

  constructor(op: string, numFeatures: number, opts: BatchNormLayerOptions) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) fail(op, `numFeatures must be a positive integer, got ${numFeatures}`);
    this.numFeatures = numFeatures;
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    if (!(this.eps >= 0)) fail(op, `eps must be >= 0, got ${this.eps}`);
    if (this.momentum !== null && !(this.momentum >= 0 && this.momentum <= 1)) fail(op, `momentum must be in [0, 1] or null, got ${this.momentum}`);
    const dtype = opts.dtype ?? "float32";
    const affine = opts.affine ?? true;
    this.weight = affine ? this.registerParameter("weight", Tensor.ones([numFeatures], dtype)) : null;
    this.bias = affine ? this.registerParameter("bias", Tensor.zeros([numFeatures], dtype)) : null;
    if (opts.trackRunningStats ?? true) {
      this.runningMean = this.registerBuffer("running_mean", Tensor.zeros([numFeatures], dtype));
      this.runningVar = this.registerBuffer("running_var", Tensor.ones([numFeatures], dtype));
      this.numBatchesTracked = this.registerBuffer("num_batches_tracked", Int64Buffer.scalar(0));
    } else {
      this.runningMean = this.runningVar = null;
      this.numBatchesTracked = null;
    }
  }

  /** Refuses inputs of the wrong rank or channel count. */
  protected abstract checkInput(x: Tensor): void;

  forward(x: Tensor): Tensor {
    const a = this.normArgs(x);
    return batchNorm(x, a.runningMean, a.runningVar, a.weight, a.bias, a.opts);
  }

  /** Running mean 0, variance 1 and no batches counted, as PyTorch's reset_running_stats(). */
  resetRunningStats(): void {
    if (this.runningMean === null || this.runningVar === null) return;
    this.runningMean.data.fill(0);
    this.runningVar.data.fill(1);
    this.numBatchesTracked!.data[0] = 0n;
  }

  /**
   * What an eval-mode forward passes to the batch-norm op (the running statistics, no input needed: for a
   * fused op that never makes its input, such as spikeConvNormNeuron); null in training or without
   * running statistics, where the statistics come from the input.
   */
  runningArgs(): NormOfNeuron | null {
    if (this.training || this.runningMean === null || this.runningVar === null) return null;
    const { weight, bias, runningMean, runningVar } = this;
    return { runningMean, runningVar, weight, bias, opts: { training: false, momentum: this.momentum ?? 0, eps: this.eps } };
  }

  /**
   * What a forward on x passes to the batch-norm op (x checked; in training
   * this counts the batch, as a forward does): for a fused op that
   * normalises x itself, such as batchNormNeuron.
   */
  normArgs(x: Tensor): NormOfNeuron {
    this.checkInput(x);
    const { weight, bias } = this;
    const running = this.runningArgs();
    if (running !== null) return running;
    if (this.runningMean === null || this.runningVar === null) {
      // No running statistics: always batch statistics; the op's running-stat update goes to scratch.
      const c = this.numFeatures;
      return { runningMean: Tensor.zeros([c], x.dtype), runningVar: Tensor.ones([c], x.dtype), weight, bias, opts: { training: true, momentum: 0, eps: this.eps } };
    }
    // Training: the batch is counted (the cumulative average's momentum follows the count).
    const nbt = this.numBatchesTracked!;
    nbt.data[0] = nbt.data[0]! + 1n;
    const momentum = this.momentum ?? 1 / Number(nbt.data[0]);
    return { runningMean: this.runningMean, runningVar: this.runningVar, weight, bias, opts: { training: true, momentum, eps: this.eps } };
  }

  protected checkChannels(op: string, x: Tensor): void {
    if (x.shape[1] !== this.numFeatures) fail(op, `expected ${this.numFeatures} channels (axis 1), got input ${fmtShape(x.shape)}`);
  }
}

/** Batch norm over `[N, C]` or `[N, C, L]` (statistics over N and L). */
export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, opts: BatchNormLayerOptions = {}) {
    super("BatchNorm1d", numFeatures, opts);
  }
  protected checkInput(x: Tensor): void {
    if (x.rank !== 2 && x.rank !== 3) fail("BatchNorm1d", `input must be [N, C] or [N, C, L], got ${fmtShape(x.shape)}`);
    this.checkChannels("BatchNorm1d", x);
  }
}

/** Batch norm over `[N, C, H, W]` (statistics over N, H, W). */
export class BatchNorm2d extends BatchNormBase {
  constructor(numFeatures: number, opts: BatchNormLayerOptions = {}) {
    super("BatchNorm2d", numFeatures, opts);
  }
  protected checkInput(x: Tensor): void {
    if (x.rank !== 4) fail("BatchNorm2d", `input must be [N, C, H, W], got ${fmtShape(x.shape)}`);
    this.checkChannels("BatchNorm2d", x);
  }
}

/** Options of {@link LayerNorm}. */
export interface LayerNormOptions {
  /** Default 1e-5. */
  eps?: number;
  /** Learnable weight (init 1) and bias (init 0); default true. */
  elementwiseAffine?: boolean;
  /** With elementwiseAffine, also a bias (default true). */
  bias?: boolean;
  dtype?: DType;
}

/** Layer norm over the trailing `normalizedShape` axes. */
export class LayerNorm extends Module implements TensorModule {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super();
    const shape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    if (shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
      fail("LayerNorm", `normalizedShape must be positive integers, got ${JSON.stringify(normalizedShape)}`);
    }
    this.normalizedShape = Object.freeze(shape);
    this.eps = opts.eps ?? 1e-5;
    const dtype = opts.dtype ?? "float32";
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? this.registerParameter("weight", Tensor.ones(shape, dtype)) : null;
    this.bias = affine && (opts.bias ?? true) ? this.registerParameter("bias", Tensor.zeros(shape, dtype)) : null;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}
