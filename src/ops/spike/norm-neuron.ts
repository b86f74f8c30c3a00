/**
 * Batch norm followed by a multi-step neuron as one autograd node: Spikformer's
 * conv / linear -> BN -> LIF, whose float BN output only the neuron reads.
 * The node keeps that output for the length of the neuron's forward only, and
 * not the neuron's membrane H either: its backward makes both again from x
 * (which the batch norm's backward needs anyway) with the same passes, so two
 * [T, ...] float arrays per layer less stay alive until the backward (most of
 * a training step's memory), for one more affine and neuron pass. The
 * backward then runs the neuron's gradient into the batch norm's.
 * The passes are those of {@link batchNorm} and {@link multiStepNeuron}, in
 * the same order on the same values: the spikes and every gradient are
 * bit-identical to the two ops.
 */
import { fail, fmtShape } from "../../tensor/errors.js";
import { sameShape, sizeOf } from "../../tensor/shape.js";
import { Spikes } from "../../tensor/spikes.js";
import { allocFloat, Tensor, type DType, type FloatArray } from "../../tensor/tensor.js";
import { freeArray } from "../../tensor/heap.js";
import { wordsFor } from "../../tensor/bits.js";
import { neuronForwardThreads, normNeuronBackwardThreads, normNeuronForwardThreads } from "../../kernels/neuron/threads.js";
import { normLifBackwardFits, normLifWasmFits, type AffineLayout } from "../../kernels/neuron/norm-lif.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import type { NeuronKernelParams } from "../../kernels/neuron/neuron.js";
import { needsGrad, record } from "../../autograd/tape.js";
import { expand, reshape } from "../shape.js";
import { batchNormBackward, batchNormState, plainChannelPasses, type BatchNormOptions, type BatchNormState, type ChannelPasses } from "../norm.js";
import { checkNeuronOptions, neuronBackwardInto, neuronPlan, type NeuronOptions } from "./neuron.js";

/** The batch norm of {@link batchNormNeuron}: its parameters and buffers, as {@link batchNorm} takes them. */
export interface NormOfNeuron {
  runningMean: Tensor;
  runningVar: Tensor;
  weight: Tensor | null;
  bias: Tensor | null;
  opts: BatchNormOptions;
}

const OP = "batchNormNeuron";

/**
 * multiStepNeuron(reshape(batchNorm(x, ...), shape), neuron) in one node.
 * x is `[N, C]`, `[N, C, L]` or `[N, C, H, W]` (batch statistics per channel,
 * as {@link batchNorm}); `shape` is the neuron's view of the normalised
 * values, `[T, ...]` with as many elements and x's last axis (the packed
 * one), e.g. `[T, N / T, C, H, W]`. LIF and IF neurons (PLIF's parameter
 * needs the neuron's input, which this op does not keep: use the two ops).
 */
