/**
 * How a model's synaptic layers compute: with bit kernels on spikes
 * ("bits", the default: AND-popcount attention, event-driven Linear / conv),
 * or with dense float kernels on the same values ("float", the oracle the
 * tests compare against). A probe sees every activation entering a synaptic
 * layer, which is how energy is counted from the actual spike bits.
 */
import { Spikes } from "../tensor/spikes.js";
import { Tensor } from "../tensor/tensor.js";
import { linear } from "../ops/linear.js";
import { conv2d } from "../ops/conv.js";
import { maxPool2d } from "../ops/pool.js";
import { matmul } from "../ops/matmul.js";
import { mul } from "../ops/elementwise.js";
import { transpose } from "../ops/shape.js";
import { headsOf, mergeHeads } from "./heads.js";
import { floatToSpikes, spikesToFloat } from "../ops/spike/cast.js";
import { maxPool2dSpikes, splitHeads } from "../ops/spike/spike-layout.js";
import { countsLinear, spikeLinear } from "../ops/spike/spike-linear.js";
import { countsConv2d, spikeConv2d } from "../ops/spike/spike-conv.js";
import { spikingSelfAttention } from "../ops/spike/ssa.js";
import { batchNormNeuron, type NormOfNeuron } from "../ops/spike/norm-neuron.js";
import { spikeConvNormNeuron } from "../ops/spike/conv-norm-neuron.js";
import { linearNormNeuron } from "../ops/spike/linear-norm-neuron.js";
import type { NeuronOptions } from "../ops/spike/neuron.js";

/** What flows between layers: spikes, or float values (small-integer spike counts, or real inputs). */
export type Activation = Spikes | Tensor;

/** "bits": spike kernels; "float": dense float kernels on 0/1 values (the reference). */
export type KernelMode = "bits" | "float";

/** One synaptic layer about to run. */
export type LayerEvent =
  | { kind: "linear"; name: string; input: Activation; inFeatures: number; outFeatures: number }
  | { kind: "conv2d"; name: string; input: Activation; weightShape: readonly number[]; stride: number; padding: number; outShape: readonly number[] }
  | { kind: "attention"; name: string; q: Activation; k: Activation; v: Activation; scale: number }
  /**
   * Real-valued work that runs outside these kernels (Spikeformer's softmax attention and the Linear
   * layers fed by LayerNorm or attention outputs): `macs` multiply-accumulates on `inputElements` inputs.
   */
  | { kind: "dense"; name: string; layer: "linear" | "attention"; inputElements: number; macs: number };

/** Observer of synaptic layers (energy counting, firing-rate monitors). */
export interface LayerProbe {
  onLayer(event: LayerEvent): void;
}

/** The kernel choice and probe shared by all layers of one model. */
export class SpikeCompute {
  mode: KernelMode = "bits";
  probe: LayerProbe | null = null;

  /** Tells the probe about real-valued work done outside these kernels (see the "dense" event). */
  dense(name: string, layer: "linear" | "attention", inputElements: number, macs: number): void {
    this.probe?.onLayer({ kind: "dense", name, layer, inputElements, macs });
  }

  /** x [..., in] (spikes or floats) times weight [out, in] plus bias. */
  linear(name: string, x: Activation, weight: Tensor, bias: Tensor | null): Tensor {
    const [outF, inF] = weight.shape as [number, number];
    this.probe?.onLayer({ kind: "linear", name, input: x, inFeatures: inF, outFeatures: outF });
    if (x instanceof Spikes) return this.mode === "bits" ? spikeLinear(x, weight, bias) : linear(spikesToFloat(x), weight, bias);
    return this.mode === "bits" ? countsLinear(x, weight, bias) : linear(x, weight, bias);
  }

  /**
   * Linears of one input x [T M, in] (spikes or floats), each then a batch norm with running statistics
   * and a LIF or IF neuron over [T, M, out] (Spikformer's projections at inference; q, k and v share x):
   * with bits, {@link linearNormNeuron} (for LIFs, one pass over blocks of tokens that never writes the
   * linears' outputs; the same spikes); the float kernels run the steps.
   */
  linearNormFire(
    names: readonly string[], x: Activation, T: number, layers: readonly { weight: Tensor; bias: Tensor | null; bn: NormOfNeuron; neuron: Omit<NeuronOptions, "plifW"> }[],
  ): Spikes[] {
    if (this.mode === "float") {
      return layers.map((l, j) => {
        const y = this.linear(names[j]!, x, l.weight, l.bias);
        return batchNormNeuron(y, [T, y.shape[0]! / T, y.shape[1]!], l.bn, l.neuron);
      });
    }
    layers.forEach((l, j) => this.probe?.onLayer({ kind: "linear", name: names[j]!, input: x, inFeatures: l.weight.shape[1]!, outFeatures: l.weight.shape[0]! }));
    return linearNormNeuron(x, T, layers);
  }

