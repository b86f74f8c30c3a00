/**
 * Event data sets on disk as frame data sets: the folder layouts of N-MNIST,
 * DVS128 Gesture, CIFAR10-DVS and npz folders, frames equal to integrating
 * the written events, the frame cache, the seeded 9:1 per-class split,
 * frame batches [T, B, C, H, W] and the DVS augmentations.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Rng } from "../../../src/tensor/random.js";
import { serializeAtisBin } from "../../../src/io/events/atis.js";
import type { Events } from "../../../src/io/events/events.js";
import { framesByCount } from "../../../src/train/data/events/frames.js";
import { perClassSplit } from "../../../src/train/data/events/datasets.js";
import { loadData } from "../../../src/train/data/spec.js";
import { batches } from "../../../src/train/data/loader.js";
import { cutoutInPlace, makeAugment, rollPlanes } from "../../../src/train/data/augment.js";
import { loadDatasetFile } from "../../../src/train/data/file.js";
import { runCli } from "../../../src/cli/run.js";
import { gestureLabelsCsv, randomEvents, serializeAedat2Cifar, serializeAedat3, serializeEventsNpz } from "../../helpers/event-writers.js";
import { expectBitspikeError } from "../../helpers/errors.js";

const tmp = (): string => mkdtempSync(join(tmpdir(), "bitspike-events-"));

/** Writes N-MNIST-layout folders: per split and digit 0..2, `per` files; returns the events by split. */
function writeNmnist(dir: string, per: number): Record<string, { label: number; events: Events }[]> {
  const rng = new Rng(3);
  const out: Record<string, { label: number; events: Events }[]> = { Train: [], Test: [] };
  for (const split of ["Train", "Test"]) {
    for (let c = 0; c < 3; c++) {
      mkdirSync(join(dir, split, String(c)), { recursive: true });
      for (let k = 0; k < per; k++) {
        const e = randomEvents(rng, 50 + rng.int(40), 34, 34, c, 3);
        writeFileSync(join(dir, split, String(c), `${String(k).padStart(5, "0")}.bin`), serializeAtisBin(e));
        out[split]!.push({ label: c, events: e });
      }
    }
  }
  return out;
}

