/**
 * Pre-training speed of the README's MAE example (`bitspike pretrain --model
 * spikformer-v2-1-64 --patch 4 --data mnist`, decoder 4 x 256, mask 0.75, batch
 * 32) beside its dense-FLOP floor (issue 19):
 *
 *   npx tsx bench/pretrain-speed.ts [--steps 20] [--warmup 5] [--threads 2] [--decoder-dim 256] [--decoder-depth 4]
 *
 * (`--decoder-dim 128 --decoder-depth 2` is the decoder examples/mae-gain.ts chose on its validation split.)
 * Runs the real training loop (`pretrain`, nothing written) and reports the
 * images/s of the steps after the warm-up. The floor counts the decoder's
 * dense multiply-adds from its shapes (every token, masked ones included, goes
 * through 4 pre-norm blocks; a training step is the forward and two products
 * of the same size in the backward) and divides the float32 gemm rate,
 * measured here at the decoder's MLP shape on one thread, times the threads,
 * by it: the images/s no schedule of this decoder can beat with this gemm
 * (the encoder, the attention maps and every memory-bound pass come on top).
 */
import { pretrain } from "../src/train/pretrain.js";
import { MAE_DEFAULTS } from "../src/models/mae/mae.js";
import { gemm } from "../src/kernels/gemm/gemm.js";
import { Tensor } from "../src/tensor/tensor.js";
import { Rng } from "../src/tensor/random.js";
import { setThreads } from "../src/parallel/pool.js";

const argv = process.argv.slice(2);
const flag = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} takes a positive integer, got ${argv[i + 1]}`);
  return v;
};
const steps = flag("steps", 20), warmup = flag("warmup", 5), threads = flag("threads", 2);
const decoder = { decoderDim: flag("decoder-dim", MAE_DEFAULTS.decoderDim), decoderDepth: flag("decoder-depth", MAE_DEFAULTS.decoderDepth) };
const batch = 32, img = 28, patch = 4;
setThreads(threads);

const times: number[] = [];
pretrain({
  model: "spikformer-v2-1-64", modelOverrides: { patchSize: patch }, mae: decoder, data: "mnist", epochs: 1, batch,
  lr: 1.5e-4, wd: 0.05, warmupEpochs: 0, minLr: 0, clip: 0, seed: 0, out: null, resume: false, checkpointEvery: 0,
  stopAfter: warmup + steps, evalImages: 0,
}, { onStep: () => times.push(performance.now()) });
const seconds = (times[times.length - 1]! - times[warmup - 1]!) / 1000;
const measured = (steps * batch) / seconds;

// The decoder's dense multiply-adds per image for one training step.
const { decoderDim: d, decoderDepth: depth } = decoder, r = MAE_DEFAULTS.decoderMlpRatio;
const tokens = (img / patch) ** 2;
const perToken = depth * (3 * d * d + d * d + 2 * r * d * d); // qkv, proj, the MLP's two linears
const attention = depth * 2 * tokens * d; // QKᵀ and AV, per token
const macs = 3 * tokens * (perToken + attention);
// The gemm's float32 rate at the MLP's shape (rows = a batch's tokens), one thread, best of 5.
const rng = new Rng(1);
const m = batch * tokens, k = d, n = r * d;
const a = Tensor.uniform([m, k], rng, -1, 1), b = Tensor.uniform([k, n], rng, -1, 1), c = Tensor.zeros([m, n]);
let best = Infinity;
for (let i = 0; i < 6; i++) {
  const t = performance.now();
  gemm(a.data, 0, false, b.data, 0, false, c.data, 0, m, n, k, false);
  if (i > 0) best = Math.min(best, performance.now() - t);
}
const gflops = (2 * m * n * k) / best / 1e6;
const floor = (threads * gflops * 1e9) / (2 * macs);
console.log(`pre-training, spikformer-v2-1-64 patch ${patch}, decoder ${depth}x${d}, batch ${batch}, ${threads} thread(s):`);
console.log(`  measured ${measured.toFixed(1)} images/s (${steps} steps after ${warmup} warm-up, ${seconds.toFixed(1)} s)`);
console.log(`  decoder dense work ${(2 * macs / 1e9).toFixed(3)} GFLOP an image; gemm ${gflops.toFixed(1)} GFLOP/s a thread at ${m}x${k}x${n}`);
console.log(`  floor ${floor.toFixed(0)} images/s (${threads} x the gemm rate over the decoder's FLOP); measured / floor ${(measured / floor).toFixed(2)}`);
process.exit(0);
