import { expect } from "vitest";
import { BitspikeError } from "../../src/tensor/errors.js";

/** Asserts that f throws a BitspikeError naming `op` with a message matching `pattern`. */
export function expectBitspikeError(f: () => unknown, op: string, pattern: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BitspikeError);
    expect((e as BitspikeError).op).toBe(op);
    expect((e as Error).message).toMatch(pattern);
    return;
  }
  throw new Error("expected a BitspikeError");
}
