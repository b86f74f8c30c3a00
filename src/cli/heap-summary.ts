import { heapStats } from "../tensor/heap.js";

const mb = (b: number): string => `${(b / 1e6).toFixed(0)} MB`;

/** One line for a run's summary: the heap's peak of live tensor memory, its size, and bytes kernels had to stage. */
export function heapSummary(): string {
  const h = heapStats();
  return `memory: peak ${mb(h.peakBytes)} of tensors live in the heap (heap ${mb(h.heapBytes)}), ${mb(h.stagedBytes)} staged by kernels`;
}
