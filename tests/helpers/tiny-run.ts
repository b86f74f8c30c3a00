import { expect } from "vitest";
import { join } from "node:path";
import { runCli } from "../../src/cli/run.js";
import { tinyDataset } from "./tiny-data.js";

/** A tiny classifier run through the CLI in `dir`: 2 epochs of 5 steps on the tiny data set; returns its --out folder. */
export async function tinyRun(dir: string): Promise<string> {
  const data = tinyDataset(dir);
  const out = join(dir, "run");
  const code = await runCli(["train", "--model", "spikformer-cifar-1-32", "--heads", "2", "--T", "2", "--data", `file:${data}`, "--epochs", "2", "--batch", "8", "--crop", "0", "--out", out]);
  expect(code).toBe(0);
  return out;
}
