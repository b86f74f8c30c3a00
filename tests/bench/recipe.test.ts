import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { MT19937, numpyPermutation } from "../../bench/numpy-permutation.js";
import { torchPeer } from "../../bench/peers.js";
import {
  RECIPE, bitspikeArgs, compare, formatReport, parseBitspikeEpoch, parseParams, parseRecipeArgs, parseTorchEpoch, peerSplit, splitDigest, torchArgs,
  type FrameworkRun, type RecipeArgs,
} from "../../bench/recipe.js";
import { parseArgs } from "../../src/cli/args.js";
import { TRAIN_FLAGS } from "../../src/cli/commands.js";
import { CosineSchedule } from "../../src/train/schedule.js";

// bench/recipe.ts: the pure parts (no training here; `npm run bench:recipe` runs the recipe).

describe("numpyPermutation: np.random.seed(s); np.random.permutation(n)", () => {
  // Expected values printed by NumPy 1.24 (python3-numpy).
  it("MT19937 seeded with 0 gives genrand_int32's first outputs", () => {
    const r = new MT19937(0);
    expect([r.next32(), r.next32(), r.next32()]).toEqual([2357136044, 2546248239, 3071714933]);
  });

  it("small permutations", () => {
    expect([...numpyPermutation(10, 0)]).toEqual([2, 8, 4, 9, 1, 6, 7, 3, 0, 5]);
    expect([...numpyPermutation(7, 123)]).toEqual([1, 3, 4, 0, 2, 5, 6]);
    expect([...numpyPermutation(1, 0)]).toEqual([0]);
    expect([...numpyPermutation(0, 0)]).toEqual([]);
  });

  it("the peer's split permutation of 10,000, whole", () => {
    const p = numpyPermutation(10000, 0);
    expect([...p.slice(0, 8)]).toEqual([9394, 898, 2398, 5906, 2343, 8225, 5506, 6451]);
    expect([...p.slice(-8)]).toEqual([5874, 4373, 7891, 9225, 4859, 3264, 9845, 2732]);
    // sha256 of np.random.permutation(10000).astype('<i4').tobytes()
    expect(createHash("sha256").update(new Uint8Array(p.buffer)).digest("hex")).toBe("05bb2c8538d9a5f09d974f8ba25ccafb13b861b5691fde85c31a3e0098f762db");
  });

  it("refuses seeds NumPy's legacy seeding refuses", () => {
    expect(() => new MT19937(-1)).toThrow(/seed/);
    expect(() => new MT19937(2 ** 32)).toThrow(/seed/);
  });
});

describe("peerSplit: train_mnist.py's load_split", () => {
  // One image per class, every pixel equal to its class: the permutation of 10 is [2, 8, 4, 9, 1, 6, 7, 3, 0, 5].
  const classes = Array.from({ length: 10 }, (_, c) => new Float32Array(784).fill(c / 10));

  it("class order, permuted, first trainSize train and the rest test", () => {
    const s = peerSplit(classes, 8);
    expect([...s.trainLabels].map(Number)).toEqual([2, 8, 4, 9, 1, 6, 7, 3]);
    expect([...s.testLabels].map(Number)).toEqual([0, 5]);
    expect(s.trainImages.length).toBe(8 * 784);
    for (let i = 0; i < 8; i++) expect(s.trainImages[i * 784 + 400]).toBe(Math.fround(Number(s.trainLabels[i]) / 10));
    expect(s.testImages[784 + 5]).toBe(Math.fround(0.5));
  });

  it("classes of several images keep their order before the permutation", () => {
    const two = [new Float32Array(2 * 784).fill(0), new Float32Array(3 * 784).fill(1)];
    two[0]!.fill(0.25, 784); // image 1 (class 0) differs from image 0
    const s = peerSplit(two, 5);
    const order = [...numpyPermutation(5, 0)];
    const value = [0, 0.25, 1, 1, 1];
    expect(Array.from({ length: 5 }, (_, i) => s.trainImages[i * 784])).toEqual(order.map((j) => value[j]));
    expect([...s.trainLabels].map(Number)).toEqual(order.map((j) => (j < 2 ? 0 : 1)));
  });

  it("the digest covers images and labels of both parts, in the peer's order", () => {
    const s = peerSplit(classes, 8);
    const h = createHash("sha256");
    for (const a of [s.trainImages, s.trainLabels, s.testImages, s.testLabels]) h.update(Buffer.from(a.buffer));
    expect(splitDigest(s)).toBe(h.digest("hex"));
    const moved = { ...s, testLabels: BigInt64Array.from(s.testLabels).fill(9n, 0, 1) };
    expect(splitDigest(moved)).not.toBe(splitDigest(s));
  });

  it("refuses ragged classes and impossible sizes", () => {
    expect(() => peerSplit([new Float32Array(783)], 0)).toThrow(/multiple of 784/);
    expect(() => peerSplit(classes, 11)).toThrow(/trainSize/);
  });
});

