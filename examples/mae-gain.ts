/**
 * Does Spikformer V2's masked pre-training pay off at small scale? (issue 19)
 *
 * Per seed: the 8,000 MNIST training digits are split (seeded) into a
 * validation split (--val, default 1,000) and a pool of the rest. The pool,
 * without labels, pre-trains a small V2 encoder (T = 1) as a masked
 * autoencoder; labelled subsets of the pool (--labels, default 100 and 1,000:
 * 10 and 100 per class, nested) then train classifiers, every choice made on
 * the validation split and the 2,000 test digits read once per arm at the end:
 *
 * - `mae`: fine-tuned from the pre-trained encoder (layer-wise lr decay);
 * - `scratch-steps`: the same classifier from a random initialisation on the
 *   same schedule (same epoch budget, same early stopping);
 * - `scratch-time`: from scratch for the wall time of pre-training plus
 *   fine-tuning, keeping the best validation epoch (no early stopping); the
 *   time is priced in classifier steps by a calibration that times both kinds
 *   of step back to back, so the run is deterministic and a busy machine
 *   during one arm does not tilt it;
 * - each of the three then tuned briefly at T = 4 (the V2 recipe: fine-tune
 *   at T 1, tune at the larger T) and evaluated at T = 4;
 * - linear probes (softmax regression on the standardised pooled features of
 *   the frozen encoder, its batch-norm statistics re-estimated on the pool) on
 *   the pre-trained and on the random encoder.
 *
 * Early stopping: training ends when validation accuracy has not improved for
 * --patience epochs; the best validation epoch's weights are the arm's result.
 * A small labelled subset is repeated so an epoch holds at least
 * --epoch-samples samples (early stopping then looks at the same number of
 * steps whatever the budget). The MAE's reconstructions of test digits are
 * written beside those of the untrained MAE (same seed).
 *
 * Every finished arm is stored in OUT/seedS/results.json (weights beside it),
 * so a stopped experiment re-run with the same flags continues where it
 * stopped, and seeds can run as parallel processes (`--seeds 1 --threads 1`);
 * OUT/results.md holds the table (mean +- sample standard deviation over the
 * seeds done so far, and each seed's value).
 *
 *   npx tsx examples/mae-gain.ts [--seeds 0,1,2] [--labels 100,1000] [--out runs/mae-gain]
 *   npx tsx examples/mae-gain.ts --pilot --seeds 0 --labels 100 --pretrain-epochs 5 ...
 *     (--pilot: pre-training and the mae arm only, to choose the pre-training on the validation split)
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../src/autograd/tape.js";
import { backward } from "../src/autograd/tape.js";
import { parseArgs } from "../src/cli/args.js";
import { Linear } from "../src/nn/layers.js";
import { crossEntropy } from "../src/ops/loss.js";
import { Spikformer } from "../src/models/spikformer.js";
import { loadEncoderInto, MaskedAutoencoder, type MAEOptions } from "../src/models/mae/mae.js";
import { setThreads } from "../src/parallel/pool.js";
import { Rng } from "../src/tensor/random.js";
import { Tensor } from "../src/tensor/tensor.js";
import { stepScope } from "../src/tensor/retain.js";
import { writeFileAtomic } from "../src/io/safetensors-file.js";
import { AdamW } from "../src/train/optim.js";
import { readWeightsFile, saveWeights } from "../src/train/checkpoint.js";
import { countCorrect, evaluate } from "../src/train/evaluate.js";
import { updateBatchNorm } from "../src/train/update-bn.js";
import { passOverBatches } from "../src/train/batch-pass.js";
import { epochPermutation } from "../src/train/data/loader.js";
import { subset, type Dataset } from "../src/train/data/dataset.js";
import { loadData, type DataSplit } from "../src/train/data/spec.js";
import { ENCODER_FILE, pretrain, pretrainModelConfig, reconstructionPng, type PretrainOptions } from "../src/train/pretrain.js";
import { train, type TrainOptions } from "../src/train/trainer.js";
import { hasCheckpoint } from "../src/train/checkpoint.js";

const a = parseArgs("mae-gain", process.argv.slice(2), {
  data: { type: "string", default: "mnist", help: "images: mnist, or idx:DIR (e.g. idx:/usr/share/datasets/fashion-mnist)" },
  seeds: { type: "string", default: "0,1,2", help: "seeds, comma-separated" },
  labels: { type: "string", default: "100,1000", help: "labelled-subset sizes (multiples of 10: the same count per class)" },
  val: { type: "int", default: 1000, min: 100, help: "validation images carved from the 8,000 training digits" },
  model: { type: "string", default: "spikformer-v2-1-64", help: "V2 encoder / classifier" },
  patch: { type: "int", default: 4, help: "patch size" },
  mask: { type: "number", default: 0.75, help: "mask ratio" },
  "decoder-dim": { type: "int", default: 128, help: "decoder width" },
  "decoder-depth": { type: "int", default: 2, help: "decoder blocks" },
  "decoder-heads": { type: "int", default: 4, help: "decoder heads" },
  "pretrain-epochs": { type: "int", default: 10, help: "pre-training epochs over the pool" },
  "pretrain-lr": { type: "number", default: 1e-3, help: "pre-training peak lr (batch 32)" },
  epochs: { type: "int", default: 60, help: "fine-tuning / scratch epoch budget" },
  patience: { type: "int", default: 15, help: "early stopping: epochs without a better validation accuracy" },
  "epoch-samples": { type: "int", default: 1000, help: "a small subset is repeated to at least this many samples an epoch" },
  lr: { type: "number", default: 2e-3, help: "classifier peak lr (batch 32)" },
  "layer-decay": { type: "number", default: 0.7, help: "fine-tuning layer-wise lr decay" },
  "t4-epochs": { type: "int", default: 5, help: "epochs of tuning at T = 4" },
  "t4-lr": { type: "number", default: 2e-4, help: "lr of the T = 4 tuning" },
  "no-time-arm": { type: "boolean", help: "skip the equal-wall-time scratch arm" },
  pilot: { type: "boolean", help: "pre-training and the mae arm only (validation accuracy for choosing the pre-training)" },
  threads: { type: "int", min: 1, help: "worker threads (default: the engine's)" },
  out: { type: "string", default: "runs/mae-gain", help: "output folder" },
});
if (a.threads !== undefined) setThreads(a.threads);
const seeds = a.seeds!.split(",").map(Number);
const budgets = a.labels!.split(",").map(Number);
for (const L of budgets) if (!(Number.isInteger(L) && L >= 10 && L % 10 === 0)) throw new Error(`mae-gain: --labels takes multiples of 10, got ${L}`);
const out = a.out!;
mkdirSync(out, { recursive: true });

// ---- results: one store per seed (seeds may run as parallel processes), one record per finished arm ----
// Flags that only choose which arms run (or where) stay out: an arm's result does not depend on them.
const settingsOf = (o: object): string =>
  JSON.stringify({ ...o, seeds: undefined, labels: undefined, threads: undefined, out: undefined, pilot: undefined, "no-time-arm": undefined, _: undefined });
const settings = settingsOf(a);
interface ArmResult {
  test: number;
  val: number;
  bestEpoch: number;
  epochs: number;
  steps: number;
  seconds: number;
  [k: string]: number;
}
interface Store { settings: string; arms: Record<string, ArmResult> }
const storePath = (seed: number): string => join(out, `seed${seed}`, "results.json");
function readStore(seed: number): Store | null {
  const p = storePath(seed);
  if (!existsSync(p)) return null;
  const st = JSON.parse(readFileSync(p, "utf8")) as Store;
  if (settingsOf(JSON.parse(st.settings) as object) !== settings) throw new Error(`mae-gain: ${p} was made with other settings (${st.settings}); use another --out`);
  return st;
}
/** The stored result of `key` for `seed`, or `run()`'s, stored at once (atomically). */
function arm(seed: number, key: string, run: () => ArmResult): ArmResult {
  const st = readStore(seed) ?? { settings, arms: {} };
  const done = st.arms[key];
  if (done) return done;
  const r = run();
  st.arms[key] = r;
  mkdirSync(join(out, `seed${seed}`), { recursive: true });
  writeFileAtomic(storePath(seed), new TextEncoder().encode(JSON.stringify(st, null, 1)));
  console.log(`seed${seed}/${key}: ${JSON.stringify(r)}`);
  writeTable();
  return r;
}

