/**
 * Events to frames, as SpikingJelly integrates them
 * (`spikingjelly.datasets.utils`): each frame is a [2, H, W] image counting
 * the events of each polarity (channel 1: p != 0) at each pixel.
 *
 * - split_by "number": frame j holds events [floor(N/T) j, floor(N/T) (j+1)),
 *   the last frame runs to N.
 * - split_by "time": dt = floor((t_last - t_first) / T); frame j holds the
 *   events with t_first + dt j <= t < t_first + dt (j+1), the last frame runs
 *   to N.
 * - fixed duration: frame i holds floor((t - t_min) / d) == i, for
 *   ceil((t_last - t_min) / d) frames, the last one taking the rest.
 *
 * Where SpikingJelly raises instead (no events, an empty time window, a
 * recording shorter than one duration) bitspike gives the frames the formulas
 * define: empty windows are empty frames, and a fixed-duration recording has
 * at least one frame.
 */
import { fail } from "../../../tensor/errors.js";
import { lowerBound, type Events, type Sensor } from "../../../io/events/events.js";

/** How `framesByCount` cuts a recording into T frames. */
export type SplitBy = "number" | "time";

/** Frames [T, 2, H, W] as float32 counts. */
export interface Frames {
  data: Float32Array;
  T: number;
  height: number;
  width: number;
}

/** Adds events [lo, hi) into frame `j` of `out`. */
function integrate(e: Events, lo: number, hi: number, out: Float32Array, j: number, sensor: Sensor): void {
  const plane = sensor.width * sensor.height;
  const base = j * 2 * plane;
  for (let i = lo; i < hi; i++) {
    // An event off the frame would land in another pixel or nowhere: a wrong frame, so refuse it.
    if (e.x[i]! >= sensor.width || e.y[i]! >= sensor.height) fail("frames", `event ${i} at x ${e.x[i]}, y ${e.y[i]} is outside the ${sensor.width}x${sensor.height} frame`);
    out[base + (e.p[i] ? plane : 0) + e.y[i]! * sensor.width + e.x[i]!]! += 1;
  }
}

function checkT(op: string, T: number): void {
  if (!Number.isSafeInteger(T) || T < 1) fail(op, `the number of frames must be an integer >= 1, got ${T}`);
}

/** The [lo, hi) event ranges of the T frames (SpikingJelly's cal_fixed_frames_number_segment_index). */
export function frameRanges(e: Events, splitBy: SplitBy, T: number): { lo: Int32Array; hi: Int32Array } {
  checkT("frames", T);
  const N = e.t.length;
  const lo = new Int32Array(T);
  const hi = new Int32Array(T);
  if (splitBy === "number") {
    const di = Math.floor(N / T);
    for (let j = 0; j < T; j++) {
      lo[j] = j * di;
      hi[j] = (j + 1) * di;
    }
  } else if (splitBy === "time") {
    if (N > 0) {
      const t0 = e.t[0]!;
      const dt = Math.floor((e.t[N - 1]! - t0) / T);
      for (let j = 0; j < T; j++) {
        lo[j] = lowerBound(e.t, t0 + dt * j);
        hi[j] = lowerBound(e.t, t0 + dt * (j + 1));
      }
    }
  } else {
    fail("frames", `split_by must be "number" or "time", got ${JSON.stringify(splitBy)}`);
  }
  hi[T - 1] = N;
  return { lo, hi };
}

/** T frames of a recording, split by event number or by time (see the module comment). */
export function framesByCount(e: Events, splitBy: SplitBy, T: number, sensor: Sensor): Frames {
  const { lo, hi } = frameRanges(e, splitBy, T);
  const data = new Float32Array(T * 2 * sensor.height * sensor.width);
  for (let j = 0; j < T; j++) integrate(e, lo[j]!, hi[j]!, data, j, sensor);
  return { data, T, height: sensor.height, width: sensor.width };
}

/** Frames of `duration` time units each (SpikingJelly's integrate_events_by_fixed_duration); at least one. */
export function framesByDuration(e: Events, duration: number, sensor: Sensor): Frames {
  if (!Number.isSafeInteger(duration) || duration < 1) fail("frames", `the frame duration must be an integer >= 1, got ${duration}`);
  const N = e.t.length;
  let tMin = Infinity;
  for (let i = 0; i < N; i++) tMin = Math.min(tMin, e.t[i]!);
  const T = N ? Math.max(1, Math.ceil((e.t[N - 1]! - tMin) / duration)) : 1;
  const data = new Float32Array(T * 2 * sensor.height * sensor.width);
  let left = 0;
  for (let j = 0; j < T - 1; j++) {
    // The first event whose frame index floor((t - tMin) / d) reaches j + 1.
    const right = lowerBound(e.t, tMin + (j + 1) * duration);
    integrate(e, left, right, data, j, sensor);
    left = right;
  }
  integrate(e, left, N, data, T - 1, sensor);
  return { data, T, height: sensor.height, width: sensor.width };
}

/** Sets every non-zero count to 1, in place (binary frames). */
export function binariseFrames(data: Float32Array): Float32Array {
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) data[i] = 1;
  return data;
}
