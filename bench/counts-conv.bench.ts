/**
 * The event-driven counts convolution (countsConv2d: each nonzero count v adds
 * v times its kernel column) against the dense conv2d (im2col + gemm) on the
 * same values, in the same run, on Spikeformer's SEW ADD shapes: counts 0..2
 * (two spike maps of rate r added: nonzero share about 2r) entering the next
 * SEW block's first convolution.
 *   MNIST spikeformer-1-64 (the README's training run): [T 4 x B 32, 32, 14, 14] -> 64, 3x3 stride 2.
 *   DVS-CIFAR10 block 2 (stride 1): [T 4 x B 2, 64, 64, 64] -> 64, 3x3 stride 1.
 * Forward alone, and forward + backward (weight and input gradients, as in training).
 * Run: npx tsx bench/counts-conv.bench.ts   (threads: BITSPIKE_THREADS or the pool default)
 */
import b from "benny";
import { Tensor } from "../src/tensor/tensor.js";
import { Rng } from "../src/tensor/random.js";
import { conv2d } from "../src/ops/conv.js";
import { countsConv2d } from "../src/ops/spike/spike-conv.js";
import { backward } from "../src/autograd/tape.js";
import { stepScope } from "../src/tensor/retain.js";
import { setThreads } from "../src/parallel/pool.js";

const threads = Number(process.env.BITSPIKE_THREADS ?? 2);
setThreads(threads);
const rng = new Rng(7);
const opts = { minSamples: 5, maxTime: 2 };
const shapes = [
  { name: "MNIST block 1", x: [128, 32, 14, 14], o: 64, stride: 2 },
  { name: "DVS-CIFAR10 block 2", x: [8, 64, 64, 64], o: 64, stride: 1 },
] as const;
const lines: string[] = [];
for (const sh of shapes) {
  const w = Tensor.uniform([sh.o, sh.x[1], 3, 3], rng, -0.1, 0.1);
  for (const nonzero of [0.05, 0.12, 0.25, 0.5]) {
    const n = sh.x.reduce((a, v) => a * v, 1);
    const vals = new Float32Array(n);
    // A sum of two spike maps: 2 for about a tenth of the nonzeros at these rates.
    for (let i = 0; i < n; i++) if (rng.uniform() < nonzero) vals[i] = rng.uniform() < 0.9 ? 1 : 2;
    const x = new Tensor(vals, [...sh.x]);
    const conv = { stride: sh.stride, padding: 1 };
    const train = (f: typeof conv2d) => () => stepScope(() => {
      const xi = x.clone();
      xi.requiresGrad = true;
      w.requiresGrad = true;
      const y = f(xi, w, null, conv);
      backward(y, Tensor.ones(y.shape));
      w.grad = null;
    });
    const ops: Record<string, number> = {};
    await b.suite(
      `${sh.name} [${sh.x.join(", ")}] -> ${sh.o}, nonzero ${nonzero}, ${threads} thread(s)`,
      b.add("dense conv2d forward", () => stepScope(() => { w.requiresGrad = false; conv2d(x, w, null, conv); }), opts),
      b.add("countsConv2d forward", () => stepScope(() => { w.requiresGrad = false; countsConv2d(x, w, null, conv); }), opts),
      b.add("dense conv2d forward + backward", train(conv2d), opts),
      b.add("countsConv2d forward + backward", train(countsConv2d), opts),
      b.cycle(),
      b.complete((sum) => { for (const r of sum.results) ops[r.name] = 1 / r.details.median; }),
    );
    lines.push(`${sh.name}, nonzero ${nonzero}: forward ${(ops["countsConv2d forward"]! / ops["dense conv2d forward"]!).toFixed(2)}x, ` +
      `forward + backward ${(ops["countsConv2d forward + backward"]! / ops["dense conv2d forward + backward"]!).toFixed(2)}x the dense conv's speed`);
  }
}
console.log("\ncountsConv2d against conv2d (ops/s ratio):\n  " + lines.join("\n  "));
process.exit(0);
