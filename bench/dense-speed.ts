/**
 * Quick speed check of the dense kernels: gemm GFLOP/s (packed vs reference)
 * and a Spikformer-like conv2d forward/backward. Run: npx tsx bench/dense-speed.ts
 */
import { gemm, gemmReference } from "../src/kernels/gemm/gemm.js";
import { Tensor } from "../src/tensor/tensor.js";
import { Rng } from "../src/tensor/random.js";
import { conv2d } from "../src/ops/conv.js";
import { backward } from "../src/autograd/tape.js";

const rng = new Rng(1);
function rand(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform() - 0.5;
  return a;
}

function timeGemm(name: string, f: typeof gemm, m: number, n: number, k: number, budgetFlops: number): void {
  const a = rand(m * k), b = rand(k * n), c = new Float32Array(m * n);
  f(a, 0, false, b, 0, false, c, 0, m, n, k, false);
  const reps = Math.max(1, Math.round(budgetFlops / (2 * m * n * k)));
  const t = performance.now();
  for (let r = 0; r < reps; r++) f(a, 0, false, b, 0, false, c, 0, m, n, k, false);
  const ms = (performance.now() - t) / reps;
  console.log(`${name} ${m}x${n}x${k}: ${ms.toFixed(1)} ms, ${((2 * m * n * k) / ms / 1e6).toFixed(2)} GFLOP/s`);
}

for (const [m, n, k] of [[256, 512, 512], [1024, 1024, 1024]] as const) {
  timeGemm("gemm         ", gemm, m, n, k, 4e9);
  timeGemm("gemmReference", gemmReference, m, n, k, 1e9);
}

const x = Tensor.uniform([32, 48, 32, 32], rng, -1, 1);
const w = Tensor.uniform([96, 48, 3, 3], rng, -0.1, 0.1).requireGrad();
const flops = 2 * 32 * 96 * 1024 * 48 * 9;
conv2d(x, w, null, { padding: 1 }); // warm-up
let t = performance.now();
const y = conv2d(x, w, null, { padding: 1 });
const fwd = performance.now() - t;
x.requireGrad();
let bwd = 0;
for (let rep = 0; rep < 2; rep++) {
  // the first round warms up the backward paths
  const y2 = conv2d(x, w, null, { padding: 1 });
  t = performance.now();
  backward(y2, Tensor.ones(y2.shape));
  bwd = performance.now() - t;
}
console.log(`conv2d [32,48,32,32] -> [32,96,32,32] 3x3 pad 1: forward ${fwd.toFixed(0)} ms (${(flops / fwd / 1e6).toFixed(2)} GFLOP/s), backward dx+dW ${bwd.toFixed(0)} ms (${((2 * flops) / bwd / 1e6).toFixed(2)} GFLOP/s)`);
void y;