describe("parseRecipeArgs", () => {
  it("defaults: 5 epochs, 2 threads, both frameworks, a table", () => {
    expect(parseRecipeArgs([])).toEqual({ epochs: 5, threads: 2, skipTorch: false, skipBitspike: false, steps: 0, json: false });
  });

  it("every flag, both spellings", () => {
    expect(parseRecipeArgs(["--epochs", "1", "--threads=1", "--skip-torch", "--steps", "3", "--json"]))
      .toEqual({ epochs: 1, threads: 1, skipTorch: true, skipBitspike: false, steps: 3, json: true });
    expect(parseRecipeArgs(["--skip-bitspike"]).skipBitspike).toBe(true);
  });

  it("refuses bad values, unknown flags and skipping both", () => {
    expect(() => parseRecipeArgs(["--epochs", "0"])).toThrow(/--epochs needs an integer >= 1/);
    expect(() => parseRecipeArgs(["--threads", ""])).toThrow(/--threads/);
    expect(() => parseRecipeArgs(["--epochs"])).toThrow(/--epochs/);
    expect(() => parseRecipeArgs(["--steps", "1.5"])).toThrow(/--steps/);
    expect(() => parseRecipeArgs(["--json=yes"])).toThrow(/takes no value/);
    expect(() => parseRecipeArgs(["--epoch", "3"])).toThrow(/unknown flag '--epoch'/);
    expect(() => parseRecipeArgs(["--skip-torch", "--skip-bitspike"])).toThrow(/nothing to run/);
  });
});

