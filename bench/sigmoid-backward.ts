/**
 * The Spikformer neuron's backward (hard reset, detach_reset, the sigmoid surrogate inlined: one exp per
 * element) on one thread, ns per element, at layer sizes of the e2e workloads. The kernel backend is the
 * environment's: `BITSPIKE_KERNELS=js` for the TypeScript twin, default the WASM one.
 *
 *   npx tsx bench/sigmoid-backward.ts
 */
import { Rng } from "../src/tensor/random.js";
import { hardDetachedBackwardRange, type NeuronKernelParams } from "../src/kernels/neuron/neuron.js";
import { heapArray } from "../src/tensor/heap.js";
import { wordsFor } from "../src/tensor/bits.js";
import { getKernelBackend } from "../src/wasm/backend.js";

const rng = new Rng(3);
/** Median ms of `n` calls after 3 warm-up calls. */
function median(f: () => void, n = 11): number {
  for (let i = 0; i < 3; i++) f();
  const a: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    f();
    a.push(performance.now() - t0);
  }
  return a.sort((x, y) => x - y)[n >> 1]!;
}
console.log(`kernels: ${getKernelBackend()}`);
for (const [steps, rows, cols] of [[4, 2048, 384], [4, 2048, 784]] as const) {
  const n = steps * rows * cols, wpr = wordsFor(cols);
  const p: NeuronKernelParams = {
    steps, rows, cols, leak: 1, tau: 2, k: 0.5, decayInput: true, vTh: 1, vReset: 0, hardReset: true, detachReset: true, f32: true,
  };
  const gS = heapArray(Float32Array, n), h = heapArray(Float32Array, n), gx = heapArray(Float32Array, n);
  for (let i = 0; i < n; i++) {
    gS[i] = rng.uniform() - 0.5;
    h[i] = rng.uniform() * 2 - 0.5;
  }
  const words = heapArray(Uint32Array, steps * rows * wpr);
  for (let i = 0; i < words.length; i++) words[i] = (rng.uniform() * 2 ** 32) >>> 0;
  const gv = new Float64Array(rows * cols);
  const ms = median(() => hardDetachedBackwardRange(gS, h, words, p, 4, gx, gv, 0, rows * wpr));
  console.log(`[${steps}, ${rows}, ${cols}]: ${ms.toFixed(2)} ms, ${((ms * 1e6) / n).toFixed(2)} ns/element`);
}