describe("event data sets on disk", () => {
  it("nmnist:DIR gives frames [T, 2, 34, 34] equal to integrating each file's events, then reads them from the cache", () => {
    const dir = tmp();
    const written = writeNmnist(dir, 2);
    const first = loadData(`nmnist:${dir}`, 0, { frames: 4, splitBy: "time" });
    expect(first.train.frames).toBe(4);
    expect(first.train.shape).toEqual([2, 34, 34]);
    expect(first.description).toMatch(/N-MNIST .* 6 train \/ 6 test samples, 4 frames split by time, \d+ events a sample on average/);
    const per = 4 * 2 * 34 * 34;
    written["Test"]!.forEach(({ label, events }, i) => {
      expect(first.test.labels[i]).toBe(label);
      expect(Array.from(first.test.images.subarray(i * per, (i + 1) * per))).toEqual(Array.from(framesByCount(events, "time", 4, { width: 34, height: 34 }).data));
    });
    expect(readdirSync(join(dir, "bitspike-frames")).sort()).toEqual(["nmnist-T4-time-test.safetensors", "nmnist-T4-time-train.safetensors"]);
    const again = loadData(`nmnist:${dir}`, 0, { frames: 4, splitBy: "time" });
    expect(again.description).toMatch(/\d+ events a sample on average \(cached frames\)/);
    expect(again.train.images).toEqual(first.train.images);
    expect(Array.from(again.train.labels)).toEqual(Array.from(first.train.labels));
    // A changed source file invalidates the cache.
    utimesSync(join(dir, "Train", "0", "00000.bin"), new Date(), new Date(2000, 1, 1));
    expect(loadData(`nmnist:${dir}`, 0, { frames: 4, splitBy: "time" }).description).not.toMatch(/cached/);
  });

  it("dvsgesture:DIR slices each recording by its labels into the trials lists' splits", () => {
    const dir = tmp();
    const rng = new Rng(4);
    const rec = (name: string, windows: [number, number, number][]): void => {
      writeFileSync(join(dir, `${name}.aedat`), serializeAedat3(randomEvents(rng, 300, 128, 128), 64));
      writeFileSync(join(dir, `${name}_labels.csv`), gestureLabelsCsv(windows));
    };
    rec("user01_led", [[1, 0, 30_000], [11, 30_000, 60_000]]);
    rec("user02_led", [[5, 10_000, 90_000]]);
    writeFileSync(join(dir, "trials_to_train.txt"), "user01_led.aedat\n");
    writeFileSync(join(dir, "trials_to_test.txt"), "user02_led.aedat\n\n");
    const d = loadData(`dvsgesture:${dir}`, 0, { frames: 2, splitBy: "number", cache: false });
    expect(Array.from(d.train.labels)).toEqual([0, 10]);
    expect(Array.from(d.test.labels)).toEqual([4]);
    expect(d.train.numClasses).toBe(11);
    writeFileSync(join(dir, "user02_led_labels.csv"), gestureLabelsCsv([[5, 200_000, 300_000]]));
    expectBitspikeError(() => loadData(`dvsgesture:${dir}`, 0, { frames: 2, cache: false }), "gesture-labels", /user02_led_labels\.csv: window 1 \[200000, 300000\) lies outside the recording .*user02_led\.aedat/);
  });

  it("cifar10dvs:DIR splits 9:1 per class with the seed; npz folders with and without train/test", () => {
    const dir = tmp();
    const rng = new Rng(5);
    const names = ["airplane", "automobile", "bird"];
    names.forEach((n, c) => {
      mkdirSync(join(dir, n));
      for (let k = 0; k < 11 + c; k++) writeFileSync(join(dir, n, `cifar10_${n}_${k}.aedat`), serializeAedat2Cifar(randomEvents(rng, 40, 128, 128)));
    });
    const d = loadData(`cifar10dvs:${dir}`, 7, { frames: 1, cache: false });
    expect(d.description).toMatch(/seeded 9:1 per class/);
    // ceil(0.9 n) of each class for training: 10 of 11, 11 of 12, 12 of 13.
    expect([0, 1, 2].map((c) => d.train.labels.filter((y) => y === c).length)).toEqual([10, 11, 12]);
    expect([0, 1, 2].map((c) => d.test.labels.filter((y) => y === c).length)).toEqual([1, 1, 1]);
    expect(loadData(`cifar10dvs:${dir}`, 7, { frames: 1, cache: false }).test.images).toEqual(d.test.images);
    expect(loadData(`cifar10dvs:${dir}`, 8, { frames: 1, cache: false }).test.images).not.toEqual(d.test.images);

    const npz = tmp();
    for (const split of ["train", "test"]) for (const c of ["3", "0"]) {
      mkdirSync(join(npz, split, c), { recursive: true });
      writeFileSync(join(npz, split, c, "a.npz"), serializeEventsNpz(randomEvents(rng, 30, 10, 6)));
    }
    const e = loadData(`events:${npz},12x9`, 0, { frames: 3, cache: false });
    expect(e.train.shape).toEqual([2, 9, 12]);
    expect(e.train.numClasses).toBe(4);
    expect(Array.from(e.train.labels)).toEqual([0, 3]);
    const sq = loadData(`events:${npz}`, 0, { frames: 3, cache: false });
    expect(sq.train.shape).toEqual([2, 10, 10]); // largest coordinate + 1, square
    expectBitspikeError(() => loadData(`events:${npz},8x8`, 0, { frames: 3, cache: false }), "npz", /a\.npz: event \d+: event at x \d+, y \d+ is outside the 8x8 sensor/);
  });

  it("perClassSplit: disjoint, complete, ceil(0.9 n) a class for training, a function of the seed", () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 60 }), fc.integer({ min: 0, max: 1000 }), (ys, seed) => {
      const labels = Int32Array.from(ys);
      const { train, test } = perClassSplit(labels, seed);
      expect([...train, ...test].sort((a, b) => a - b)).toEqual(ys.map((_, i) => i));
      for (let c = 0; c < 5; c++) {
        const n = ys.filter((y) => y === c).length;
        expect([...train].filter((i) => ys[i] === c).length).toBe(Math.ceil(0.9 * n));
      }
      expect(perClassSplit(labels, seed)).toEqual({ train, test });
    }), { numRuns: 50, seed: 16 });
  });

  it("frame batches are [T, B, C, H, W] with the same augmentation draw for every frame of a sample", () => {
    const T = 3, C = 2, H = 4, W = 5, N = 5;
    const per = T * C * H * W;
    const images = Float32Array.from({ length: N * per }, (_, i) => i);
    const ds = { images, labels: Int32Array.from([0, 1, 0, 1, 0]), shape: [C, H, W] as [number, number, number], numClasses: 2, frames: T };
    const [b] = [...batches(ds, 4, { shuffle: false })];
    expect(b!.images.shape).toEqual([T, 4, C, H, W]);
    for (let t = 0; t < T; t++) for (let i = 0; i < 4; i++) {
      const got = b!.images.data.subarray((t * 4 + i) * C * H * W, (t * 4 + i + 1) * C * H * W);
      expect(Array.from(got)).toEqual(Array.from(images.subarray(i * per + t * C * H * W, i * per + (t + 1) * C * H * W)));
    }
    // A flip of all frames together: every frame of a sample flipped or none.
    const [f] = [...batches(ds, 5, { shuffle: false, augment: makeAugment({ hflip: 0.5, roll: 1 }), seed: 3 })];
    for (let i = 0; i < N; i++) {
      const frame = (t: number): number[] => Array.from(f!.images.data.subarray((t * N + i) * C * H * W, (t * N + i + 1) * C * H * W));
      const d0 = frame(0).map((v) => v - images[i * per]!);
      for (let t = 1; t < T; t++) expect(frame(t).map((v) => v - images[i * per + t * C * H * W]!)).toEqual(d0);
    }
  });

  it("roll is torch.roll (circular, undone by the opposite roll); cutout zeroes a clipped square", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: -7, max: 7 }), fc.integer({ min: -7, max: 7 }), (H, W, dy, dx) => {
      const src = Float32Array.from({ length: 2 * H * W }, (_, i) => i + 1);
      const out = new Float32Array(src.length);
      rollPlanes(src, out, 2, H, W, dy, dx);
      for (let c = 0; c < 2; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
        const ty = (((y + dy) % H) + H) % H;
        const tx = (((x + dx) % W) + W) % W;
        expect(out[(c * H + ty) * W + tx]).toBe(src[(c * H + y) * W + x]);
      }
      const back = new Float32Array(src.length);
      rollPlanes(out, back, 2, H, W, -dy, -dx);
      expect(back).toEqual(src);
    }), { numRuns: 100, seed: 16 });
    const img = new Float32Array(2 * 5 * 5).fill(1);
    cutoutInPlace(img, 2, 5, 5, 0, 4, 3);
    const zeros = [...img.keys()].filter((i) => img[i] === 0).map((i) => [Math.floor(i / 25), Math.floor((i % 25) / 5), i % 5]);
    expect(zeros).toEqual([[0, 0, 3], [0, 0, 4], [0, 1, 3], [0, 1, 4], [1, 0, 3], [1, 0, 4], [1, 1, 3], [1, 1, 4]]);
  });

  it("bitspike frames writes the generic file format, which file: reads back as the same frames", async () => {
    const dir = tmp();
    writeNmnist(dir, 1);
    const out = join(dir, "f.safetensors");
    expect(await runCli(["frames", "--data", `nmnist:${dir}`, "--frames", "2", "--split-by", "time", "--split", "test", "--out", out])).toBe(0);
    const f = loadDatasetFile(out);
    const d = loadData(`nmnist:${dir}`, 0, { frames: 2, splitBy: "time" });
    expect(f.frames).toBe(2);
    expect(f.images).toEqual(d.test.images);
    expect(Array.from(f.labels)).toEqual(Array.from(d.test.labels));
  });
});