describe("the recipe in both frameworks' flags", () => {
  const a: RecipeArgs = { epochs: 5, threads: 2, skipTorch: false, skipBitspike: false, steps: 0, json: false };

  it("`bitspike train` flags parse with the command's own parser into the recipe", () => {
    const argv = bitspikeArgs(a, "/r/train.safetensors", "/r/test.safetensors", "/r/out");
    expect(argv[0]).toBe("train");
    const f = parseArgs("train", argv.slice(1), TRAIN_FLAGS);
    expect(f).toMatchObject({
      model: "spikformer-cifar-2-128", data: "file:/r/train.safetensors,/r/test.safetensors",
      "img-size": 28, "in-channels": 1, classes: 10, patch: 4, heads: 4, T: 2, "mlp-ratio": 4,
      epochs: 5, batch: 64, lr: 1e-3, wd: 0.01, warmup: 1, "min-lr": 0, "label-smoothing": 0.1,
      crop: 2, "crop-fill": "black", hflip: 0, erase: 0, mixup: 0, clip: 0, seed: 0, "eval-batch": 64, threads: 2, out: "/r/out", "stop-after": 0,
    });
    expect(parseArgs("train", bitspikeArgs({ ...a, steps: 3 }, "t", "u", "o").slice(1), TRAIN_FLAGS)["stop-after"]).toBe(3);
  });

  it("train_mnist.py flags: its recipe with --T 2, spelled out", () => {
    const argv = torchArgs({ ...a, epochs: 1, threads: 1 }, "train_mnist.py", "digits", "c.npz");
    const flag = (name: string): string | undefined => argv[argv.indexOf(name) + 1];
    expect(argv[0]).toBe("train_mnist.py");
    expect(Object.fromEntries(["--T", "--depths", "--dim", "--heads", "--epochs", "--bs", "--lr", "--wd", "--smoothing", "--warmup-epochs", "--eval-bs", "--seed", "--threads", "--digits", "--cache"]
      .map((n) => [n, flag(n)]))).toEqual({
      "--T": "2", "--depths": "2", "--dim": "128", "--heads": "4", "--epochs": "1", "--bs": "64", "--lr": "0.001", "--wd": "0.01",
      "--smoothing": "0.1", "--warmup-epochs": "1", "--eval-bs": "64", "--seed": "0", "--threads": "1", "--digits": "digits", "--cache": "c.npz",
    });
    expect(argv).not.toContain("--max-iters");
    const probe = torchArgs({ ...a, steps: 4 }, "s", "d", "c");
    expect(probe[probe.indexOf("--max-iters") + 1]).toBe("4");
  });

  it("the schedules: bitspike's warm-up is one iteration behind the peer's, the cosine is the same (README)", () => {
    const steps = RECIPE.trainSize / RECIPE.batch; // 125 in both: the peer keeps a last partial batch, bitspike drops it, and there is none
    const total = 5 * steps;
    const warm = Math.round(RECIPE.warmupEpochs * steps); // train_mnist.py: max(1, int(round(...)))
    // As src/train/trainer.ts builds it from --lr, --warmup and --min-lr.
    const ours = new CosineSchedule({ baseLr: RECIPE.lr, totalIters: total, warmupIters: Math.min(total - 1, warm), minLr: RECIPE.minLr });
    const peer = (it: number): number => (it < warm ? (RECIPE.lr * (it + 1)) / warm : RECIPE.lr * 0.5 * (1 + Math.cos((Math.PI * (it - warm)) / Math.max(1, total - warm))));
    for (let it = warm; it < total; it++) expect(ours.lrAt(it)).toBeCloseTo(peer(it), 15);
    expect(ours.lrAt(0)).toBe(1e-6);
    expect(peer(0)).toBeCloseTo(RECIPE.lr / warm, 15);
    for (let it = 0; it + 1 < warm; it++) expect(Math.abs(ours.lrAt(it + 1) - peer(it))).toBeLessThan(1e-6);
  });
});

describe("reading the frameworks' output", () => {
  it("the peer's epoch line (as train_mnist.py prints it)", () => {
    const line = "EPOCH 2: wall 212.1s (train 191.6s, eval 10.5s) train-loss 0.7863 train-acc 0.9079 test-loss 0.1232 test-acc 0.9660";
    expect(parseTorchEpoch(line, 100)).toEqual({ epoch: 2, wall: 212.1, seconds: 112.1, trainLoss: 0.7863, testLoss: 0.1232, testAccuracy: 0.966, at: NaN });
    expect(parseTorchEpoch("  ep 1 it 50/125 loss 2.3033 train-acc 0.0972 lr 4.00e-04 5s (0.097s/it)", 0)).toBeNull();
    expect(parseTorchEpoch("| 1 | 12.1 | 11.6 | 2.2863 | 0.1079 | 2.2232 | 0.1160 |", 0)).toBeNull();
  });

  it("bitspike's epoch line (as `bitspike train` prints it)", () => {
    expect(parseBitspikeEpoch("epoch 1/1: train loss 2.1115 acc 25.17% | test loss 1.8429 acc 38.10% | 22.5 s"))
      .toEqual({ epoch: 1, trainLoss: 2.1115, testLoss: 1.8429, testAccuracy: 0.381, seconds: 22.5, at: NaN });
    expect(parseBitspikeEpoch("epoch 1 [####################....] 105/125  loss 1.9870  acc 32.1%  321 img/s  lr 5.34e-4  ETA 0:03")).toBeNull();
    expect(parseBitspikeEpoch("epoch 1/1: train loss NaN acc 0.00% | test loss NaN acc 9.80% | 22.5 s")).toBeNull();
  });

  it("parameter counts from either", () => {
    expect(parseParams("model Spikformer-2-128 heads=4 T=2 params=646,522; AdamW lr=0.001")).toBe(646522);
    expect(parseParams("model spikformer-cifar-2-128 (647,546 parameters, T = 2, 4 heads, 28x28x1)")).toBe(647546);
    expect(parseParams("1 epochs of 8000 images, batch 64")).toBeNull();
  });
});

