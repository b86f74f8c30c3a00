import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  TORCH_VENV_VAR, fastestPeer, mergeRounds, pairedRatios, parseTorch, takeTorchVenv, torchPeer, type PeerRound, type PeerRun,
} from "../../bench/peers.js";
import { medianOf, mergeTimings, takeRounds, type E2EResult } from "../../bench/e2e.js";

// bench/peers.ts: the pure parts (`npm run bench:peers` runs the peers).

describe("fastestPeer: the ratios are taken against the faster PyTorch build", () => {
  const t = (median: number) => ({ median, min: median - 1, max: median + 1 });

  it("picks the smallest median and says which column it came from", () => {
    expect(fastestPeer([t(1100), t(980)])).toEqual({ t: t(980), index: 1 });
    expect(fastestPeer([t(900), t(980)])).toEqual({ t: t(900), index: 0 });
  });

  it("a build that did not time the cell does not count; none timed gives null", () => {
    expect(fastestPeer([null, t(980)])).toEqual({ t: t(980), index: 1 });
    expect(fastestPeer([t(1100), undefined])).toEqual({ t: t(1100), index: 0 });
    expect(fastestPeer([null, undefined])).toBeNull();
    expect(fastestPeer([])).toBeNull();
  });
});

describe("takeTorchVenv: --torch-venv DIR or BITSPIKE_TORCH_VENV", () => {
  const dir = mkdtempSync(join(tmpdir(), "bitspike-venv-"));

  it("takes the flag (both spellings) out of argv and leaves the rest for the e2e parser", () => {
    const argv = ["--configs", "mnist-b64", "--torch-venv", dir, "--iters", "2"];
    expect(takeTorchVenv(argv, {})).toBe(dir);
    expect(argv).toEqual(["--configs", "mnist-b64", "--iters", "2"]);
    const inline = [`--torch-venv=${dir}`, "--json"];
    expect(takeTorchVenv(inline, {})).toBe(dir);
    expect(inline).toEqual(["--json"]);
  });

  it("falls back to the environment variable; neither gives null", () => {
    expect(takeTorchVenv(["--json"], { [TORCH_VENV_VAR]: dir })).toBe(dir);
    expect(takeTorchVenv(["--json"], {})).toBeNull();
    expect(takeTorchVenv([], { [TORCH_VENV_VAR]: "" })).toBeNull();
  });

  it("a missing folder or a flag without one is a clear error before anything runs", () => {
    expect(() => takeTorchVenv(["--torch-venv", join(dir, "nope")], {})).toThrow(/torch virtual environment .*nope.* does not exist/);
    expect(() => takeTorchVenv([], { [TORCH_VENV_VAR]: join(dir, "nope") })).toThrow(/BITSPIKE_TORCH_VENV\) does not exist/);
    expect(() => takeTorchVenv(["--torch-venv"], {})).toThrow(/--torch-venv needs the folder/);
    expect(() => takeTorchVenv(["--torch-venv", "--json"], {})).toThrow(/--torch-venv needs the folder/);
  });

  it("a folder that is not a virtual environment makes that peer skipped, with the reason", () => {
    const peer = torchPeer(fileURLToPath(import.meta.url), [], dir);
    expect(peer.skipped).toMatch(/bin\/python not found: the torch virtual environment/);
    expect(peer.python).toBe(join(dir, "bin", "python"));
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("parseTorch: bench.py's result lines", () => {
  it("reads the medians and ranges of both phases, and the parameter count", () => {
    const out = [
      "torch 2.13.0+cpu threads=2",
      "cifar-b8      B=  8 params=9,324,730  fwd     444.0 ms (400.4-475.5)  fwd+bwd    1212.2 ms (1153.1-1295.0)  [12s]",
    ].join("\n");
    expect(parseTorch(out)).toEqual([{
      name: "cifar-b8", params: 9_324_730,
      infer: { median: 444, min: 400.4, max: 475.5 }, train: { median: 1212.2, min: 1153.1, max: 1295 },
    }]);
    expect(parseTorch("no result here")).toEqual([]);
  });
});

describe("--rounds: bitspike and PyTorch alternate, the ratio is the median of each round's own", () => {
  it("takeRounds takes the flag (both spellings) out of argv; absent is 1; a bad count is an error", () => {
    const argv = ["--configs", "mnist-b64", "--rounds", "3", "--iters", "2"];
    expect(takeRounds(argv)).toBe(3);
    expect(argv).toEqual(["--configs", "mnist-b64", "--iters", "2"]);
    const inline = ["--rounds=2", "--json"];
    expect(takeRounds(inline)).toBe(2);
    expect(inline).toEqual(["--json"]);
    expect(takeRounds(["--json"])).toBe(1);
    for (const bad of [["--rounds"], ["--rounds", "0"], ["--rounds", "1.5"], ["--rounds=x"], ["--rounds="]]) {
      expect(() => takeRounds(bad)).toThrow(/--rounds needs an integer >= 1/);
    }
  });

  it("medianOf and mergeTimings: the middle value (mean of the middle two), the least min, the largest max", () => {
    expect(medianOf([3, 1, 2])).toBe(2);
    expect(medianOf([4, 1, 3, 2])).toBe(2.5);
    expect(() => medianOf([])).toThrow(/no values/);
    expect(mergeTimings([{ median: 10, min: 9, max: 12 }, { median: 30, min: 20, max: 31 }, { median: 20, min: 15, max: 25 }]))
      .toEqual({ median: 20, min: 9, max: 31 });
  });

  it("pairedRatios divides each round's bitspike median by the faster PyTorch of that same round", () => {
    const timing = (median: number) => ({ median, min: median, max: median, warmup: 1, times: [median] });
    const ours = (infer: number, train: number) => [{ name: "w", infer: timing(infer), train: timing(train) } as unknown as E2EResult];
    const torch = (infer: number, train: number | null, skipped: string | null = null): PeerRun => ({
      peer: "torch", setting: "", skipped, recorded: null, output: "",
      rows: [{ name: "w", params: 1, infer: { median: infer, min: infer, max: infer }, train: train === null ? null : { median: train, min: train, max: train } }],
    });
    const rounds: PeerRound[] = [
      { ours: ours(50, 90), torch: [torch(100, 100), torch(200, 120)] }, // ratios 0.5 and 0.9 (Debian's the faster)
      { ours: ours(80, 60), torch: [torch(400, null), torch(160, 100)] }, // 0.5 (the venv's the faster), 0.6 (only the venv timed it)
      { ours: ours(70, 70), torch: [torch(100, 100, "failed"), torch(100, 100, "failed")] }, // no PyTorch: no ratio
    ];
    const r = pairedRatios(rounds);
    expect(r.get("w/inference")).toEqual([0.5, 0.5]);
    expect(r.get("w/train step")).toEqual([0.9, 0.6]);
    // Not the ratio of the merged medians: the pairing is the point.
    expect(medianOf(r.get("w/train step")!)).toBeCloseTo(0.75, 12);
  });

  it("mergeRounds: every cell the median of its rounds; a build skipped in any round stays skipped", () => {
    const timing = (median: number) => ({ median, min: median - 1, max: median + 1, warmup: 1, times: [median] });
    const ours = (infer: number) => [{ name: "w", infer: timing(infer), train: timing(2 * infer) } as unknown as E2EResult];
    const torch = (infer: number, skipped: string | null = null): PeerRun => ({
      peer: "torch", setting: "s", skipped, recorded: null, output: "",
      rows: skipped ? [] : [{ name: "w", params: 1, infer: { median: infer, min: infer, max: infer }, train: null }],
    });
    const merged = mergeRounds([
      { ours: ours(30), torch: [torch(300), torch(90)] },
      { ours: ours(10), torch: [torch(100), torch(80, "bench.py failed")] },
      { ours: ours(20), torch: [torch(200), torch(70)] },
    ]);
    expect(merged.ours[0]!.infer).toMatchObject({ median: 20, min: 9, max: 31 });
    expect(merged.ours[0]!.train).toMatchObject({ median: 40, min: 19, max: 61 });
    expect(merged.ours[0]!.infer.times).toEqual([30, 10, 20]);
    expect(merged.torch[0]!.rows[0]!.infer).toEqual({ median: 200, min: 100, max: 300 });
    expect(merged.torch[0]!.rows[0]!.train).toBeNull(); // timed in no round
    expect(merged.torch[1]!.skipped).toBe("bench.py failed");
  });
});
