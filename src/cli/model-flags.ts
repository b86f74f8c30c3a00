/** Model flags shared by the commands that build a model. */
import type { Flags } from "./args.js";
import type { AttentionKind, ResidualKind, SpikformerOverrides } from "../models/config.js";
import { setThreads } from "../parallel/pool.js";

export const MODEL_FLAGS = {
  T: { type: "int", help: "time steps" },
  heads: { type: "int", help: "attention heads" },
  classes: { type: "int", help: "number of classes" },
  "img-size": { type: "int", help: "input image size" },
  "in-channels": { type: "int", help: "input channels" },
  patch: { type: "int", help: "patch size (a power of two)" },
  "mlp-ratio": { type: "number", help: "MLP hidden width / embed dims" },
  attention: { type: "string", help: "ssa | softmax | identity | relu | leakyrelu (Table I ablation)" },
  residual: { type: "string", help: "add | iand (Table VI)" },
  threads: { type: "int", help: "threads for the kernels (default: os.availableParallelism()); results do not depend on it" },
} satisfies Flags;

/** Applies `--threads` (when given) to the kernel thread pool. */
export function applyThreads(a: Record<string, unknown>): void {
  if (a["threads"] !== undefined) setThreads(a["threads"] as number);
}

/** The overrides the model flags ask for (undefined where a flag is absent). */
export function modelOverrides(a: Record<string, unknown>): SpikformerOverrides {
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
  };
}
