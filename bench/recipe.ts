/**
 * The PyTorch peer's MNIST training recipe, run by the peer and by bitspike in the same
 * session (issue 13): ../shared/peers/torch_ref/train_mnist.py --T 2 (Spikformer-2-128,
 * 4 heads, patch 4, T 2, batch 64, AdamW lr 1e-3, weight decay 0.01 on >= 2-D parameters
 * only, label smoothing 0.1, one epoch of linear warm-up then cosine to 0, random shift of
 * +-2 px, 5 epochs) and `bitspike train` with the flags that match it ({@link bitspikeArgs}).
 *
 * Both train on the peer's own split of the mnist package's 10,000 digits (np.random.seed(0)
 * permutation of the digits in class order; first 8,000 train, last 2,000 test), which this
 * script rebuilds in TypeScript (bench/numpy-permutation.ts) and writes as the `file:`
 * safetensors pair bitspike reads; when torch runs, the peer's own load_split makes its .npz
 * cache first (untimed) and the two copies are checked equal by sha256. Each framework runs
 * as a child process: its wall time is from launch to exit (start-up, data load and every
 * epoch's evaluation included), and each epoch's test accuracy is stamped with the wall time
 * at which it was printed. Everything written goes to runs/recipe/ (the split, the npz cache,
 * bitspike's --out); nothing is written under ../shared except, when it is missing, the
 * OpenBLAS that run_bench.sh unpacks into torch_ref/.openblas (bench/peers.ts
 * unpackOpenblas), so the peer runs in its tuned environment.
 *
 *   npm run bench:recipe -- [--epochs 5] [--threads 2] [--skip-torch] [--skip-bitspike]
 *                           [--steps N] [--json]
 *
 * --steps N stops each framework after N training steps (bitspike --stop-after, the
 * peer's --max-iters): a smoke test of the set-up, timings only, no accuracy. Where torch
 * cannot be imported, the script says so and runs bitspike alone. Progress goes to stderr;
 * the table (or JSON with --json) to stdout.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { writeSafetensorsFile } from "../src/io/safetensors-file.js";
import { mnistDigitsDir } from "../src/train/data/mnist.js";
import { numpyPermutation } from "./numpy-permutation.js";
import { PY, describeFailure, torchDir, torchPeer, unpackOpenblas, type TorchPeer } from "./peers.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WORK = join(repo, "runs", "recipe");
const log = (l: string): void => void process.stderr.write(l + "\n");

/** The peer's recipe (train_mnist.py's defaults, with --T 2). */
export const RECIPE = {
  depths: 2, dim: 128, heads: 4, patch: 4, T: 2, mlpRatio: 4,
  batch: 64, lr: 1e-3, wd: 0.01, labelSmoothing: 0.1, warmupEpochs: 1, minLr: 0, shift: 2,
  evalBatch: 64, seed: 0, trainSize: 8000, testSize: 2000, mean: 0.1307, std: 0.3081,
} as const;

/**
 * Where the two runs differ, as far as the flags can tell (README, "Benchmarks"). The
 * weights, batch order and shifts also come from each framework's own random generator.
 */
export const DIFFERENCES: readonly string[] = [
  "warm-up: bitspike's linear warm-up starts at 1e-6 and reaches lr one iteration later than the peer's " +
    "(1e-6 + it (lr - 1e-6) / W against lr (it + 1) / W, W = 125 iterations, the first epoch); the cosine after it is the same " +
    "(lr at iteration W, 0 at the end of the last epoch, which neither runs); with --epochs 1 bitspike warms up over 124 " +
    "iterations and takes one cosine step, the peer warms up over all 125",
  "random shift: both move each training image by dy, dx uniform in -2..2 and pad with black (raw 0, -0.424 after " +
    "normalisation): the peer pads the raw image before normalising, bitspike (--crop-fill black) the normalised one with that value",
  "normalisation: the same (x - 0.1307) / 0.3081 on the same float32 pixels; bitspike computes it in float64 " +
    "and rounds once, torch in float32 (normalised pixels differ by 2.4e-7 at most)",
  "random streams: initial weights (same laws: trunc-normal 0.02 Linear, PyTorch's kaiming-uniform convs, BN 1 / 0), " +
    "each epoch's order and the shifts are drawn by each framework's own generator from seed 0, so the runs are not the same draws",
  "evaluation: the same (eval-mode batch norm with running statistics, no gradients, batch 64, the 2,000 test digits)",
  "model size: bitspike counts 647,546 parameters, the peer 646,522; the 1,024 more are the LayerNorms norm1 / norm2 " +
    "that the official model builds but never calls (no gradient, no update)",
  "start-up and files: bitspike in this checkout starts through tsx (the TypeScript compiled as it loads), and writes a log line a step, " +
    "a checkpoint after every epoch and the weights at the end; the peer writes nothing; both walls run from launch to exit",
];

