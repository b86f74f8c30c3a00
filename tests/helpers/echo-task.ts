import { defineTask } from "../../src/parallel/registry.js";

/**
 * A worker task for the pool's tests: writes the first 8 arguments it sees into its buffer 0 (a whole-heap
 * view) from element a[0]. Imported before the pool starts, so the workers load it.
 */
export const OP_ECHO_ARGS = defineTask("test.echoArgs", import.meta.url, (_raw, a, b) => {
  const base = a[0]!;
  for (let j = 0; j < 8; j++) b[0]![base + j] = a[j]!;
});

/** Spins for a[0] microseconds (a part of known length, for the pool's timing tests). */
export const OP_SPIN_US = defineTask("test.spinUs", import.meta.url, (_raw, a) => spinUs(a[0]!));

/** Busy-waits `us` microseconds on this thread. */
export function spinUs(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
}

/** Throws (a registered task that fails, where OP_TEST_THROW is the worker loop's own). */
export const OP_THROWS = defineTask("test.throws", import.meta.url, () => {
  throw new Error("the test task failed");
});
