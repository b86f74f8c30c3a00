/**
 * The fused inference linear -> BN -> LIF (`linearNormNeuron`) against the two ops per projection it
 * replaces (`countsLinear` or `spikeLinear`, then `batchNormNeuron`) on the e2e workloads' token
 * projections: q, k and v together (one counts input), fc1 (counts), proj and fc2 (spikes). The two
 * alternate in one process (median ms of each, and the paired median ratio). Random inputs at the
 * densities the workloads' inference shows (counts: 0.23-0.31 nonzero, 70-95% of them 1; the spike
 * inputs of proj and fc2 fire at 0.00-0.04), random weights, batch-norm running statistics; eval, no
 * gradient. The thread count is the pool's (`--threads`, default 1).
 *
 *   npx tsx bench/linear-norm-fire.ts [--config cifar-b8|mnist-b64] [--threads 1] [--rounds 7]
 */
import { poolReady, setThreads, shutdownPool } from "../src/parallel/pool.js";
import { Tensor } from "../src/tensor/tensor.js";
import { Spikes } from "../src/tensor/spikes.js";
import { Rng } from "../src/tensor/random.js";
import { countsLinear, spikeLinear } from "../src/ops/spike/spike-linear.js";
import { batchNormNeuron, type NormOfNeuron } from "../src/ops/spike/norm-neuron.js";
import { linearNormNeuron, type NormFiredProjection } from "../src/ops/spike/linear-norm-neuron.js";
import { fusedAgainstOps } from "./fused-vs-ops.js";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const config = flag("config", "cifar-b8"), threads = Number(flag("threads", "1")), rounds = Number(flag("rounds", "7"));
// Tokens (B N), the embedding and the MLP's hidden width of each workload.
const SHAPES: Record<string, { tokens: number; d: number; hidden: number }> = {
  "cifar-b8": { tokens: 8 * 64, d: 384, hidden: 1536 },
  "mnist-b64": { tokens: 64 * 49, d: 128, hidden: 512 },
};
const shape = SHAPES[config];
if (shape === undefined) throw new Error(`bench/linear-norm-fire.ts: --config takes ${Object.keys(SHAPES).join(" or ")}, got ${config}`);
setThreads(threads);
await poolReady();
const T = 4, N = T * shape.tokens;
const rng = new Rng(1);

function counts(k: number, density: number): Tensor {
  return Tensor.from(Float32Array.from({ length: N * k }, () => (rng.uniform() < density ? (rng.uniform() < 0.85 ? 1 : 2) : 0)), [N, k]);
}
function spikes(k: number, rate: number): Spikes {
  const vals = new Uint8Array(N * k);
  for (let i = 0; i < vals.length; i++) vals[i] = rng.uniform() < rate ? 1 : 0;
  return Spikes.fromValues(vals, [N, k]);
}
function projection(k: number, n: number, density: number): NormFiredProjection {
  const vec = (lo: number, span: number) => Tensor.from(Float32Array.from({ length: n }, () => lo + span * rng.uniform()), [n]);
  const bn: NormOfNeuron = { runningMean: vec(-0.2, 0.4), runningVar: vec(0.5, 1), weight: vec(0.5, 1), bias: vec(-0.2, 0.4), opts: { training: false } };
  return { weight: Tensor.normal([n, k], rng, 0, 1.5 / Math.sqrt(k * density)), bias: Tensor.normal([n], rng, 0, 0.1), bn, neuron: { kind: "lif", tau: 2 } };
}

const { d, hidden } = shape;
const cases: [string, Spikes | Tensor, NormFiredProjection[]][] = [
  [`q, k, v: counts ${d} -> 3 x ${d}`, counts(d, 0.27), [0, 1, 2].map(() => projection(d, d, 0.27))],
  [`fc1: counts ${d} -> ${hidden}`, counts(d, 0.27), [projection(d, hidden, 0.27)]],
  [`proj: spikes ${d} -> ${d}`, spikes(d, 0.02), [projection(d, d, 0.02)]],
  [`fc2: spikes ${hidden} -> ${d}`, spikes(hidden, 0.03), [projection(hidden, d, 0.03)]],
];
console.log(`${config}, T ${T}, ${shape.tokens} tokens, ${threads} thread(s): ms a call, median of ${rounds}`);
for (const [what, x, projections] of cases) {
  const fused = (): unknown => linearNormNeuron(x, T, projections);
  const twoOps = (): unknown => projections.map(({ weight, bias, bn, neuron }) => {
    const y = x instanceof Spikes ? spikeLinear(x, weight, bias) : countsLinear(x, weight, bias);
    return batchNormNeuron(y, [T, shape.tokens, weight.shape[0]!], bn, neuron);
  });
  console.log(`${what}: ${fusedAgainstOps(fused, twoOps, rounds)}`);
}
await shutdownPool();
