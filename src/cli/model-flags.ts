/** Model flags shared by the commands that build a model. */
import { availableParallelism } from "node:os";
import type { Flags } from "./args.js";
import { CONFIG_LIMITS, type AttentionKind, type ResidualKind } from "../models/config.js";
import type { ClassifierOverrides } from "../models/classifier.js";
import { parseStrides } from "../models/spikeformer/config.js";
import { MAX_POOL_SPIN_MS, setPoolSpin, setThreads } from "../parallel/pool.js";
export { RUN_RANGES } from "../train/trainer.js";

/** Most kernel threads: more than 8 per core only adds workers that wait (and each costs memory). */
export const MAX_THREADS = Math.min(256, Math.max(16, 8 * availableParallelism()));

const L = CONFIG_LIMITS;
export const MODEL_FLAGS = {
  T: { type: "int", min: 1, max: L.T, help: "time steps" },
  heads: { type: "int", min: 1, max: L.numHeads, help: "attention heads" },
  classes: { type: "int", min: 1, max: L.numClasses, help: "number of classes" },
  "img-size": { type: "int", min: 1, max: L.imgSize, help: "input image size" },
  "in-channels": { type: "int", min: 1, max: L.inChannels, help: "input channels" },
  patch: { type: "int", min: 1, max: L.patchSize, help: "patch size (a power of two)" },
  "mlp-ratio": { type: "number", above: 0, max: L.mlpRatio, help: "MLP hidden width / embed dims" },
  attention: { type: "string", help: "ssa | softmax | identity | relu | leakyrelu (Table I ablation)" },
  residual: { type: "string", help: "add | iand (Table VI)" },
  // Spikeformer only.
  neuron: { type: "string", choices: ["plif", "pliaf"], help: "Spikeformer: plif | pliaf (analog ReLU(H) outputs, the ImageNet model's)" },
  "tok-kernel": { type: "int", min: 1, max: 31, help: "Spikeformer tokenizer: conv kernel size (padding kernel/2)" },
  "tok-layers": { type: "int", min: 1, max: 32, help: "Spikeformer tokenizer: SEW blocks" },
  "tok-strides": { type: "string", help: "Spikeformer tokenizer: one stride per block (2,1,2,1) or one for all (2)" },
  "drop-path": { type: "number", min: 0, max: 0.99, help: "Spikeformer: stochastic-depth rate of the last block (default 0.1)" },
  // The lower bound is setThreads' own check.
  threads: { type: "int", max: MAX_THREADS, maxReason: "8 per core, at least 16, at most 256", help: "threads for the kernels (default: os.availableParallelism()); results do not depend on it" },
  spin: { type: "number", min: 0, max: MAX_POOL_SPIN_MS, help: "ms the kernel threads spin before sleeping (default 0.2); 20 beside other single-threaded busy work (training steps 0.66-0.78x the time there; not for several such runs at once); results do not depend on it" },
} satisfies Flags;


/** Applies `--threads` and `--spin` (when given) to the kernel thread pool. */
export function applyThreads(a: Record<string, unknown>): void {
  if (a["threads"] !== undefined) setThreads(a["threads"] as number);
  if (a["spin"] !== undefined) setPoolSpin(a["spin"] as number);
}

/** The overrides the model flags ask for (undefined where a flag is absent). */
export function modelOverrides(a: Record<string, unknown>): ClassifierOverrides {
  return {
    T: a["T"] as number | undefined,
    numHeads: a["heads"] as number | undefined,
    numClasses: a["classes"] as number | undefined,
    imgSize: a["img-size"] as number | undefined,
    inChannels: a["in-channels"] as number | undefined,
    patchSize: a["patch"] as number | undefined,
    mlpRatio: a["mlp-ratio"] as number | undefined,
    attention: a["attention"] as AttentionKind | undefined,
    residual: a["residual"] as ResidualKind | undefined,
    neuron: a["neuron"] as "plif" | "pliaf" | undefined,
    kernel: a["tok-kernel"] as number | undefined,
    layers: a["tok-layers"] as number | undefined,
    strides: a["tok-strides"] === undefined ? undefined : parseStrides("bitspike", a["tok-strides"] as string),
    dropPathRate: a["drop-path"] as number | undefined,
  };
}
