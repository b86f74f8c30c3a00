import { afterAll, beforeAll, expect } from "vitest";
import fc from "fast-check";
import { poolInfo, poolReady, setMinWorkPerThread, setThreads, shutdownPool } from "../../src/parallel/pool.js";
import { setThreadSpeeds } from "../../src/parallel/speeds.js";

/**
 * For a test file of threaded twins: a pool of `threads` threads that splits
 * even tiny problems (so ragged splits get exercised), stopped after the file.
 */
export function useSplittingPool(threads = 3): void {
  let oldMin = 0;
  beforeAll(async () => {
    setThreads(threads);
    // Workers must start here (under vitest's forks, from TypeScript sources).
    expect(await poolReady()).toBe(threads);
    expect(poolInfo().disabled).toBeNull();
    oldMin = setMinWorkPerThread(1);
  });
  afterAll(async () => {
    setMinWorkPerThread(oldMin);
    await shutdownPool();
  });
}

/**
 * Thread speeds for the static splits' cuts (the calling thread's first): null (learned, about even in
 * tests), or fixed skews that move every cut far from even; a threaded twin's bits must not move with them.
 */
export const SKEWED_SPEEDS: readonly (readonly number[] | null)[] = [null, [1, 4, 0.25], [5, 1, 2]];

/** One of {@link SKEWED_SPEEDS}, for a property's cases. */
export const skewedSpeeds = fc.constantFrom(...SKEWED_SPEEDS);

/** Runs `f` with the pool's cuts at `speeds` (setThreadSpeeds), then goes back to learned speeds. */
export function withSpeeds<T>(speeds: readonly number[] | null, f: () => T): T {
  setThreadSpeeds(speeds);
  try {
    return f();
  } finally {
    setThreadSpeeds(null);
  }
}
