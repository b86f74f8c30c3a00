import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TORCH_VENV_VAR, fastestPeer, parseTorch, takeTorchVenv, torchPeer } from "../../bench/peers.js";

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
