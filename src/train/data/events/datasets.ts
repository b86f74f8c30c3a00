/**
 * Event-camera data sets as frame data sets: the files a user has on disk
 * (N-MNIST, DVS128 Gesture, CIFAR10-DVS, SpikingJelly / Tonic npz folders)
 * read, integrated into T frames a sample exactly as SpikingJelly does, and
 * cached in one safetensors file per split under DIR/bitspike-frames/, so a
 * second run reads frames instead of parsing events again.
 *
 * Layouts:
 * - nmnist:DIR      DIR/Train/<digit>/*.bin and DIR/Test/<digit>/*.bin (34x34)
 * - dvsgesture:DIR  DIR/trials_to_train.txt, DIR/trials_to_test.txt listing
 *                   the .aedat recordings in DIR, each with its _labels.csv
 *                   (128x128, 11 classes)
 * - cifar10dvs:DIR  DIR/<class>/*.aedat (128x128); seeded 9:1 split per class
 * - events:DIR[,WxH] DIR/train/<class>/*.npz and DIR/test/<class>/*.npz, or
 *                   DIR/<class>/*.npz with the seeded 9:1 split per class; the
 *                   sensor is WxH, or else the largest coordinates + 1 (square)
 * Class folders named by integers are those classes; other names are
 * numbered in sorted order (as torchvision's DatasetFolder, which SpikingJelly uses).
 */
import { createHash } from "node:crypto";
import { join, relative } from "node:path";
import { fail } from "../../../tensor/errors.js";
import { Rng } from "../../../tensor/random.js";
import { parseSafetensors } from "../../../io/safetensors.js";
import { writeSafetensorsFile } from "../../../io/safetensors-file.js";
import { listDirChecked, makeOutputDir, readFileChecked, statOrNull } from "../../../io/files.js";
import { MAX_TENSOR_ELEMENTS } from "../../../io/validate.js";
import { parseAtisBin } from "../../../io/events/atis.js";
import { parseAedat2Cifar, parseAedat3, parseGestureLabels, sliceWindows } from "../../../io/events/aedat.js";
import { parseEventsNpz } from "../../../io/events/npz.js";
import { SENSORS, checkOnSensor, type Events, type Sensor } from "../../../io/events/events.js";
import { checkDataset, subset, type Dataset } from "../dataset.js";
import { datasetFromParsed } from "../file.js";
import { deriveSeed } from "../seed.js";
import { binariseFrames, framesByCount, type SplitBy } from "./frames.js";

/** How event data becomes frames. */
export interface EventDataOptions {
  /** Frames a sample: the model's time steps T. */
  frames: number;
  splitBy: SplitBy;
  /** 0 / 1 frames instead of counts. */
  binarise?: boolean;
  /** Read and write the frame cache in DIR/bitspike-frames/ (default true; a folder that cannot be written is skipped). */
  cache?: boolean;
}

/** The event data-set kinds of `--data`. */
export const EVENT_KINDS = ["nmnist", "dvsgesture", "cifar10dvs", "events"] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** One recording file and the labelled samples it holds (`label`: its class, when it holds one sample). */
interface Source {
  path: string;
  label?: number;
  samples(): { label: number; events: Events }[];
}

/** What a folder holds: the sources of each split (test null: split by seed), the sensor and classes. */
interface Layout {
  name: string;
  sensor: Sensor;
  numClasses: number;
  train: Source[];
  test: Source[] | null;
}

const OP = "event-data";

function isDir(path: string): boolean {
  return statOrNull(OP, path)?.isDirectory() ?? false;
}

/** The entry of `dir` named `want` in any letter case (N-MNIST ships Train / Test). */
function findChild(dir: string, want: string): string | null {
  const hit = listDirChecked(OP, dir).find((n) => n.toLowerCase() === want && isDir(join(dir, n)));
  return hit === undefined ? null : join(dir, hit);
}

/** The class-folder names of `dir`, sorted. */
function classNames(dir: string): string[] {
  const names = listDirChecked(OP, dir).filter((n) => !n.startsWith(".") && n !== "bitspike-frames" && isDir(join(dir, n)));
  if (names.length === 0) fail(OP, `${dir} holds no class folders`);
  return names;
}

/**
 * Class folders of `dir` and their labels: integer names are those classes;
 * other names are numbered by their place in `known` (default: this folder's
 * sorted names), so a test folder numbers its classes as the train folder does.
 */
