/**
 * The AdamW update (src/kernels/optim/) on float32 heap arrays of the sizes a step updates: the main
 * job's Spikformer-1-96 (252,574 parameters, its largest tensor 82,944) and a 384 x 1536 weight of
 * Spikformer-4-384 (9.3 million in all): ns a parameter of the plain loop (the update before it had
 * twins, the constants hoisted), the WASM twin on one thread, and the threaded twin on 1 and 2 threads and as the pool splits it,
 * each the median of 15 alternating runs; the ratios are against the plain loop in the same run.
 * `npm run bench -- optim`.
 */
import { adamwRangeReference, adamwRangeWasm, type AdamWStep } from "../src/kernels/optim/adamw.js";
import { adamwThreads } from "../src/kernels/optim/threads.js";
import { heapArray } from "../src/tensor/heap.js";
import { Rng } from "../src/tensor/random.js";
import { poolReady, setThreads, shutdownPool } from "../src/parallel/pool.js";
import { wasmSimdAvailable } from "../src/wasm/backend.js";

setThreads(2);
await poolReady();
const rng = new Rng(1);
const s: AdamWStep = { b1: 0.9, b2: 0.999, decay: 1 - 5e-3 * 0.01, stepSize: 5e-3 / (1 - 0.9 ** 100), sqrtBc2: Math.sqrt(1 - 0.999 ** 100), eps: 1e-8 };
type Form = [string, (p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array) => void];
const wasmForm: Form[] = wasmSimdAvailable() ? [["WASM twin", (p, g, m, v) => adamwRangeWasm(p, g, m, v, s, 0, p.length)]] : [];
const forms: Form[] = [
  ["plain loop", (p, g, m, v) => adamwRangeReference(p, g, m, v, s, 0, p.length)],
  ...wasmForm,
  ["threads 1", (p, g, m, v) => adamwThreads(p, g, m, v, s, 1)],
  ["threads 2", (p, g, m, v) => adamwThreads(p, g, m, v, s, 2)],
  ["the pool's choice", (p, g, m, v) => adamwThreads(p, g, m, v, s)],
];
console.log("AdamW update, float32 heap arrays, ns a parameter (median of 15 alternating runs; ratio: the plain loop's time over the form's)");
for (const [label, n] of [["main job's largest tensor", 82_944], ["Spikformer-4-384 MLP weight", 589_824]] as const) {
  const make = (positive: boolean) => {
    const a = heapArray(Float32Array, n);
    for (let i = 0; i < n; i++) a[i] = positive ? rng.uniform() * 1e-4 : rng.uniform() - 0.5;
    return a;
  };
  const p = make(false), g = make(false), m = make(false), v = make(true);
  const times = forms.map(() => [] as number[]);
  for (let r = 0; r < 16; r++) {
    forms.forEach(([, f], j) => {
      const t0 = performance.now();
      f(p, g, m, v);
      if (r > 0) times[j]!.push(performance.now() - t0);
    });
  }
  const med = times.map((t) => [...t].sort((a, b) => a - b)[t.length >> 1]!);
  console.log(`${label} (${n.toLocaleString("en-US")}): ` + forms.map(([name], j) => `${name} ${((med[j]! * 1e6) / n).toFixed(2)} ns (${(med[0]! / med[j]!).toFixed(2)}x)`).join(", "));
}
await shutdownPool();
