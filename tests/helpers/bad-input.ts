/**
 * Shared fixtures of the bad-input tests (issue 14): a tiny model's weights,
 * a tiny labelled data file, the CLI run in this process or as a child, and
 * the assertions every bad input must meet.
 */
import { expect, vi } from "vitest";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "../../src/tensor/random.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { serializeSafetensors } from "../../src/io/safetensors.js";
import { spikformerConfig, type SpikformerConfig } from "../../src/models/config.js";
import { Spikformer } from "../../src/models/spikformer.js";
import { saveWeights } from "../../src/train/checkpoint.js";
import { runCli } from "../../src/cli/run.js";

/** The tiny model of these tests: 8x8 one-channel images, 3 classes, T 1. */
export const TINY: SpikformerConfig = spikformerConfig("spikformer-cifar-1-16", { imgSize: 8, inChannels: 1, numClasses: 3, T: 1, numHeads: 2, seed: 4 });

/** Writes the tiny model's weights (with its config in the metadata) to DIR/w.safetensors. */
export function tinyWeights(dir: string): string {
  const path = join(dir, "w.safetensors");
  saveWeights(path, new Spikformer(TINY), TINY as unknown as Record<string, unknown>);
  return path;
}

/** Images and labels of a tiny 3-class data set (class c: a bright band at row block c). */
export function tinyData(n = 48, size = 8): { images: Float32Array; labels: BigInt64Array; shape: number[] } {
  const rng = new Rng(5);
  const images = new Float32Array(n * size * size);
  const labels = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    labels[i] = BigInt(c);
    for (let p = 0; p < size * size; p++) images[i * size * size + p] = 0.3 * rng.normal() + (Math.floor(p / size / 3) === c ? 2 : 0);
  }
  return { images, labels, shape: [n, 1, size, size] };
}

/** Writes a data file (see {@link tinyData}), optionally changed by `edit` first. */
export function tinyDataFile(dir: string, name = "tiny.safetensors", edit?: (d: ReturnType<typeof tinyData>) => Record<string, string> | void): string {
  const d = tinyData();
  const meta = edit?.(d) ?? undefined;
  const path = join(dir, name);
  writeFileSync(path, serializeSafetensors({ images: { shape: d.shape, data: d.images }, labels: { shape: [d.labels.length], data: d.labels } }, meta));
  return path;
}

/** What a CLI run left: exit code, stderr lines, stdout text. */
export interface CliResult {
  code: number;
  stderr: string[];
  stdout: string;
}

/** Runs `bitspike ARGS` in this process (runCli), capturing stdout and stderr. */
export async function cliInProcess(args: string[]): Promise<CliResult> {
  const stderr: string[] = [];
  const out: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
  try {
    const code = await runCli(args, (l) => stderr.push(...l.split("\n")));
    return { code, stderr, stdout: out.join("\n") };
  } finally {
    log.mockRestore();
  }
}

/** Runs `bitspike ARGS` as a child process (`node --import tsx src/cli/main.ts`). */
export function cliChild(args: string[], env: Record<string, string> = {}, timeout = 60_000): CliResult {
  const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout });
  return { code: r.status ?? -1, stderr: r.stderr.split("\n").filter((l) => l !== ""), stdout: r.stdout };
}

/** A failed CLI run: non-zero exit, one stderr line `error: ...` matching `names` (the flag or file), no stack trace. */
export function expectCliError(r: CliResult, names: RegExp | string): void {
  expect(r.code, r.stderr.join("\n")).not.toBe(0);
  expect(r.stderr.length, r.stderr.join("\n")).toBe(1);
  expect(r.stderr[0]).toMatch(/^error: /);
  expect(r.stderr[0]).not.toMatch(/internal error|\bat .*:\d+:\d+/);
  if (typeof names === "string") expect(r.stderr[0]).toContain(names);
  else expect(r.stderr[0]).toMatch(names);
}

/**
 * `f` must throw a one-line BitspikeError whose message matches `names` (the
 * file or flag), within `ms` milliseconds and without growing the resident
 * memory by more than `mb` megabytes.
 */
export function expectRefused(f: () => unknown, names: RegExp | string, ms = 3000, mb = 512): BitspikeError {
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  let err: unknown = null;
  try {
    f();
  } catch (e) {
    err = e;
  }
  const took = performance.now() - t0;
  expect(err, "expected a BitspikeError, got a result").not.toBeNull();
  if (!(err instanceof BitspikeError)) throw err;
  expect(err.message).not.toContain("\n");
  if (typeof names === "string") expect(err.message).toContain(names);
  else expect(err.message).toMatch(names);
  expect(took).toBeLessThan(ms);
  expect((process.memoryUsage().rss - rss0) / 2 ** 20).toBeLessThan(mb);
  return err;
}

/** `{...}` nested `depth` levels deep as JSON text, built without recursion. */
export function deepJson(depth: number, open = "[", close = "]"): string {
  return open.repeat(depth) + close.repeat(depth);
}
