/**
 * Issue 14: every bad input of the adversarial report is refused with one
 * line naming the file or flag, quickly, never a stack trace, hang or silent
 * result. One named test per numbered case (case 10, the launcher's signals,
 * belongs to bin/bitspike.js and is tested there).
 */
import { describe, expect, it, beforeAll } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tensor } from "../../src/tensor/tensor.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { describeError } from "../../src/cli/run.js";
import { parseSafetensors, serializeSafetensors, type SafeInput } from "../../src/io/safetensors.js";
import { readSafetensorsFile, writeFileAtomic } from "../../src/io/safetensors-file.js";
import { spikformerConfig } from "../../src/models/config.js";
import { Spikformer } from "../../src/models/spikformer.js";
import { loadDatasetFile } from "../../src/train/data/file.js";
import { loadData } from "../../src/train/data/spec.js";
import { CHECKPOINT_FILE, loadWeights, saveWeights } from "../../src/train/checkpoint.js";
import { checkGradientsFinite, train, type TrainOptions } from "../../src/train/trainer.js";
import { TINY, cliChild, cliInProcess, deepJson, expectCliError, expectRefused, tinyDataFile, tinyWeights } from "../helpers/bad-input.js";

const tmp = (): string => mkdtempSync(join(tmpdir(), "bitspike-issue14-"));

/** The file with its header JSON text rewritten (data bytes unchanged). */
function rewriteHeader(bytes: Uint8Array, f: (header: string) => string): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = new TextEncoder().encode(f(new TextDecoder().decode(bytes.subarray(8, 8 + n)).trimEnd()));
  const out = new Uint8Array(8 + header.length + bytes.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(bytes.subarray(8 + n), 8 + header.length);
  return out;
}

/** A weights file's tensors written again with other metadata. */
function withMetadata(weights: string, meta: Record<string, string>, path: string): string {
  const f = readSafetensorsFile(weights);
  const entries = new Map<string, SafeInput>([...f.tensors].map(([k, e]) => [k, { dtype: e.dtype, shape: e.shape, data: e.data }]));
  writeFileSync(path, serializeSafetensors(entries, meta));
  return path;
}

function runOptions(data: string, out: string): TrainOptions {
  return {
    model: "spikformer-cifar-1-16", modelOverrides: { T: 1, numHeads: 2 }, data: `file:${data}`,
    epochs: 2, batch: 8, lr: 5e-3, wd: 0.01, warmupEpochs: 0.5, minLr: 1e-5, labelSmoothing: 0.1, mixup: 0,
    augment: {}, clip: 0, seed: 7, out, resume: false, checkpointEvery: 0, stopAfter: 0, evalBatch: 16,
  };
}