export function batchNormNeuron(x: Tensor, shape: readonly number[], bn: NormOfNeuron, neuron: Omit<NeuronOptions, "plifW">): Spikes {
  if (!(x instanceof Tensor)) fail(OP, "input must be a float Tensor [N, C, ...]");
  if (x.rank < 2 || x.rank > 4) fail(OP, `input must be [N, C], [N, C, L] or [N, C, H, W], got ${fmtShape(x.shape)}`);
  if ((neuron as NeuronOptions).kind === "plif" || (neuron as NeuronOptions).plifW !== undefined) {
    fail(OP, "PLIF neurons are not fused (their parameter's gradient needs the normalised values): use batchNorm then multiStepNeuron");
  }
  checkNeuronOptions(OP, shape, neuron);
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== x.size || shape[shape.length - 1] !== x.shape[x.rank - 1]) {
    fail(OP, `the neuron's view ${fmtShape(shape)} must hold the ${x.size} values of input ${fmtShape(x.shape)} and end in its last axis (${x.shape[x.rank - 1]})`);
  }
  const { runningMean, runningVar, weight, bias } = bn;
  // The elementwise passes split each time step's samples between the threads as the neuron does (shape[0] = T).
  const passes = plainChannelPasses(x, shape[0]!);
  const st = batchNormState(OP, x, runningMean, runningVar, weight, bias, bn.opts, passes);
  const { p, surrogate } = neuronPlan(shape, st.dtype, neuron);
  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  const words = Spikes.allocWords(p.steps * p.rows * wordsFor(p.cols), false); // the neuron kernels write every word
  fire(x, st, passes, p, null, words);
  const spikes = Spikes.fromKernelWords(words, shape, st.dtype);
  if (!needsGrad(...inputs)) return spikes;
  return record(OP, spikes, inputs, (g) => {
    if (!sameShape(g.shape, shape)) fail(OP, `gradient ${fmtShape(g.shape)} does not match the spikes ${fmtShape(shape)}`);
    // dL/dy from the neuron, then the batch norm's input gradient from it into a fresh array: the
    // gradient sums have just read gy split by channels, so on two threads its lines are held by both
    // cores and writing over them costs a transfer each (in place, the input gradient's CPU time summed
    // over two threads was 4.4x one thread's; MNIST b64 step on two threads 1116 -> 1045 ms, the mean
    // of four alternating runs).
    const gy = new Tensor(allocFloat(st.dtype, x.size, true, false), x.shape); // written in full by the neuron backward
    const a = affineLayout(x);
    if (wasmKernelsEnabled() && normLifBackwardFits(x.data, a, p, g.data, words, gy.data, surrogate.sigmoidAlpha)) {
      // H made again block by block in cache and read there by the neuron's backward (the same bits as below).
      normNeuronBackwardThreads(x.data as Float32Array, a, st.scale, st.shift, p, g.data as Float32Array, words, surrogate.sigmoidAlpha!, gy.data as Float32Array);
    } else {
      // H again from x (the batch norm's backward keeps x anyway): the same passes on the same values give the same bits.
      const h = allocFloat(st.dtype, x.size, true, false);
      fire(x, st, passes, p, h, null);
      neuronBackwardInto(g, h, words, null, p, surrogate, gy.data);
      freeArray(h, `released by ${OP}'s backward (the membrane it recomputed)`);
    }
    const gx = x.requiresGrad ? new Tensor(allocFloat(st.dtype, x.size, true, false), x.shape) : null; // written in full
    const grads = batchNormBackward(st, passes, gy, gx, weight, bias);
    freeArray(gy.data, `released by ${OP}'s backward (the gradient of its normalised values)`);
    return grads;
  });
}

/**
 * The batch norm's state at inference for an input of `shape` [N, C, ...] (running statistics: no pass over
 * the input, which a fused op never makes): what batchNormState returns, without the input.
 */
export function runningNormState(op: string, shape: readonly number[], dtype: DType, bn: NormOfNeuron): BatchNormState {
  return batchNormState(op, { shape, dtype }, bn.runningMean, bn.runningVar, bn.weight, bn.bias, bn.opts, {
    count: sizeOf(shape) / shape[1]!, what: "value", meanVar: () => fail(op, "internal: batch statistics at inference"),
  });
}

/** `once` [B, ...] repeated over T time steps, merged: [T B, ...] (a copy; its gradient sums over the steps). */
export function repeatSteps(once: Tensor, T: number): Tensor {
  return reshape(expand(reshape(once, [1, ...once.shape]), [T, ...once.shape]), [T * once.shape[0]!, ...once.shape.slice(1)]);
}

/**
 * batchNormNeuron of `once` [B, C, ...] repeated over T time steps (a static image's first conv output,
 * which Spikformer repeats before its batch norm) -> spikes [T, B, C, ...]. At inference (the running
 * statistics, nothing needing a gradient, the WASM BN-LIF) the neuron reads the one copy at every step;
 * otherwise the copy is expanded over T and batchNormNeuron runs on it. The same spikes either way.
 */