describe("training on event frames", () => {
  it("a DVS Spikformer trains on frames (T from the data) and evaluates; --T that contradicts the frames is refused", async () => {
    const { train } = await import("../../../src/train/trainer.js");
    const dir = tmp();
    const rng = new Rng(6);
    for (const c of ["0", "1"]) {
      mkdirSync(join(dir, c));
      for (let k = 0; k < 11; k++) writeFileSync(join(dir, c, `${k}.npz`), serializeEventsNpz(randomEvents(rng, 40, 8, 8, Number(c), 2)));
    }
    const opts = {
      model: "spikformer-dvs-1-16", modelOverrides: { numHeads: 2, patchSize: 2 }, data: `events:${dir},8x8`, events: { frames: 2, cache: false },
      epochs: 1, batch: 4, lr: 1e-3, wd: 0, warmupEpochs: 0, minLr: 0, clip: 0, seed: 0, out: null, resume: false, checkpointEvery: 0, stopAfter: 0,
      labelSmoothing: 0, mixup: 0, augment: { roll: 1, cutout: 2 }, evalBatch: 4,
    };
    const r = train(opts);
    expect(r.model.config.T).toBe(2);
    expect(r.test!.samples).toBe(2);
    expectBitspikeError(() => train({ ...opts, modelOverrides: { ...opts.modelOverrides, T: 3 } }), "train", /T \(--T\) 3 does not match the data's 2 frames a sample/);
    expectBitspikeError(() => train({ ...opts, mixup: 0.2 }), "train", /mixup .* not defined for event frames/);
  });
});
