/**
 * Shared fixtures of the bad-input tests (issue 14): a tiny model's weights,
 * a tiny labelled data file, the CLI run in this process or as a child, and
 * the assertions every bad input must meet.
 */
import { tinyData, tinyDataFile } from "./tiny-data.js";
export { tinyData, tinyDataFile };
import { expect, vi } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { BitspikeError } from "../../src/tensor/errors.js";
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