describe("issue 14: bad input is refused", () => {
  let dir: string;
  let weights: string;
  let data: string;
  beforeAll(() => {
    dir = tmp();
    weights = tinyWeights(dir);
    data = tinyDataFile(dir);
  });

  it("issue 14 #1: JSON nested 5,000+ levels in dtype, shape, data_offsets or metadata is refused, naming the file", async () => {
    const bytes = readFileSync(weights);
    const deep = deepJson(6000);
    const variants = [
      (h: string) => h.replace('"dtype":"F32"', `"dtype":${deep}`),
      (h: string) => h.replace(/"shape":\[[0-9,]*\]/, `"shape":[${deep}]`),
      (h: string) => h.replace(/"data_offsets":\[[0-9,]*\]/, `"data_offsets":${deep}`),
      (h: string) => h.replace('"__metadata__":{', `"__metadata__":{"deep":${deepJson(6000, '{"a":', "}").replace(/\{"a":\}/, '{"a":1}')},`),
    ];
    variants.forEach((v, i) => {
      const path = join(dir, `deep${i}.safetensors`);
      writeFileSync(path, rewriteHeader(bytes, v));
      expectRefused(() => readSafetensorsFile(path), path);
    });
    expectCliError(await cliInProcess(["eval", "--weights", join(dir, "deep0.safetensors"), "--data", `file:${data}`]), "deep0.safetensors");
    // and a deep value inside a metadata string (bitspike_model) that is itself JSON
    const inner = withMetadata(weights, { bitspike_model: deepJson(10000) }, join(dir, "deep-meta.safetensors"));
    expectCliError(await cliInProcess(["eval", "--weights", inner, "--data", `file:${data}`]), /deep-meta\.safetensors.*nests more than 64 levels/);
  });

  it("issue 14 #2: bitspike_model metadata that is not JSON, null, or of wrong types is refused, naming the file", async () => {
    const bad = ["not json", "null", "[]", '"x"', '{"variant":"cifar","depths":"1","embedDims":16}', '{"variant":"cifar","depths":1,"embedDims":16,"T":null}',
      '{"variant":7,"depths":1,"embedDims":16}', '{"variant":"cifar","depths":1,"embedDims":16,"mlpRatio":"4"}', '{"variant":"cifar","depths":1,"embedDims":16,"attention":{}}'];
    for (const [i, meta] of bad.entries()) {
      const path = withMetadata(weights, { format: "pt", bitspike_model: meta }, join(dir, `meta${i}.safetensors`));
      expectCliError(await cliInProcess(["eval", "--weights", path, "--data", `file:${data}`]), `meta${i}.safetensors`);
    }
  });

  it("issue 14 #3: depths 1e6 (and width, T, classes 1e9) in metadata are refused before allocating", async () => {
    for (const [k, v] of [["depths", 1e6], ["embedDims", 1e9], ["T", 1e9], ["numClasses", 1e9], ["imgSize", 1e9], ["depths", 1000]] as const) {
      const path = withMetadata(weights, { bitspike_model: JSON.stringify({ ...TINY, [k]: v }) }, join(dir, `big-${k}.safetensors`));
      const t0 = performance.now();
      const r = await cliInProcess(["eval", "--weights", path, "--data", `file:${data}`]);
      expectCliError(r, `big-${k}.safetensors`);
      expect(performance.now() - t0).toBeLessThan(2000);
    }
  });

  it("issue 14 #3: sizes from data files and flags are bounded (num_classes '1e9', label 2^31-1, huge models, --T, --threads)", async () => {
    expectRefused(() => loadDatasetFile(tinyDataFile(dir, "nc.safetensors", () => ({ num_classes: "1e9" }))), /nc\.safetensors: metadata num_classes/);
    expectRefused(() => loadDatasetFile(tinyDataFile(dir, "nc2.safetensors", () => ({ num_classes: "2000000" }))), /nc2\.safetensors: metadata num_classes must be an integer .*<= 1000000/);
    expectRefused(() => loadDatasetFile(tinyDataFile(dir, "lab.safetensors", (d) => void (d.labels[3] = 2n ** 31n - 1n))), /lab\.safetensors: label 2147483647 of sample 3/);
    for (const args of [["params", "spikformer-cifar-1-800000"], ["params", "spikformer-cifar-100000-32"], ["params", "spikformer-imagenet-1000-8192"], ["params", "spikformer-imagenet-8-8192", "--classes", "1000000"]]) {
      const t0 = performance.now();
      expectCliError(await cliInProcess(args), /model/);
      expect(performance.now() - t0).toBeLessThan(2000);
    }
    expectCliError(await cliInProcess(["train", "--T", "100000"]), "--T");
    expectCliError(await cliInProcess(["train", "--threads", "1000"]), "--threads");
    // a batch whose activations cannot fit is refused by the model-size check, before the run starts
    expectRefused(() => train({ ...runOptions(data, join(dir, "huge")), model: "spikformer-cifar-1-1024", modelOverrides: { T: 1024 }, batch: 1024 }), /^train: model .* at batch 1024 needs/);
  });

  it("issue 14 #4: BITSPIKE_KERNELS=bogus gives one line and exit 1, not a stack trace at module load", () => {
    const r = cliChild(["params", "spikformer-cifar-1-16"], { BITSPIKE_KERNELS: "bogus" });
    expectCliError(r, /BITSPIKE_KERNELS must be "js", "wasm" or "auto", got "bogus"/);
    expect(r.code).toBe(1);
  });

  it("issue 14 #5: --out that is a file, under a file or in /proc is refused at once", async () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    for (const out of [file, join(file, "sub"), join(file, "sub", "deeper"), "/proc/bitspike-x"]) {
      const t0 = performance.now();
      const r = await cliInProcess(["train", "--data", `file:${data}`, "--model", "spikformer-cifar-1-16", "--heads", "2", "--epochs", "1", "--batch", "8", "--out", out]);
      expectCliError(r, out === "/proc/bitspike-x" ? "/proc/bitspike-x" : /a-file is a file, not a folder/);
      expect(performance.now() - t0).toBeLessThan(2000);
    }
    expectRefused(() => writeFileAtomic("/proc/bitspike-x/y.safetensors", new Uint8Array(8)), "/proc/bitspike-x/y.safetensors");
  });

  it("issue 14 #6: a directory named data_batch_1.bin in a CIFAR folder is a clear error", async () => {
    const cifar = join(dir, "cifar");
    for (const f of ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"]) mkdirSync(join(cifar, f), { recursive: true });
    expectRefused(() => loadData(`cifar10:${cifar}`), /cifar: cannot read .*data_batch_1\.bin: it is a directory/);
    expectCliError(await cliInProcess(["train", "--data", `cifar10:${cifar}`, "--out", join(dir, "c-out")]), "data_batch_1.bin");
  });

  describe("checkpoints", () => {
    let run: string;
    let ckpt: Uint8Array;
    beforeAll(() => {
      run = join(dir, "run");
      train({ ...runOptions(data, run), stopAfter: 2 });
      ckpt = new Uint8Array(readFileSync(join(run, CHECKPOINT_FILE))); // a copy: Buffer.slice() would be a view
    });
    /** Resumes from a checkpoint whose bytes are `bytes`; returns the refusal. */
    const resumeWith = (bytes: Uint8Array, name: string, opts: Partial<TrainOptions> = {}) => {
      const out = join(dir, name);
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, CHECKPOINT_FILE), bytes);
      return expectRefused(() => train({ ...runOptions(data, out), resume: true, ...opts }), join(out, CHECKPOINT_FILE), 5000);
    };
    const withState = (f: (st: Record<string, unknown>) => unknown): Uint8Array => {
      const file = parseSafetensors(ckpt);
      const st = JSON.parse(file.metadata["bitspike_checkpoint"]!) as Record<string, unknown>;
      const entries = new Map<string, SafeInput>([...file.tensors].map(([k, e]) => [k, { dtype: e.dtype, shape: e.shape, data: e.data }]));
      return serializeSafetensors(entries, { bitspike_checkpoint: JSON.stringify(f(st)) });
    };

    it("issue 14 #7: checkpoint metadata of the wrong structure (null, no position, optimizer null) is refused on --resume", () => {
      resumeWith(withState(() => null), "s-null").message.match(/must be a JSON object/);
      expect(resumeWith(withState((st) => ({ ...st, position: undefined })), "s-nopos").message).toMatch(/position must be a JSON object/);
      expect(resumeWith(withState((st) => ({ ...st, optimizer: null })), "s-noopt").message).toMatch(/optimizer must be a JSON object/);
      expect(resumeWith(withState((st) => ({ ...st, optimizer: { ...(st.optimizer as object), params: [{ step: "x" }] } })), "s-badopt").message).toMatch(/step must be an integer|checksum/);
      expect(resumeWith(withState((st) => ({ ...st, format: "bitspike-checkpoint-1" })), "s-fmt").message).toMatch(/unknown checkpoint format/);
    });

    it("issue 14 #8: a position outside the run (epoch -1, epoch 5 of 2) and flipped weight bytes are refused on --resume", () => {
      const at = (p: object) => withState((st) => ({ ...st, position: { ...(st.position as object), ...p } }));
      expect(resumeWith(at({ epoch: -1 }), "p-neg").message).toMatch(/position\.epoch must be an integer >= 0/);
      expect(resumeWith(at({ epoch: 5 }), "p-late").message).toMatch(/position\.epoch must be an integer >= 0 and <= 2, got 5/);
      expect(resumeWith(at({ batchIndex: 99 }), "p-batch").message).toMatch(/position\.batchIndex/);
      expect(resumeWith(at({ iteration: 40 }), "p-iter").message).toMatch(/position\.iteration 40 does not match/);
      // checksum: one flipped byte in the weights, and a position edited consistently by hand
      const flipped = ckpt.slice();
      flipped[flipped.length - 3]! ^= 0x10;
      expect(resumeWith(flipped, "flip").message).toMatch(/checksum mismatch/);
      expect(resumeWith(at({ epoch: 1, batchIndex: 0, iteration: 5 }), "p-moved").message).toMatch(/checksum mismatch/);
    });

    it("issue 14 #11: a stale .checkpoint.safetensors.*.tmp is removed on the next write; a live process's temp file is kept", () => {
      const out = join(dir, "stale");
      mkdirSync(out, { recursive: true });
      const stale = join(out, `.${CHECKPOINT_FILE}.2147483646.1.0.tmp`);
      const live = join(out, `.${CHECKPOINT_FILE}.${process.ppid}.1.0.tmp`);
      writeFileSync(stale, "partial");
      writeFileSync(live, "in use");
      train({ ...runOptions(data, out), stopAfter: 1 });
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(live)).toBe(true);
      expect(readdirSync(out).filter((f) => f.endsWith(".tmp"))).toEqual([`.${CHECKPOINT_FILE}.${process.ppid}.1.0.tmp`]);
    });
  });

  it("issue 14 #9: one NaN pixel, NaN weights and NaN gradients are refused, naming the sample, tensor or parameter; NaN is never saved", async () => {
    const nanData = tinyDataFile(dir, "nan.safetensors", (d) => void (d.images[5 * 64 + 7] = NaN));
    expectRefused(() => loadDatasetFile(nanData), /nan\.safetensors: 'images' holds NaN at sample 5/);
    expectCliError(await cliInProcess(["train", "--data", `file:${nanData}`, "--out", join(dir, "nan-run")]), "nan.safetensors");
    const infData = tinyDataFile(dir, "inf.safetensors", (d) => void (d.images[0] = Infinity));
    expectRefused(() => loadDatasetFile(infData), /inf\.safetensors: 'images' holds Infinity at sample 0/);
    // weights: refused on load (naming file and tensor) and on save
    const model = new Spikformer(TINY);
    model.head.weight.data[1] = NaN;
    expectRefused(() => saveWeights(join(dir, "nan-w.safetensors"), model, {}), /weights\(.*nan-w\.safetensors\): tensor 'head\.weight' holds a non-finite value \(NaN at index 1\)/);
    expect(existsSync(join(dir, "nan-w.safetensors"))).toBe(false);
    const f = readSafetensorsFile(weights);
    const entries = new Map<string, SafeInput>([...f.tensors].map(([k, e]) => [k, { dtype: e.dtype, shape: e.shape, data: k === "head.bias" ? new Float32Array([0, -Infinity, 0]) : e.data }]));
    const badW = join(dir, "inf-w.safetensors");
    writeFileSync(badW, serializeSafetensors(entries, f.metadata));
    expectRefused(() => loadWeights(badW, new Spikformer(TINY)), /inf-w\.safetensors.*'head\.bias' holds a non-finite value \(-Infinity/);
    const x = join(dir, "x-nan.safetensors");
    writeFileSync(x, serializeSafetensors({ x: { shape: [1, 1, 8, 8], data: new Float32Array(64).fill(NaN) } }));
    expectCliError(await cliInProcess(["predict", "--weights", weights, "--input", x, "--output", join(dir, "y.safetensors")]), "x-nan.safetensors");
    // gradients: the step fails naming the parameter
    const p = Tensor.zeros([3]).requireGrad();
    p.grad = new Tensor(new Float32Array([0, NaN, 0]), [3]);
    expectRefused(() => checkGradientsFinite("train", [["block.0.mlp.fc1_linear.weight", p]], "at epoch 0 step 3"), /the gradient of block\.0\.mlp\.fc1_linear\.weight holds NaN \(index 1\) at epoch 0 step 3/);
    // --lr 1e30: the run fails (at the step, or at the save that would have written Infinity), and no file it left holds a non-finite value
    const out = join(dir, "lr-run");
    expectRefused(() => train({ ...runOptions(data, out), lr: 1e30, checkpointEvery: 1, epochs: 3 }), /^train: the (loss|gradient)|^checkpoint\(.*\): tensor '.*' holds a non-finite value/, 20_000, 1024);
    for (const file of readdirSync(out).filter((n) => n.endsWith(".safetensors"))) {
      for (const [k, e] of readSafetensorsFile(join(out, file)).tensors) {
        if (e.data instanceof Float32Array) expect(e.data.every(Number.isFinite), `${file} ${k}`).toBe(true);
      }
    }
  }, 30_000);

  it("issue 14 #12: misread flags are errors naming the flag", async () => {
    const cases: [string[], RegExp | string][] = [
      [["train", "-epochs", "3"], "'-epochs'"],
      [["train", "stray"], "unexpected argument 'stray'"],
      [["params", "spikformer-cifar-1-16", "extra"], "unexpected argument 'extra'"],
      [["train", "--mixup", "-1"], "--mixup must be a number >= 0, got -1"],
      [["train", "--crop", "-1"], "--crop must be an integer >= 0, got -1"],
      [["train", "--clip", "-1"], "--clip must be a number >= 0, got -1"],
      [["train", "--checkpoint-every", "-1"], "--checkpoint-every"],
      [["train", "--resume=maybe"], "--resume takes true or false, got 'maybe'"],
      [["train", "--batch", "0"], "--batch must be an integer >= 1"],
      [["train", "--batch", "-5"], "--batch must be an integer >= 1"],
      [["train", "--epochs", "-1"], "--epochs must be an integer >= 1"],
      [["train", "--lr", ""], "--lr expects a number, got ''"],
      [["train", "--hflip", "1.5"], "--hflip"],
      [["eval", "--weights", "w", "--limit", "0"], "--limit must be an integer >= 1, got 0"],
      [["energy", "--weights", "w", "--limit", "0"], "--limit must be an integer >= 1, got 0"],
      [["pretrain", "--mask", "1"], "--mask must be a number > 0 and < 1, got 1"],
      [["help", "nope"], "unknown command 'nope'"],
    ];
    for (const [args, names] of cases) expectCliError(await cliInProcess(args), names);
    // --data mnist:extra, --crop beyond the image, and --img-size / --in-channels / --classes that the data contradicts
    const base = ["--model", "spikformer-cifar-1-16", "--heads", "2", "--epochs", "1", "--batch", "8", "--out", join(dir, "flags-run")];
    expectCliError(await cliInProcess(["train", "--data", "mnist:extra", ...base]), "'mnist:extra'");
    expectCliError(await cliInProcess(["train", "--data", `file:${data}`, "--crop", "1000", ...base]), "crop padding (--crop) 1000 must be less than the image size 8");
    expectCliError(await cliInProcess(["train", "--data", `file:${data}`, "--img-size", "32", ...base]), "--img-size");
    expectCliError(await cliInProcess(["train", "--data", `file:${data}`, "--in-channels", "3", ...base]), "--in-channels");
    expectCliError(await cliInProcess(["train", "--data", `file:${data}`, "--classes", "2", ...base]), "--classes");
    // --classes above the data's is honoured: the head gets that many outputs
    const honoured = train({ ...runOptions(data, join(dir, "classes-run")), modelOverrides: { T: 1, numHeads: 2, numClasses: 7 }, epochs: 1, out: null });
    expect(honoured.model.config.numClasses).toBe(7);
  });

  it("issue 14 #13: content errors (missing keys, shape mismatch, input that does not fit) name the file", async () => {
    const f = readSafetensorsFile(weights);
    const drop = new Map<string, SafeInput>([...f.tensors].filter(([k]) => k !== "head.bias").map(([k, e]) => [k, { dtype: e.dtype, shape: e.shape, data: e.data }]));
    const missing = join(dir, "missing-key.safetensors");
    writeFileSync(missing, serializeSafetensors(drop, f.metadata));
    expectRefused(() => loadWeights(missing, new Spikformer(TINY)), /loadStateDict\(.*missing-key\.safetensors\): .*missing keys \(1\): head\.bias/);
    const wide = spikformerConfig("spikformer-cifar-1-16", { ...TINY, numClasses: 5 });
    expectRefused(() => loadWeights(weights, new Spikformer(wide)), /loadStateDict\(.*w\.safetensors\): .*head\.weight: shape \[3, 16\] in the state dict, \[5, 16\] in the module/);
    const x = join(dir, "x-wrong.safetensors");
    writeFileSync(x, serializeSafetensors({ x: { shape: [1, 3, 8, 8], data: new Float32Array(192) } }));
    expectCliError(await cliInProcess(["predict", "--weights", weights, "--input", x, "--output", join(dir, "y.safetensors")]), /input \[1, 3, 8, 8\] from .*x-wrong\.safetensors does not fit/);
    expectCliError(await cliInProcess(["eval", "--weights", weights, "--data", "mnist"]), /--data mnist: images are 28x28x1, the model takes 8x8x1/);
  });
});

