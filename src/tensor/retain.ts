/**
 * What a scope must keep: the heap arrays reachable from some long-lived
 * roots (a model, its optimizer), found by walking their properties. Walking
 * instead of listing keeps caches a module builds lazily (inside a step) alive
 * too, whatever field holds them. A tensor contributes its data and gradient,
 * never its tape node (the tape of a finished step is what a scope frees).
 */
import { heapScope } from "./heap.js";
import { Spikes } from "./spikes.js";
import { Tensor } from "./tensor.js";

/** Every typed array reachable from `roots` through object fields, arrays, Maps and Sets. */
export function* reachableArrays(roots: readonly unknown[]): Generator<ArrayBufferView> {
  const seen = new Set<object>();
  const stack: unknown[] = [...roots];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== "object" || seen.has(v)) continue;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      yield v;
    } else if (v instanceof Tensor) {
      yield v.data;
      if (v.grad !== null) stack.push(v.grad);
    } else if (v instanceof Spikes) {
      yield v.words;
      if (v.grad !== null) stack.push(v.grad);
    } else if (Array.isArray(v)) {
      for (const x of v) if (x !== null && typeof x === "object") stack.push(x);
    } else if (v instanceof Map) {
      for (const [k, x] of v) stack.push(k, x);
    } else if (v instanceof Set) {
      for (const x of v) stack.push(x);
    } else {
      for (const k of Object.keys(v)) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== null && typeof x === "object") stack.push(x);
      }
    }
  }
}

/**
 * Runs one step of a loop (`fn`) and frees the heap memory it allocated,
 * except what the `roots` (model, optimizer, ...) reach afterwards: the
 * training loop's way to give a step's activations and gradients back at once.
 * A value made inside `fn` and read after it must be reachable from a root or
 * cloned; reading a released one throws rather than returning reused bytes.
 */
export function stepScope<T>(fn: () => T, ...roots: unknown[]): T {
  return heapScope(fn, () => reachableArrays(roots), "released at the end of its step (see stepScope)");
}
