/**
 * Spikformer's conv -> BN -> LIF on spikes as one op: {@link batchNormNeuron} of {@link spikeConv2d}'s
 * output. Where nothing needs a gradient and the batch norm uses its running statistics (inference), the
 * conv output never goes to memory: each batch element's T images are summed, normalised and fired
 * while they are in cache (src/kernels/spike-conv/norm-lif.ts), the same spikes as the two ops. Anywhere
 * else (training, batch statistics, float64, an IF or PLIF neuron, the JS kernels) it runs the two ops.
 */
import { fail, fmtShape } from "../../tensor/errors.js";
import { Spikes } from "../../tensor/spikes.js";
import type { Tensor } from "../../tensor/tensor.js";
import { wordsFor } from "../../tensor/bits.js";
import { needsGrad } from "../../autograd/tape.js";
import { spikeConvNormLifFits } from "../../kernels/spike-conv/norm-lif.js";
import { spikeConvNormLifThreads } from "../../kernels/spike-conv/threads.js";
import { affineVector } from "../../kernels/neuron/threads.js";
import { convGeometry, pair } from "../conv.js";
import { spikeConv2d, type SpikeConv2dOptions } from "./spike-conv.js";
import { batchNormNeuron, runningNormState, type NormOfNeuron } from "./norm-neuron.js";
import { checkNeuronOptions, neuronPlan, type NeuronOptions } from "./neuron.js";

const OP = "spikeConvNormNeuron";

/**
 * batchNormNeuron(spikeConv2d(x, weight, null, conv), [T, N / T, O, OH, OW], bn, neuron): spikes x
 * [N, C, H, W] whose N = T B images are time step t of sample b at t B + b (Spikformer's merged [T B]
 * axis), weight [O, C, kh, kw] (no bias), then the batch norm and the neuron (LIF or IF, as
 * batchNormNeuron takes them) -> spikes [T, B, O, OH, OW]. One pass for a float32 LIF at inference; the
 * two ops otherwise (the same spikes, and the same graph when a gradient is needed).
 */
export function spikeConvNormNeuron(
  x: Spikes, weight: Tensor, conv: SpikeConv2dOptions, T: number, bn: NormOfNeuron, neuron: Omit<NeuronOptions, "plifW">,
): Spikes {
  if (!(x instanceof Spikes) || x.rank !== 4) fail(OP, `input must be spikes [N, C, H, W], got ${x instanceof Spikes ? fmtShape(x.shape) : "a float tensor"}`);
  if (weight.rank !== 4) fail(OP, `weight must be [O, C, kh, kw], got ${fmtShape(weight.shape)}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  if (!Number.isInteger(T) || T < 1 || n % T !== 0) fail(OP, `T must be a positive integer dividing the ${n} images of input ${fmtShape(x.shape)}, got ${T}`);
  const unfused = (): Spikes => {
    const y = spikeConv2d(x, weight, null, conv);
    return batchNormNeuron(y, [T, n / T, ...y.shape.slice(1)], bn, neuron);
  };
  // (batchNormNeuron refuses a PLIF, whose parameter a JS caller could still pass.)
  if (bn.opts.training || neuron.kind !== "lif" || (neuron as NeuronOptions).plifW !== undefined || x.dtype !== "float32" || weight.dtype !== "float32") return unfused();
  if (needsGrad(x, weight, bn.weight, bn.bias)) return unfused();
  if ((conv.groups ?? 1) !== 1 || weight.shape[1] !== c) return unfused(); // the two ops say what is wrong
  const [o, , kh, kw] = weight.shape as [number, number, number, number];
  const g = convGeometry(
    OP, weight, null, h, w, kh, kw, pair(OP, "stride", conv.stride, 1, 1), pair(OP, "padding", conv.padding, 0, 0), pair(OP, "dilation", conv.dilation, 1, 1),
  );
  const shape = [T, n / T, o, g.oh, g.ow];
  checkNeuronOptions(OP, shape, neuron);
  // The LIF as it sees one element's T steps; spikeConvNormLifFits reads its constants and kind only.
  const { p } = neuronPlan(shape, "float32", neuron);
  if (!spikeConvNormLifFits(x.words, weight.data, o, g, p)) return unfused();
  // Eval only: the running statistics (no pass over the output, which is never made).
  const st = runningNormState(OP, [n, o, g.oh, g.ow], "float32", bn);
  const words = Spikes.allocWords(n * o * g.oh * wordsFor(g.ow), false); // every word is written
  spikeConvNormLifThreads(
    { n, c, o, wpr: wordsFor(w), g }, x.words, weight.data as Float32Array, n / T, affineVector(OP, st.scale, st.shift, o), p, words,
  );
  return Spikes.fromKernelWords(words, shape, "float32");
}