function classFolders(dir: string, known?: readonly string[]): { path: string; label: number }[] {
  const names = classNames(dir);
  const numeric = names.every((n) => /^[0-9]{1,6}$/.test(n));
  const order = known ?? names;
  return names.map((n) => {
    const label = numeric ? Number(n) : order.indexOf(n);
    if (label < 0) fail(OP, `${join(dir, n)}: class '${n}' is not among the training classes (${order.join(", ")})`);
    return { path: join(dir, n), label };
  });
}

/** The files with extension `ext` of every class folder, each a one-sample source. */
function classFiles(dir: string, ext: string, read: (bytes: Uint8Array, path: string) => Events, known?: readonly string[]): Source[] {
  const out: Source[] = [];
  for (const { path, label } of classFolders(dir, known)) {
    for (const f of listDirChecked(OP, path)) {
      if (!f.toLowerCase().endsWith(ext)) continue;
      const file = join(path, f);
      out.push({ path: file, label, samples: () => [{ label, events: read(readFileChecked(OP, file), file) }] });
    }
  }
  if (out.length === 0) fail(OP, `${dir}: no ${ext} files in its class folders`);
  return out;
}

/** Classes of one-sample sources: the largest label + 1. */
function classCount(sources: readonly Source[]): number {
  return sources.reduce((m, s) => Math.max(m, (s.label ?? 0) + 1), 1);
}

function nmnistLayout(dir: string): Layout {
  const train = findChild(dir, "train") ?? fail(OP, `nmnist:${dir}: no Train folder (expected DIR/Train/<digit>/*.bin and DIR/Test/<digit>/*.bin)`);
  const test = findChild(dir, "test") ?? fail(OP, `nmnist:${dir}: no Test folder (expected DIR/Train/<digit>/*.bin and DIR/Test/<digit>/*.bin)`);
  const read = (b: Uint8Array, p: string): Events => parseAtisBin(b, p, SENSORS.nmnist);
  const l = { train: classFiles(train, ".bin", read), test: classFiles(test, ".bin", read) };
  return { name: "N-MNIST", sensor: SENSORS.nmnist, numClasses: Math.max(10, classCount([...l.train, ...l.test])), ...l };
}

function gestureSources(dir: string, list: string): Source[] {
  const listPath = join(dir, list);
  const names = new TextDecoder().decode(readFileChecked(OP, listPath)).split("\n").map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length === 0) fail(OP, `${listPath} lists no recordings`);
  return names.map((name) => {
    const path = join(dir, name);
    const labels = join(dir, `${name.replace(/\.aedat$/i, "")}_labels.csv`);
    return {
      path,
      samples: () => {
        const events = parseAedat3(readFileChecked(OP, path), path, SENSORS.dvs128);
        const windows = parseGestureLabels(new TextDecoder().decode(readFileChecked(OP, labels)), labels);
        return sliceWindows(events, windows, labels, path);
      },
    };
  });
}

function gestureLayout(dir: string): Layout {
  return { name: "DVS128 Gesture", sensor: SENSORS.dvs128, numClasses: 11, train: gestureSources(dir, "trials_to_train.txt"), test: gestureSources(dir, "trials_to_test.txt") };
}

function cifarLayout(dir: string): Layout {
  const train = classFiles(dir, ".aedat", parseAedat2Cifar);
  return { name: "CIFAR10-DVS", sensor: SENSORS.dvs128, numClasses: Math.max(10, classCount(train)), train, test: null };
}

function npzLayout(arg: string): Layout {
  const m = /^(.*?)(?:,([0-9]{1,5})x([0-9]{1,5}))?$/.exec(arg)!;
  const dir = m[1]!;
  const given = m[2] ? { width: Number(m[2]), height: Number(m[3]) } : null;
  if (given && (given.width < 1 || given.height < 1)) fail(OP, `events:${arg}: the sensor size must be at least 1x1`);
  const read = (b: Uint8Array, p: string): Events => parseEventsNpz(b, p, given ?? { width: 65536, height: 65536 });
  const train = findChild(dir, "train");
  const test = findChild(dir, "test");
  if ((train === null) !== (test === null)) fail(OP, `events:${dir}: has a ${train ? "train" : "test"} folder but no ${train ? "test" : "train"} folder`);
  const sources = train && test ? { train: classFiles(train, ".npz", read), test: classFiles(test, ".npz", read, classNames(train)) } : { train: classFiles(dir, ".npz", read), test: null };
  const numClasses = classCount([...sources.train, ...(sources.test ?? [])]);
  // Without a given size the sensor is found after reading (see loadEventData); 0 marks it unknown.
  return { name: `events ${dir}`, sensor: given ?? { width: 0, height: 0 }, numClasses, ...sources };
}

