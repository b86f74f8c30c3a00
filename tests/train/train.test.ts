import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { Rng } from "../../src/tensor/random.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { noGrad } from "../../src/autograd/tape.js";
import { serializeSafetensors } from "../../src/io/safetensors.js";
import { readSafetensorsFile } from "../../src/io/safetensors-file.js";
import { train, type TrainOptions } from "../../src/train/trainer.js";
import { Spikformer } from "../../src/models/spikformer.js";
import { spikformerConfig } from "../../src/models/config.js";
import { saveWeights } from "../../src/train/checkpoint.js";
import { tinyDataset } from "../helpers/tiny-data.js";

function options(data: string, out: string): TrainOptions {
  return {
    model: "spikformer-cifar-1-16", modelOverrides: { T: 2, numHeads: 2 }, data: `file:${data}`,
    epochs: 2, batch: 8, lr: 5e-3, wd: 0.01, warmupEpochs: 0.5, minLr: 1e-5, labelSmoothing: 0.1, mixup: 0.4,
    augment: { crop: { padding: 1 }, hflip: 0.5 }, clip: 1, seed: 7, out, resume: false, checkpointEvery: 0, stopAfter: 0, evalBatch: 16,
  };
}

describe("training", () => {
  it("a run stopped mid-epoch and resumed ends with weights bit-identical to an uninterrupted run", () => {
    const dir = mkdtempSync(join(tmpdir(), "bitspike-resume-"));
    const data = tinyDataset(dir);
    const full = train(options(data, join(dir, "full")));
    expect(full.finished).toBe(true);
    const cut = join(dir, "cut");
    const first = train({ ...options(data, cut), stopAfter: 3 }); // 43 training images, batch 8: 5 steps an epoch, so this stops mid-epoch
    expect(first.finished).toBe(false);
    const second = train({ ...options(data, cut), resume: true });
    expect(second.finished).toBe(true);
    const a = readFileSync(join(dir, "full", "weights.safetensors"));
    const b = readFileSync(join(cut, "weights.safetensors"));
    expect(Buffer.compare(a, b)).toBe(0);
    expect(second.test!.accuracy).toBe(full.test!.accuracy);
    // the log has one line per step of both processes, and a resume marker
    const events = readFileSync(join(cut, "log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).event);
    const fullSteps = readFileSync(join(dir, "full", "log.jsonl"), "utf8").split("\n").filter((l) => l.includes('"event":"step"')).length;
    expect(fullSteps).toBe(10);
    expect(events.filter((e) => e === "step").length).toBe(fullSteps);
    expect(events).toContain("resume");
  });

  it("an onEpoch hook that returns true ends the run after that epoch, with its weights written", () => {
    const dir = mkdtempSync(join(tmpdir(), "bitspike-stop-"));
    const data = tinyDataset(dir);
    const seen: number[] = [];
    const r = train({ ...options(data, join(dir, "run")), epochs: 3, mixup: 0 }, { onEpoch: (e) => { seen.push(e.epoch); return e.epoch === 0; } });
    expect(seen).toEqual([0]);
    expect(r.finished).toBe(true);
    expect(r.position).toEqual({ epoch: 1, batchIndex: 0, iteration: 5 });
    expect(readFileSync(join(dir, "run", "log.jsonl"), "utf8")).toContain('"event":"stopped"');
    expect(readSafetensorsFile(join(dir, "run", "weights.safetensors")).tensors.size).toBeGreaterThan(0);
  });

  it("refuses to resume with changed settings, and without a checkpoint", () => {
    const dir = mkdtempSync(join(tmpdir(), "bitspike-resume-"));
    const data = tinyDataset(dir);
    const out = join(dir, "run");
    train({ ...options(data, out), stopAfter: 1 });
    expect(() => train({ ...options(data, out), lr: 1e-3, resume: true })).toThrow(/made with other settings/);
    expect(() => train({ ...options(data, join(dir, "none")), resume: true })).toThrow(/no checkpoint/);
  });
});

describe("bitspike CLI", () => {
  const cli = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8" });

  it("predict writes the same logits as the API, with 1 thread and with 2", () => {
    const dir = mkdtempSync(join(tmpdir(), "bitspike-predict-"));
    const cfg = spikformerConfig("spikformer-cifar-1-16", { imgSize: 8, inChannels: 1, numClasses: 3, T: 2, numHeads: 2, seed: 4 });
    const model = new Spikformer(cfg);
    const weights = join(dir, "w.safetensors");
    saveWeights(weights, model, cfg as unknown as Record<string, unknown>);
    const x = Tensor.uniform([2, 1, 8, 8], new Rng(2), -1, 3);
    writeFileSync(join(dir, "x.safetensors"), serializeSafetensors({ x: { shape: [2, 1, 8, 8], data: x.data as Float32Array } }));
    const api = noGrad(() => model.eval().forward(x));
    for (const threads of ["1", "2"]) {
      const r = cli(["predict", "--weights", weights, "--input", join(dir, "x.safetensors"), "--output", join(dir, "y.safetensors"), "--threads", threads]);
      expect(r.status, r.stderr).toBe(0);
      const y = readSafetensorsFile(join(dir, "y.safetensors")).tensors.get("logits")!;
      expect(y.shape).toEqual([2, 3]);
      expect(Array.from(y.data as Float32Array)).toEqual(Array.from(api.data));
    }
  });

  it("params prints the official count; bad input gives a clear error, not a stack trace", () => {
    expect(cli(["params", "spikformer-cifar-4-384"]).stdout.trim()).toBe("9330874");
    const bad = cli(["params", "spikformer-cifar-4-383"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^error: model: embedDims 383 is not divisible by numHeads/);
    const flag = cli(["train", "--epochz", "3"]);
    expect(flag.stderr).toMatch(/unknown flag --epochz/);
    expect(cli(["train", "--crop", "2", "--crop-fill", "grey"]).stderr).toMatch(/--crop-fill takes black or mean, got 'grey'/);
    const threads = cli(["params", "spikformer-cifar-1-16", "--threads", "0"]);
    expect(threads.stderr).toMatch(/^error: setThreads: thread count must be an integer >= 1, got 0/);
    expect(cli(["params", "spikformer-cifar-1-16", "--spin", "-1"]).stderr).toMatch(/--spin must be a number >= 0 and <= 10000, got -1/);
    expect(cli(["params", "spikformer-cifar-1-16", "--spin", "20"]).stdout.trim()).toMatch(/^\d+$/);
  });
});
