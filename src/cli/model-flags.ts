/** Model flags shared by the commands that build a model. */
import type { Flags } from "./args.js";
import type { AttentionKind, ResidualKind, SpikformerOverrides } from "../models/config.js";

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
} satisfies Flags;

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
