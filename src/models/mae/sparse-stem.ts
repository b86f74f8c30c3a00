/**
 * The V2 Spiking Convolutional Stem run sparsely for masked pre-training
 * (SparK): every stage gets the token mask upsampled to its resolution; after
 * each convolution the outputs at masked positions are zeroed, BN takes its
 * statistics from visible positions only and re-zeroes masked ones (its shift
 * would otherwise light them up), and a LIF neuron on 0 never fires, so masked
 * positions stay 0 through every stage and the residual. Masked pixels are
 * zeroed at the input too, so nothing of a masked patch reaches a visible one.
 * The weights are the classifier's own (`Spikformer.patch_embed`).
 */
import { fail, fmtShape } from "../../tensor/errors.js";
import { Spikes } from "../../tensor/spikes.js";
import { Tensor } from "../../tensor/tensor.js";
import { add } from "../../ops/elementwise.js";
import { expand, reshape, transpose } from "../../ops/shape.js";
import { applyPositionMask, maskedBatchNorm2d } from "../../ops/masked-norm.js";
import { floatToSpikes, spikesToFloat } from "../../ops/spike/cast.js";
import { iand } from "../../ops/spike/iand.js";
import { reshapeSpikes } from "../../ops/spike/spike-layout.js";
import type { Conv2d } from "../../nn/layers.js";
import type { BatchNorm2d } from "../../nn/norm.js";
import type { SpikingNeuron } from "../../nn/neuron.js";
import type { Activation, SpikeCompute } from "../compute.js";
import type { ResidualKind } from "../config.js";
import type { SCS } from "../spikformer.js";
import { repeatMask, stageMasks, upsampleMask, type GridMask } from "./masking.js";

/** Masked BN through a BatchNorm2d layer's own parameters, buffers, momentum and mode. */
export function maskedBN(bn: BatchNorm2d, x: Tensor, mask: Uint8Array): Tensor {
  let momentum = bn.momentum ?? 0;
  if (bn.runningMean === null || bn.runningVar === null) {
    const c = bn.numFeatures;
    return maskedBatchNorm2d(x, mask, Tensor.zeros([c], x.dtype), Tensor.ones([c], x.dtype), bn.weight, bn.bias, { training: true, momentum: 0, eps: bn.eps });
  }
  if (bn.training) {
    const nbt = bn.numBatchesTracked!;
    nbt.data[0] = nbt.data[0]! + 1n;
    if (bn.momentum === null) momentum = 1 / Number(nbt.data[0]);
  }
  return maskedBatchNorm2d(x, mask, bn.runningMean, bn.runningVar, bn.weight, bn.bias, { training: bn.training, momentum, eps: bn.eps });
}

function mergeTB(x: Activation): Activation {
  const shape = [x.shape[0]! * x.shape[1]!, ...x.shape.slice(2)];
  return x instanceof Spikes ? reshapeSpikes(x, shape) : reshape(x, shape);
}

/** Sparse conv - masked BN - LIF on [T*B, C, H, W] -> spikes [T, B, C', H', W']. */
function sparseConvFire(compute: SpikeCompute, name: string, x: Activation, T: number, conv: Conv2d, bn: BatchNorm2d, lif: SpikingNeuron, mask: Uint8Array): Spikes {
  const y = maskedBN(bn, applyPositionMask(compute.conv2d(name, x, conv.weight, conv.stride[0], conv.padding[0]), mask), mask);
  return lif.forward(reshape(y, [T, y.shape[0]! / T, ...y.shape.slice(1)]));
}

function residual(kind: ResidualKind, shortcut: Spikes, branch: Spikes): Activation {
  return kind === "iand" ? iand(branch, shortcut) : add(spikesToFloat(shortcut), spikesToFloat(branch));
}

/** [T, B, D, H, W] -> tokens [T, B, H*W, D] (spikes stay spikes), as the classifier's stem does. */
function toTokens(x: Activation): Activation {
  const [T, B, D, H, W] = x.shape as [number, number, number, number, number];
  if (x instanceof Spikes) return floatToSpikes(transpose(reshape(spikesToFloat(x), [T, B, D, H * W]), 2, 3));
  return transpose(reshape(x, [T, B, D, H * W]), 2, 3);
}

/**
 * Runs the SCS stem `scs` sparsely on images [B, C, H, W] with a token mask of
 * grid H/P x W/P (P = 2^stages). Returns tokens [T, B, N, D] over the whole
 * grid, exactly 0 at masked tokens. `onStage(i, out)` sees each stage's output
 * [T, B, C_i, H_i, W_i] (for tests).
 */
export function sparseStemForward(
  scs: SCS, T: number, residualKind: ResidualKind, images: Tensor, tokenMask: GridMask,
  onStage?: (stage: number, out: Activation) => void,
): Activation {
  const op = "sparseStemForward";
  const S = scs.stages.length;
  const P = 2 ** S;
  const B = tokenMask.batch;
  if (images.rank !== 4 || images.shape[0] !== B || images.shape[2] !== tokenMask.height * P || images.shape[3] !== tokenMask.width * P) {
    fail(op, `images ${fmtShape(images.shape)} do not fit a token mask of ${B} x ${tokenMask.height}x${tokenMask.width} with patch ${P}: expected [${B}, C, ${tokenMask.height * P}, ${tokenMask.width * P}]`);
  }
  const compute = scs.compute;
  const masks = stageMasks(tokenMask, S);
  const pixels = applyPositionMask(images, upsampleMask(tokenMask, P).data);
  let x: Activation | null = null;
  for (let i = 0; i < S; i++) {
    const st = scs.stages.at(i);
    const pre = `patch_embed.stages.${i}`;
    const m = repeatMask(masks[i]!, T);
    let down: Spikes;
    if (i === 0) {
      // A static image is the same at every step: one conv, repeated over T before BN.
      const once = applyPositionMask(compute.conv2d(`${pre}.down_conv`, pixels, st.down_conv.weight, st.down_conv.stride[0], st.down_conv.padding[0]), masks[0]!.data);
      const rep = T === 1 ? once : reshape(expand(reshape(once, [1, ...once.shape]), [T, ...once.shape]), [T * B, ...once.shape.slice(1)]);
      const y = maskedBN(st.down_bn, rep, m);
      down = st.down_lif.forward(reshape(y, [T, B, ...y.shape.slice(1)]));
    } else {
      down = sparseConvFire(compute, `${pre}.down_conv`, mergeTB(x!), T, st.down_conv, st.down_bn, st.down_lif, m);
    }
    const y = sparseConvFire(compute, `${pre}.conv1`, mergeTB(down), T, st.conv1, st.bn1, st.lif1, m);
    const z = sparseConvFire(compute, `${pre}.conv2`, mergeTB(y), T, st.conv2, st.bn2, st.lif2, m);
    x = residual(residualKind, down, z);
    onStage?.(i, x);
  }
  return toTokens(x!);
}