// ---- data: a fixed train/test split (the main job's), per-seed validation and labelled subsets ----
const all = loadData(a.data!, 0);
if (all.train.frames !== undefined || all.train.numClasses !== 10) throw new Error(`mae-gain: --data must hold images of 10 classes, got ${all.description}`);
const test = all.test;
function seedData(seed: number): { val: Dataset; pool: Dataset; labelled: (L: number) => Dataset } {
  const n = all.train.labels.length;
  const perm = epochPermutation(n, seed ^ 0x6d616567, 0);
  const val = subset(all.train, perm.subarray(0, a.val!));
  const rest = perm.subarray(a.val!);
  const pool = subset(all.train, rest);
  const labelled = (L: number): Dataset => {
    // The first L/10 of each class in the seeded order: the 100-label subset lies inside the 1,000-label one.
    const per = L / 10, taken = new Array<number>(10).fill(0), pick: number[] = [];
    for (const i of rest) {
      const c = all.train.labels[i]!;
      if (taken[c]! < per) { taken[c]!++; pick.push(i); }
    }
    if (pick.length !== L) throw new Error(`mae-gain: the pool holds fewer than ${per} digits of some class`);
    const reps = Math.max(1, Math.ceil(a["epoch-samples"]! / L));
    return subset(all.train, Array.from({ length: reps * L }, (_, j) => pick[j % L]!));
  };
  return { val, pool, labelled };
}

