/**
 * Events from an event camera as a struct of arrays: event i is (t[i], x[i],
 * y[i], p[i]), sorted by time. Timestamps are integers (microseconds in every
 * format bitspike reads) held in a Float64Array, exact up to 2^53, so formats
 * whose clocks run past 2^32 (AEDAT 3.1's overflow counter) lose nothing.
 */
import { fail } from "../../tensor/errors.js";

/** Events sorted by time; x, y pixel coordinates, p polarity 0 (OFF) or 1 (ON). */
export interface Events {
  t: Float64Array;
  x: Uint16Array;
  y: Uint16Array;
  p: Uint8Array;
}

/** A sensor's width and height in pixels: coordinates are 0 <= x < width, 0 <= y < height. */
export interface Sensor {
  width: number;
  height: number;
}

/** Sensor sizes of the data sets bitspike reads. */
export const SENSORS = {
  nmnist: { width: 34, height: 34 },
  /** The ATIS sensor of N-Caltech101 (SpikingJelly's H, W = 180, 240). */
  ncaltech101: { width: 240, height: 180 },
  dvs128: { width: 128, height: 128 },
} as const satisfies Record<string, Sensor>;

/** Empty event arrays of length n, to be filled. */
export function allocEvents(n: number): Events {
  return { t: new Float64Array(n), x: new Uint16Array(n), y: new Uint16Array(n), p: new Uint8Array(n) };
}

/** Number of events. */
export function eventCount(e: Events): number {
  return e.t.length;
}

/** The first n events (views, no copy). */
export function headEvents(e: Events, n: number): Events {
  return { t: e.t.subarray(0, n), x: e.x.subarray(0, n), y: e.y.subarray(0, n), p: e.p.subarray(0, n) };
}

/** Events [lo, hi) (views, no copy). */
export function sliceEvents(e: Events, lo: number, hi: number): Events {
  return { t: e.t.subarray(lo, hi), x: e.x.subarray(lo, hi), y: e.y.subarray(lo, hi), p: e.p.subarray(lo, hi) };
}

/**
 * The events in time order: returned as they are when already sorted,
 * otherwise a stable sort by t (events of equal time keep their file order,
 * as numpy's stable argsort would).
 */
export function sortByTime(e: Events): Events {
  const n = e.t.length;
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) if (e.t[i]! < e.t[i - 1]!) sorted = false;
  if (sorted) return e;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => e.t[a]! - e.t[b]! || a - b);
  const out = allocEvents(n);
  for (let i = 0; i < n; i++) {
    const j = order[i]!;
    out.t[i] = e.t[j]!;
    out.x[i] = e.x[j]!;
    out.y[i] = e.y[j]!;
    out.p[i] = e.p[j]!;
  }
  return out;
}

/**
 * Refuses the first event outside the sensor; `where(i)` names the file and
 * the byte offset (or array index) of event i in the message.
 */
export function checkOnSensor(op: string, e: Events, sensor: Sensor, where: (i: number) => string): void {
  const n = e.t.length;
  for (let i = 0; i < n; i++) {
    if (e.x[i]! >= sensor.width || e.y[i]! >= sensor.height) {
      fail(op, `${where(i)}: event at x ${e.x[i]}, y ${e.y[i]} is outside the ${sensor.width}x${sensor.height} sensor`);
    }
  }
}

/** The first index whose t is >= v (t sorted). */
export function lowerBound(t: Float64Array, v: number): number {
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
