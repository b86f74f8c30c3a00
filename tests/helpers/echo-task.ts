import { defineTask } from "../../src/parallel/registry.js";

/**
 * A worker task for the pool's tests: writes the first 8 arguments it sees into its buffer 0 (a whole-heap
 * view) from element a[0]. Imported before the pool starts, so the workers load it.
 */
export const OP_ECHO_ARGS = defineTask("test.echoArgs", import.meta.url, (_raw, a, b) => {
  const base = a[0]!;
  for (let j = 0; j < 8; j++) b[0]![base + j] = a[j]!;
});
