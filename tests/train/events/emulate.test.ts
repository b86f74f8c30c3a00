/** The event-camera emulator: properties of its events, and its N-MNIST files read back by nmnist:DIR. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { emulateSaccades } from "../../../src/train/data/events/emulate.js";
import { loadData } from "../../../src/train/data/spec.js";
import { runCli } from "../../../src/cli/run.js";

const arbImage = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 64, maxLength: 64 }).map((v) => Float32Array.from(v, (x) => x / 255));

describe("emulateSaccades", () => {
  it("events are sorted, inside the three saccades and the sensor; the closed path gives each pixel as many ON as OFF events", () => {
    fc.assert(fc.property(arbImage, fc.double({ min: 0.1, max: 1, noNaN: true }), (img, threshold) => {
      const e = emulateSaccades(img, 8, 8, { threshold, steps: 5, sensor: { width: 14, height: 14 } });
      const net = new Int32Array(14 * 14);
      let bad = -1;
      for (let i = 0; i < e.t.length; i++) {
        const ok = (i === 0 || e.t[i]! >= e.t[i - 1]!) && e.t[i]! >= 0 && e.t[i]! <= 300_000 && e.x[i]! < 14 && e.y[i]! < 14;
        if (!ok && bad < 0) bad = i;
        net[e.y[i]! * 14 + e.x[i]!]! += e.p[i] ? 1 : -1;
      }
      expect(bad).toBe(-1);
      expect(net.every((v) => v === 0)).toBe(true);
    }), { numRuns: 25, seed: 16 });
  });

  it("a black image gives no events; an edge gives ON events where it brightens and OFF where it darkens", () => {
    expect(emulateSaccades(new Float32Array(64), 8, 8, { steps: 4, sensor: { width: 14, height: 14 } }).t.length).toBe(0);
    // A bright left half moving right (first saccade, x 0 -> 3): ON at sensor x 4..7 where it arrives, OFF at x 0..2 where it leaves.
    const img = Float32Array.from({ length: 64 }, (_, i) => (i % 8 < 4 ? 1 : 0));
    const e = emulateSaccades(img, 8, 8, { steps: 4, sensor: { width: 14, height: 14 } });
    const row = [...e.t.keys()].filter((i) => e.t[i]! < 100_000 && e.y[i]! === 6);
    const on = row.filter((i) => e.x[i]! >= 4 && e.x[i]! <= 7);
    const off = row.filter((i) => e.x[i]! <= 2);
    expect(on.length).toBeGreaterThan(0);
    expect(off.length).toBeGreaterThan(0);
    expect(on.every((i) => e.p[i] === 1) && off.every((i) => e.p[i] === 0)).toBe(true);
  });
});

describe("bitspike emulate", () => {
  it("writes N-MNIST folders that nmnist:DIR reads", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bitspike-emulate-"));
    expect(await runCli(["emulate", "--data", "mnist", "--limit", "3", "--out", dir])).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["Test", "Train"]);
    const d = loadData(`nmnist:${dir}`, 0, { frames: 2, cache: false });
    expect(d.train.labels.length).toBe(3);
    expect(d.test.shape).toEqual([2, 34, 34]);
    expect(d.train.images.some((v) => v > 0)).toBe(true);
  });
});
