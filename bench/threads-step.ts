/**
 * One training step (forward + cross-entropy + backward) of spikformer-cifar-1-64
 * at 28x28x1, T = 2, batch 32, on real MNIST digits, with 1 and then 2 threads
 * (or the counts given). Prints the median step time per thread count and a
 * fingerprint of the loss and every gradient (FNV-1a over the float bits): it
 * must not change with the thread count (nor match bench/train-step.ts less).
 *
 *   npx tsx bench/threads-step.ts [threads,threads,...] [steps]     e.g. 1,2 7
 */
import { Spikformer } from "../src/models/spikformer.js";
import { FINGERPRINT_BATCH, fingerprintModelConfig, gradientFingerprint } from "../src/train/fingerprint.js";
import { Tensor } from "../src/tensor/tensor.js";
import { crossEntropy } from "../src/ops/loss.js";
import { backward } from "../src/autograd/tape.js";
import { loadMnist } from "../src/train/data/mnist.js";
import { poolInfo, poolReady, setThreads, shutdownPool } from "../src/parallel/pool.js";

const args = process.argv.slice(2);
const counts = (args.find((a) => a.includes(",")) ?? "1,2").split(",").map(Number);
const steps = Number(args.find((a) => /^\d+$/.test(a)) ?? 7);

const B = FINGERPRINT_BATCH;
const model = new Spikformer(fingerprintModelConfig());
model.train();
const { train } = loadMnist({ trainSize: B, testSize: 1 });
const x = new Tensor(train.images.slice(0, B * 28 * 28), [B, 1, 28, 28]);
const labels = train.labels.slice(0, B);
const params = [...model.parameters()];

for (const t of counts) {
  setThreads(t);
  const usable = await poolReady();
  const parts0 = poolInfo().workerParts;
  const times: number[] = [];
  let fp = "";
  for (let s = 0; s < steps + 1; s++) {
    model.zeroGrad();
    const t0 = performance.now();
    const loss = crossEntropy(model.forward(x), labels);
    backward(loss);
    const ms = performance.now() - t0;
    if (s > 0) times.push(ms); // step 0 warms up
    if (s === 1) fp = gradientFingerprint(loss, params);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const med = sorted[sorted.length >> 1]!;
  console.log(`threads ${t} (usable ${usable}): median ${med.toFixed(0)} ms [${times.map((v) => v.toFixed(0)).join(", ")}], ` +
    `${((poolInfo().workerParts - parts0) / (steps + 1)).toFixed(0)} worker parts/step, fingerprint ${fp}`);
}
await shutdownPool();