/** The folder of a spec argument (events: may carry a ,WxH suffix). */
function folderOf(kind: EventKind, arg: string): string {
  return kind === "events" ? arg.replace(/,[0-9]{1,5}x[0-9]{1,5}$/, "") : arg;
}

/**
 * Train and test indices of a seeded split per class: each class's samples
 * shuffled (seeded by the run seed and the class), the first ceil(ratio n)
 * for training, as SpikingJelly's split_to_train_test_set with random_split.
 */
export function perClassSplit(labels: Int32Array, seed: number, ratio = 0.9): { train: Int32Array; test: Int32Array } {
  const byClass = new Map<number, number[]>();
  labels.forEach((y, i) => (byClass.get(y) ?? byClass.set(y, []).get(y)!).push(i));
  const train: number[] = [];
  const test: number[] = [];
  for (const y of [...byClass.keys()].sort((a, b) => a - b)) {
    const idx = Int32Array.from(byClass.get(y)!);
    new Rng(deriveSeed(seed, 0x73706c74, y)).shuffle(idx);
    const cut = Math.ceil(idx.length * ratio);
    train.push(...idx.subarray(0, cut));
    test.push(...idx.subarray(cut));
  }
  return { train: Int32Array.from(train), test: Int32Array.from(test) };
}

/** A frame data set from sources: every sample integrated into T frames [2, H, W]. */
function integrate(sources: readonly Source[], sensor: Sensor | null, numClasses: number, opts: EventDataOptions, stats: { events: number; samples: number }): Dataset {
  const samples: { label: number; events: Events; path: string }[] = [];
  for (const s of sources) for (const one of s.samples()) samples.push({ ...one, path: s.path });
  let size = sensor;
  if (!size || size.width === 0) {
    let m = 0;
    for (const { events } of samples) for (let i = 0; i < events.t.length; i++) m = Math.max(m, events.x[i]! + 1, events.y[i]! + 1);
    size = { width: Math.max(1, m), height: Math.max(1, m) };
  }
  const per = opts.frames * 2 * size.width * size.height;
  if (samples.length * per > MAX_TENSOR_ELEMENTS) {
    fail(OP, `${samples.length} samples of ${opts.frames} frames [2, ${size.height}, ${size.width}] need ${samples.length * per} float32 values, more than the ${MAX_TENSOR_ELEMENTS} one data set may hold; use fewer --frames`);
  }
  const images = new Float32Array(samples.length * per);
  const labels = new Int32Array(samples.length);
  samples.forEach(({ label, events, path }, i) => {
    checkOnSensor(OP, events, size, (k) => `${path}: event ${k}`);
    const f = framesByCount(events, opts.splitBy, opts.frames, size);
    images.set(opts.binarise ? binariseFrames(f.data) : f.data, i * per);
    labels[i] = label;
    stats.events += events.t.length;
  });
  stats.samples += samples.length;
  const ds: Dataset = { images, labels, shape: [2, size.height, size.width], numClasses, frames: opts.frames };
  checkDataset(OP, ds);
  return ds;
}

/** sha256 of the source files' names, sizes and modification times and of the options: the cache key. */
function fingerprint(dir: string, layout: Layout, opts: EventDataOptions, seed: number | null): string {
  const files = [...layout.train, ...(layout.test ?? [])].map((s) => {
    const st = statOrNull(OP, s.path);
    return [relative(dir, s.path), st?.size ?? -1, st?.mtimeMs ?? -1];
  });
  return createHash("sha256").update(JSON.stringify({ v: 1, files, frames: opts.frames, splitBy: opts.splitBy, binarise: !!opts.binarise, seed, sensor: layout.sensor })).digest("hex");
}

