/** `bitspike emulate`: static images to N-MNIST-format event recordings (three saccades, log-intensity contrast events). */
import { fail } from "../tensor/errors.js";
import { makeOutputDir } from "../io/files.js";
import { isEventSpec, loadData } from "../train/data/spec.js";
import { subset } from "../train/data/dataset.js";
import { writeEmulatedNmnist } from "../train/data/events/emulate.js";
import { parseArgs, type Flags } from "./args.js";
import { RUN_RANGES as R } from "./model-flags.js";

export const EMULATE_FLAGS = {
  data: { type: "string", default: "mnist", help: "image data set (mnist, idx:DIR, file:..., cifar10:DIR: colour is averaged to grey)" },
  out: { type: "string", help: "folder for Train/<label>/*.bin and Test/<label>/*.bin (N-MNIST's layout and format)" },
  threshold: { type: "number", default: 0.6, above: 0, max: 10, help: "contrast threshold in log intensity" },
  limit: { type: "int", min: 1, help: "emulate at most N images of each split (default: all)" },
  seed: { type: "int", default: 0, ...R.seed, help: "seed of the data set's split" },
} satisfies Flags;

export function runEmulate(argv: string[]): void {
  const a = parseArgs("emulate", argv, EMULATE_FLAGS);
  if (!a.out) fail("bitspike emulate", "--out is required");
  if (isEventSpec(a.data!)) fail("bitspike emulate", `--data ${a.data} is event data already; emulate takes images`);
  makeOutputDir("bitspike emulate", a.out);
  const data = loadData(a.data!, a.seed!);
  const cut = (n: number): Int32Array => Int32Array.from({ length: Math.min(n, a.limit ?? n) }, (_, i) => i);
  const splits = { train: subset(data.train, cut(data.train.labels.length)), test: subset(data.test, cut(data.test.labels.length)) };
  const t0 = performance.now();
  const counts = writeEmulatedNmnist(a.out, splits, { threshold: a.threshold! }, (done, total) => {
    if (done % 500 === 0 || done === total) process.stderr.write(`\r${done}/${total} recordings`);
  });
  process.stderr.write("\n");
  const stat = (c: number[]): string => `${c.length} recordings, ${Math.round(c.reduce((s, v) => s + v, 0) / Math.max(1, c.length))} events a sample on average (min ${Math.min(...c)}, max ${Math.max(...c)})`;
  console.log(`${data.description}\nTrain: ${stat(counts.train)}\nTest: ${stat(counts.test)}\nwrote ${a.out}/Train and ${a.out}/Test in ${((performance.now() - t0) / 1000).toFixed(1)} s; train on them with --data nmnist:${a.out}`);
}
