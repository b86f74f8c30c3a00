/**
 * Spiking self-attention: bit kernels (AND-popcount + gather-add, both orders)
 * against float32 matmul of the same 0/1 values, on Spikformer shapes; then the heads' bit transposes of the
 * q_kv order (Kᵀ and Vᵀ of every head): the plain loop over set bits against the WASM 32 x 32 block transposes.
 * Run: npx tsx bench/ssa.bench.ts
 */
import b from "benny";
import { Spikes } from "../src/tensor/spikes.js";
import { Rng } from "../src/tensor/random.js";
import { matmul } from "../src/ops/matmul.js";
import { mul } from "../src/ops/elementwise.js";
import { transpose } from "../src/ops/shape.js";
import { spikingSelfAttention } from "../src/ops/spike/ssa.js";
import { transposeBits, wordsFor } from "../src/tensor/bits.js";
import { heapArray, heapScope } from "../src/tensor/heap.js";
import { channelsFirstBitsWasm } from "../src/kernels/spike-conv/wasm.js";

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
      // Each run's results freed at its end (heapScope): kept, thousands of runs filled the 4 GiB heap.
      b.add("bits q_kv", () => heapScope(() => { spikingSelfAttention(q, k, v, { scale: 0.125, order: "q_kv" }); }), opts),
      b.add("bits qk_v", () => heapScope(() => { spikingSelfAttention(q, k, v, { scale: 0.125, order: "qk_v" }); }), opts),
      b.add("float Q(KᵀV)", () => heapScope(() => { mul(matmul(qf, matmul(kt, vf)), 0.125); }), opts),
      b.add("float (QKᵀ)V", () => heapScope(() => { mul(matmul(matmul(qf, kt), vf), 0.125); }), opts),
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
// One transpose a head, as the q_kv order makes two (K and V): CIFAR-4-384's 64 x 32 heads, MNIST-2-128's 49 x 32.
for (const { name, n, d, heads } of [{ name: "a CIFAR b8 pass's heads 64 x 32", n: 64, d: 32, heads: 1536 }, { name: "a MNIST b64 pass's heads 49 x 32", n: 49, d: 32, heads: 2048 }]) {
  for (const rate of [0.1, 0.25]) {
    const wpr = wordsFor(d), wpn = wordsFor(n);
    const src = randSpikes([heads, n, d], rate, rng).words;
    const heap = heapArray(Uint32Array, src.length), dst = heapArray(Uint32Array, d * wpn), stage = heapArray(Uint32Array, 32);
    heap.set(src);
    await b.suite(
      `bit transposes, ${name} (${heads} heads), rate ${rate}`,
      b.add("loop", () => { for (let h = 0; h < heads; h++) transposeBits(heap.subarray(h * n * wpr, (h + 1) * n * wpr), 1, n, d, dst); }, opts),
      b.add("WASM blocks", () => {
        for (let h = 0; h < heads; h++) channelsFirstBitsWasm(heap.byteOffset + 4 * h * n * wpr, dst.byteOffset, 1, n, d, wpn, stage.byteOffset);
      }, opts),
      b.cycle(),
      b.complete((s) => {
        const ms = Object.fromEntries(s.results.map((r) => [r.name, r.details.median * 1000]));
        ratios.push(`bit transposes, ${name}, rate ${rate}: loop ${ms["loop"]!.toFixed(2)} ms, WASM blocks ${ms["WASM blocks"]!.toFixed(2)} ms ` +
          `(${(ms["loop"]! / ms["WASM blocks"]!).toFixed(1)}x)`);
      }),
    );
  }
}
console.log("\nSpeed-ups (ops/s ratio; the transposes' times):\n  " + ratios.join("\n  "));
