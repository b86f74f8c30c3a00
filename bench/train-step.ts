/**
 * Time of one training step (forward + cross-entropy + backward) of the MNIST
 * main job's former model (kept so the fingerprints stay comparable across
 * sessions), spikformer-cifar-1-64 at 28x28x1, T = 2, batch 32, on real
 * MNIST digits, single thread. Prints the median of a few steps and a
 * fingerprint of the loss and every gradient (FNV-1a over the float bits), so
 * a speed change can be checked to leave the results bit-identical.
 *
 *   npx tsx bench/train-step.ts [steps]            timing + fingerprint
 *   npx tsx bench/train-step.ts --profile [steps]  same under `node --cpu-prof`,
 *                                                  then self time per function
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Spikformer } from "../src/models/spikformer.js";
import { Tensor } from "../src/tensor/tensor.js";
import { FINGERPRINT_BATCH, fingerprintModelConfig, gradientFingerprint } from "../src/train/fingerprint.js";
import { crossEntropy } from "../src/ops/loss.js";
import { backward } from "../src/autograd/tape.js";
import { stepScope } from "../src/tensor/retain.js";
import { loadMnist } from "../src/train/data/mnist.js";

const args = process.argv.slice(2);
const profile = args.includes("--profile");
const steps = Number(args.find((a) => /^\d+$/.test(a)) ?? 5);

if (profile) runProfiled();
else runSteps();

function runSteps(): void {
  const B = FINGERPRINT_BATCH;
  const model = new Spikformer(fingerprintModelConfig());
  model.train();
  const { train } = loadMnist({ trainSize: B, testSize: 1 });
  const x = new Tensor(train.images.slice(0, B * 28 * 28), [B, 1, 28, 28]);
  const labels = train.labels.slice(0, B);
  const params = [...model.parameters()];
  const times: number[] = [];
  let fp = "";
  for (let s = 0; s < steps + 1; s++) {
    model.zeroGrad();
    const t0 = performance.now();
    stepScope(() => {
      const loss = crossEntropy(model.forward(x), labels);
      backward(loss);
      const ms = performance.now() - t0;
      if (s > 0) times.push(ms); // step 0 warms up
      if (s === 0) fp = gradientFingerprint(loss, params);
    }, model);
  }
  times.sort((a, b) => a - b);
  const med = times[times.length >> 1]!;
  console.log(`train step (B=${B}): median ${med.toFixed(0)} ms over ${times.length} steps [${times.map((t) => t.toFixed(0)).join(", ")}], ${((B * 1000) / med).toFixed(1)} img/s`);
  console.log(`fingerprint ${fp}`);
}

interface ProfNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }

function runProfiled(): void {
  const dir = mkdtempSync(join(tmpdir(), "bitspike-prof-"));
  const self = fileURLToPath(import.meta.url);
  execFileSync(process.execPath, ["--import", "tsx", "--cpu-prof", `--cpu-prof-dir=${dir}`, self, String(steps)], { stdio: "inherit" });
  // The main-thread profile is the largest file.
  const file = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile")).map((f) => join(dir, f)).sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
  const prof = JSON.parse(readFileSync(file, "utf8")) as { nodes: ProfNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map<number, ProfNode>();
  for (const n of prof.nodes) byId.set(n.id, n);
  const self_ = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const n = byId.get(prof.samples[i]!)!;
    const dt = prof.timeDeltas[i] ?? 0;
    const url = n.callFrame.url.replace(/^.*\/(src|bench|node_modules)\//, "$1/");
    const key = `${n.callFrame.functionName || "(anonymous)"} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ""}`;
    self_.set(key, (self_.get(key) ?? 0) + dt);
    total += dt;
  }
  const rows = [...self_.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30);
  console.log(`\nself time per function (${file}, total ${(total / 1000).toFixed(0)} ms incl. start-up):`);
  for (const [k, us] of rows) console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  const fam = new Map<string, number>();
  for (const [k, us] of self_) fam.set(familyOf(k), (fam.get(familyOf(k)) ?? 0) + us);
  console.log(`\nself time by kernel family (JS and WASM code of each family together; the rest by folder):`);
  for (const [k, us] of [...fam.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  }
}

/**
 * The kernel family of a profile row "function url:line": a src/kernels/<family>/ folder, or the
 * family of a file of the older flat layout (kernels/gemm.ts, wasm/gemm-kernel.ts, parallel/gemm.ts),
 * WASM functions by name; anything else by its src/ folder (ops, autograd, ...) or V8's own label.
 */
function familyOf(key: string): string {
  const [fn, where = ""] = key.split(" ");
  const wasm: [RegExp, string][] = [
    [/^(gemmTiles|gemmTilesF32|rowsToPanels|stripsToPanels|interleave4|copy32)/, "gemm"], [/^(lifForward|sigmoidBackward|exp)/, "neuron"],
    [/^(sums|shiftedSums|gradSums|affine|gradInput)/, "norm"], [/^col2im/, "conv"], [/^pop(1|W)$/, "popcount"], [/^w?sum(32|64)f?$/, "spike-sum"],
  ];
  if (where.startsWith("wasm://") || where === "") for (const [re, f] of wasm) if (re.test(fn!.replace(/^\$/, ""))) return `${f} (kernels)`;
  const m = /^src\/kernels\/([\w-]+)\//.exec(where);
  if (m) return `${m[1]} (kernels)`;
  const stem = /^src\/(kernels|wasm|parallel)\/([\w-]+)\.ts/.exec(where);
  if (stem) {
    const flat: Record<string, string> = {
      gemm: "gemm", "gemm-kernel": "gemm", conv: "conv", "conv-kernel": "conv", tasks: "conv", neuron: "neuron", "neuron-kernel": "neuron",
      exp: "neuron", norm: "norm", "norm-kernel": "norm", "masked-norm": "norm", "spike-gemm": "spike-sum", "spike-gemm-kernel": "popcount",
      "spike-sum-kernel": "spike-sum", "spike-linear": "spike-sum", "spike-conv": "spike-conv", "spike-layout": "spike-pool", "spike-tasks": "spike tasks",
    };
    if (flat[stem[2]!]) return `${flat[stem[2]!]} (kernels)`;
    return `${stem[1]}/${stem[2]}`;
  }
  const folder = /^src\/([\w-]+)\//.exec(where);
  return folder ? `src/${folder[1]}` : where.startsWith("wasm://") ? "other WASM" : fn!;
}