// ---- classifier runs with early stopping on the validation split ----
type State = Map<string, { shape: number[]; data: Float32Array | Float64Array | BigInt64Array }>;
function snapshot(m: Spikformer): State {
  const s: State = new Map();
  for (const [k, v] of m.stateDict()) s.set(k, { shape: [...v.shape], data: (v.data as Float32Array | Float64Array | BigInt64Array).slice() });
  return s;
}
const arch = (T: number) => ({ patchSize: a.patch!, T });
function classifierOptions(seed: number, T: number, epochs: number, lr: number, warmupEpochs: number): TrainOptions {
  return {
    model: a.model!, modelOverrides: arch(T), data: a.data!, epochs, batch: 32, lr, wd: 0.05, warmupEpochs, minLr: 1e-6,
    labelSmoothing: 0.1, mixup: 0, augment: { crop: { padding: 2, fill: "black" } }, clip: 0, seed, out: null, resume: false,
    checkpointEvery: 0, stopAfter: 0, evalBatch: 250,
  };
}
/** Trains with early stopping on `val`, restores the best epoch, evaluates on the test digits, writes the weights. */
function runClassifier(
  file: string, opts: TrainOptions, trainSet: Dataset, val: Dataset, patience: number,
  init: ((m: Spikformer) => void) | null, layerDecay?: number,
): ArmResult {
  let model: Spikformer | null = null;
  let best = -1, bestEpoch = 0, epochs = 0, steps = 0;
  let bestState: State | null = null;
  const r = train({ ...opts, ...(layerDecay !== undefined ? { layerDecay } : {}) }, {
    onModel: (m) => { model = m as Spikformer; init?.(model); },
    onStep: () => { steps++; },
    onEpoch: (e) => {
      epochs = e.epoch + 1;
      if (e.test.accuracy > best) { best = e.test.accuracy; bestEpoch = epochs; bestState = snapshot(model!); }
      return epochs - bestEpoch >= patience;
    },
  }, { train: trainSet, test: val, description: "labelled subset / validation" });
  const m = r.model as Spikformer;
  m.loadStateDict(bestState!, { strict: true });
  const t = evaluate(m, test, 250);
  saveWeights(file, m, m.config as unknown as Record<string, unknown>);
  return { test: t.accuracy, val: best, bestEpoch, epochs, steps, seconds: r.seconds };
}
const loadFile = (file: string) => (m: Spikformer): void => { m.loadStateDict(readWeightsFile(file).tensors as Map<string, { shape: number[]; data: Float32Array }>, { strict: true, source: file }); };

