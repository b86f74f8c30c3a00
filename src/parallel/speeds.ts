/**
 * How fast each pool worker runs its parts against the calling thread, learned from the part times of the
 * statically split calls. On a VM the host gives the two vCPUs unequal shares that change from second to
 * second (bench/vcpu-speed.ts): in one CIFAR b8 training step every counts weight gradient ran its half 1.5x
 * slower on the calling thread than on the worker (18.2 / 11.7 ms), in the next step after its first call the
 * other way round (11.5 / 17.1), in a later one even (11.3 / 11.5); an even split then waits on the slower thread for a third
 * of its part. Cut in proportion to the learned speeds ({@link partShares} in ./pool.ts), the parts end
 * nearer together. Only where the cuts fall moves: each unit is still computed whole by one thread, in the
 * same order, so the bits do not.
 */
import { fail } from "../tensor/errors.js";

/**
 * A worker's speed is the median of what its last SEEN calls showed: one call whose thread the host
 * paused for 10-20 ms (a few a step) then moves no cut, and a change of the host's shares is followed
 * within two calls.
 */
const SEEN = 3;
/** Calls whose shorter part took less than this, ms, teach nothing (their times are the clock's and the dispatch's noise). */
const MIN_MS = 1;
/** No thread is taken as more than this many times faster or slower than the calling thread. */
const MAX_RATIO = 4;

/** The last SEEN log speeds each worker (by its pool index) showed over the calling thread's, oldest first. */
const seen = new Map<number, number[]>();
/** Speeds set by {@link setThreadSpeeds} (by part: the calling thread first), or null: learned. */
let fixed: readonly number[] | null = null;

/** A worker's part of a call, for {@link learnSpeeds}: its pool index, its cost and how long it took, ms. */
export interface PartTime {
  index: number;
  cost: number;
  ms: number;
}

/** The speed to give part `part` (0: the calling thread) run by worker `index` (ignored for part 0). */
export function threadSpeed(part: number, index: number): number {
  if (fixed !== null) return fixed[Math.min(part, fixed.length - 1)]!;
  if (part === 0) return 1;
  const last = seen.get(index);
  return last === undefined ? 1 : Math.exp(medianOf(last));
}

function medianOf(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b), h = s.length >> 1;
  return s.length % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/**
 * Learns from one call: the calling thread's part cost `callerCost` (in the split's own units) and took
 * `callerMs`; each worker's part as given. A worker's speed is its cost per ms over the calling thread's.
 */
export function learnSpeeds(callerCost: number, callerMs: number, workers: readonly PartTime[]): void {
  if (!(callerCost > 0) || !(callerMs >= MIN_MS)) return;
  const callerRate = callerCost / callerMs;
  const bound = Math.log(MAX_RATIO);
  for (const w of workers) {
    if (!(w.cost > 0) || !(w.ms >= MIN_MS)) continue;
    let last = seen.get(w.index);
    if (last === undefined) seen.set(w.index, (last = []));
    last.push(Math.max(-bound, Math.min(bound, Math.log(w.cost / w.ms / callerRate))));
    if (last.length > SEEN) last.shift();
  }
}

/**
 * Fixes the speeds the cuts use (by part, the calling thread first; the last repeats for further parts), or
 * with null goes back to the learned ones (which keep learning meanwhile). Tests skew the splits with it;
 * benches compare learned speeds against even splits ([1]).
 */
export function setThreadSpeeds(speeds: readonly number[] | null): void {
  if (speeds !== null && (speeds.length === 0 || speeds.some((s) => !(s > 0 && s < Infinity)))) {
    fail("setThreadSpeeds", `speeds must be finite and > 0, got [${speeds.join(", ")}]`);
  }
  fixed = speeds === null ? null : [...speeds];
}
