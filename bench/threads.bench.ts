/**
 * Threaded twins against the single-thread kernels, 1 vs 2 threads: gemm
 * 512^3 and 1024^3 (float32, operands on plain ArrayBuffers, so the copies into
 * shared scratch are included), and conv2d [32, 48, 32, 32] -> 96, 3x3, pad 1,
 * forward + backward (input, weight and bias gradients). Also times the copies
 * into shared scratch alone, to show they are small next to the compute.
 * Run: npx tsx bench/threads.bench.ts
 */
import b from "benny";
import { Tensor } from "../src/tensor/tensor.js";
import { Rng } from "../src/tensor/random.js";
import { gemm } from "../src/kernels/gemm/gemm.js";
import { gemmThreads } from "../src/kernels/gemm/threads.js";
import { poolReady, scratchViews, setMinWorkPerThread, setThreads, shutdownPool } from "../src/parallel/pool.js";
import { conv2d } from "../src/ops/conv.js";
import { sum } from "../src/ops/reduce.js";
import { backward } from "../src/autograd/tape.js";

const rng = new Rng(7);
const opts = { minSamples: 5, maxTime: 3 };
const lines: string[] = [];
const rand = (n: number): Float32Array => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform() * 2 - 1;
  return a;
};
const complete = (what: string) => b.complete((s) => {
  const med = Object.fromEntries(s.results.map((r) => [r.name, r.details.median * 1000]));
  const names = Object.keys(med);
  lines.push(`${what}: ${names.map((n) => `${n} ${med[n]!.toFixed(1)} ms`).join(", ")}; speed-up ${(med[names[0]!]! / med[names[1]!]!).toFixed(2)}x`);
});

setThreads(2);
const usable = await poolReady();
console.log(`usable threads: ${usable}`);

for (const s of [512, 1024]) {
  const a = rand(s * s), bb = rand(s * s), c = new Float32Array(s * s);
  await b.suite(
    `gemm ${s}x${s}x${s} float32`,
    b.add("1 thread (gemm)", () => { gemm(a, 0, false, bb, 0, false, c, 0, s, s, s, false); }, opts),
    b.add("2 threads (gemmThreads)", () => { gemmThreads(a, 0, false, bb, 0, false, c, 0, s, s, s, false, 2); }, opts),
    b.add("copies alone (A half, B, C half)", () => {
      const [sa, sb, sc] = scratchViews([[false, (s * s) / 2], [false, s * s], [false, (s * s) / 2]]);
      sa!.set(a.subarray(0, (s * s) / 2)); sb!.set(bb); c.set(sc!, 0);
    }, opts),
    b.cycle(),
    complete(`gemm ${s}^3`),
  );
}

const x = Tensor.uniform([32, 48, 32, 32], rng, -1, 1).requireGrad();
const w = Tensor.uniform([96, 48, 3, 3], rng, -0.1, 0.1).requireGrad();
const bias = Tensor.uniform([96], rng, -0.1, 0.1).requireGrad();
const step = (): void => {
  x.grad = null; w.grad = null; bias.grad = null;
  backward(sum(conv2d(x, w, bias, { padding: 1 })));
};
// "1 thread" keeps every part on the calling thread (what setThreads(1) does to
// these twins) without stopping the workers, so "2 threads" never meets cold ones.
const single = (f: () => void) => () => {
  const old = setMinWorkPerThread(Infinity);
  try { f(); } finally { setMinWorkPerThread(old); }
};
step(); // warm up both threads
await b.suite(
  "conv2d [32, 48, 32, 32] -> 96, 3x3, pad 1, forward + backward",
  b.add("1 thread", single(step), { minSamples: 5, maxTime: 10 }),
  b.add("2 threads", step, { minSamples: 5, maxTime: 10 }),
  b.cycle(),
  complete("conv2d fwd+bwd"),
);
await shutdownPool();
console.log("\n" + lines.join("\n"));