// ---- linear probe: softmax regression on standardised pooled features of a frozen encoder ----
function pooled(m: Spikformer, d: Dataset): { x: Float32Array; y: Int32Array; n: number; D: number } {
  const D = m.config.embedDims, n = d.labels.length, x = new Float32Array(n * D);
  passOverBatches(m, d, 250, {}, (b, at) => x.set(m.pooledFeatures(b.images).data as Float32Array, at * D));
  return { x, y: d.labels, n, D };
}
function linearProbe(encoder: Spikformer, pool: Dataset, trainSet: Dataset, val: Dataset, seed: number): ArmResult {
  const t0 = performance.now();
  // Batch-norm statistics from the unlabelled pool, all patches visible, for both encoders: a fresh one's
  // (mean 0, variance 1) leave it silent in eval mode, and pre-training saw masked images.
  updateBatchNorm(encoder, pool, 50, 3000);
  const [tr, va, te] = [trainSet, val, test].map((d) => pooled(encoder, d));
  const D = tr!.D;
  // Standardise with the training features' statistics (MAE's linear probe puts a BatchNorm without affine first).
  const mu = new Float64Array(D), sd = new Float64Array(D);
  for (let i = 0; i < tr!.n; i++) for (let j = 0; j < D; j++) mu[j]! += tr!.x[i * D + j]! / tr!.n;
  for (let i = 0; i < tr!.n; i++) for (let j = 0; j < D; j++) sd[j]! += (tr!.x[i * D + j]! - mu[j]!) ** 2 / tr!.n;
  const norm = (f: { x: Float32Array; n: number }): Tensor => {
    const o = new Float32Array(f.x.length);
    for (let i = 0; i < f.n; i++) for (let j = 0; j < D; j++) o[i * D + j] = (f.x[i * D + j]! - mu[j]!) / Math.sqrt(sd[j]! + 1e-6);
    return new Tensor(o, [f.n, D]);
  };
  const [xt, xv, xe] = [tr!, va!, te!].map(norm);
  const head = new Linear(D, 10, { rng: new Rng(seed) });
  const opt = new AdamW([...head.parameters()], { lr: 1e-2, weightDecay: 1e-4 });
  const acc = (x: Tensor, y: Int32Array): number => noGrad(() => stepScope(() => countCorrect(head.forward(x), y) / y.length, head));
  let best = -1, bestEpoch = 0, bestTest = 0;
  const iters = 1000;
  for (let it = 1; it <= iters; it++) {
    stepScope(() => {
      backward(crossEntropy(head.forward(xt!), tr!.y));
      opt.step();
      opt.zeroGrad();
    }, head, opt);
    if (it % 10 === 0) {
      const v = acc(xv!, va!.y);
      if (v > best) { best = v; bestEpoch = it; bestTest = acc(xe!, te!.y); }
    }
  }
  return { test: bestTest, val: best, bestEpoch, epochs: iters, steps: iters, seconds: (performance.now() - t0) / 1000 };
}

// ---- the experiment ----
const maeOptions: Partial<MAEOptions> = { maskRatio: a.mask!, decoderDim: a["decoder-dim"]!, decoderDepth: a["decoder-depth"]!, decoderHeads: a["decoder-heads"]! };

/**
 * Seconds of a pre-training step and of a T = 1 classifier step (batch 32), timed back to back over
 * 20 steps each after 5 of warm-up: the equal-time arm's budget is priced from these, not from the
 * arms' own wall times, so a busy machine during one arm does not tilt the comparison.
 */
