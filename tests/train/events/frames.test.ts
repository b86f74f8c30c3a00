/**
 * Frames equal SpikingJelly's integration bit for bit: a golden fixture made by
 * its own numpy functions (scripts/fixtures/event-frames.py), split by number
 * and by time for T in {1, 4, 16} with event counts not divisible by T, and
 * fixed-duration frames. Plus the properties that hold for any events.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { binariseFrames, frameRanges, framesByCount, framesByDuration } from "../../../src/train/data/events/frames.js";
import type { Events } from "../../../src/io/events/events.js";
import { arbEvents } from "../../helpers/event-writers.js";

interface Case {
  kind: "number" | "time" | "duration";
  T?: number;
  duration?: number;
  events: { t: number[]; x: number[]; y: number[]; p: number[] };
  frames: number[];
  shape: number[];
}
const golden = JSON.parse(readFileSync(new URL("../../fixtures/events/frames.json", import.meta.url), "utf8")) as { height: number; width: number; cases: Case[] };

const toEvents = (e: Case["events"]): Events => ({ t: Float64Array.from(e.t), x: Uint16Array.from(e.x), y: Uint16Array.from(e.y), p: Uint8Array.from(e.p) });

describe("frames equal SpikingJelly's integration (golden fixture)", () => {
  const sensor = { width: golden.width, height: golden.height };
  it("covers split by number and time, T 1 / 4 / 16 with N not divisible by T, and fixed durations", () => {
    const kinds = new Set(golden.cases.map((c) => `${c.kind}${c.T ?? ""}`));
    for (const k of ["number1", "number4", "number16", "time1", "time4", "time16", "duration"]) expect(kinds.has(k)).toBe(true);
    for (const c of golden.cases) if (c.T) expect(c.events.t.length % c.T === 0 && c.T > 1).toBe(false);
  });
  for (const c of golden.cases) {
    const label = c.kind === "duration" ? `duration ${c.duration}` : `split by ${c.kind}, T ${c.T}`;
    it(`${label}, ${c.events.t.length} events`, () => {
      const e = toEvents(c.events);
      const f = c.kind === "duration" ? framesByDuration(e, c.duration!, sensor) : framesByCount(e, c.kind, c.T!, sensor);
      expect([f.T, 2, f.height, f.width]).toEqual(c.shape);
      expect(Array.from(f.data)).toEqual(c.frames);
    });
  }
});

describe("frame properties", () => {
  const sensor = { width: 6, height: 4 };
  it("every event lands in exactly one frame, in time order, for both splits and any T (0 and 1 events included)", () => {
    fc.assert(fc.property(arbEvents(6, 4, 5000, 80), fc.integer({ min: 1, max: 20 }), fc.constantFrom("number" as const, "time" as const), (e, T, by) => {
      const f = framesByCount(e, by, T, sensor);
      expect(f.data.reduce((s, v) => s + v, 0)).toBe(e.t.length);
      const { lo, hi } = frameRanges(e, by, T);
      // Consecutive frames tile 0..N.
      expect(lo[0]).toBe(0);
      for (let j = 1; j < T; j++) expect(lo[j]).toBe(hi[j - 1]);
      expect(hi[T - 1]).toBe(e.t.length);
    }), { numRuns: 100, seed: 16 });
  });

  it("fixed durations tile the recording with at least one frame; binarised frames are 0 / 1", () => {
    fc.assert(fc.property(arbEvents(6, 4, 5000, 80), fc.integer({ min: 1, max: 3000 }), (e, d) => {
      const f = framesByDuration(e, d, sensor);
      expect(f.T).toBeGreaterThanOrEqual(1);
      expect(f.data.reduce((s, v) => s + v, 0)).toBe(e.t.length);
      const b = binariseFrames(f.data.slice());
      expect(b.every((v, i) => v === (f.data[i] ? 1 : 0))).toBe(true);
    }), { numRuns: 100, seed: 17 });
  });

  it("refuses a frame count or duration that is not a positive integer", () => {
    const e: Events = { t: Float64Array.of(1), x: Uint16Array.of(0), y: Uint16Array.of(0), p: Uint8Array.of(0) };
    expect(() => framesByCount(e, "number", 0, sensor)).toThrow(/frames: the number of frames must be an integer >= 1, got 0/);
    expect(() => framesByDuration(e, 1.5, sensor)).toThrow(/duration must be an integer >= 1/);
  });
});
