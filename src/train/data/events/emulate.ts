/**
 * An event-camera emulator for static images, after the N-MNIST recording
 * (Orchard et al. 2015): the image sits on a 34x34 sensor (28x28 digits with
 * 3 pixels of margin) and moves along three saccades that trace a triangle
 * (offsets (0, 0) -> (3, 6) -> (6, 0) -> (0, 0) pixels, 100 ms each); each
 * pixel keeps the log intensity of its last event and emits an event each
 * time the log intensity has moved by the contrast threshold since, ON (p 1)
 * for an increase, OFF (p 0) for a decrease, at the time the linearly
 * interpolated log intensity crosses the level. Deterministic: no noise.
 */
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fail } from "../../../tensor/errors.js";
import { makeOutputDir } from "../../../io/files.js";
import { serializeAtisBin } from "../../../io/events/atis.js";
import { allocEvents, headEvents, sortByTime, type Events, type Sensor } from "../../../io/events/events.js";
import type { Dataset } from "../dataset.js";

/** Options of the emulator. */
export interface EmulatorOptions {
  /** Contrast threshold in log intensity (default 0.6: about 4,400 events a MNIST digit). */
  threshold?: number;
  /** Time steps a saccade is sampled at (default 25: 4 ms apart). */
  steps?: number;
  /** Duration of a saccade in microseconds (default 100,000). */
  saccadeUs?: number;
  /** Intensity of black: log(floor + v) keeps black finite (default 0.05). */
  floor?: number;
  /** Sensor size (default 34 x 34, N-MNIST's). */
  sensor?: Sensor;
}

/** The saccade path's corners in pixels (x, y): an isosceles triangle, back to the start. */
export const SACCADE_CORNERS: readonly (readonly [number, number])[] = [[0, 0], [3, 6], [6, 0], [0, 0]];