describe("the report", () => {
  const a: RecipeArgs = { epochs: 2, threads: 2, skipTorch: false, skipBitspike: false, steps: 0, json: false };
  const run = (name: FrameworkRun["name"], accs: number[], seconds: number, wall: number): FrameworkRun => ({
    name, setting: `${name} setting`, command: [name === "torch" ? "/usr/bin/python3" : "/usr/bin/node", "x"], skipped: null, failed: null, params: 646522,
    epochs: accs.map((acc, i) => ({ epoch: i + 1, testAccuracy: acc, testLoss: 0.1, trainLoss: 0.5, seconds, at: 5 + seconds * (i + 1) })), wall, probe: null,
  });

  it("per framework: each epoch's accuracy, the final one, wall, s / epoch, start-up; then difference and ratio", () => {
    const b = run("bitspike", [0.97, 0.9835], 100, 210);
    const t = run("torch", [0.965, 0.9825], 120, 250);
    expect(compare(b, t, 2).accuracyPp).toBeCloseTo(0.1, 10);
    expect(compare(b, t, 2).wallRatio).toBeCloseTo(0.84, 10);
    const text = formatReport(a, { bitspike: b, torch: t }, "data line", "header");
    expect(text).toContain("| bitspike | 97.00% (105) | 98.35% (205) | **98.35%** | 210.0 | 100.0 (100.0-100.0) | 10.0 |");
    expect(text).toContain("| PyTorch | 96.50% (125) | 98.25% (245) | **98.25%** | 250.0 | 120.0 (120.0-120.0) | 10.0 |");
    expect(text).toContain("final accuracy, bitspike - PyTorch: +0.10 pp (issue 13: the same accuracy within 0.3 pp, or better; met)");
    expect(text).toContain("wall time, bitspike / PyTorch: 0.84x (210 s vs 250 s, launch to exit; issue 13: less wall time; met)");
  });

  it("a gap beyond 0.3 pp below, or more time, is said to miss the target", () => {
    const text = formatReport(a, { bitspike: run("bitspike", [0.9, 0.975], 100, 300), torch: run("torch", [0.9, 0.98], 100, 250) }, "", "");
    expect(text).toMatch(/-0\.50 pp .*NOT met/);
    expect(text).toMatch(/1\.20x .*NOT met/);
  });

  it("torch missing: said so, bitspike alone, no comparison", () => {
    const t: FrameworkRun = { ...run("torch", [], 0, NaN), skipped: "/usr/bin/python3 cannot import numpy, torch (ModuleNotFoundError: No module named 'torch')", command: [] };
    const text = formatReport(a, { bitspike: run("bitspike", [0.97, 0.98], 100, 210), torch: t }, "", "");
    expect(text).toContain("- PyTorch: not run: /usr/bin/python3 cannot import numpy, torch (ModuleNotFoundError: No module named 'torch'). bitspike ran alone.");
    expect(text).toContain("| PyTorch | - | - | not run | - | - | - |");
    expect(text).toContain("final accuracy, bitspike - PyTorch: - (needs both runs)");
    expect(compare(run("bitspike", [0.97, 0.98], 100, 210), t, 2)).toEqual({ accuracyPp: null, wallRatio: null });
  });

  it("a failed or cut-short run has no final accuracy", () => {
    const t = { ...run("torch", [0.96], 100, 150), failed: "exited with status 1: Killed" };
    const text = formatReport(a, { bitspike: run("bitspike", [0.97, 0.98], 100, 210), torch: t }, "", "");
    expect(text).toContain("| PyTorch | 96.00% (105) | - | FAILED |");
    expect(text).toContain("  FAILED: exited with status 1: Killed");
    expect(compare(run("bitspike", [0.97, 0.98], 100, 210), t, 2).accuracyPp).toBeNull();
  });
});

describe("finding the peer (bench/peers.ts torchPeer)", () => {
  it("a missing script or module is a reason to skip, never a crash", () => {
    expect(torchPeer("/nonexistent/train_mnist.py").skipped).toMatch(/not found/);
    // Here python3 is there or not; either way a module that does not exist makes the peer unusable, and the reason says so.
    expect(torchPeer(fileURLToPath(import.meta.url), ["no_such_module_for_bitspike"]).skipped).toMatch(/cannot import no_such_module_for_bitspike, torch|not found/);
  });
});
