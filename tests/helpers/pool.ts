import { afterAll, beforeAll, expect } from "vitest";
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
