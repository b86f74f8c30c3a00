/**
 * Event-driven Linear (spikes in, per-spike weight-row adds) against the dense
 * gemm Linear on the same 0/1 values, Spikformer-4-384 shapes: 2048 token rows
 * (T*B*N = 4*8*64), 384 -> 384 and 384 -> 1536, firing rates 0.05 / 0.15 / 0.3.
 * Also the counts (residual stream) variant at a matching nonzero rate.
 * Run: npx tsx bench/spike-linear.bench.ts
 */
import b from "benny";
import { Spikes } from "../src/tensor/spikes.js";
import { Tensor } from "../src/tensor/tensor.js";
import { Rng } from "../src/tensor/random.js";
import { linear } from "../src/ops/linear.js";
import { countsLinear, spikeLinear } from "../src/ops/spike/spike-linear.js";
import { heapScope } from "../src/tensor/heap.js";

const rng = new Rng(3);
const rows = 4 * 8 * 64;
const opts = { minSamples: 5, maxTime: 2 };
const ratios: string[] = [];
for (const [nIn, nOut] of [[384, 384], [384, 1536]] as const) {
  const w = Tensor.uniform([nOut, nIn], rng, -0.05, 0.05);
  const bias = Tensor.uniform([nOut], rng, -0.05, 0.05);
  for (const rate of [0.05, 0.15, 0.3]) {
    const vals = new Float32Array(rows * nIn);
    for (let i = 0; i < vals.length; i++) vals[i] = rng.uniform() < rate ? 1 : 0;
    const s = Spikes.fromValues(vals, [rows, nIn]);
    const x = new Tensor(vals, [rows, nIn]);
    const counts = new Tensor(vals.map((v) => (v === 0 ? 0 : 1 + rng.int(3))), [rows, nIn]);
    await b.suite(
      `Linear ${rows}x${nIn} -> ${nOut}, rate ${rate}`,
      // Each run's output freed at its end (heapScope): kept, the runs filled the 4 GiB heap.
      b.add("spikeLinear", () => heapScope(() => { spikeLinear(s, w, bias); }), opts),
      b.add("countsLinear", () => heapScope(() => { countsLinear(counts, w, bias); }), opts),
      b.add("dense linear", () => heapScope(() => { linear(x, w, bias); }), opts),
      b.cycle(),
      b.complete((sum) => {
        // Speed = 1 / median seconds per run (benny rounds its ops/s display).
        const ops = Object.fromEntries(sum.results.map((r) => [r.name, 1 / r.details.median]));
        ratios.push(`${nIn}->${nOut} rate ${rate}: spikeLinear ${(ops["spikeLinear"]! / ops["dense linear"]!).toFixed(2)}x, ` +
          `countsLinear ${(ops["countsLinear"]! / ops["dense linear"]!).toFixed(2)}x the dense speed`);
      }),
    );
  }
}
console.log("\nSpeed-ups over dense linear (ops/s ratio):\n  " + ratios.join("\n  "));
