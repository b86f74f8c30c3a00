/**
 * Inference frees as it goes. Under noGrad nothing is saved for a backward,
 * so what a layer made on the way to its output is garbage the moment the
 * output exists: a model wraps its stages in {@link inferenceScope}, and the
 * peak memory of a forward pass becomes a few layers' worth instead of all of
 * them. With the tape recording this does nothing (backward needs them).
 */
import { isGradEnabled } from "../autograd/tape.js";
import { freeArray, freeBlock, heapScope } from "../tensor/heap.js";
import { reachableArrays } from "../tensor/retain.js";
import { Spikes } from "../tensor/spikes.js";
import type { Tensor } from "../tensor/tensor.js";

/**
 * Runs `fn` (one stage of a forward pass) and, when no gradient is being
 * recorded, frees everything it allocated except its result (or results) and what `owners`
 * (the modules involved: their parameters, buffers and caches) reach.
 */
export function inferenceScope<T extends Tensor | Spikes | readonly (Tensor | Spikes)[]>(fn: () => T, ...owners: unknown[]): T {
  if (isGradEnabled()) return fn();
  let out: T | null = null;
  return heapScope(
    () => (out = fn()),
    () => [...(out === null ? [] : Array.isArray(out) ? out : [out as Tensor | Spikes]).map(dataOf), ...reachableArrays(owners)],
    "released after its layer in an inference pass (see inferenceScope)",
  );
}

const dataOf = (v: Tensor | Spikes): ArrayBufferView => (v instanceof Spikes ? v.words : v.data);

/** Frees `dead`'s memory unless `live` views the same bytes (a layer may hand its input on). */
export function releaseUnlessShared(dead: Tensor | Spikes, live: Tensor | Spikes, why: string): void {
  const a = dataOf(dead), b = dataOf(live);
  if (a.buffer !== b.buffer || a.byteOffset !== b.byteOffset) freeArray(a, why);
}

/**
 * Frees values a layer knows to be dead while it trains: intermediates whose
 * only consumers are ops that saved none of them for the backward (add,
 * permute, a copy, a neuron without PLIF), held by nobody else. Their tape
 * nodes stay (backward needs no values from them, and skips releasing them
 * again); a value whose block `live` shares (a view handed on) is kept.
 * Lowers a training step's peak by what the backward would only have freed.
 */
export function releaseDead(live: Tensor | Spikes, ...dead: (Tensor | Spikes)[]): void {
  for (const d of dead) {
    const b = d.heapBlock;
    if (b !== null && b.live && b !== live.heapBlock) freeBlock(b, "released by its layer (no backward reads it; see releaseDead)");
  }
}