  /**
   * 2-D convolution (no bias in Spikformer stems). Real-valued inputs use the dense kernel, unless
   * `counts` says x holds spike counts (mostly zero: Spikeformer's SEW ADD output), which the bits mode
   * convolves event-driven ({@link countsConv2d}, the dense conv's bits).
   */
  conv2d(name: string, x: Activation, weight: Tensor, stride: number, padding: number, counts = false): Tensor {
    this.convEvent(name, x, weight, stride, padding);
    if (x instanceof Spikes) {
      return this.mode === "bits" ? spikeConv2d(x, weight, null, { stride, padding }) : conv2d(spikesToFloat(x), weight, null, { stride, padding });
    }
    return counts && this.mode === "bits" ? countsConv2d(x, weight, null, { stride, padding }) : conv2d(x, weight, null, { stride, padding });
  }

  /**
   * conv2d of spikes, then a batch norm with running statistics `bn` and a LIF or IF `neuron` over
   * [T, N / T, ...] (Spikformer's conv-BN-LIF at inference): with bits, {@link spikeConvNormNeuron}
   * (for a LIF, one pass that never writes the conv output; the same spikes); the float kernels run the steps.
   */
  convNormFire(
    name: string, x: Spikes, weight: Tensor, stride: number, padding: number, T: number, bn: NormOfNeuron, neuron: Omit<NeuronOptions, "plifW">,
  ): Spikes {
    if (this.mode === "float") {
      const y = this.conv2d(name, x, weight, stride, padding);
      return batchNormNeuron(y, [T, y.shape[0]! / T, ...y.shape.slice(1)], bn, neuron);
    }
    this.convEvent(name, x, weight, stride, padding);
    return spikeConvNormNeuron(x, weight, { stride, padding }, T, bn, neuron);
  }

  /** Tells the probe about a conv2d layer. */
  private convEvent(name: string, x: Activation, weight: Tensor, stride: number, padding: number): void {
    if (this.probe === null) return;
    const [N, , H, W] = x.shape as [number, number, number, number];
    const [O, , kh, kw] = weight.shape as [number, number, number, number];
    const outShape = [N, O, Math.floor((H + 2 * padding - kh) / stride) + 1, Math.floor((W + 2 * padding - kw) / stride) + 1];
    this.probe.onLayer({ kind: "conv2d", name, input: x, weightShape: weight.shape, stride, padding, outShape });
  }

  /** Max-pool of spikes: an OR over the window with bits, a float max-pool otherwise. */
  maxPool(x: Spikes, kernel: number, stride: number, padding: number): Spikes {
    if (this.mode === "bits") return maxPool2dSpikes(x, { kernel, stride, padding });
    return floatToSpikes(maxPool2d(spikesToFloat(x), { kernel, stride, padding }));
  }

  /**
   * Spiking self-attention Q Kᵀ V * scale of `heads` heads on spikes [..., N, heads·d] (Spikformer's split
   * into heads, the attention per head and the merge back), a float tensor [..., N, heads·d]. With bits the
   * heads' splits and merge happen in the kernels' addressing ({@link spikingSelfAttention}'s `heads`); the
   * float reference splits, multiplies and merges. A probe sees the heads [..., heads, N, d].
   */
  attention(name: string, q: Spikes, k: Spikes, v: Spikes, scale: number, heads: number): Tensor {
    if (this.probe !== null) this.probe.onLayer({ kind: "attention", name, q: splitHeads(q, heads), k: splitHeads(k, heads), v: splitHeads(v, heads), scale });
    if (this.mode === "bits") return spikingSelfAttention(q, k, v, { scale, heads });
    const [qf, kf, vf] = [q, k, v].map((s) => headsOf(spikesToFloat(s), heads)) as [Tensor, Tensor, Tensor];
    return mergeHeads(mul(matmul(matmul(qf, transpose(kf, -1, -2)), vf), scale));
  }
}