const calibrate = (): ArmResult => {
  const split: DataSplit = all;
  const warm = 5, n = 20;
  const timed = (run: (onStep: () => void) => void): number => {
    const t: number[] = [];
    run(() => t.push(performance.now()));
    return (t[warm + n - 1]! - t[warm - 1]!) / 1000 / n;
  };
  const pre = timed((onStep) => pretrain({
    model: a.model!, modelOverrides: arch(1), mae: maeOptions, data: a.data!, epochs: 1, batch: 32, lr: 1e-3, wd: 0.05, warmupEpochs: 0,
    minLr: 0, clip: 0, seed: 0, out: null, resume: false, checkpointEvery: 0, stopAfter: warm + n, evalImages: 0,
  }, { onStep }, split));
  const cls = timed((onStep) => train({ ...classifierOptions(0, 1, 1, a.lr!, 0), stopAfter: warm + n }, { onStep }, split));
  return { test: NaN, val: NaN, bestEpoch: 0, epochs: 0, steps: 2 * n, seconds: n * (pre + cls), pretrainStep: pre, classifierStep: cls };
};
for (const seed of seeds) {
  const dir = join(out, `seed${seed}`);
  mkdirSync(dir, { recursive: true });
  const { val, pool, labelled } = seedData(seed);
  const split: DataSplit = { train: pool, test: val, description: "pool (labels unused) / validation" };
  const preDir = join(dir, "pretrain");
  const preOpts: PretrainOptions = {
    model: a.model!, modelOverrides: arch(1), mae: maeOptions, data: a.data!, epochs: a["pretrain-epochs"]!, batch: 32,
    lr: a["pretrain-lr"]!, wd: 0.05, warmupEpochs: 1, minLr: 1e-5, clip: 0, seed, out: preDir,
    resume: false, checkpointEvery: 50, stopAfter: 0, evalImages: val.labels.length,
  };
  const calib = arm(seed, "calibration", calibrate);
  const pre = arm(seed, "pretrain", () => {
    const losses: number[] = [];
    const r = pretrain({ ...preOpts, resume: hasCheckpoint(preDir) }, {
      onEpoch: (e) => { losses.push(e.testLoss); console.log(`seed ${seed} pretrain epoch ${e.epoch + 1}/${e.epochs}: train ${e.trainLoss.toFixed(4)}, validation masked loss ${e.testLoss.toFixed(4)} (${e.seconds.toFixed(0)} s)`); },
    }, split);
    const mae = r.mae;
    const shown = reconstructionPng(mae, test, 8, seed);
    writeFileAtomic(join(dir, "recon-pretrained.png"), shown.png);
    const fresh = new MaskedAutoencoder(pretrainModelConfig(preOpts, split), maeOptions);
    const untrained = reconstructionPng(fresh, test, 8, seed);
    writeFileAtomic(join(dir, "recon-untrained.png"), untrained.png);
    const last = losses.length;
    return {
      test: shown.loss, val: losses[last - 1] ?? NaN, bestEpoch: last, epochs: a["pretrain-epochs"]!,
      steps: r.position.iteration, seconds: r.seconds, untrainedLoss: untrained.loss,
      // How flat the curve ended: the relative drop of the validation masked loss over the last quarter of the epochs.
      lastQuarterDrop: last >= 4 ? (losses[last - 1 - Math.floor(last / 4)]! - losses[last - 1]!) / losses[last - 1 - Math.floor(last / 4)]! : NaN,
    };
  });
  const encoderFile = join(preDir, ENCODER_FILE);
  const encoder = readWeightsFile(encoderFile).tensors as Map<string, { shape: number[]; data: Float32Array }>;
  const fromEncoder = (m: Spikformer): void => loadEncoderInto(m, encoder, encoderFile);

  for (const L of budgets) {
    const lab = labelled(L);
    const key = (k: string): string => `L${L}/${k}`;
    const file = (k: string): string => join(dir, `L${L}-${k}.safetensors`);
    const warm = 1;
    const mae = arm(seed, key("mae"), () => runClassifier(file("mae"), classifierOptions(seed, 1, a.epochs!, a.lr!, warm), lab, val, a.patience!, fromEncoder, a["layer-decay"]!));
    if (a.pilot) continue;
    for (const [k, init] of [["probe-pretrained", fromEncoder], ["probe-random", null]] as const) {
      arm(seed, key(k), () => {
        const m = new Spikformer(pretrainModelConfig({ model: a.model!, modelOverrides: { ...arch(1), numClasses: 10 }, seed }, split));
        init?.(m);
        return linearProbe(m, pool, subset(lab, Int32Array.from({ length: L }, (_, i) => i)), val, seed);
      });
    }
    const steps = arm(seed, key("scratch-steps"), () => runClassifier(file("scratch-steps"), classifierOptions(seed, 1, a.epochs!, a.lr!, warm), lab, val, a.patience!, null));
    const arms = ["mae", "scratch-steps"];
    if (!a["no-time-arm"]) {
      // Pre-training plus fine-tuning, priced in classifier steps by the calibration (evaluations not counted).
      const budgetSteps = (pre.steps * calib.pretrainStep!) / calib.classifierStep! + mae.steps;
      // Longer epochs (the subset repeated more) keep the validation passes to about --epochs of them.
      const stepsPerEpoch = steps.steps / steps.epochs, scale = Math.max(1, Math.round(budgetSteps / stepsPerEpoch / a.epochs!));
      const longer = subset(lab, Int32Array.from({ length: scale * lab.labels.length }, (_, i) => i % lab.labels.length));
      const epochs = Math.max(1, Math.round(budgetSteps / (scale * stepsPerEpoch)));
      arm(seed, key("scratch-time"), () => ({ ...runClassifier(file("scratch-time"), classifierOptions(seed, 1, epochs, a.lr!, warm / scale), longer, val, Infinity, null), budgetSteps }));
      arms.push("scratch-time");
    }
    for (const k of arms) {
      arm(seed, key(`${k}-T4`), () => runClassifier(file(`${k}-T4`), classifierOptions(seed, 4, a["t4-epochs"]!, a["t4-lr"]!, 0), lab, val, Infinity, loadFile(file(k))));
    }
  }
}
writeTable();
process.exit(0);