describe("issue 14: one place maps every error to one line", () => {
  it("issue 14 #4: user errors print one line without a stack; internal bugs one line too, with the stack only under BITSPIKE_DEBUG=1", () => {
    expect(describeError(new BitspikeError("model", "depths must be\nan integer"))).toEqual({ message: "error: model: depths must be an integer", code: 1 });
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'x'"), { code: "ENOENT" });
    expect(describeError(enoent)).toEqual({ message: "error: ENOENT: no such file or directory, open 'x'", code: 1 });
    const bug = describeError(new TypeError("cannot read properties of undefined"), false);
    expect(bug.code).toBe(70);
    expect(bug.message).toMatch(/^error: internal error \(TypeError: cannot read properties of undefined\); please report it/);
    expect(bug.message).not.toContain("\n");
    expect(describeError(new TypeError("x"), true).message.split("\n").length).toBeGreaterThan(1);
  });
});

describe("issue 14: signals and the in-process CLI", () => {
  it.each(["SIGTERM", "SIGINT"] as const)("issue 14 #11: %s during `bitspike train` leaves no process, no stale temp file after the next write, and a valid last checkpoint", async (signal) => {
    const dir = tmp();
    const data = tinyDataFile(dir);
    const out = join(dir, "run");
    const args = ["train", "--data", `file:${data}`, "--model", "spikformer-cifar-1-16", "--heads", "2", "--T", "1", "--epochs", "200", "--batch", "8", "--checkpoint-every", "1", "--threads", "1", "--out", out];
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { stdio: "ignore" });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 30_000;
    while (!existsSync(join(out, CHECKPOINT_FILE)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 700)); // mid-run: checkpoints are being written every step
    child.kill(signal);
    const end = await exited;
    expect(end.signal ?? end.code).not.toBe(0);
    expect(() => process.kill(child.pid!, 0)).toThrow(); // no process left
    // the last checkpoint is valid: a resume (checksum, position, strict load) runs one more step and exits 0
    const r = cliChild([...args, "--resume", "--stop-after", "1"]);
    expect(r.code, r.stderr.join("\n")).toBe(0);
    expect(readdirSync(out).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  }, 60_000);
});
