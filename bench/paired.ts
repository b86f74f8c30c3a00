/**
 * Settings compared pass by pass in one process (bench/knobs.ts, bench/e2e.ts --paired): on a shared VM
 * whose speed swings by 1.5x within minutes, separate runs cannot tell a 3% change (or a thread's
 * speed-up) from the machine, while passes that alternate meet the same drift. Each round runs every
 * setting once, an untimed pass then a timed one, the settings' order turned by one each round, so a drift
 * within a round or a cost that comes every few passes (a garbage collection) falls on every setting alike
 * (four settings alike, CIFAR b8 inference on two threads: in a fixed order the last three read 0.975-0.985x
 * the first in one run of 40 rounds, 0.987-1.015x in two of 30; turned, 0.994-1.023x); a comparison is the
 * median of the rounds' own ratios.
 */
import { minWorkPerThread, setMinWorkPerThread } from "../src/parallel/pool.js";
import { Rng } from "../src/tensor/random.js";
import { stepScope } from "../src/tensor/retain.js";

/** One turn of a comparison: `pass` once untimed, then once timed (each in a step scope keeping `model`); ms. */
export function warmTimedPass(pass: () => void, model: unknown): number {
  stepScope(pass, model);
  const t0 = performance.now();
  stepScope(pass, model);
  return performance.now() - t0;
}

/**
 * Runs `pass` (in a step scope keeping `model`) under each of `settings` in turn, `rounds` times; returns
 * each setting's timed passes, ms, in round order.
 */
export function alternatePasses(pass: () => void, model: unknown, settings: readonly (() => void)[], rounds: number): number[][] {
  const times = settings.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    settings.forEach((_, i) => {
      const j = (i + r) % settings.length;
      settings[j]!();
      times[j]!.push(warmTimedPass(pass, model));
    });
  }
  return times;
}

/** The median of a list (the mean of the middle two for an even count). */
export function medianOf(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("medianOf: no values");
  const s = [...xs].sort((a, b) => a - b), h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

/** The median of the rounds' own ratios num[i] / den[i] (two lists of the same rounds). */
export function pairedMedian(num: readonly number[], den: readonly number[]): number {
  if (num.length !== den.length) throw new Error(`pairedMedian: ${num.length} against ${den.length} rounds`);
  return medianOf(num.map((v, i) => v / den[i]!));
}

/**
 * How far {@link medianOf} `values` could move on another run of as many: the values resampled with
 * replacement `resamples` times (a fixed seed, so the same values give the same interval), the median of each
 * resample, and the central `level` share of those medians (percentile bootstrap). This host's speed drifts
 * for minutes, so its rounds are not independent draws: read the interval as the spread the rounds
 * themselves show, the least uncertainty there is. With four values it is their whole range.
 */
export function medianInterval(values: readonly number[], level = 0.95, resamples = 2000): [number, number] {
  if (values.length === 0) throw new Error("medianInterval: no values");
  if (!(level > 0 && level < 1)) throw new Error(`medianInterval: level must be between 0 and 1, got ${level}`);
  if (!(Number.isInteger(resamples) && resamples >= 1)) throw new Error(`medianInterval: resamples must be an integer >= 1, got ${resamples}`);
  const rng = new Rng(1);
  const pick = new Array<number>(values.length);
  const medians: number[] = [];
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < values.length; i++) pick[i] = values[rng.int(values.length)]!;
    medians.push(medianOf(pick));
  }
  medians.sort((x, y) => x - y);
  const lo = Math.floor(((1 - level) / 2) * resamples);
  const hi = Math.max(lo, Math.ceil(((1 + level) / 2) * resamples) - 1);
  return [medians[lo]!, medians[hi]!];
}

/**
 * {@link medianInterval} of the rounds' own ratios num[i] / den[i]: how far {@link pairedMedian} could move. A
 * ratio whose interval holds 1 (or a target) did not tell the two apart.
 */
export function pairedInterval(num: readonly number[], den: readonly number[], level = 0.95, resamples = 2000): [number, number] {
  if (num.length !== den.length) throw new Error(`pairedInterval: ${num.length} against ${den.length} rounds`);
  return medianInterval(num.map((v, i) => v / den[i]!), level, resamples);
}

/** An interval as the benches print it: "lo-hi", `digits` decimals. */
export function fmtInterval([lo, hi]: readonly [number, number], digits: number): string {
  return `${lo.toFixed(digits)}-${hi.toFixed(digits)}`;
}

// The pool's own threshold, read before anything changes it.
const POOL_MIN_WORK = minWorkPerThread();

/**
 * The pool's splits on (its own threshold) or off: with none worth a thread no op splits, which is a
 * one-thread run's code path with the worker asleep, so a two-thread pool times "one thread" in the same process.
 */
export function setSplits(on: boolean): void {
  setMinWorkPerThread(on ? POOL_MIN_WORK : Infinity);
}