/** The cached split, when its file exists and was made from the same files and options. */
function readCache(path: string, key: string): { ds: Dataset; eventsPerSample: string } | null {
  if (!statOrNull(OP, path)?.isFile()) return null;
  const file = parseSafetensors(readFileChecked(OP, path), path);
  if (file.metadata["bitspike_frames"] !== key) return null;
  return { ds: datasetFromParsed(file, path), eventsPerSample: file.metadata["events_per_sample"] ?? "?" };
}

/** Writes a split's frames (best effort: a read-only data folder only means no cache). */
function writeCache(path: string, key: string, ds: Dataset, eventsPerSample: number): void {
  try {
    makeOutputDir(OP, join(path, ".."));
    writeSafetensorsFile(path, framesEntries(ds), { num_classes: String(ds.numClasses), bitspike_frames: key, events_per_sample: String(eventsPerSample) });
  } catch { /* no cache this time */ }
}

/** The safetensors entries of a frame data set: images [N, T, C, H, W] (F32) and labels [N] (I32), the generic format. */
export function framesEntries(ds: Dataset): Record<string, { shape: number[]; data: Float32Array | Int32Array }> {
  const N = ds.labels.length;
  return { images: { shape: [N, ...(ds.frames ? [ds.frames] : []), ...ds.shape], data: ds.images }, labels: { shape: [N], data: ds.labels } };
}

/**
 * Loads an event data set (`kind`, its folder `arg`) as frame data sets.
 * Sets without an official split (CIFAR10-DVS, a flat npz folder) are split
 * 9:1 per class with `seed`.
 */
export function loadEventData(kind: EventKind, arg: string, seed: number, opts: EventDataOptions): { train: Dataset; test: Dataset; description: string } {
  if (!Number.isSafeInteger(opts.frames) || opts.frames < 1) fail(OP, `frames must be an integer >= 1, got ${opts.frames}`);
  if (opts.splitBy !== "number" && opts.splitBy !== "time") fail(OP, `split-by must be number or time, got ${JSON.stringify(opts.splitBy)}`);
  const dir = folderOf(kind, arg);
  if (!isDir(dir)) fail(OP, `${kind}:${arg}: ${dir} is not a folder`);
  const layout = kind === "nmnist" ? nmnistLayout(dir) : kind === "dvsgesture" ? gestureLayout(dir) : kind === "cifar10dvs" ? cifarLayout(dir) : npzLayout(arg);
  const seeded = layout.test === null;
  const key = fingerprint(dir, layout, opts, seeded ? seed : null);
  const cacheName = (split: string): string =>
    join(dir, "bitspike-frames", `${kind}-T${opts.frames}-${opts.splitBy}${opts.binarise ? "-binary" : ""}${seeded ? `-seed${seed}` : ""}-${split}.safetensors`);
  const how = `${opts.frames} frames split by ${opts.splitBy}${opts.binarise ? ", binarised" : ""}`;
  if (opts.cache !== false) {
    const train = readCache(cacheName("train"), key);
    const test = train && readCache(cacheName("test"), key);
    if (train && test) {
      return { train: train.ds, test: test.ds, description: `${layout.name} from ${dir}: ${train.ds.labels.length} train / ${test.ds.labels.length} test samples${seeded ? " (seeded 9:1 per class)" : ""}, ${how}, ${train.eventsPerSample} events a sample on average (cached frames)` };
    }
  }
  const stats = { events: 0, samples: 0 };
  let train: Dataset;
  let test: Dataset;
  if (layout.test) {
    train = integrate(layout.train, layout.sensor.width ? layout.sensor : null, layout.numClasses, opts, stats);
    test = integrate(layout.test, { width: train.shape[2], height: train.shape[1] }, layout.numClasses, opts, stats);
  } else {
    const all = integrate(layout.train, layout.sensor.width ? layout.sensor : null, layout.numClasses, opts, stats);
    const split = perClassSplit(all.labels, seed);
    train = subset(all, split.train);
    test = subset(all, split.test);
  }
  const mean = stats.samples ? Math.round(stats.events / stats.samples) : 0;
  if (opts.cache !== false) {
    writeCache(cacheName("train"), key, train, mean);
    writeCache(cacheName("test"), key, test, mean);
  }
  return { train, test, description: `${layout.name} from ${dir}: ${train.labels.length} train / ${test.labels.length} test samples${seeded ? " (seeded 9:1 per class)" : ""}, ${how}, ${mean} events a sample on average` };
}
