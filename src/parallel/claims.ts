/**
 * Work the threads of one call claim as they go (guided self-scheduling): the units (rows) are cut into
 * chunks once, by the calling thread, and each thread takes the next unclaimed chunk with one atomic add
 * until none is left. A static split waits for the slower part; here a thread that finishes early takes
 * the chunks the other has not reached, so only the last small chunk can leave a thread idle. Each unit is
 * still computed whole by one thread, whichever it is, so the results do not depend on who claimed what.
 *
 * The schedule lives in the heap, which every worker shares (an op passes its int32 index as a task
 * argument: an element index stays below 2^31, as task arguments must): [next chunk, chunk count, cut 0, cut 1,
 * ..., cut count].
 */
import { heapI32, Scratch } from "../tensor/heap.js";
import { runParts, withBeside, type Part } from "./pool.js";

/** The unit ranges a thread computes, as it claims them: calls `f(u0, u1)` for each. */
export type UnitRanges = (f: (u0: number, u1: number) => void) => void;

/** Most chunks a schedule holds (the board's size). */
const MAX_CHUNKS = 60;

/**
 * The share of the units in the first `parts` chunks (one a thread); the rest goes in chunks of half the
 * remainder over the threads each, down to the smallest chunk, which is how far apart the threads can end.
 * With units of differing costs (the time steps' rows fire at different rates), a thread that drew the
 * cheaper first chunk takes more of the rest.
 */
const FIRST_SHARE = 0.75;

/**
 * Chunk boundaries 0 = c[0] < c[1] < ... < c[last] = units for `parts` threads: the first `parts` chunks
 * hold FIRST_SHARE of the units between them, then each chunk half of what is left over the threads,
 * until chunks would be smaller than `minUnits` units. At most MAX_CHUNKS chunks.
 */
export function claimCuts(units: number, parts: number, minUnits: number): number[] {
  const least = Math.max(1, minUnits);
  const ends: number[] = [];
  for (let j = 1; j <= parts; j++) ends.push((j * FIRST_SHARE * units) / parts);
  for (let left = units - ends[parts - 1]!; left > least && ends.length < MAX_CHUNKS - 1;) {
    left -= Math.max(least, left / (2 * parts));
    ends.push(units - left);
  }
  const cuts = [0];
  for (const e of ends) {
    const at = Math.round(e);
    if (at - cuts[cuts.length - 1]! >= least && units - at >= least) cuts.push(at);
  }
  cuts.push(units);
  return cuts;
}

const board = new Scratch();

/**
 * Posts the schedule `cuts` (from {@link claimCuts}) for the threads of the next call: returns its int32
 * index in the heap (never 0), which the workers' tasks receive (see {@link claimedRanges}). The calling
 * thread posts it before it dispatches the parts; the board is reused by the next call, after these parts
 * have finished.
 */
export function postClaims(cuts: readonly number[]): number {
  const chunks = cuts.length - 1;
  if (chunks < 1 || chunks > MAX_CHUNKS) throw new Error(`postClaims: ${chunks} chunks, expected 1 to ${MAX_CHUNKS}`);
  const b = board.take(4 * (MAX_CHUNKS + 3)) / 4;
  const i32 = heapI32();
  i32[b + 1] = chunks;
  for (let j = 0; j <= chunks; j++) i32[b + 2 + j] = cuts[j]!;
  Atomics.store(i32, b, 0);
  return b;
}

/** The ranges this thread claims from the schedule posted at int32 index `b` of the heap, in claim order. */
export function claimedRanges(b: number): UnitRanges {
  return (f) => {
    for (;;) {
      // The heap may grow while a chunk runs: take the view again each time.
      const i32 = heapI32();
      const j = Atomics.add(i32, b, 1);
      if (j >= i32[b + 1]!) return;
      f(i32[b + 2 + j]!, i32[b + 3 + j]!);
    }
  };
}

/**
 * Runs `units` claimed in chunks (at least `minUnits` each) by `parts` threads: posts the schedule, hands
 * each of the parts - 1 workers the task `job(at)` (whose body claims from `at` with {@link claimedRanges})
 * and runs `local` on the calling thread's claims. A part offered by runBeside (./pool.ts) runs first on the
 * first worker, which then claims what is left.
 */
export function runClaimed(
  op: string, units: number, parts: number, minUnits: number, job: (at: number) => Part, local: (ranges: UnitRanges) => void,
): void {
  const at = postClaims(claimCuts(units, parts, minUnits));
  const jobs = new Array<Part>(parts - 1).fill(job(at));
  jobs[0] = withBeside(jobs[0]!);
  runParts(op, jobs, () => local(claimedRanges(at)));
}

/** The units [u0, u1) in one range: a call that runs on one thread. */
export function unitRange(u0: number, u1: number): UnitRanges {
  return (f) => {
    if (u1 > u0) f(u0, u1);
  };
}