/** The bench's own flags. */
export interface RecipeArgs {
  epochs: number;
  threads: number;
  skipTorch: boolean;
  skipBitspike: boolean;
  /** Stop each framework after this many training steps (0: run the epochs). */
  steps: number;
  json: boolean;
}

export const RECIPE_USAGE = "usage: npm run bench:recipe -- [--epochs 5] [--threads 2] [--skip-torch] [--skip-bitspike] [--steps N] [--json]";

/** Parses the bench's flags (`--flag value` or `--flag=value`); throws naming a bad one. */
export function parseRecipeArgs(argv: readonly string[]): RecipeArgs {
  const a: RecipeArgs = { epochs: 5, threads: 2, skipTorch: false, skipBitspike: false, steps: 0, json: false };
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = v === undefined || v.trim() === "" ? NaN : Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`${flag} needs an integer >= ${min}, got '${v ?? ""}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    const eq = f.indexOf("=");
    const [flag, inline] = eq >= 0 ? [f.slice(0, eq), f.slice(eq + 1)] : [f, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    const bool = (): boolean => {
      if (inline !== undefined) throw new Error(`${flag} takes no value`);
      return true;
    };
    switch (flag) {
      case "--epochs": a.epochs = int(flag, value(), 1); break;
      case "--threads": a.threads = int(flag, value(), 1); break;
      case "--steps": a.steps = int(flag, value(), 1); break;
      case "--skip-torch": a.skipTorch = bool(); break;
      case "--skip-bitspike": a.skipBitspike = bool(); break;
      case "--json": a.json = bool(); break;
      case "-h": case "--help": throw new Error(RECIPE_USAGE);
      default: throw new Error(`unknown flag '${f}'; ${RECIPE_USAGE}`);
    }
  }
  if (a.skipTorch && a.skipBitspike) throw new Error("--skip-torch and --skip-bitspike together leave nothing to run");
  return a;
}

/** `bitspike train` arguments for the recipe (every recipe setting explicit, so a changed default cannot move it). */
export function bitspikeArgs(a: RecipeArgs, trainFile: string, testFile: string, out: string): string[] {
  const R = RECIPE;
  return [
    "train",
    "--model", `spikformer-cifar-${R.depths}-${R.dim}`,
    "--data", `file:${trainFile},${testFile}`,
    "--img-size", "28", "--in-channels", "1", "--classes", "10",
    "--patch", String(R.patch), "--heads", String(R.heads), "--T", String(R.T), "--mlp-ratio", String(R.mlpRatio),
    "--epochs", String(a.epochs), "--batch", String(R.batch),
    "--lr", String(R.lr), "--wd", String(R.wd),
    "--warmup", String(R.warmupEpochs), "--min-lr", String(R.minLr),
    "--label-smoothing", String(R.labelSmoothing),
    "--crop", String(R.shift), "--crop-fill", "black", "--hflip", "0", "--erase", "0", "--mixup", "0", "--clip", "0",
    "--seed", String(R.seed), "--eval-batch", String(R.evalBatch),
    "--threads", String(a.threads), "--out", out,
    ...(a.steps ? ["--stop-after", String(a.steps)] : []),
  ];
}

/** train_mnist.py arguments for the recipe: its defaults with --T 2, spelled out. */
export function torchArgs(a: RecipeArgs, script: string, digits: string, cache: string): string[] {
  const R = RECIPE;
  return [
    script, "--T", String(R.T),
    "--depths", String(R.depths), "--dim", String(R.dim), "--heads", String(R.heads),
    "--epochs", String(a.epochs), "--bs", String(R.batch), "--lr", String(R.lr), "--wd", String(R.wd),
    "--smoothing", String(R.labelSmoothing), "--warmup-epochs", String(R.warmupEpochs),
    "--eval-bs", String(R.evalBatch), "--seed", String(R.seed), "--threads", String(a.threads),
    "--digits", digits, "--cache", cache, "--label", "bench-recipe",
    ...(a.steps ? ["--max-iters", String(a.steps)] : []),
  ];
}

/** One epoch as a framework printed it. */
export interface EpochRow {
  epoch: number;
  testAccuracy: number;
  testLoss: number;
  trainLoss: number;
  /** The epoch's own time (training and evaluation), s, as the framework measured it. */
  seconds: number;
  /** Seconds from the launch of the process to the line (filled in by the runner). */
  at: number;
}

/**
 * The peer's epoch line: `EPOCH 1: wall 123.4s (train 110.0s, eval 5.0s) train-loss 0.7 train-acc 0.81
 * test-loss 0.2 test-acc 0.9650` (wall and train cumulative since its start). `prevWall` is the
 * previous epoch's wall, so `seconds` is this epoch's share.
 */
export function parseTorchEpoch(line: string, prevWall: number): (EpochRow & { wall: number }) | null {
  const m = /^EPOCH (\d+): wall ([\d.]+)s \(train [\d.]+s, eval [\d.]+s\) train-loss ([\d.]+) train-acc [\d.]+ test-loss ([\d.]+) test-acc ([\d.]+)/.exec(line.trim());
  if (!m) return null;
  const wall = Number(m[2]);
  return { epoch: Number(m[1]), wall, seconds: wall - prevWall, trainLoss: Number(m[3]), testLoss: Number(m[4]), testAccuracy: Number(m[5]), at: NaN };
}

/** bitspike's epoch line: `epoch 1/5: train loss 0.7 acc 81.00% | test loss 0.2 acc 96.50% | 150.2 s`. */
export function parseBitspikeEpoch(line: string): EpochRow | null {
  const m = /^epoch (\d+)\/\d+: train loss ([\d.]+) acc [\d.]+% \| test loss ([\d.]+) acc ([\d.]+)% \| ([\d.]+) s$/.exec(line.trim());
  if (!m) return null;
  return { epoch: Number(m[1]), trainLoss: Number(m[2]), testLoss: Number(m[3]), testAccuracy: Number(m[4]) / 100, seconds: Number(m[5]), at: NaN };
}

/** The parameter count either framework prints (`params=646,522` / `(646,522 parameters`). */
export function parseParams(line: string): number | null {
  const m = /params=([\d,]+)/.exec(line) ?? /\(([\d,]+) parameters/.exec(line);
  return m ? Number(m[1]!.replace(/,/g, "")) : null;
}

/** The peer's split: images [N, 28, 28] float32 in 0..1 and int64 labels, train then test. */
export interface Split {
  trainImages: Float32Array;
  trainLabels: BigInt64Array;
  testImages: Float32Array;
  testLabels: BigInt64Array;
}

/**
 * train_mnist.py's load_split on digits given per class (`classes[c]`: 784 floats an image):
 * concatenated in class order, permuted by np.random.seed(seed); np.random.permutation(N),
 * the first `trainSize` train and the rest test.
 */
export function peerSplit(classes: readonly Float32Array[], trainSize: number, seed = 0): Split {
  const P = 784;
  const n = classes.reduce((s, c) => s + c.length / P, 0);
  if (!(trainSize >= 0 && trainSize <= n)) throw new Error(`peerSplit: trainSize ${trainSize} is not in 0..${n}`);
  const all = new Float32Array(n * P);
  const labels = new BigInt64Array(n);
  let k = 0;
  classes.forEach((c, label) => {
    if (c.length % P !== 0) throw new Error(`peerSplit: class ${label} holds ${c.length} values, not a multiple of 784`);
    all.set(c, k * P);
    labels.fill(BigInt(label), k, k + c.length / P);
    k += c.length / P;
  });
  const perm = numpyPermutation(n, seed);
  const take = (from: number, to: number): [Float32Array, BigInt64Array] => {
    const x = new Float32Array((to - from) * P);
    const y = new BigInt64Array(to - from);
    for (let i = from; i < to; i++) {
      x.set(all.subarray(perm[i]! * P, (perm[i]! + 1) * P), (i - from) * P);
      y[i - from] = labels[perm[i]!]!;
    }
    return [x, y];
  };
  const [trainImages, trainLabels] = take(0, trainSize);
  const [testImages, testLabels] = take(trainSize, n);
  return { trainImages, trainLabels, testImages, testLabels };
}

/** sha256 of the split's bytes in the order (train images, train labels, test images, test labels), as the peer's arrays hash. */
export function splitDigest(s: Split): string {
  const h = createHash("sha256");
  for (const a of [s.trainImages, s.trainLabels, s.testImages, s.testLabels]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest("hex");
}

/** The peer's split of the mnist package's digits, written as bitspike's `file:` pair (F32 images, I64 labels, mean / std metadata). */
function writeSplit(): { train: string; test: string; digits: string; sha256: string } {
  const digits = mnistDigitsDir(import.meta.url);
  const classes = Array.from({ length: 10 }, (_, c) => Float32Array.from((JSON.parse(readFileSync(join(digits, `${c}.json`), "utf8")) as { data: number[] }).data));
  const s = peerSplit(classes, RECIPE.trainSize, RECIPE.seed);
  if (s.testLabels.length !== RECIPE.testSize) throw new Error(`the mnist package holds ${s.trainLabels.length + s.testLabels.length} digits, the recipe expects ${RECIPE.trainSize + RECIPE.testSize}`);
  const dir = join(WORK, "split");
  mkdirSync(dir, { recursive: true });
  const meta = { mean: `[${RECIPE.mean}]`, std: `[${RECIPE.std}]`, num_classes: "10" };
  const write = (name: string, images: Float32Array, labels: BigInt64Array): string => {
    const path = join(dir, name);
    writeSafetensorsFile(path, { images: { shape: [labels.length, 1, 28, 28], data: images }, labels: { shape: [labels.length], data: labels } }, meta);
    return path;
  };
  return { train: write("train.safetensors", s.trainImages, s.trainLabels), test: write("test.safetensors", s.testImages, s.testLabels), digits, sha256: splitDigest(s) };
}

/** What one framework did. */
export interface FrameworkRun {
  name: "bitspike" | "torch";
  /** How it ran (version, environment). */
  setting: string;
  command: string[];
  /** Why it was not run, or null. */
  skipped: string | null;
  /** Why it failed, or null. */
  failed: string | null;
  params: number | null;
  epochs: EpochRow[];
  /** Seconds from launch to exit. */
  wall: number;
  /** The peer's --max-iters line or bitspike's --stop-after line, in a --steps run. */
  probe: string | null;
}

const newRun = (name: FrameworkRun["name"]): FrameworkRun =>
  ({ name, setting: "", command: [], skipped: null, failed: null, params: null, epochs: [], wall: NaN, probe: null });

/** Runs a child, echoing its lines to stderr under `tag` and handing each stdout line with its time since launch to `onLine`. */
function runChild(tag: string, cmd: string, argv: string[], env: NodeJS.ProcessEnv, onLine: (line: string, at: number) => void): Promise<{ wall: number; failed: string | null }> {
  return new Promise((resolveRun) => {
    const t0 = performance.now();
    let settled = false;
    const done = (failed: string | null): void => {
      if (!settled) resolveRun({ wall: (performance.now() - t0) / 1000, failed });
      settled = true;
    };
    const child = spawn(cmd, argv, { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const keep = (l: string): void => {
      tail.push(l);
      if (tail.length > 3) tail.shift();
    };
    child.on("error", (e) => done(`could not be started: ${e.message}`));
    createInterface({ input: child.stdout }).on("line", (l) => {
      const at = (performance.now() - t0) / 1000;
      log(`[${tag}] ${l}`);
      keep(l);
      onLine(l, at);
    });
    createInterface({ input: child.stderr }).on("line", (l) => {
      log(`[${tag}] ${l}`);
      keep(l);
    });
    child.on("close", (code, signal) => {
      done(signal ? `was killed by ${signal}` : code !== 0 ? `exited with status ${code}${tail.length ? `: ${tail.join(" | ")}` : ""}` : null);
    });
  });
}

/** A command line as printed: paths inside the repo relative to it, paths beside it from "..". */
const shown = (argv: readonly string[]): string => argv.map((s) => s.replaceAll(repo + "/", "").replaceAll(dirname(repo) + "/", "../")).join(" ");
const shownCommand = (r: FrameworkRun): string => shown([r.name === "bitspike" ? "node" : r.command[0]!, ...r.command.slice(1)]);

async function runBitspike(a: RecipeArgs, split: { train: string; test: string }): Promise<FrameworkRun> {
  const run = newRun("bitspike");
  const out = join(WORK, "bitspike");
  rmSync(out, { recursive: true, force: true }); // a fresh run: train appends to log.jsonl and would refuse nothing
  run.command = [process.execPath, join(repo, "bin", "bitspike.js"), ...bitspikeArgs(a, split.train, split.test, out)];
  run.setting = `node ${process.version}, ${process.env["BITSPIKE_KERNELS"] ? `BITSPIKE_KERNELS=${process.env["BITSPIKE_KERNELS"]}` : "default kernels"}, ${a.threads} threads`;
  log(`\n[bitspike] ${shownCommand(run)}`);
  const r = await runChild("bitspike", run.command[0]!, run.command.slice(1), process.env, (line, at) => {
    const e = parseBitspikeEpoch(line);
    if (e) run.epochs.push({ ...e, at });
    run.params ??= parseParams(line);
    if (line.startsWith("stopped after")) run.probe = line;
  });
  run.wall = r.wall;
  run.failed = r.failed;
  return run;
}

/**
 * Whether the peer can run, before anything is timed: train_mnist.py there, torch and numpy
 * importable, and run_bench.sh's tuned OpenBLAS unpacked (done here when missing).
 */
function prepareTorch(a: RecipeArgs): TorchPeer {
  if (a.skipTorch) return { skipped: "--skip-torch", python: PY, version: "", env: {}, tuned: false, setting: "" };
  const script = join(torchDir, "train_mnist.py");
  const peer = torchPeer(script, ["numpy"]);
  if (peer.skipped || peer.tuned) return peer;
  const why = unpackOpenblas(log);
  if (why) {
    log(`[torch] could not unpack run_bench.sh's tuned OpenBLAS (${why}); the peer runs with torch as installed`);
    return peer;
  }
  return torchPeer(script, ["numpy"]);
}