// ---- the table ----
function writeTable(): void {
  const rows: string[] = [];
  const stat = (xs: number[]): string => {
    if (!xs.length) return "-";
    const m = xs.reduce((p, q) => p + q, 0) / xs.length;
    const s = xs.length > 1 ? Math.sqrt(xs.reduce((p, q) => p + (q - m) ** 2, 0) / (xs.length - 1)) : NaN;
    return `${(100 * m).toFixed(2)}${xs.length > 1 ? ` +- ${(100 * s).toFixed(2)}` : ""} (${xs.map((x) => (100 * x).toFixed(1)).join(", ")})`;
  };
  const seedsDone = readdirSync(out).filter((d) => /^seed\d+$/.test(d)).map((d) => Number(d.slice(4))).sort((x, y) => x - y);
  const stores = seedsDone.map(readStore).filter((x): x is Store => x !== null);
  const get = (k: string): ArmResult[] => stores.map((st) => st.arms[k]).filter((r): r is ArmResult => r !== undefined);
  rows.push(`# mae-gain results (${out}): seeds ${seedsDone.join(", ")}`, "", `settings: ${settings}`, "");
  const pre = get("pretrain");
  rows.push(`pre-training: ${pre.length} seed(s), ${pre.map((r) => r.seconds.toFixed(0)).join(" / ")} s, validation masked loss ${pre.map((r) => r.val.toFixed(4)).join(" / ")}`,
    `(untrained MAE ${pre.map((r) => r.untrainedLoss!.toFixed(4)).join(" / ")}); drop over the last quarter of epochs ${pre.map((r) => (100 * r.lastQuarterDrop!).toFixed(1) + "%").join(" / ")}`, "");
  rows.push("| labels | arm | test accuracy T=1 (mean +- sd, per seed) | T=4 after tuning | epochs (best) | seconds |", "|---|---|---|---|---|---|");
  for (const L of budgets) {
    for (const k of ["mae", "scratch-steps", "scratch-time", "probe-pretrained", "probe-random"]) {
      const r1 = get(`L${L}/${k}`);
      if (!r1.length) continue;
      const r4 = get(`L${L}/${k}-T4`);
      rows.push(`| ${L} | ${k} | ${stat(r1.map((r) => r.test))} | ${r4.length ? stat(r4.map((r) => r.test)) : "-"} | ${r1.map((r) => `${r.epochs} (${r.bestEpoch})`).join(", ")} | ${r1.map((r) => r.seconds.toFixed(0)).join(", ")} |`);
    }
  }
  writeFileAtomic(join(out, "results.md"), new TextEncoder().encode(rows.join("\n") + "\n"));
}
