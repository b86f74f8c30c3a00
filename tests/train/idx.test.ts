/** IDX files (MNIST, Fashion-MNIST, KMNIST as distributed): plain and gzipped, and bad files refused naming the byte offset. */
import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { parseIdx } from "../../src/train/data/idx.js";
import { loadData } from "../../src/train/data/spec.js";
import { Rng } from "../../src/tensor/random.js";
import { expectBitspikeError } from "../helpers/errors.js";

function idx(shape: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  out.set([0, 0, 8, shape.length]);
  const v = new DataView(out.buffer);
  shape.forEach((s, i) => v.setUint32(4 + 4 * i, s, false));
  out.set(data, 4 + 4 * shape.length);
  return out;
}

describe("idx:DIR", () => {
  it("reads train / t10k images and labels, gzipped or not, normalised with the training images' statistics", () => {
    const dir = mkdtempSync(join(tmpdir(), "bitspike-idx-"));
    const rng = new Rng(1);
    const px = (n: number): Uint8Array => Uint8Array.from({ length: n * 12 }, () => rng.int(256));
    const trainPx = px(5);
    const testPx = px(3);
    writeFileSync(join(dir, "train-images-idx3-ubyte.gz"), gzipSync(idx([5, 3, 4], trainPx)));
    writeFileSync(join(dir, "train-labels-idx1-ubyte"), idx([5], Uint8Array.of(0, 1, 2, 9, 4)));
    writeFileSync(join(dir, "t10k-images.idx3-ubyte"), idx([3, 3, 4], testPx));
    writeFileSync(join(dir, "t10k-labels.idx1-ubyte.gz"), gzipSync(idx([3], Uint8Array.of(3, 3, 1))));
    const d = loadData(`idx:${dir}`);
    expect(d.train.shape).toEqual([1, 3, 4]);
    expect(d.train.numClasses).toBe(10);
    expect(Array.from(d.test.labels)).toEqual([3, 3, 1]);
    const vals = Array.from(trainPx, (v) => v / 255);
    const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
    const std = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length);
    expect(d.train.mean![0]).toBeCloseTo(mean, 12);
    expect(d.train.std![0]).toBeCloseTo(std, 12);
    expect(d.test.images[5]).toBe(Math.fround((testPx[5]! / 255 - d.train.mean![0]!) / d.train.std![0]!));
  });

  it("refuses a wrong header, a truncated file and mismatched counts, naming the file and byte offset", () => {
    expectBitspikeError(() => parseIdx(Uint8Array.of(1, 2, 3, 4), "a-idx1-ubyte"), "idx", /a-idx1-ubyte: byte offset 0: not an IDX file/);
    expectBitspikeError(() => parseIdx(Uint8Array.of(0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0), "f"), "idx", /f: byte offset 2: dtype code 0xd/);
    expectBitspikeError(() => parseIdx(idx([2, 2, 2], new Uint8Array(7)), "t"), "idx", /t: byte offset 16: sizes \[2, 2, 2\] need 8 bytes of values, the file holds 7/);
    expectBitspikeError(() => parseIdx(gzipSync(idx([2], new Uint8Array(2))).subarray(0, 12), "z.gz"), "idx", /z\.gz: cannot gunzip/);
    const dir = mkdtempSync(join(tmpdir(), "bitspike-idx-"));
    writeFileSync(join(dir, "train-images-idx3-ubyte"), idx([2, 1, 1], new Uint8Array(2)));
    writeFileSync(join(dir, "train-labels-idx1-ubyte"), idx([2], new Uint8Array(2)));
    expectBitspikeError(() => loadData(`idx:${dir}`), "idx", /no t10k-images-idx3-ubyte/);
    writeFileSync(join(dir, "train-labels-idx1-ubyte"), idx([3], new Uint8Array(3)));
    writeFileSync(join(dir, "t10k-images-idx3-ubyte"), idx([1, 1, 1], new Uint8Array(1)));
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte"), idx([1], new Uint8Array(1)));
    expectBitspikeError(() => loadData(`idx:${dir}`), "idx", /train-images-idx3-ubyte holds 2 images but .*train-labels-idx1-ubyte holds 3 labels/);
  });
});
