/**
 * Issue 14 fuzzing: generated corrupt weights, data files, event files
 * (issue 16), checkpoints and bad command lines. Each must be refused with one line naming the file or
 * flag (a BitspikeError, or for a CLI run a non-zero exit and one stderr line),
 * within a time and memory bound: never a stack trace, a hang or a silent
 * result. Seeded, and sized to stay within a few seconds per property.
 */
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSafetensors, serializeSafetensors, type SafeInput } from "../../src/io/safetensors.js";
import { loadDatasetFile } from "../../src/train/data/file.js";
import { CHECKPOINT_FILE } from "../../src/train/checkpoint.js";
import { train, type TrainOptions } from "../../src/train/trainer.js";
import { COMMANDS } from "../../src/cli/commands.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { SENSORS } from "../../src/io/events/events.js";
import { parseAtisBin, serializeAtisBin } from "../../src/io/events/atis.js";
import { parseAedat2Cifar, parseAedat3 } from "../../src/io/events/aedat.js";
import { parseEventsNpz } from "../../src/io/events/npz.js";
import { serializeAedat2Cifar, serializeAedat3, serializeEventsNpz } from "../helpers/event-writers.js";
import { TINY, cliInProcess, deepJson, expectCliError, expectRefused, tinyData, tinyDataFile, tinyWeights, type CliResult } from "../helpers/bad-input.js";

const SEED = 14;

/** Header JSON text and the data bytes of a safetensors file. */
function split(bytes: Uint8Array): { header: string; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: new TextDecoder().decode(bytes.subarray(8, 8 + n)).trimEnd(), data: bytes.subarray(8 + n) };
}

/** A safetensors file from header text and data bytes. */
function join2(header: string, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** The file rewritten: same tensors, `meta` as metadata, optionally one float value replaced. */
function rewrite(bytes: Uint8Array, meta: Record<string, string>, poke?: { tensor: number; index: number; value: number }): Uint8Array {
  const f = parseSafetensors(bytes);
  const floats = [...f.tensors.keys()].filter((k) => f.tensors.get(k)!.data instanceof Float32Array);
  const entries = new Map<string, SafeInput>([...f.tensors].map(([k, e]) => [k, { dtype: e.dtype, shape: e.shape, data: e.data }]));
  if (poke) {
    const name = floats[poke.tensor % floats.length]!;
    const data = (f.tensors.get(name)!.data as Float32Array).slice();
    data[poke.index % data.length] = poke.value;
    entries.set(name, { shape: f.tensors.get(name)!.shape, data });
  }
  return serializeSafetensors(entries, meta);
}

/** Deep nesting (65 to 20,000 levels) put in place of a tensor's dtype, shape or offsets, or a metadata value. */
const arbDeepHeader = fc.tuple(fc.integer({ min: 65, max: 20_000 }), fc.constantFrom("dtype", "shape", "data_offsets", "__metadata__"), fc.boolean()).map(([depth, field, objects]) => (header: string): string => {
  const deep = objects ? '{"a":'.repeat(depth) + "1" + "}".repeat(depth) : deepJson(depth);
  if (field === "dtype") return header.replace('"dtype":"F32"', `"dtype":${deep}`);
  if (field === "shape") return header.replace(/"shape":\[[0-9,]*\]/, `"shape":${deep}`);
  if (field === "data_offsets") return header.replace(/"data_offsets":\[[0-9,]*\]/, `"data_offsets":${deep}`);
  return header.includes('"__metadata__":{') ? header.replace('"__metadata__":{', `"__metadata__":{"x":${deep},`) : header.replace("{", `{"__metadata__":{"x":${deep}},`);
});

const nonFinite = fc.constantFrom(NaN, Infinity, -Infinity);

/** A value a config field must refuse: wrong type, non-integer, zero, negative or beyond any limit. */
const badFieldValue = fc.oneof(
  fc.constantFrom<unknown>(null, "1", "", [], {}, true, -1, 0, 1.5, 1e7, 1e9, 2 ** 53, "1e9"),
  fc.integer({ min: 2_000_000, max: 2 ** 40 }),
  fc.integer({ min: -1e9, max: 0 }),
);
const configFields = ["depths", "embedDims", "numHeads", "T", "numClasses", "imgSize", "patchSize", "inChannels"] as const;
/** A bitspike_model metadata text that must be refused. */
const arbBadModelMeta = fc.oneof(
  fc.tuple(fc.constantFrom(...configFields), badFieldValue).map(([k, v]) => JSON.stringify({ ...TINY, [k]: v })),
  fc.tuple(fc.constantFrom("variant", "attention", "residual", "mlpRatio"), fc.oneof(fc.string({ maxLength: 8 }).filter((s) => !["cifar", "ssa", "add"].includes(s)), fc.constantFrom<unknown>(null, 0, -4, [], {}))).map(([k, v]) => JSON.stringify({ ...TINY, [k]: v })),
  fc.oneof(fc.constant("not json {"), fc.constant("null"), fc.constant("[]"), fc.integer().map(String), fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s))),
  fc.integer({ min: 65, max: 5000 }).map((d) => deepJson(d)),
);

