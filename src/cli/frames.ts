/** `bitspike frames`: an event data set's frames and labels written to one safetensors file (the generic `file:` format). */
import { fail } from "../tensor/errors.js";
import { writeSafetensorsFile } from "../io/safetensors-file.js";
import { isEventSpec, loadData } from "../train/data/spec.js";
import { framesEntries } from "../train/data/events/datasets.js";
import { parseArgs, type Flags } from "./args.js";
import { RUN_RANGES as R } from "./model-flags.js";
import { EVENT_FLAGS, eventOptions } from "./event-flags.js";

export const FRAMES_FLAGS = {
  data: { type: "string", help: "nmnist:DIR | dvsgesture:DIR | cifar10dvs:DIR | events:DIR[,WxH]" },
  out: { type: "string", help: "the .safetensors file to write: images [N, T, 2, H, W] (F32 counts), labels [N] (I32)" },
  split: { type: "string", default: "train", choices: ["train", "test"], help: "which split to write" },
  binarise: { type: "boolean", help: "0 / 1 frames instead of counts" },
  seed: { type: "int", default: 0, ...R.seed, help: "seed of the 9:1 split of data sets without an official one" },
  ...EVENT_FLAGS,
} satisfies Flags;

export function runFrames(argv: string[]): void {
  const a = parseArgs("frames", argv, FRAMES_FLAGS);
  if (!a.data || !a.out) fail("bitspike frames", "--data and --out are required");
  if (!isEventSpec(a.data)) fail("bitspike frames", `--data ${a.data} is not event data (nmnist:DIR, dvsgesture:DIR, cifar10dvs:DIR or events:DIR)`);
  const data = loadData(a.data, a.seed!, { ...eventOptions(a), binarise: a.binarise });
  const ds = a.split === "test" ? data.test : data.train;
  writeSafetensorsFile(a.out, framesEntries(ds), { num_classes: String(ds.numClasses), source: data.description });
  console.log(`${data.description}\nwrote the ${a.split} split: images [${ds.labels.length}, ${ds.frames}, ${ds.shape.join(", ")}], labels [${ds.labels.length}] to ${a.out}`);
}
