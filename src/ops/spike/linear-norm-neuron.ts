/**
 * Spikformer's linear -> BN -> LIF on tokens as one op, for one or more projections of the same input
 * (the attention's q, k and v read one residual stream): {@link batchNormNeuron} of {@link spikeLinear}'s
 * or {@link countsLinear}'s output, per projection. Where nothing needs a gradient and the batch norms use
 * their running statistics (inference), the projections' outputs never go to memory: each block of
 * tokens is summed, normalised and fired while it is in cache, its input's bucket tables built once for
 * all the projections (src/kernels/spike-sum/norm-lif.ts), the same spikes as the two ops. Anywhere else
 * (training, batch statistics, float64, an IF or PLIF neuron, the JS kernels, counts dense enough for
 * the gemm) it runs the two ops.
 */
import { fail, fmtShape } from "../../tensor/errors.js";
import { Spikes } from "../../tensor/spikes.js";
import { Tensor } from "../../tensor/tensor.js";
import { wordsFor } from "../../tensor/bits.js";
import { freeArray } from "../../tensor/heap.js";
import { needsGrad } from "../../autograd/tape.js";
import { sampledDensity } from "../../parallel/balance.js";
import { linearNormLifFits, type NormLifProjection, type TokenRows } from "../../kernels/spike-sum/norm-lif.js";
import { COUNTS_DENSE_FORWARD } from "../../kernels/spike-sum/spike-sum.js";
import { linearNormLifThreads } from "../../kernels/spike-sum/threads.js";
import { affineVectors } from "../../kernels/neuron/threads.js";
import { checkLinear } from "../linear.js";
import { countsLinear, spikeLinear } from "./spike-linear.js";
import { batchNormNeuron, runningNormState, type NormOfNeuron } from "./norm-neuron.js";
import { checkNeuronOptions, neuronPlan, type NeuronOptions } from "./neuron.js";

const OP = "linearNormNeuron";

/** One projection of {@link linearNormNeuron}: its weight [out, in] and bias, its batch norm and neuron. */
export interface NormFiredProjection {
  weight: Tensor;
  bias: Tensor | null;
  bn: NormOfNeuron;
  neuron: Omit<NeuronOptions, "plifW">;
}

/**
 * For each projection, batchNormNeuron(linear(x, weight, bias), [T, N / T, out], bn, neuron): x holds
 * N = T M token rows [N, in] (spikes, or float counts as countsLinear takes them) whose row t M + i is
 * token i at time step t (Spikformer's merged [T B N] axis), and each projection gives spikes
 * [T, M, out]. One pass over the token blocks for float32 LIFs at inference; the two ops per projection
 * otherwise (the same spikes, and the same graph when a gradient is needed).
 */
export function linearNormNeuron(x: Spikes | Tensor, T: number, projections: readonly NormFiredProjection[]): Spikes[] {
  if (!(x instanceof Spikes) && !(x instanceof Tensor)) fail(OP, "input must be spikes or a float tensor [N, in]");
  if (x.rank !== 2) fail(OP, `input must be token rows [N, in], got ${fmtShape(x.shape)}`);
  const [N, k] = x.shape as [number, number];
  if (!Number.isInteger(T) || T < 1 || N % T !== 0) fail(OP, `T must be a positive integer dividing the ${N} rows of input ${fmtShape(x.shape)}, got ${T}`);
  if (projections.length === 0) fail(OP, "needs at least one projection");
  const M = N / T;
  const shapes = projections.map(({ weight, bias, neuron }) => {
    const [nOut] = checkLinear(OP, x.shape, weight, bias);
    const shape = [T, M, nOut];
    checkNeuronOptions(OP, shape, neuron);
    return shape;
  });
  const unfused = (): Spikes[] => projections.map(({ weight, bias, bn, neuron }, j) => {
    const y = x instanceof Spikes ? spikeLinear(x, weight, bias) : countsLinear(x, weight, bias);
    return batchNormNeuron(y, shapes[j]!, bn, neuron);
  });
  const eligible = x.dtype === "float32" && projections.every(({ weight, bias, bn, neuron }) =>
    !bn.opts.training && neuron.kind === "lif" && (neuron as NeuronOptions).plifW === undefined && weight.dtype === "float32" && (bias === null || bias.dtype === "float32"));
  const params = projections.flatMap(({ weight, bias, bn }) => [weight, bias, bn.weight, bn.bias]).filter((t): t is Tensor => t !== null);
  if (!eligible || needsGrad(x, ...params)) return unfused();
  // Counts dense enough that countsLinear runs its gemm: the two ops (the same spikes either way).
  if (x instanceof Tensor && sampledDensity(x.data, 0, N, k) >= COUNTS_DENSE_FORWARD) return unfused();
  const maps = projections.map(({ bn }, j) => {
    const n = shapes[j]![2]!;
    // Eval only: the running statistics (no pass over the output, which is never made).
    const st = runningNormState(OP, [N, n], "float32", bn);
    return { scale: st.scale, shift: st.shift, chans: n };
  });
  const vecs = affineVectors(OP, maps);
  const layers: NormLifProjection[] = projections.map(({ weight, bias, neuron }, j) => {
    const n = shapes[j]![2]!;
    // The LIF as it sees one token's T steps; the kernels read its constants and reset kind.
    const { p } = neuronPlan(shapes[j]!, "float32", neuron);
    const out = Spikes.allocWords(N * wordsFor(n), false); // every word is written
    return { w: weight.data as Float32Array, n, bias: (bias?.data ?? null) as Float32Array | null, vec: vecs[j]!, lif: p, out };
  });
  const input: TokenRows = x instanceof Spikes ? { kind: "spikes", words: x.words, wpr: x.wordsPerRow } : { kind: "counts", x: x.data as Float32Array };
  if (!linearNormLifFits(input, M, layers)) {
    for (const l of layers) freeArray(l.out, `released by ${OP} (the fused forward does not apply)`);
    return unfused();
  }
  linearNormLifThreads(input, k, M, T, layers);
  return layers.map((l, j) => Spikes.fromKernelWords(l.out, shapes[j]!, "float32"));
}
