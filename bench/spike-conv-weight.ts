/**
 * The spike convolution's weight gradient (`spikeConvWeightThreads`) on the e2e workloads' stem shapes,
 * random spikes at `--rate` and a random gradient: one thread, the two threads' parts run one after the
 * other on one thread (`poolProfile("serial")`: the split's total work), and two threads, alternating in
 * one process (median ms of each). The split's work over the one-thread loop's is what splitting costs;
 * one thread over two threads is the speed-up.
 *
 *   npx tsx bench/spike-conv-weight.ts [--rate 0.15] [--rounds 5]
 */
import { spikeConvWeightThreads } from "../src/kernels/spike-conv/threads.js";
import { poolProfile, poolReady, setThreads, shutdownPool } from "../src/parallel/pool.js";
import { heapArray } from "../src/tensor/heap.js";
import { Spikes } from "../src/tensor/spikes.js";
import { wordsFor } from "../src/tensor/bits.js";
import { Rng } from "../src/tensor/random.js";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const rate = Number(flag("rate", "0.15")), rounds = Number(flag("rounds", "5"));
if (!(rate > 0 && rate < 1)) throw new Error(`bench/spike-conv-weight.ts: --rate takes a number in (0, 1), got ${rate}`);
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`bench/spike-conv-weight.ts: --rounds takes an integer >= 1, got ${rounds}`);

setThreads(2);
if ((await poolReady()) < 2) throw new Error("bench/spike-conv-weight.ts: no worker thread could start");
const rng = new Rng(3);
// [images (T B), input channels, output channels, height = width]: MNIST b64's four stem convolutions, then CIFAR b8's.
const SHAPES: [string, number, number, number, number][] = [
  ["mnist-b64", 256, 16, 32, 28], ["mnist-b64", 256, 32, 64, 28], ["mnist-b64", 256, 64, 128, 14], ["mnist-b64", 256, 128, 128, 7],
  ["cifar-b8", 32, 48, 96, 32], ["cifar-b8", 32, 96, 192, 32], ["cifar-b8", 32, 192, 384, 16], ["cifar-b8", 32, 384, 384, 8],
];
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
console.log(`spike conv weight gradient, 3x3 pad 1, spikes at rate ${rate}: median ms of ${rounds}`);
console.log("| workload | images | c -> o | size | one thread | two parts on one thread | two threads | split's work | speed-up |");
console.log("|---|---:|---|---|---:|---:|---:|---:|---:|");
for (const [workload, n, c, o, hw] of SHAPES) {
  const g = { h: hw, w: hw, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: hw, ow: hw };
  const wpr = wordsFor(hw);
  const words = Spikes.allocWords(n * c * hw * wpr, true);
  for (let r = 0; r < n * c * hw; r++) for (let x = 0; x < hw; x++) if (rng.uniform() < rate) words[r * wpr + (x >>> 5)]! |= 1 << (x & 31);
  const gy = heapArray(Float32Array, n * o * hw * hw);
  for (let i = 0; i < gy.length; i++) gy[i] = rng.uniform() - 0.5;
  const acc = heapArray(Float32Array, c * 9 * o);
  const d = { n, c, o, wpr, g };
  const arms: (() => void)[] = [
    () => spikeConvWeightThreads(d, words, gy, acc, 1, null, true),
    () => {
      poolProfile("serial");
      spikeConvWeightThreads(d, words, gy, acc, 2, null, true);
      poolProfile("off");
    },
    () => spikeConvWeightThreads(d, words, gy, acc, 2, null, true),
  ];
  const times = arms.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    arms.forEach((f, i) => {
      f();
      const t0 = performance.now();
      f();
      times[i]!.push(performance.now() - t0);
    });
  }
  const [one, split, two] = times.map(median) as [number, number, number];
  console.log(`| ${workload} | ${n} | ${c} -> ${o} | ${hw}x${hw} | ${one.toFixed(2)} | ${split.toFixed(2)} | ${two.toFixed(2)} | ${(split / one).toFixed(2)}x | ${(one / two).toFixed(2)}x |`);
}
await shutdownPool();
