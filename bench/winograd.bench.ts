/**
 * The convolution input gradient by Winograd F(4x4, 3x3) against the direct
 * im2col path (gemm + col2im), one thread, on the stem shapes of the peer
 * workloads (MNIST Spikformer-2-128 and CIFAR Spikformer-4-384 at T 4) and a
 * few small ones around the choice's thresholds: ratio direct / Winograd in the
 * same run (medians of 5). `npm run bench -- winograd`.
 */
import { convDataDirectRange, type ConvDims } from "../src/kernels/conv/ranges.js";
import { winogradDataRange, winogradFits } from "../src/kernels/winograd/winograd.js";
import { allocFloat } from "../src/tensor/tensor.js";
import { Rng } from "../src/tensor/random.js";

const noTick = (): void => {};
const rng = new Rng(1);

/** Median of 5 timed runs after one warm-up, ms. */
function time(f: () => void): number {
  f();
  const ts: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    f();
    ts.push(performance.now() - t0);
  }
  return ts.sort((a, b) => a - b)[2]!;
}

const SHAPES: [string, number, number, number, number][] = [
  // [label, images, cIn, o, h = w]
  ["mnist stem 1", 64, 16, 32, 28], ["mnist stem 2", 64, 32, 64, 28], ["mnist stem 3", 64, 64, 128, 14], ["mnist rpe", 64, 128, 128, 7],
  ["main stem 1", 32, 12, 24, 28], ["main stem 2", 32, 24, 48, 28], ["main stem 3", 32, 48, 96, 14], ["main rpe", 32, 96, 96, 7],
  ["cifar stem 1", 32, 48, 96, 32], ["cifar stem 2", 32, 96, 192, 32], ["cifar stem 3", 32, 192, 384, 16], ["cifar rpe", 32, 384, 384, 8],
  ["8 channels", 64, 8, 8, 16], ["16 channels", 64, 16, 16, 16], ["16 channels 8x8", 64, 16, 16, 8],
];

console.log("conv input gradient, 3x3 stride 1 pad 1, float32, one thread: direct (im2col) vs Winograd F(4x4, 3x3)");
for (const [label, n, c, o, h] of SHAPES) {
  const d: ConvDims = { n, cIn: c, o, groups: 1, g: { h, w: h, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: h, ow: h } };
  const gy = allocFloat("float32", n * o * h * h, true), w = allocFloat("float32", o * c * 9, true), gx = allocFloat("float32", n * c * h * h, true);
  for (let i = 0; i < gy.length; i++) gy[i] = rng.uniform() - 0.5;
  for (let i = 0; i < w.length; i++) w[i] = rng.uniform() - 0.5;
  const direct = time(() => convDataDirectRange(d, gy, 0, w, 0, gx, 0, 0, n, noTick));
  const wino = time(() => winogradDataRange(d, gy, 0, w, 0, gx, 0, 0, n, noTick));
  const pick = winogradFits(d, true) ? "winograd" : "direct";
  console.log(`${label.padEnd(16)} ${n}x${c}->${o} ${h}x${h}: direct ${direct.toFixed(1)} ms, winograd ${wino.toFixed(1)} ms, ${(direct / wino).toFixed(2)}x (chosen: ${pick})`);
}