export function batchNormNeuronRepeated(once: Tensor, T: number, bn: NormOfNeuron, neuron: Omit<NeuronOptions, "plifW">): Spikes {
  const op = "batchNormNeuronRepeated";
  if (!(once instanceof Tensor) || once.rank < 2 || once.rank > 4) fail(op, `input must be a float Tensor [B, C, ...] (rank 2 to 4), got ${once instanceof Tensor ? fmtShape(once.shape) : typeof once}`);
  if (!Number.isInteger(T) || T < 1) fail(op, `T must be a positive integer, got ${T}`);
  const shape = [T, ...once.shape];
  const expanded = (): Spikes => batchNormNeuron(repeatSteps(once, T), shape, bn, neuron);
  if (bn.opts.training || (neuron as NeuronOptions).plifW !== undefined || needsGrad(once, bn.weight, bn.bias) || !wasmKernelsEnabled()) return expanded();
  checkNeuronOptions(op, shape, neuron);
  // The repeated tensor's view: [T B, C, ...] has once's channels and layout, T times the batch.
  const st = runningNormState(op, [T * once.shape[0]!, ...once.shape.slice(1)], once.dtype, bn);
  const { p } = neuronPlan(shape, st.dtype, neuron);
  const a = affineLayout(once);
  const words = Spikes.allocWords(p.steps * p.rows * wordsFor(p.cols), false); // the neuron kernels write every word
  const v = allocFloat(st.dtype, p.rows * p.cols, true, false);
  const fits = normLifWasmFits(once.data, a, p, null, words, v);
  if (fits) normNeuronForwardThreads(once.data as Float32Array, a, st.scale, st.shift, p, null, words, v as Float32Array, undefined, true);
  freeArray(v, `released by ${op} (the final membrane is not returned)`);
  if (!fits) {
    freeArray(words, `released by ${op} (the WASM BN-LIF does not apply)`);
    return expanded();
  }
  return Spikes.fromKernelWords(words, shape, st.dtype);
}

/**
 * Where the neuron's view of x [N, C, ...] finds each value's channel: x [N, C] ends in C (the view's
 * columns are the channels); x [N, C, S] has S / cols rows of the view per channel.
 */
function affineLayout(x: Tensor): AffineLayout {
  const c = x.shape[1]!;
  if (x.rank === 2) return { chans: c, rpc: 1, columns: true };
  return { chans: c, rpc: sizeOf(x.shape.slice(2)) / x.shape[x.rank - 1]!, columns: false };
}

/**
 * The forward passes: y = x scale + shift, then the neuron over y (one fused pass where the WASM kernels
 * run a float32 LIF on heap arrays), writing H
 * (when h is given) and the spike words (when given; a backward recomputing H
 * passes its own scratch words, since the spikes are already made).
 */
function fire(x: Tensor, st: BatchNormState, passes: ChannelPasses, p: NeuronKernelParams, h: FloatArray | null, words: Uint32Array | null): void {
  const v = allocFloat(st.dtype, p.rows * p.cols, true, false); // the kernel starts it at v_reset
  const w = words ?? Spikes.allocWords(p.steps * p.rows * wordsFor(p.cols), false);
  const a = affineLayout(x);
  if (wasmKernelsEnabled() && normLifWasmFits(x.data, a, p, h, w, v)) {
    // The affine map inside the LIF pass (src/kernels/neuron/norm-lif.ts): the same bits, y never in memory.
    normNeuronForwardThreads(x.data as Float32Array, a, st.scale, st.shift, p, h as Float32Array | null, w, v as Float32Array);
  } else {
    // The normalised values live only while the neuron reads them; every element is written, so no zero fill.
    const y = new Tensor(allocFloat(st.dtype, x.size, true, false), x.shape);
    passes.affine(y, st.scale, st.shift);
    neuronForwardThreads(y.data, p, h, w, v);
    freeArray(y.data, `released by ${OP} (the normalised values, read by its neuron only)`);
  }
  freeArray(v, `released by ${OP} (the final membrane is not returned)`);
  if (!words) freeArray(w, `released by ${OP}'s backward (spikes made again with H)`);
}
