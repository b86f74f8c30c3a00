/**
 * The fused inference conv -> BN -> LIF (`spikeConvNormNeuron`) against the two ops it replaces
 * (`spikeConv2d`, then `batchNormNeuron`) on the e2e workloads' stem and RPE conv shapes, alternating
 * the two in one process (median ms of each, and the paired median ratio). Random spikes at a firing
 * rate (default 0.15), random weights, batch-norm running statistics; eval, no gradient. The thread
 * count is the pool's (`--threads`, default 1).
 *
 *   npx tsx bench/conv-norm-fire.ts [--config mnist-b64|cifar-b8] [--rate 0.15] [--threads 1] [--rounds 7]
 */
import { poolReady, setThreads, shutdownPool } from "../src/parallel/pool.js";
import { Tensor } from "../src/tensor/tensor.js";
import { Spikes } from "../src/tensor/spikes.js";
import { Rng } from "../src/tensor/random.js";
import { spikeConv2d } from "../src/ops/spike/spike-conv.js";
import { batchNormNeuron, type NormOfNeuron } from "../src/ops/spike/norm-neuron.js";
import { spikeConvNormNeuron } from "../src/ops/spike/conv-norm-neuron.js";
import { fusedAgainstOps } from "./fused-vs-ops.js";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const config = flag("config", "mnist-b64"), rate = Number(flag("rate", "0.15")), threads = Number(flag("threads", "1")), rounds = Number(flag("rounds", "7"));
// [C in, C out, H, W] of each spike conv of the Spikformer stem (3 x 3, padding 1), and the batch.
const SHAPES: Record<string, { batch: number; convs: [number, number, number, number][] }> = {
  "mnist-b64": { batch: 64, convs: [[16, 32, 28, 28], [32, 64, 28, 28], [64, 128, 14, 14], [128, 128, 7, 7]] },
  "cifar-b8": { batch: 8, convs: [[48, 96, 32, 32], [96, 192, 32, 32], [192, 384, 16, 16], [384, 384, 8, 8]] },
};
const shapes = SHAPES[config];
if (shapes === undefined) throw new Error(`bench/conv-norm-fire.ts: --config takes ${Object.keys(SHAPES).join(" or ")}, got ${config}`);
if (!(rate > 0 && rate < 1)) throw new Error(`bench/conv-norm-fire.ts: --rate takes a firing rate in (0, 1), got ${rate}`);
setThreads(threads);
await poolReady();
const T = 4;
const rng = new Rng(1);
console.log(`${config}, T ${T}, firing rate ${rate}, ${threads} thread(s): ms a call, median of ${rounds}`);
for (const [c, o, h, w] of shapes.convs) {
  const n = T * shapes.batch;
  const vals = new Uint8Array(n * c * h * w);
  for (let i = 0; i < vals.length; i++) vals[i] = rng.uniform() < rate ? 1 : 0;
  const x = Spikes.fromValues(vals, [n, c, h, w]);
  const weight = Tensor.normal([o, c, 3, 3], rng, 0, 1.5 / Math.sqrt(9 * c * rate));
  const vec = (lo: number, span: number) => Tensor.from(Float32Array.from({ length: o }, () => lo + span * rng.uniform()), [o]);
  const bn: NormOfNeuron = { runningMean: vec(-0.2, 0.4), runningVar: vec(0.5, 1), weight: vec(0.5, 1), bias: vec(-0.2, 0.4), opts: { training: false } };
  const neuron = { kind: "lif" as const, tau: 2 };
  const fused = (): unknown => spikeConvNormNeuron(x, weight, { padding: 1 }, T, bn, neuron);
  const twoOps = (): unknown => {
    const y = spikeConv2d(x, weight, null, { padding: 1 });
    return batchNormNeuron(y, [T, shapes.batch, o, h, w], bn, neuron);
  };
  console.log(`${c} -> ${o}, ${h} x ${w}: ${fusedAgainstOps(fused, twoOps, rounds)}`);
}
await shutdownPool();
