import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { tinyDataset } from "../helpers/tiny-data.js";

const bin = fileURLToPath(new URL("../../bin/bitspike.js", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Command lines of the live processes that mention `text` (Linux /proc, else `ps`). */
export function processesMentioning(text: string): string[] {
  if (existsSync("/proc/self/cmdline")) {
    const found: string[] = [];
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let cmd: string;
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
      } catch {
        continue; // gone meanwhile
      }
      if (cmd.includes(text)) found.push(`${pid}: ${cmd}`);
    }
    return found;
  }
  return spawnSync("ps", ["-A", "-o", "pid=,args="], { encoding: "utf8" }).stdout.split("\n").filter((l) => l.includes(text));
}

function stepLines(out: string): number {
  try {
    return readFileSync(join(out, "log.jsonl"), "utf8").split("\n").filter((l) => l.includes('"event":"step"')).length;
  } catch {
    return 0;
  }
}

describe("bitspike through bin/bitspike.js", () => {
  it.each(["SIGTERM", "SIGKILL"] as const)("%s ends the training (no process left writing to --out), and the last checkpoint resumes", async (sig) => {
    const dir = mkdtempSync(join(tmpdir(), "bitspike-signal-"));
    const data = tinyDataset(dir, 96, 8);
    const out = join(dir, "run");
    const flags = [
      "--model", "spikformer-cifar-1-16", "--heads", "2", "--T", "1", "--data", `file:${data}`, "--batch", "4", "--epochs", "1000",
      "--checkpoint-every", "1", "--out", out, "--threads", "2",
    ];
    const child = spawn(process.execPath, [bin, "train", ...flags], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.stdout.resume();
    const exited = once(child, "exit");
    try {
      await trainThenTerm();
    } finally {
      // Whatever happened, leave no training behind (by pid: only the processes of this run).
      child.kill("SIGKILL");
      for (const p of processesMentioning(out)) {
        try {
          process.kill(Number(p.split(":")[0]), "SIGKILL");
        } catch { /* already gone */ }
      }
    }

    async function trainThenTerm(): Promise<void> {
      const t0 = Date.now();
      while (stepLines(out) < 3) {
        expect(child.exitCode, `bitspike train ended early: ${stderr}`).toBeNull();
        expect(Date.now() - t0, "no training steps within 60 s").toBeLessThan(60_000);
        await sleep(50);
      }
      expect(child.kill(sig)).toBe(true);
      const [, signal] = await exited;
      expect(signal).toBe(sig);

      // Nothing that trains into `out` outlives the command (the old launcher left its child running).
      await sleep(300);
      expect(processesMentioning(out)).toEqual([]);
      const ckpt = join(out, "checkpoint.safetensors");
      const before = { ...statSync(ckpt), steps: stepLines(out) };
      await sleep(700);
      const after = { ...statSync(ckpt), steps: stepLines(out) };
      expect([after.mtimeMs, after.size, after.steps]).toEqual([before.mtimeMs, before.size, before.steps]);

      // The last checkpoint is whole: a resume with the same flags loads it (strictly) and trains on.
      const resumed = spawnSync(process.execPath, [bin, "train", ...flags, "--resume", "--stop-after", "1"], { encoding: "utf8" });
      expect(resumed.status, resumed.stderr).toBe(0);
      expect(resumed.stdout).toMatch(/resuming at epoch \d+, step \d+/);
      expect(resumed.stdout).toMatch(/stopped after 1 steps/);
    }
  });
});
