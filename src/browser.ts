/**
 * bitspike's browser-safe entry (`bitspike/browser`, and `bitspike` under the "browser" export
 * condition): the engine (tensors, spikes, autograd, ops, nn, models), safetensors from / to bytes,
 * optimizers, schedules, augmentation, batching, evaluation, energy counting and the WebAssembly
 * kernels, weights files as bytes, the thread pool over Web Workers (`setThreadHost(webThreadHost())`
 * on a cross-origin isolated page, from a worker: the pool's caller blocks in Atomics.wait) and the
 * run report's charts. No module it loads imports a node: module (tested on the compiled files).
 * Left out: files on disk (data sets, checkpoints, weights files, PNG), the training loops that write
 * them and the CLI.
 */
export { Tensor, allocFloat, type DType, type FloatArray, type Differentiable } from "./tensor/tensor.js";
export { Spikes } from "./tensor/spikes.js";
export { heapStats, resetHeapCounters } from "./tensor/heap.js";
export { stepScope } from "./tensor/retain.js";
export { Rng } from "./tensor/random.js";
export { BitspikeError } from "./tensor/errors.js";
export { broadcastShapes, sizeOf, type Shape } from "./tensor/shape.js";
export { backward, noGrad, isGradEnabled, record, needsGrad } from "./autograd/tape.js";

import * as elementwise from "./ops/elementwise.js";
import * as reduce from "./ops/reduce.js";
import * as shape from "./ops/shape.js";
import * as matmulOps from "./ops/matmul.js";
import * as linearOps from "./ops/linear.js";
import * as conv from "./ops/conv.js";
import * as pool from "./ops/pool.js";
import * as norm from "./ops/norm.js";
import * as activation from "./ops/activation.js";
import * as dropoutOps from "./ops/dropout.js";
import * as loss from "./ops/loss.js";
import * as cast from "./ops/spike/cast.js";
import * as neuron from "./ops/spike/neuron.js";
import * as surrogate from "./ops/spike/surrogate.js";
import * as ssa from "./ops/spike/ssa.js";
import * as attention from "./ops/spike/attention-variants.js";
import * as spikeLinear from "./ops/spike/spike-linear.js";
import * as spikeConv from "./ops/spike/spike-conv.js";
import * as spikeLayout from "./ops/spike/spike-layout.js";
import * as iand from "./ops/spike/iand.js";
import * as heaviside from "./ops/spike/heaviside.js";
import * as maskedNorm from "./ops/masked-norm.js";
import * as normNeuron from "./ops/spike/norm-neuron.js";
import * as convNormNeuron from "./ops/spike/conv-norm-neuron.js";
import * as linearNormNeuron from "./ops/spike/linear-norm-neuron.js";

/** Every differentiable op, flat: `ops.add`, `ops.conv2d`, `ops.multiStepNeuron`, `ops.spikingSelfAttention`, ... */
export const ops = {
  ...elementwise, ...reduce, ...shape, ...matmulOps, ...linearOps, ...conv, ...pool, ...norm, ...activation, ...dropoutOps, ...loss,
  ...cast, ...neuron, ...surrogate, ...ssa, ...attention, ...spikeLinear, ...spikeConv, ...spikeLayout, ...iand, ...heaviside, ...maskedNorm,
  // Spikformer's fused conv / linear -> BN -> LIF (the same spikes and gradients as the ops in sequence).
  ...normNeuron, ...convNormNeuron, ...linearNormNeuron,
};

export { Module, ModuleList, Sequential, Int64Buffer } from "./nn/module.js";
export { Linear, Conv1d, Conv2d, MaxPool2d, Identity } from "./nn/layers.js";
export { BatchNorm1d, BatchNorm2d, LayerNorm } from "./nn/norm.js";
export { SpikingNeuron, spikformerLIF } from "./nn/neuron.js";
export * as init from "./nn/init.js";

export { Spikformer, SPS, SCS, SSA, MLP, Block } from "./models/spikformer.js";
export { spikformerConfig, modelName, type SpikformerConfig, type SpikformerOverrides, type SpikformerVariant } from "./models/config.js";
export { SpikeCompute, type LayerProbe, type LayerEvent, type KernelMode } from "./models/compute.js";

export { parseSafetensors, serializeSafetensors } from "./io/safetensors.js";

export { SGD, AdamW, paramGroupsWithDecayExclusions } from "./train/optim.js";
export { CosineSchedule, layerDecayScales, layerIdOf } from "./train/schedule.js";
export { clipGradNorm } from "./train/clip.js";
export { mixup } from "./train/mixup.js";
export { batches } from "./train/data/loader.js";
export { makeAugment } from "./train/data/augment.js";
export { evaluate } from "./train/evaluate.js";
export { updateBatchNorm } from "./train/update-bn.js";

export { EnergyProbe, energyReport, type EnergyReport } from "./energy/energy.js";
export { measureEnergy } from "./energy/measure.js";

export { MaskedAutoencoder, loadEncoderInto } from "./models/mae/mae.js";
export { randomTokenMask, upsampleMask, stageMasks } from "./models/mae/masking.js";
export { MAEDecoder, sincosPosEmbed2d } from "./models/mae/decoder.js";
export { patchify, unpatchify, maskedPatchLoss } from "./models/mae/loss.js";

export { setThreads, getThreads, setPoolSpin, poolReady, poolInfo, shutdownPool, setThreadHost } from "./parallel/pool.js";
export type { ThreadHost, WorkerHandle } from "./parallel/host.js";
export { webThreadHost, webThreadsUnavailable } from "./parallel/web-host.js";
export { fromBytes, type Dataset } from "./train/data/dataset.js";
export { countCorrect } from "./train/evaluate.js";
export { weightsBytes, parseWeights, classifierFromWeights } from "./train/weights.js";
export { gradientFingerprint, fingerprintStep, fingerprintModelConfig, FINGERPRINT_BATCH } from "./train/fingerprint.js";
export { lineChart, barChart, heatmap, spikeRaster, type Series, type RasterBand } from "./report/charts.js";
export { toSvg, rasterize, type Scene } from "./report/scene.js";
export { SampleProbe, probeSample, type AttentionMap } from "./report/probe.js";

export { setKernelBackend, getKernelBackend, wasmSimdAvailable, type KernelBackend } from "./wasm/backend.js";
