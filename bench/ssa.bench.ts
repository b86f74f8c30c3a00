/**
 * Spiking self-attention: bit kernels (AND-popcount + gather-add, both orders)
 * against float32 matmul of the same 0/1 values, on Spikformer shapes.
 * Run: npx tsx bench/ssa.bench.ts
 */
import b from "benny";
import { Spikes } from "../src/tensor/spikes.js";
import { Rng } from "../src/tensor/random.js";
import { matmul } from "../src/ops/matmul.js";
import { mul } from "../src/ops/elementwise.js";
import { transpose } from "../src/ops/shape.js";
import { spikingSelfAttention } from "../src/ops/spike/ssa.js";

function randSpikes(shape: number[], density: number, rng: Rng): Spikes {
  const n = shape.reduce((x, y) => x * y, 1);
  const v = new Uint8Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.uniform() < density ? 1 : 0;
  return Spikes.fromValues(v, shape);
}

const opts = { minSamples: 5, maxTime: 1.5 };
const ratios: string[] = [];
const rng = new Rng(7);
const shapes = [
  { name: "CIFAR-4-384 [T4,B8,12 heads,N64,d32]", shape: [4, 8, 12, 64, 32] },
  { name: "ImageNet-8-384 [T4,B1,6 heads,N196,d64]", shape: [4, 1, 6, 196, 64] },
];
for (const { name, shape } of shapes) {
  for (const rate of [0.1, 0.25]) {
    const [q, k, v] = [0, 1, 2].map(() => randSpikes(shape, rate, rng)) as [Spikes, Spikes, Spikes];
    const qf = q.toFloat(), kf = k.toFloat(), vf = v.toFloat();
    const kt = transpose(kf, -1, -2);
    await b.suite(
      `SSA ${name}, rate ${rate}`,
      b.add("bits q_kv", () => { spikingSelfAttention(q, k, v, { scale: 0.125, order: "q_kv" }); }, opts),
      b.add("bits qk_v", () => { spikingSelfAttention(q, k, v, { scale: 0.125, order: "qk_v" }); }, opts),
      b.add("float Q(KᵀV)", () => { mul(matmul(qf, matmul(kt, vf)), 0.125); }, opts),
      b.add("float (QKᵀ)V", () => { mul(matmul(matmul(qf, kt), vf), 0.125); }, opts),
      b.cycle(),
      b.complete((s) => {
        // Speed = 1 / median seconds per run (benny rounds its ops/s display).
        const ops = Object.fromEntries(s.results.map((r) => [r.name, 1 / r.details.median]));
        ratios.push(`${name} rate ${rate}: bits q_kv / float Q(KᵀV) = ${(ops["bits q_kv"]! / ops["float Q(KᵀV)"]!).toFixed(2)}x faster; ` +
          `bits qk_v / float (QKᵀ)V = ${(ops["bits qk_v"]! / ops["float (QKᵀ)V"]!).toFixed(2)}x; best bits / best float = ` +
          `${(Math.max(ops["bits q_kv"]!, ops["bits qk_v"]!) / Math.max(ops["float Q(KᵀV)"]!, ops["float (QKᵀ)V"]!)).toFixed(2)}x`);
      }),
    );
  }
}
console.log("\nSpeed-ups (ops/s ratio):\n  " + ratios.join("\n  "));