/** Bilinear sample of `img` (H x W, values in [0, 1], 0 outside) at (x, y). */
function sample(img: Float32Array, H: number, W: number, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const at = (yy: number, xx: number): number => (yy >= 0 && yy < H && xx >= 0 && xx < W ? img[yy * W + xx]! : 0);
  return (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
}

/** The events one grey image ([H, W], values in [0, 1]) gives over the three saccades, sorted by time. */
export function emulateSaccades(img: Float32Array, H: number, W: number, opts: EmulatorOptions = {}): Events {
  const C = opts.threshold ?? 0.6;
  const steps = opts.steps ?? 25;
  const dur = opts.saccadeUs ?? 100_000;
  const floor = opts.floor ?? 0.05;
  const sensor = opts.sensor ?? { width: 34, height: 34 };
  if (!(C > 0) || !Number.isInteger(steps) || steps < 1 || !(dur >= steps) || !(floor > 0)) fail("emulate", `threshold ${C} and floor ${floor} must be > 0, steps ${steps} an integer >= 1, saccadeUs ${dur} >= steps`);
  if (img.length !== H * W) fail("emulate", `image has ${img.length} values, ${H}x${W} needs ${H * W}`);
  const { width: SW, height: SH } = sensor;
  // The image's top-left corner at offset (0, 0): centred with the path's extent as margin.
  const baseX = (SW - W - 6) / 2;
  const baseY = (SH - H - 6) / 2;
  const frame = (ox: number, oy: number, out: Float64Array): void => {
    for (let y = 0; y < SH; y++) for (let x = 0; x < SW; x++) out[y * SW + x] = Math.log(floor + sample(img, H, W, x - baseX - ox, y - baseY - oy));
  };
  // A pixel's reference is base + level C with an integer level, so returning to the start returns it exactly (no drift from adding C).
  const base = new Float64Array(SW * SH);
  const level = new Int32Array(SW * SH);
  const prev = new Float64Array(SW * SH);
  const cur = new Float64Array(SW * SH);
  frame(0, 0, base);
  prev.set(base);
  let e = allocEvents(4096);
  let n = 0;
  const push = (t: number, x: number, y: number, p: number): void => {
    if (n === e.t.length) {
      const grown = allocEvents(2 * n);
      grown.t.set(e.t); grown.x.set(e.x); grown.y.set(e.y); grown.p.set(e.p);
      e = grown;
    }
    e.t[n] = t; e.x[n] = x; e.y[n] = y; e.p[n] = p;
    n++;
  };
  const dt = dur / steps;
  for (let s = 0; s < 3; s++) {
    const [ax, ay] = SACCADE_CORNERS[s]!;
    const [bx, by] = SACCADE_CORNERS[s + 1]!;
    for (let k = 1; k <= steps; k++) {
      const f = k / steps;
      frame(ax + (bx - ax) * f, ay + (by - ay) * f, cur);
      const t0 = s * dur + (k - 1) * dt;
      for (let i = 0; i < cur.length; i++) {
        const a = prev[i]!;
        const b = cur[i]!;
        // Each crossing of ref +- C, at the time the straight line from a to b reaches it.
        while (b - base[i]! >= (level[i]! + 1) * C) {
          const ref = base[i]! + ++level[i]! * C;
          push(Math.floor(t0 + dt * Math.min(1, Math.max(0, (ref - a) / (b - a)))), i % SW, Math.floor(i / SW), 1);
        }
        while (base[i]! - b >= (1 - level[i]!) * C) {
          const ref = base[i]! + --level[i]! * C;
          push(Math.floor(t0 + dt * Math.min(1, Math.max(0, (a - ref) / (a - b)))), i % SW, Math.floor(i / SW), 0);
        }
      }
      prev.set(cur);
    }
  }
  return sortByTime(headEvents(e, n));
}

/** The grey [H, W] images of a data set, in [0, 1]: normalisation undone, channels averaged. */
export function greyImages(d: Dataset): { images: Float32Array; H: number; W: number } {
  const [C, H, W] = d.shape;
  if (d.frames !== undefined) fail("emulate", "the data set already holds event frames");
  const N = d.labels.length;
  const out = new Float32Array(N * H * W);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
    const m = d.mean?.[c] ?? 0;
    const s = d.std?.[c] ?? 1;
    for (let k = 0; k < H * W; k++) out[n * H * W + k]! += Math.min(1, Math.max(0, d.images[(n * C + c) * H * W + k]! * s + m)) / C;
  }
  return { images: out, H, W };
}

/**
 * Writes the emulated recordings of `train` and `test` as N-MNIST does:
 * DIR/Train/<label>/NNNNN.bin and DIR/Test/<label>/NNNNN.bin. Returns the
 * events a sample, per split.
 */
export function writeEmulatedNmnist(dir: string, splits: { train: Dataset; test: Dataset }, opts: EmulatorOptions = {}, onSample?: (done: number, total: number) => void): { train: number[]; test: number[] } {
  const counts = { train: [] as number[], test: [] as number[] };
  const total = splits.train.labels.length + splits.test.labels.length;
  let done = 0;
  for (const [name, key] of [["Train", "train"], ["Test", "test"]] as const) {
    const d = splits[key];
    const { images, H, W } = greyImages(d);
    const made = new Set<number>();
    for (let i = 0; i < d.labels.length; i++) {
      const label = d.labels[i]!;
      const folder = join(dir, name, String(label));
      if (!made.has(label)) {
        makeOutputDir("emulate", folder);
        made.add(label);
      }
      const ev = emulateSaccades(images.subarray(i * H * W, (i + 1) * H * W), H, W, opts);
      // Temporary file then rename: a killed run never leaves a half-written recording (no fsync: 10,000 of them would take minutes).
      const path = join(folder, `${String(i).padStart(5, "0")}.bin`);
      try {
        writeFileSync(`${path}.tmp`, serializeAtisBin(ev));
        renameSync(`${path}.tmp`, path);
      } catch (e) {
        fail("emulate", `cannot write ${path}: ${(e as Error).message}`);
      }
      counts[key].push(ev.t.length);
      onSample?.(++done, total);
    }
  }
  return counts;
}
