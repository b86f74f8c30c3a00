/**
 * Spiking self-attention on Spikformer shapes: (Q Kᵀ) V and Q (Kᵀ V) computed
 * with bit kernels are bit-equal to each other and to the float32 matmul
 * product of the same 0/1 values. Prints the work each order does and timings.
 *
 * Run: npx tsx examples/ssa-equivalence.ts
 */
import { Spikes } from "../src/tensor/spikes.js";
import { Rng } from "../src/tensor/random.js";
import type { Tensor } from "../src/tensor/tensor.js";
import { matmul } from "../src/ops/matmul.js";
import { mul } from "../src/ops/elementwise.js";
import { transpose } from "../src/ops/shape.js";
import { resolveSsaOrder, spikingSelfAttention, ssaCost } from "../src/ops/spike/ssa.js";

function randSpikes(shape: number[], density: number, rng: Rng): Spikes {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Uint8Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.uniform() < density ? 1 : 0;
  return Spikes.fromValues(v, shape);
}

function sameBits(a: Tensor, b: Tensor): boolean {
  if (a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) return false;
  return true;
}

/** Median wall time of `reps` runs, in ms. */
function time(f: () => unknown, reps = 7): number {
  f();
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    f();
    ts.push(performance.now() - t);
  }
  ts.sort((x, y) => x - y);
  return ts[reps >> 1]!;
}

const cases = [
  { name: "CIFAR 4-384 (T=4, B=2, 12 heads, N=64, d=32)", shape: [4, 2, 12, 64, 32], density: 0.15 },
  { name: "ImageNet 8-384 (T=4, B=1, 6 heads, N=196, d=64)", shape: [4, 1, 6, 196, 64], density: 0.2 },
  { name: "ImageNet, denser (T=1, B=1, 8 heads, N=196, d=64)", shape: [1, 1, 8, 196, 64], density: 0.3 },
];

const rng = new Rng(2024);
const scale = 0.125;
for (const c of cases) {
  const [q, k, v] = [0, 1, 2].map(() => randSpikes(c.shape, c.density, rng)) as [Spikes, Spikes, Spikes];
  const n = c.shape[c.shape.length - 2]!;
  const d = c.shape[c.shape.length - 1]!;
  const heads = c.shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const a = spikingSelfAttention(q, k, v, { scale, order: "qk_v" });
  const b = spikingSelfAttention(q, k, v, { scale, order: "q_kv" });
  const qf = q.toFloat(), kf = k.toFloat(), vf = v.toFloat();
  const floatRef = (): Tensor => mul(matmul(matmul(qf, transpose(kf, -1, -2)), vf), scale);
  const floatRef2 = (): Tensor => mul(matmul(qf, matmul(transpose(kf, -1, -2), vf)), scale);
  const ref = floatRef();
  const cost = ssaCost(n, d);
  console.log(`\n${c.name}, firing rate ${q.firingRate().toFixed(3)}, ${heads} attention matrices`);
  console.log(`  (QKᵀ)V == Q(KᵀV) bit for bit: ${sameBits(a, b)};  == float32 matmul: ${sameBits(a, ref)};  float Q(KᵀV) == float (QKᵀ)V: ${sameBits(floatRef2(), ref)}`);
  console.log(`  dense MACs per head (both products): (QKᵀ)V ${n * n * d * 2}, Q(KᵀV) ${n * d * d * 2}`);
  console.log(`  bit work per head (word-ANDs + adds, upper bound): qk_v ${cost.qk_v}, q_kv ${cost.q_kv}; auto picks ${resolveSsaOrder("auto", n, d)}`);
  const tA = time(() => spikingSelfAttention(q, k, v, { scale, order: "qk_v" }));
  const tB = time(() => spikingSelfAttention(q, k, v, { scale, order: "q_kv" }));
  const tF = time(floatRef);
  const tF2 = time(floatRef2);
  console.log(`  time: bits qk_v ${tA.toFixed(2)} ms, bits q_kv ${tB.toFixed(2)} ms, float (QKᵀ)V ${tF.toFixed(2)} ms, float Q(KᵀV) ${tF2.toFixed(2)} ms`);
}
