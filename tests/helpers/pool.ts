import { afterAll, beforeAll, expect } from "vitest";
import { allocFloat, type FloatArray } from "../../src/tensor/tensor.js";
import type { Rng } from "../../src/tensor/random.js";
import { poolInfo, poolReady, setMinWorkPerThread, setThreads, shutdownPool } from "../../src/parallel/pool.js";

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

/** n uniform values in [-scale, scale), float32 or float64, optionally on a SharedArrayBuffer. */
export function randArray(f64: boolean, n: number, rng: Rng, shared: boolean, scale = 1): FloatArray {
  const a = allocFloat(f64 ? "float64" : "float32", n, shared);
  for (let i = 0; i < n; i++) a[i] = (rng.uniform() * 2 - 1) * scale;
  return a;
}
