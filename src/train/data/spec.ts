/**
 * Data-set specifications as the CLI takes them: `mnist`, `cifar10:DIR`,
 * `cifar100:DIR`, `file:TRAIN.safetensors[,TEST.safetensors]`, `idx:DIR`, and the event
 * data sets `nmnist:DIR`, `dvsgesture:DIR`, `cifar10dvs:DIR`,
 * `events:DIR[,WxH]` (frames, see events/datasets.ts).
 */
import { fail } from "../../tensor/errors.js";
import { loadMnist } from "./mnist.js";
import { loadCifar10, loadCifar100 } from "./cifar.js";
import { loadDatasetFile } from "./file.js";
import { loadIdx } from "./idx.js";
import { subset, type Dataset } from "./dataset.js";
import { epochPermutation } from "./loader.js";
import { EVENT_KINDS, loadEventData, type EventDataOptions, type EventKind } from "./events/datasets.js";

/** Frames a sample and how to split, for event data (default 16 frames split by number, as Spikformer's DVS runs). */
export const DEFAULT_EVENT_OPTIONS: EventDataOptions = { frames: 16, splitBy: "number" };

/** Whether a spec names event data (whose samples are frames). */
export function isEventSpec(spec: string): boolean {
  return (EVENT_KINDS as readonly string[]).includes(spec.split(":")[0]!);
}

/** A train / test pair. */
export interface DataSplit {
  train: Dataset;
  test: Dataset;
  /** What was loaded, for logs. */
  description: string;
}

/**
 * Loads a data-set spec. A single `file:` is split with a fixed seed into 90 %
 * train and 10 % test; two comma-separated files are train and test.
 */
export function loadData(spec: string, seed = 0, events: Partial<EventDataOptions> = {}): DataSplit {
  const colon = spec.indexOf(":");
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? "" : spec.slice(colon + 1);
  const need = (): string => arg || fail("data", `'${kind}' needs a path: ${kind}:PATH`);
  switch (kind) {
    case "mnist": {
      if (colon >= 0) fail("data", `'mnist' takes no path or options, got '${spec}'`);
      const { train, test } = loadMnist({ seed });
      return { train, test, description: "MNIST (mnist package): 8,000 train / 2,000 test digits" };
    }
    case "cifar10":
      return { ...loadCifar10(need()), description: `CIFAR-10 from ${arg}` };
    case "cifar100":
      return { ...loadCifar100(need()), description: `CIFAR-100 from ${arg}` };
    case "idx": {
      const d = loadIdx(need());
      return { ...d, description: `IDX files in ${arg}: ${d.train.labels.length} train / ${d.test.labels.length} test images, normalised with the training images' mean ${d.train.mean![0]!.toFixed(4)}, std ${d.train.std![0]!.toFixed(4)}` };
    }
    case "file": {
      const parts = need().split(",");
      if (parts.length === 2) return { train: loadDatasetFile(parts[0]!), test: loadDatasetFile(parts[1]!), description: `${parts[0]} / ${parts[1]}` };
      if (parts.length !== 1) fail("data", `file: takes one or two comma-separated paths, got '${arg}'`);
      const all = loadDatasetFile(parts[0]!);
      const n = all.labels.length;
      if (n < 2) fail("data", `${parts[0]} has ${n} samples; a train/test split needs at least 2`);
      const perm = epochPermutation(n, seed, -1);
      const nTest = Math.max(1, Math.round(n * 0.1));
      return { train: subset(all, perm.subarray(nTest)), test: subset(all, perm.subarray(0, nTest)), description: `${parts[0]} (seeded 90/10 split)` };
    }
    case "nmnist":
    case "dvsgesture":
    case "cifar10dvs":
    case "events":
      return loadEventData(kind as EventKind, need(), seed, { ...DEFAULT_EVENT_OPTIONS, ...events });
    default:
      return fail("data", `unknown data set '${spec}'; expected mnist, cifar10:DIR, cifar100:DIR, file:PATH[,TEST_PATH], idx:DIR, nmnist:DIR, dvsgesture:DIR, cifar10dvs:DIR or events:DIR[,WxH]`);
  }
}