async function runTorch(a: RecipeArgs, peer: TorchPeer, digits: string, sha256: string): Promise<FrameworkRun> {
  const run = newRun("torch");
  if (peer.skipped) {
    run.skipped = peer.skipped;
    return run;
  }
  run.setting = `${peer.setting}, ${a.threads} threads`;
  // The peer's .npz cache of the split, made by its own load_split before the timed run (as bitspike's files are).
  const cache = join(WORK, "split", "split_seed0.npz");
  rmSync(cache, { force: true });
  const prep = spawnSync(PY, ["-c", [
    "import hashlib, sys",
    "sys.path.insert(0, sys.argv[1])",
    "from train_mnist import load_split",
    "h = hashlib.sha256()",
    "for x in load_split(sys.argv[2], sys.argv[3]): h.update(x.astype(x.dtype.newbyteorder('<')).tobytes())",
    "print(h.hexdigest())",
  ].join("\n"), torchDir, digits, cache], { encoding: "utf8", env: peer.env, cwd: repo });
  if (prep.status !== 0 || prep.error) {
    run.failed = describeFailure(prep, "the peer's load_split");
    return run;
  }
  const theirs = prep.stdout.trim();
  if (theirs !== sha256) {
    run.failed = `the peer's split (sha256 ${theirs}) differs from the one written for bitspike (${sha256}); not comparable`;
    return run;
  }
  log(`\n[torch] the peer's load_split gives the same split (sha256 ${sha256.slice(0, 16)}...)`);
  run.command = [PY, ...torchArgs(a, join(torchDir, "train_mnist.py"), digits, cache)];
  log(`[torch] ${shownCommand(run)}  (${run.setting})`);
  let prevWall = 0;
  const r = await runChild("torch", PY, run.command.slice(1), peer.env, (line, at) => {
    const e = parseTorchEpoch(line, prevWall);
    if (e) {
      prevWall = e.wall;
      const { wall: _wall, ...row } = e;
      run.epochs.push({ ...row, at });
    }
    run.params ??= parseParams(line);
    if (line.startsWith("probe:")) run.probe = line;
  });
  run.wall = r.wall;
  run.failed = r.failed;
  return run;
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
const label = (r: FrameworkRun): string => (r.name === "torch" ? "PyTorch" : "bitspike");
const final = (r: FrameworkRun, epochs: number): EpochRow | null => (r.epochs.length === epochs && !r.failed ? r.epochs[epochs - 1]! : null);

/** The comparison in numbers: accuracy difference (pp, bitspike - torch) and wall-time ratio (bitspike / torch), null where a side has none. */
export function compare(b: FrameworkRun, t: FrameworkRun, epochs: number): { accuracyPp: number | null; wallRatio: number | null } {
  const fb = final(b, epochs), ft = final(t, epochs);
  const ok = (r: FrameworkRun): boolean => !r.skipped && !r.failed && Number.isFinite(r.wall);
  return {
    accuracyPp: fb && ft ? 100 * (fb.testAccuracy - ft.testAccuracy) : null,
    wallRatio: ok(b) && ok(t) ? b.wall / t.wall : null,
  };
}

/** The report: one row per framework, the difference and the ratio, how each ran, the differences of the recipes. */
export function formatReport(a: RecipeArgs, runs: { bitspike: FrameworkRun; torch: FrameworkRun }, split: string, header: string): string {
  const { bitspike: b, torch: t } = runs;
  const out: string[] = [header, split, ""];
  const n = a.epochs;
  if (a.steps) {
    out.push(`--steps ${a.steps}: each framework stopped after ${a.steps} training steps (a smoke test: no accuracy)`, "");
    out.push("| framework | wall s (launch to exit) | its own line |", "|---|---:|---|");
    for (const r of [b, t]) {
      out.push(r.skipped ? `| ${label(r)} | not run | ${r.skipped} |` : `| ${label(r)} | ${r.wall.toFixed(1)} | ${r.failed ? `FAILED: ${r.failed}` : r.probe ?? "-"} |`);
    }
  } else {
    const cols = Array.from({ length: n }, (_, i) => `epoch ${i + 1}`);
    out.push(`test accuracy after each epoch (wall s since launch when printed); wall = launch to exit, start-up and evaluation included`, "");
    out.push(`| framework | ${cols.join(" | ")} | final | wall s | s / epoch, mean (min-max) | start-up + exit s |`);
    out.push(`|---|${cols.map(() => "---:|").join("")}---:|---:|---:|---:|`);
    for (const r of [b, t]) {
      if (r.skipped) {
        out.push(`| ${label(r)} | ${cols.map(() => "-").join(" | ")} | not run | - | - | - |`);
        continue;
      }
      const cells = cols.map((_, i) => {
        const e = r.epochs[i];
        return e ? `${pct(e.testAccuracy)} (${e.at.toFixed(0)})` : "-";
      });
      const f = final(r, n);
      const secs = r.epochs.map((e) => e.seconds);
      const mean = secs.length ? secs.reduce((s, x) => s + x, 0) / secs.length : NaN;
      const perEpoch = secs.length ? `${mean.toFixed(1)} (${Math.min(...secs).toFixed(1)}-${Math.max(...secs).toFixed(1)})` : "-";
      const startup = secs.length && Number.isFinite(r.wall) ? (r.wall - secs.reduce((s, x) => s + x, 0)).toFixed(1) : "-";
      out.push(`| ${label(r)} | ${cells.join(" | ")} | ${f ? `**${pct(f.testAccuracy)}**` : r.failed ? "FAILED" : "-"} | ${Number.isFinite(r.wall) ? r.wall.toFixed(1) : "-"} | ${perEpoch} | ${startup} |`);
    }
  }
  out.push("");
  const c = compare(b, t, n);
  if (!a.steps) {
    out.push(c.accuracyPp === null ? "final accuracy, bitspike - PyTorch: - (needs both runs)"
      : `final accuracy, bitspike - PyTorch: ${c.accuracyPp >= 0 ? "+" : ""}${c.accuracyPp.toFixed(2)} pp (issue 13: the same accuracy within 0.3 pp, or better${c.accuracyPp >= -0.3 ? "; met" : "; NOT met"})`);
  }
  out.push(c.wallRatio === null ? "wall time, bitspike / PyTorch: - (needs both runs)"
    : `wall time, bitspike / PyTorch: ${c.wallRatio.toFixed(2)}x (${b.wall.toFixed(0)} s vs ${t.wall.toFixed(0)} s, launch to exit${a.steps ? "" : `; issue 13: less wall time${c.wallRatio < 1 ? "; met" : "; NOT met"}`})`);
  out.push("");
  for (const r of [b, t]) {
    if (r.skipped) out.push(`- ${label(r)}: not run: ${r.skipped}.${r.name === "torch" && r.skipped !== "--skip-torch" ? " bitspike ran alone." : ""}`);
    else {
      out.push(`- ${label(r)}: ${r.setting}${r.params !== null ? `, ${r.params.toLocaleString("en-US")} parameters` : ""}${r.command.length ? `; \`${shownCommand(r)}\`` : ""}`);
      if (r.failed) out.push(`  FAILED: ${r.failed}`);
    }
  }
  out.push("- differences between the two runs of the recipe:");
  for (const d of DIFFERENCES) out.push(`  - ${d}`);
  out.push("- one seed each: runs of one recipe move by a few tenths of a pp with the random draws, so a gap of that size is noise.");
  return out.join("\n");
}

async function main(): Promise<void> {
  let a: RecipeArgs;
  try {
    a = parseRecipeArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`bench/recipe.ts: ${(e as Error).message}`);
    process.exit(2);
  }
  const t0 = Date.now();
  let split: ReturnType<typeof writeSplit>;
  try {
    split = writeSplit();
  } catch (e) {
    console.error(`bench/recipe.ts: cannot build the peer's split: ${(e as Error).message}`);
    process.exit(1);
  }
  log(`[split] the peer's split (np.random.seed(0) permutation) of ${relative(repo, split.digits)}: ${relative(repo, split.train)}, ${relative(repo, split.test)} (sha256 ${split.sha256.slice(0, 16)}...)`);
  const peer = prepareTorch(a);
  if (peer.skipped && !a.skipTorch) log(`[torch] NOT RUN: ${peer.skipped}; bitspike runs alone`);
  else if (!peer.skipped) log(`[torch] ${peer.setting}`);
  const runs = {
    bitspike: a.skipBitspike ? { ...newRun("bitspike"), skipped: "--skip-bitspike" } : await runBitspike(a, split),
    torch: await runTorch(a, peer, split.digits, split.sha256),
  };
  const splitLine = `data: the peer's split of the mnist package's 10,000 digits (np.random.seed(0) permutation in class order; ${RECIPE.trainSize.toLocaleString("en-US")} train / ${RECIPE.testSize.toLocaleString("en-US")} test; sha256 ${split.sha256.slice(0, 16)}...)` +
    (runs.torch.command.length ? ", the same bytes in both (checked)" : "");
  if (a.json) {
    console.log(JSON.stringify({ node: process.version, cores: availableParallelism(), date: new Date().toISOString(), args: a, recipe: RECIPE, split, ...runs, comparison: compare(runs.bitspike, runs.torch, a.epochs), differences: DIFFERENCES }, null, 1));
  } else {
    const R = RECIPE;
    const header = `\nThe PyTorch peer's MNIST recipe, bitspike and PyTorch in one session (node ${process.version}, ${availableParallelism()} cores, ${a.threads} threads each, ${((Date.now() - t0) / 1000).toFixed(0)} s in all)\n` +
      `recipe: Spikformer-${R.depths}-${R.dim} (28x28x1, patch ${R.patch}, ${R.heads} heads, T ${R.T}), batch ${R.batch}, AdamW lr ${R.lr} wd ${R.wd} (>= 2-D parameters only), label smoothing ${R.labelSmoothing}, ` +
      `warm-up ${R.warmupEpochs} epoch then cosine to ${R.minLr}, random shift +-${R.shift} px, ${a.epochs} epoch${a.epochs === 1 ? "" : "s"}`;
    console.log(formatReport(a, runs, splitLine, header));
  }
  if (runs.bitspike.failed || runs.torch.failed) process.exit(1);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
