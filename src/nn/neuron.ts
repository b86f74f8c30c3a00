/**
 * Multi-step spiking neuron layers (SpikingJelly's MultiStepLIFNode and
 * friends): input [T, ...] float, output Spikes [T, ...]. They own no state
 * between calls, and only PLIF owns a parameter (its scalar `w`).
 */
import { Tensor } from "../tensor/tensor.js";
import type { Spikes } from "../tensor/spikes.js";
import { multiStepAnalogNeuron, multiStepNeuron, type NeuronOptions } from "../ops/spike/neuron.js";
import { batchNormNeuron, batchNormNeuronRepeated, repeatSteps, type NormOfNeuron } from "../ops/spike/norm-neuron.js";
import { reshape } from "../ops/shape.js";
import { Module } from "./module.js";
import type { BatchNorm1d, BatchNorm2d } from "./norm.js";

/** Options of {@link SpikingNeuron}: those of the fused op, less the PLIF parameter (the layer owns it). */
export type NeuronLayerOptions = Omit<NeuronOptions, "plifW"> & {
  /** PLIF only: the initial tau; w starts at -ln(initTau - 1). Default 2 (w = 0). */
  initTau?: number;
};

/** A multi-step LIF / IF / PLIF layer. */
export class SpikingNeuron extends Module {
  readonly options: NeuronLayerOptions;
  /** PLIF's learnable w (1/tau = sigmoid(w)); null for LIF and IF. */
  readonly w: Tensor | null;

  constructor(options: NeuronLayerOptions) {
    super();
    this.options = { ...options };
    this.w = options.kind === "plif" ? this.registerParameter("w", Tensor.scalar(-Math.log((options.initTau ?? 2) - 1))) : null;
  }

  /** x [T, ...] -> spikes [T, ...]; the membrane starts at v_reset on every call. */
  forward(x: Tensor): Spikes {
    return multiStepNeuron(x, this.opOptions());
  }

  /** The analog twin (LIAF / PLIAF): x [T, ...] -> ReLU(H) [T, ...], the spikes only resetting the membrane. */
  forwardAnalog(x: Tensor): Tensor {
    return multiStepAnalogNeuron(x, this.opOptions());
  }

  private opOptions(): NeuronOptions {
    const opts = this.fusedOptions();
    return this.w ? { ...opts, plifW: this.w } : opts;
  }

  /** The options a fused op takes for this neuron (batchNormNeuron, spikeConvNormNeuron): the layer's, less initTau. */
  fusedOptions(): Omit<NeuronOptions, "plifW"> {
    const { initTau: _unused, ...opts } = this.options;
    return opts;
  }
}

/**
 * SpikingJelly's MultiStepParametricLIFNode as Spikeformer builds it: PLIF,
 * init_tau 2 (w = 0), v_th 1, v_reset 0, Sigmoid(4), detach_reset.
 */
export function spikeformerPLIF(): SpikingNeuron {
  return new SpikingNeuron({ kind: "plif", initTau: 2, vThreshold: 1, vReset: 0, detachReset: true, decayInput: true });
}

/**
 * Spikformer's neuron: LIF, tau 2, v_reset 0, detach_reset, Sigmoid(4)
 * surrogate, threshold 1 (0.5 for the attention LIF).
 */
export function spikformerLIF(vThreshold = 1): SpikingNeuron {
  return new SpikingNeuron({ kind: "lif", tau: 2, vThreshold, vReset: 0, detachReset: true, decayInput: true });
}

/**
 * bn, then lif on the normalised values seen as `shape` ([T, ...], x's last
 * axis last): Spikformer's BN -> LIF. One fused node (batchNormNeuron: the
 * float BN output is not kept, same bits) for LIF and IF; PLIF runs the two
 * layers, as its parameter's gradient needs that output.
 */
export function normFire(bn: BatchNorm1d | BatchNorm2d, lif: SpikingNeuron, x: Tensor, shape: readonly number[]): Spikes {
  if (lif.w !== null) return lif.forward(reshape(bn.forward(x), shape));
  return batchNormNeuron(x, shape, bn.normArgs(x), lif.fusedOptions());
}

/**
 * {@link normFire} of `once` [B, ...] repeated over T time steps ([T, B, ...]: a static image's first conv
 * output): at inference the neuron reads the one copy at every step (batchNormNeuronRepeated), else the
 * repeated copy is made; PLIF always makes it.
 */
export function normFireRepeated(bn: BatchNorm1d | BatchNorm2d, lif: SpikingNeuron, once: Tensor, T: number): Spikes {
  if (lif.w === null) return batchNormNeuronRepeated(once, T, bn.normArgs(once), lif.fusedOptions());
  return normFire(bn, lif, repeatSteps(once, T), [T, ...once.shape]);
}

/**
 * bn's running statistics and lif's options where bn -> lif can run inside the conv before it
 * (spikeConvNormNeuron, which fuses a LIF and runs an IF as the two ops): bn in eval mode with running
 * statistics and a neuron other than PLIF; else null.
 */
export function runningNormFire(bn: BatchNorm1d | BatchNorm2d, lif: SpikingNeuron): { bn: NormOfNeuron; neuron: Omit<NeuronOptions, "plifW"> } | null {
  const args = lif.w === null ? bn.runningArgs() : null;
  return args === null ? null : { bn: args, neuron: lif.fusedOptions() };
}
