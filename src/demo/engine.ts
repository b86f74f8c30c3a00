/**
 * The demo's engine, in a module Web Worker of its own: the pool's caller
 * blocks in Atomics.wait, which a page's main thread may not. It fetches the
 * digits, trains a small Spikformer with the pool over Web Workers when the
 * page is cross-origin isolated (else on this thread alone), classifies drawn
 * digits with their spikes and firing rates, and saves and loads weights files.
 */
import {
  AdamW, CosineSchedule, EnergyProbe, Spikformer, Tensor, backward, batches, classifierFromWeights, countCorrect, energyReport, evaluate,
  fingerprintStep, fromBytes, getThreads, noGrad, ops, paramGroupsWithDecayExclusions, parseWeights, poolInfo, poolReady, probeSample, setThreadHost,
  setThreads, spikformerConfig, stepScope, webThreadHost, webThreadsUnavailable, weightsBytes, type Dataset, type SpikformerConfig,
} from "../browser.js";
import type { FromEngine, ToEngine } from "./protocol.js";

interface Scope {
  onmessage: ((e: { data: ToEngine }) => void) | null;
  postMessage(m: FromEngine, transfer?: ArrayBuffer[]): void;
  fetch(url: string): Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }>;
  location: { href: string };
}
const scope = globalThis as unknown as Scope;
const post = (m: FromEngine): void => scope.postMessage(m);

/** The demo's model: the CIFAR layout on 28x28 digits, one block, 64 wide, 4 heads, T = 1. */
const MODEL = "spikformer-cifar-1-64";
const config = (): SpikformerConfig => spikformerConfig(MODEL, { imgSize: 28, inChannels: 1, numClasses: 10, numHeads: 4, T: 1 });

let train: Dataset;
let test: Dataset;
let model: Spikformer;
let optimizer: AdamW;
let iteration = 0;
let epoch = 0;
let stopRequested = false;

function freshOptimizer(): void {
  optimizer = new AdamW(paramGroupsWithDecayExclusions(model.namedParameters(), { lr: 5e-3, weightDecay: 0.01 }), { lr: 5e-3, weightDecay: 0.01 });
  iteration = 0;
}

async function init(threads: number): Promise<void> {
  const why = webThreadsUnavailable();
  if (why === null) {
    await setThreadHost(webThreadHost());
    setThreads(Math.max(1, threads));
  } else setThreads(1);
  const usable = why === null ? await poolReady() : 1;
  const res = await scope.fetch(new URL("/data/mnist.bin", scope.location.href).href);
  if (!res.ok) throw new Error(`the digits did not load (HTTP ${res.status})`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const hlen = new DataView(bytes.buffer).getUint32(0, true);
  const h = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + hlen))) as { train: number; test: number; shape: number[]; mean: number[]; std: number[]; numClasses: number };
  const px = bytes.subarray(4 + hlen);
  const n = h.train + h.test;
  const labels = px.subarray(n * 784);
  const split = (from: number, count: number): Dataset =>
    fromBytes("mnist", px.subarray(from * 784, (from + count) * 784), Int32Array.from(labels.subarray(from, from + count)), h.shape as [number, number, number], h.numClasses, h.mean, h.std);
  train = split(0, h.train);
  test = split(h.train, h.test);
  model = new Spikformer(config()).train();
  freshOptimizer();
  post({ type: "ready", threads: usable, isolated: why === null, why, trainSize: h.train, testSize: h.test, model: MODEL, parameters: model.numParameters() });
}

/** Trains `steps` steps (yielding between them, so a stop message gets through), then tests on 500 digits. */
async function trainSteps(steps: number, batch: number): Promise<void> {
  stopRequested = false;
  const schedule = new CosineSchedule({ baseLr: 5e-3, totalIters: steps, warmupIters: Math.min(5, steps - 1), minLr: 1e-4 });
  let done = 0;
  while (done < steps && !stopRequested) {
    for (const b of batches(train, batch, { seed: 0, epoch, dropLast: true })) {
      if (done >= steps || stopRequested) break;
      const t0 = performance.now();
      const lr = schedule.lrAt(done);
      optimizer.setLr(lr);
      const { loss, correct } = stepScope(() => {
        const logits = model.forward(b.images);
        const l = ops.crossEntropy(logits, b.labels, { labelSmoothing: 0.1 });
        const out = { loss: l.item(), correct: countCorrect(logits, b.labels) };
        backward(l, undefined, { releaseActivations: true });
        optimizer.step();
        optimizer.zeroGrad();
        return out;
      }, model, optimizer);
      done++;
      iteration++;
      post({ type: "step", step: iteration, loss, accuracy: correct / b.labels.length, imagesPerSecond: b.labels.length / ((performance.now() - t0) / 1000), lr, threads: getThreads() });
      await new Promise((r) => setTimeout(r, 0));
    }
    if (done < steps && !stopRequested) epoch++;
  }
  const r = evaluate(model, test, 100, 500);
  post({ type: "trained", steps: done, testAccuracy: r.accuracy, testSamples: r.samples });
}

/** Classifies a drawn digit (raw intensities 0..1, 28x28) and reports its spikes and per-layer firing rates. */
function predict(pixels: Float32Array): void {
  const { mean, std } = train;
  const x = Tensor.zeros([1, 1, 28, 28]);
  for (let i = 0; i < 784; i++) x.data[i] = (pixels[i]! - mean![0]!) / std![0]!;
  const energy = new EnergyProbe();
  const { probe, logits } = noGrad(() => probeSample(model, x, 192, energy));
  const max = Math.max(...logits);
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const sum = e.reduce((a, v) => a + v, 0);
  const probabilities = e.map((v) => v / sum);
  const rates = energyReport(energy, 1).rows.filter((r) => r.input === "spikes").map((r) => ({ name: r.name, rate: r.firingRate }));
  post({ type: "prediction", probabilities, predicted: probabilities.indexOf(Math.max(...probabilities)), bands: probe.bands, rates });
}

async function handle(m: ToEngine): Promise<void> {
  switch (m.type) {
    case "init": return init(m.threads);
    case "train": return trainSteps(m.steps, m.batch);
    case "stop": stopRequested = true; return;
    case "predict": return predict(m.pixels);
    case "fingerprint": {
      const parts0 = poolInfo().workerParts;
      const value = fingerprintStep(train.images, train.labels);
      post({ type: "fingerprint", value, threads: getThreads(), workerParts: poolInfo().workerParts - parts0 });
      return;
    }
    case "save": {
      post({ type: "weights", bytes: weightsBytes(model, model.config) });
      return;
    }
    case "load": {
      const loaded = classifierFromWeights(parseWeights(m.bytes, m.name), m.name);
      const c = loaded.config;
      if (c.inChannels !== 1 || c.imgSize !== 28 || c.numClasses !== 10) throw new Error(`${m.name}: the model takes ${c.imgSize}x${c.imgSize}x${c.inChannels} images and ${c.numClasses} classes; the demo needs 28x28x1 digits and 10 classes`);
      model = loaded.train();
      freshOptimizer();
      post({ type: "loaded", name: m.name, model: `spikformer-${c.variant}-${c.depths}-${c.embedDims}` });
      return;
    }
  }
}

// Messages run one at a time, in order; a stop is handled at once (the training loop yields for it).
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (e) => {
  if (e.data.type === "stop") {
    stopRequested = true;
    return;
  }
  queue = queue.then(() => handle(e.data)).catch((err: unknown) => post({ type: "error", message: err instanceof Error ? err.message : String(err) }));
};