/** Runs a CLI case and checks it is refused quickly, in bounded memory, with one line naming `names`. */
async function refusedByCli(args: string[], names: RegExp | string, ms = 3000): Promise<CliResult> {
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const r = await cliInProcess(args);
  expectCliError(r, names);
  expect(performance.now() - t0).toBeLessThan(ms);
  expect((process.memoryUsage().rss - rss0) / 2 ** 20).toBeLessThan(512);
  return r;
}

describe("issue 14 fuzzing: corrupt files and bad flags are refused", () => {
  let dir: string;
  let weights: Uint8Array;
  let data: string;
  let ckpt: Uint8Array;
  const runOptions = (out: string): TrainOptions => ({
    model: "spikformer-cifar-1-16", modelOverrides: { T: 1, numHeads: 2 }, data: `file:${data}`,
    epochs: 2, batch: 8, lr: 5e-3, wd: 0.01, warmupEpochs: 0.5, minLr: 1e-5, labelSmoothing: 0.1, mixup: 0,
    augment: {}, clip: 0, seed: 7, out, resume: false, checkpointEvery: 0, stopAfter: 0, evalBatch: 16,
  });
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "bitspike-fuzz14-"));
    // Copies (a Buffer's slice() is a view: a flipped byte would corrupt the original).
    weights = new Uint8Array(readFileSync(tinyWeights(dir)));
    data = tinyDataFile(dir);
    const run = join(dir, "run");
    train({ ...runOptions(run), stopAfter: 2 });
    ckpt = new Uint8Array(readFileSync(join(run, CHECKPOINT_FILE)));
  });

  let n = 0;
  const fresh = (bytes: Uint8Array): string => {
    const path = join(dir, `case-${n++}.safetensors`);
    writeFileSync(path, bytes);
    return path;
  };

  it("corrupt weights files (truncated, bad model metadata, deep nesting, non-finite values, wrong shapes) through `bitspike eval`", async () => {
    const meta = parseSafetensors(weights).metadata;
    const arbCorrupt = fc.oneof(
      fc.nat().map((cut) => (b: Uint8Array) => b.subarray(0, cut % b.length)),
      arbBadModelMeta.map((m) => (b: Uint8Array) => rewrite(b, { ...meta, bitspike_model: m })),
      arbDeepHeader.map((edit) => (b: Uint8Array) => { const s = split(b); return join2(edit(s.header), s.data); }),
      fc.tuple(fc.nat(), fc.nat(), nonFinite).map(([tensor, index, value]) => (b: Uint8Array) => rewrite(b, meta, { tensor, index, value })),
      fc.nat({ max: 40 }).map((k) => (b: Uint8Array) => {
        // one tensor's shape flattened (same bytes, other shape) or a dimension changed
        const s = split(b);
        let i = 0;
        return join2(s.header.replace(/"shape":\[([0-9,]+)\]/g, (m, dims: string) => (i++ === k % 30 ? `"shape":[${k % 2 && dims.includes(",") ? dims.split(",").reduce((p, d) => p * Number(d), 1) : dims + ",1,2"}]` : m)), s.data);
      }),
    );
    await fc.assert(fc.asyncProperty(arbCorrupt, async (corrupt) => {
      const path = fresh(corrupt(weights));
      await refusedByCli(["eval", "--weights", path, "--data", `file:${data}`], path);
    }), { seed: SEED, numRuns: 150 });
  });

  it("corrupt data files (non-finite pixels, labels and num_classes out of range, bad mean / std, truncation, deep nesting)", () => {
    const arbEdit = fc.oneof(
      fc.tuple(fc.nat(), nonFinite).map(([i, v]) => (d: ReturnType<typeof tinyData>) => void (d.images[i % d.images.length] = v)),
      fc.tuple(fc.nat(), fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: -1n }), fc.bigInt({ min: 1_000_000n, max: 2n ** 63n - 1n }))).map(([i, v]) => (d: ReturnType<typeof tinyData>) => void (d.labels[i % d.labels.length] = v)),
      fc.constantFrom("1e9", "-3", "", "abc", "0x10", " 7", "1.5", "0", "2000000", "2", deepJson(100)).map((k) => () => ({ num_classes: k })),
      fc.constantFrom(["[0.5]", "[0]"], ["[0.5]", "[-1]"], ["x", "[1]"], ["[1,2]", "[1,2]"], [deepJson(5000), "[1]"], ["[0.5]", undefined], ['["a"]', "[1]"], ["[1e400]", "[1]"]).map(([mean, std]) => () => (std === undefined ? { mean: mean! } : { mean: mean!, std })),
    );
    fc.assert(fc.property(arbEdit, (edit) => {
      const path = tinyDataFile(dir, `data-${n++}.safetensors`, edit as (d: ReturnType<typeof tinyData>) => Record<string, string> | void);
      expectRefused(() => loadDatasetFile(path), path, 2000);
    }), { seed: SEED, numRuns: 100 });
    const file = new Uint8Array(readFileSync(data));
    fc.assert(fc.property(fc.oneof(fc.nat().map((cut) => file.subarray(0, cut % file.length)), arbDeepHeader.map((edit) => { const s = split(file); return join2(edit(s.header), s.data); })), (bytes) => {
      const path = fresh(bytes);
      expectRefused(() => loadDatasetFile(path), path, 2000);
    }), { seed: SEED, numRuns: 30 });
  });

  it("corrupt event files (ATIS .bin, AEDAT 3.1, AEDAT 2.0, npz): refused naming the file, or read as valid events; a cut inside a record is always refused", () => {
    const ev = { t: Float64Array.from({ length: 40 }, (_, i) => 1000 * i + (i % 3)), x: Uint16Array.from({ length: 40 }, (_, i) => (i * 7) % 34), y: Uint16Array.from({ length: 40 }, (_, i) => (i * 5) % 34), p: Uint8Array.from({ length: 40 }, (_, i) => i % 2) };
    const formats = [
      { name: "a.bin", bytes: serializeAtisBin(ev), read: (b: Uint8Array, f: string) => parseAtisBin(b, f, SENSORS.nmnist), record: (cut: number) => cut % 5 !== 0 },
      { name: "g.aedat", bytes: serializeAedat3(ev, 7), read: (b: Uint8Array, f: string) => parseAedat3(b, f, SENSORS.dvs128), record: () => false },
      { name: "c.aedat", bytes: serializeAedat2Cifar(ev), read: (b: Uint8Array, f: string) => parseAedat2Cifar(b, f), record: (cut: number, all: number) => cut > all - 8 * 40 && (all - cut) % 8 !== 0 },
      { name: "e.npz", bytes: serializeEventsNpz(ev), read: (b: Uint8Array, f: string) => parseEventsNpz(b, f, SENSORS.dvs128), record: (cut: number, all: number) => cut < all },
    ];
    const arbCorrupt = fc.oneof(
      fc.nat().map((cut) => ({ kind: "cut", cut })),
      fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, x]) => ({ kind: "flip", at, x })),
      fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 9 })).map(([at, junk]) => ({ kind: "insert", at, junk })),
    );
    fc.assert(fc.property(fc.constantFrom(...formats), arbCorrupt, (fmt, c) => {
      const b = fmt.bytes;
      let bytes: Uint8Array;
      if (c.kind === "cut") bytes = b.subarray(0, (c as { cut: number }).cut % b.length);
      else if (c.kind === "flip") {
        bytes = b.slice();
        const { at, x } = c as { at: number; x: number };
        bytes[at % b.length] = bytes[at % b.length]! ^ x;
      } else {
        const { at, junk } = c as { at: number; junk: Uint8Array };
        const i = at % b.length;
        bytes = new Uint8Array([...b.subarray(0, i), ...junk, ...b.subarray(i)]);
      }
      const file = join(dir, `${n++}-${fmt.name}`);
      let events: ReturnType<typeof fmt.read> | null = null;
      const mustFail = c.kind === "cut" && fmt.record((c as { cut: number }).cut % b.length, b.length);
      try {
        events = fmt.read(bytes, file);
      } catch (e) {
        expect(e).toBeInstanceOf(BitspikeError);
        expect((e as Error).message).toContain(file);
        expect((e as Error).message).not.toContain("\n");
        return;
      }
      expect(mustFail, `a cut inside a record of ${fmt.name} was read`).toBe(false);
      // Read: every event valid (on the sensor, 0 / 1 polarity, sorted, integer times).
      for (let i = 0; i < events.t.length; i++) {
        if (!(Number.isSafeInteger(events.t[i]) && events.p[i]! <= 1 && events.x[i]! < 128 && events.y[i]! < 128 && (i === 0 || events.t[i]! >= events.t[i - 1]!))) throw new Error(`${fmt.name}: invalid event ${i} read`);
      }
    }), { seed: SEED, numRuns: 400 });
  });

  it("corrupt checkpoints (any flipped byte, truncation, metadata of the wrong structure or position) are refused on --resume", () => {
    const { header } = split(ckpt);
    const headerEnd = 8 + new TextEncoder().encode(header).length; // padding spaces after it may legally turn into other whitespace
    const state = JSON.parse(parseSafetensors(ckpt).metadata["bitspike_checkpoint"]!) as Record<string, unknown>;
    const arbCorrupt = fc.oneof(
      fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, x]) => (b: Uint8Array) => {
        const out = b.slice();
        const span = b.length - headerEnd + header.length;
        const pos = at % span;
        const i = pos < header.length ? 8 + pos : headerEnd + (pos - header.length);
        out[i] = out[i]! ^ x;
        return out;
      }),
      fc.nat().map((cut) => (b: Uint8Array) => b.subarray(0, cut % b.length)),
      fc.tuple(fc.constantFrom("position", "optimizer", "train", "model", "format", "checksum"), fc.jsonValue({ maxDepth: 3 })).map(([k, v]) => (b: Uint8Array) => rewrite(b, { bitspike_checkpoint: JSON.stringify({ ...state, [k]: v }) })),
      fc.record({ epoch: fc.integer({ min: -5, max: 50 }), batchIndex: fc.integer({ min: -5, max: 50 }), iteration: fc.integer({ min: -5, max: 300 }) }).map((p) => (b: Uint8Array) => rewrite(b, { bitspike_checkpoint: JSON.stringify({ ...state, position: p }) })),
    );
    fc.assert(fc.property(arbCorrupt, (corrupt) => {
      const out = join(dir, `resume-${n++}`);
      mkdirSync(out);
      writeFileSync(join(out, CHECKPOINT_FILE), corrupt(ckpt));
      expectRefused(() => train({ ...runOptions(out), resume: true }), join(out, CHECKPOINT_FILE), 5000);
    }), { seed: SEED, numRuns: 100 });
  });

  it("bad command lines: unknown, single-dash, stray, malformed and out-of-range flags name the flag", async () => {
    const commands = Object.keys(COMMANDS);
    const arbCase = fc.constantFrom(...commands).chain((cmd) => {
      const flags = COMMANDS[cmd]!.flags;
      const names = Object.keys(flags);
      const numeric = names.filter((k) => flags[k]!.type === "int" || flags[k]!.type === "number");
      const ranged = numeric.filter((k) => flags[k]!.min !== undefined || flags[k]!.max !== undefined || flags[k]!.above !== undefined || flags[k]!.below !== undefined);
      const booleans = names.filter((k) => flags[k]!.type === "boolean");
      const bad: fc.Arbitrary<{ words: string[]; names: RegExp | string }>[] = [
        fc.stringMatching(/^[a-z][a-z-]{0,12}$/).filter((s) => !names.includes(s)).map((s) => ({ words: [`--${s}`, "1"], names: `unknown flag --${s}` })),
        fc.constantFrom(...names).map((s) => ({ words: [`-${s}`], names: `'-${s}'` })),
        fc.stringMatching(/^[a-z0-9][a-z0-9._]{0,10}$/).map((s) => ({ words: cmd === "params" ? ["spikformer-cifar-1-16", s] : cmd === "report" ? ["runs/x", s] : [s], names: `unexpected argument '${s}'` })),
        fc.tuple(fc.constantFrom(...numeric), fc.constantFrom("abc", "1x", "", "NaN", "Infinity", "-Infinity", "0x", "1e400", "--")).map(([k, v]) => ({ words: [`--${k}=${v}`], names: `--${k}` })),
        fc.constantFrom(...numeric).map((k) => ({ words: [`--${k}`], names: `--${k} needs a value` })),
      ];
      const ints = numeric.filter((k) => flags[k]!.type === "int");
      if (ints.length) bad.push(fc.tuple(fc.constantFrom(...ints), fc.constantFrom("1.5", "0.25", "1e-3")).map(([k, v]) => ({ words: [`--${k}`, v], names: `--${k}` })));
      if (ranged.length) {
        bad.push(fc.tuple(fc.constantFrom(...ranged), fc.integer({ min: 1, max: 1e9 })).map(([k, d]) => {
          const s = flags[k]!;
          const low = s.min !== undefined ? s.min - d : s.above !== undefined ? s.above - (d - 1) : undefined;
          const v = low !== undefined ? low : (s.max ?? s.below!) + d;
          return { words: [`--${k}`, String(v)], names: `--${k}` };
        }));
      }
      if (booleans.length) bad.push(fc.tuple(fc.constantFrom(...booleans), fc.string({ maxLength: 6 }).filter((v) => v !== "true" && v !== "false")).map(([k, v]) => ({ words: [`--${k}=${v}`], names: `--${k}` })));
      return fc.tuple(fc.constant(cmd), fc.oneof(...bad));
    });
    await fc.assert(fc.asyncProperty(arbCase, async ([cmd, { words, names }]) => {
      await refusedByCli([cmd, ...words], names, 1000);
    }), { seed: SEED, numRuns: 300 });
  });
});
