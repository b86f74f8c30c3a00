/**
 * The PLIF neuron (Spikeformer's: k = sigmoid(w), hard reset, detach_reset,
 * sigmoid(4) surrogate, with w's gradient) on a Spikeformer-sized layer, the
 * fast path (the forward by the LIF kernel's PLIF variant, then the split
 * inlined sigmoid backward plus the fixed-order dW pass) against the general reference loop
 * (forward and backward) in the same run,
 * on one thread and with the backward split over 2. Shape: the MLP hidden layer of spikeformer-1-64 on 28x28
 * digits, T 4, batch 32: [4, 32 x 49, 128].
 * Then PLIAF's backward (output ReLU(H)) on the same layer: the split analog path against the general loop.
 * Run: npx tsx bench/plif.bench.ts
 */
import b from "benny";
import { LEAK_MUL, neuronBackward, neuronForward, neuronForwardRangeReference, type NeuronKernelParams } from "../src/kernels/neuron/neuron.js";
import { neuronBackwardThreads } from "../src/kernels/neuron/threads.js";
import { sigmoidSurrogate, surrogateDerivative } from "../src/ops/spike/surrogate.js";
import { setThreads } from "../src/parallel/pool.js";
import { wordsFor } from "../src/tensor/bits.js";
import { Rng } from "../src/tensor/random.js";
import { allocFloat } from "../src/tensor/tensor.js";
import { Spikes } from "../src/tensor/spikes.js";

setThreads(2);
const p: NeuronKernelParams = {
  steps: 4, rows: 32 * 49, cols: 128, leak: LEAK_MUL, tau: 1, k: Math.fround(0.5), decayInput: true,
  vTh: 1, vReset: 0, hardReset: true, detachReset: true, f32: true,
};
const n = p.rows * p.cols, N = p.steps * n, units = p.rows * wordsFor(p.cols);
const rng = new Rng(1);
const x = allocFloat("float32", N), gS = allocFloat("float32", N);
for (let i = 0; i < N; i++) { x[i] = (rng.uniform() - 0.3) * 3; gS[i] = rng.uniform() - 0.5; }
const h = allocFloat("float32", N), v = allocFloat("float32", n), gx = allocFloat("float32", N);
const gv = allocFloat("float64", n) as Float64Array;
const words = Spikes.allocWords(p.steps * units);
const alpha = 4, derivative = surrogateDerivative(sigmoidSurrogate(alpha), p.f32); // the float32 form, as the op passes
const opts = { minSamples: 5, maxTime: 3 };
const ops: Record<string, number> = {};
await b.suite(
  `PLIF [${p.steps}, ${p.rows}, ${p.cols}] forward + backward with dW, 1 thread`,
  b.add("general loop", () => {
    neuronForwardRangeReference(x, p, h, words, v, 0, units);
    neuronBackward(gS, h, words, x, p, derivative, gx, gv);
  }, opts),
  b.add("fast path", () => {
    neuronForward(x, p, h, words, v);
    neuronBackwardThreads(gS, h, words, x, p, derivative, gx, gv, alpha, 1);
  }, opts),
  b.add("fast path, backward on 2 threads", () => {
    neuronForward(x, p, h, words, v);
    neuronBackwardThreads(gS, h, words, x, p, derivative, gx, gv, alpha, 2);
  }, opts),
  b.cycle(),
  b.complete((sum) => { for (const r of sum.results) ops[r.name] = 1 / r.details.median; }),
);
console.log(`PLIF fast path: ${(ops["fast path"]! / ops["general loop"]!).toFixed(2)}x the general loop's speed on 1 thread, ` +
  `${(ops["fast path, backward on 2 threads"]! / ops["general loop"]!).toFixed(2)}x with the backward's split part on 2 threads (forward + backward)`);

// PLIAF (the ImageNet model's neuron: output ReLU(H)), backward with dW alone (its forward is PLIF's): the
// general loop (which evaluates a surrogate it does not use) against the split analog backward + the dW tail.
const pa: NeuronKernelParams = { ...p, analog: true };
neuronForward(x, pa, h, words, v);
const opsA: Record<string, number> = {};
await b.suite(
  `PLIAF [${p.steps}, ${p.rows}, ${p.cols}] backward with dW`,
  b.add("general loop", () => { neuronBackward(gS, h, words, x, pa, derivative, gx, gv); }, opts),
  b.add("fast path, 1 thread", () => { neuronBackwardThreads(gS, h, words, x, pa, derivative, gx, gv, alpha, 1); }, opts),
  b.add("fast path, 2 threads", () => { neuronBackwardThreads(gS, h, words, x, pa, derivative, gx, gv, alpha, 2); }, opts),
  b.cycle(),
  b.complete((sum) => { for (const r of sum.results) opsA[r.name] = 1 / r.details.median; }),
);
console.log(`PLIAF backward fast path: ${(opsA["fast path, 1 thread"]! / opsA["general loop"]!).toFixed(2)}x the general loop's speed on 1 thread, ` +
  `${(opsA["fast path, 2 threads"]! / opsA["general loop"]!).toFixed(2)}x on 2 threads`);
process.exit(0);
