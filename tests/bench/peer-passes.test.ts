import { describe, expect, it } from "vitest";
import { formatPassPairs, LinePeer, pairPasses, TorchPasses, type PassPhase, type PassWorkload } from "../../bench/peer-passes.js";
import { pairedMedian } from "../../bench/paired.js";

// bench/peer-passes.ts: the line protocol against a stand-in for bench/torch-passes.py (a Node script, so no
// Python is needed), and the turn order of the pairing. `npm run bench:peers -- --passes N` runs the real peer.

/** A stand-in server: says `ready` lines, then answers "CONFIG infer|train" by `answer` (a JS expression of c, p). */
function fakePeer(ready: readonly string[], answer: string): LinePeer {
  const code = `
    const rl = require("node:readline").createInterface({ input: process.stdin });
    for (const l of ${JSON.stringify(ready)}) console.log(l);
    rl.on("line", (line) => {
      if (line === "quit") process.exit(0);
      const [c, p] = line.split(" ");
      const a = (${answer});
      if (a === "die") { console.error("bench.py: out of memory"); process.exit(3); }
      if (a !== "silent") console.log(a);
    });`;
  return new LinePeer("the stand-in peer", process.execPath, ["-e", code]);
}

describe("TorchPasses: bench/torch-passes.py's line protocol", () => {
  it("reads each config's ready line and params, times passes, and quits when closed", async () => {
    const peer = await TorchPasses.start(fakePeer(["ready mnist-b64 646522", "ready cifar-b8 9324730"], "p === 'infer' ? '12.5' : '40'"), ["mnist-b64", "cifar-b8"]);
    expect([...peer.params]).toEqual([["mnist-b64", 646522], ["cifar-b8", 9324730]]);
    expect(await peer.pass("mnist-b64", "infer")).toBe(12.5);
    expect(await peer.pass("cifar-b8", "train")).toBe(40);
    await peer.close(); // resolves only once the process has exited
  });

  it("a ready line for another config is a clear error, and the server is shut down", async () => {
    await expect(TorchPasses.start(fakePeer(["ready cifar-b8 1"], "'1'"), ["mnist-b64"]))
      .rejects.toThrow(/should have said 'ready mnist-b64 PARAMS', said 'ready cifar-b8 1'/);
  });

  it("an answer that is not a time names the request; a peer that dies says how, with its stderr", async () => {
    const peer = await TorchPasses.start(fakePeer(["ready mnist-b64 1"], "p === 'infer' ? 'error: bad request' : 'die'"), ["mnist-b64"]);
    await expect(peer.pass("mnist-b64", "infer")).rejects.toThrow(/answered 'error: bad request' to 'mnist-b64 infer', not a time in ms/);
    await expect(peer.pass("mnist-b64", "train")).rejects.toThrow(/stand-in peer exited with status 3; its stderr ends:\n {2}bench.py: out of memory/);
    await expect(peer.pass("mnist-b64", "infer")).rejects.toThrow(/exited with status 3/); // and stays failed
    await peer.close();
  });
});

describe("LinePeer: every wait ends", () => {
  it("a silent peer fails at the deadline", async () => {
    const peer = fakePeer(["ready mnist-b64 1"], "'silent'");
    expect(await peer.next(5000)).toBe("ready mnist-b64 1");
    peer.send("mnist-b64 infer");
    await expect(peer.next(200)).rejects.toThrow(/the stand-in peer gave no answer within 0.2 s/);
    await peer.close();
  });

  it("a command that cannot start fails, not hangs", async () => {
    const peer = new LinePeer("the missing peer", "/nonexistent/python3", []);
    await expect(peer.next(5000)).rejects.toThrow(/the missing peer could not start \(.*ENOENT/);
  });
});

describe("pairPasses: turns a pass at a time", () => {
  /** Workloads and a peer that only log their turns. */
  function recorder() {
    const turns: string[] = [];
    let theirs = 0;
    const workload = (name: string): PassWorkload => ({
      name, model: null,
      infer: () => void turns.push(`ours ${name} infer`),
      train: () => void turns.push(`ours ${name} train`),
    });
    const torch = {
      pass: async (name: string, phase: PassPhase) => {
        turns.push(`theirs ${name} ${phase}`);
        return 100 + theirs++; // distinct times, to check which were kept
      },
    };
    return { turns, workload, torch };
  }

  it("each round one turn each (two passes of ours, one request of theirs), the first side turned every round", async () => {
    const { turns, workload, torch } = recorder();
    const rows = await pairPasses([workload("a")], ["infer"], torch, 3, 2);
    const ours = "ours a infer", theirs = "theirs a infer";
    // Rounds -2, -1 (warm-up), 0, 1, 2: even rounds ours first.
    expect(turns).toEqual([
      ours, ours, theirs, theirs, ours, ours, ours, ours, theirs, theirs, ours, ours, ours, ours, theirs,
    ]);
    expect(rows).toHaveLength(1);
    const r = rows[0]!;
    expect(r.theirs).toEqual([102, 103, 104]); // the warm-up rounds' answers (100, 101) are not kept
    expect(r.ours).toHaveLength(3);
    expect(r.ratio).toBe(pairedMedian(r.ours, r.theirs));
    expect(r.interval[0]).toBeLessThanOrEqual(r.ratio);
    expect(r.interval[1]).toBeGreaterThanOrEqual(r.ratio);
  });

  it("every workload and phase in order, each with its own rounds", async () => {
    const { turns, workload, torch } = recorder();
    const rows = await pairPasses([workload("a"), workload("b")], ["infer", "train"], torch, 2, 0);
    expect(rows.map((r) => `${r.name} ${r.phase} ${r.ours.length}`)).toEqual(["a infer 2", "a train 2", "b infer 2", "b train 2"]);
    expect(turns.filter((t) => t.startsWith("theirs"))).toEqual([
      "theirs a infer", "theirs a infer", "theirs a train", "theirs a train", "theirs b infer", "theirs b infer", "theirs b train", "theirs b train",
    ]);
  });

  it("bad counts are errors before anything runs", async () => {
    const { turns, workload, torch } = recorder();
    await expect(pairPasses([workload("a")], ["infer"], torch, 0, 1)).rejects.toThrow(/rounds must be an integer >= 1, got 0/);
    await expect(pairPasses([workload("a")], ["infer"], torch, 2, -1)).rejects.toThrow(/warmup must be an integer >= 0, got -1/);
    expect(turns).toEqual([]);
  });

  it("the table shows each side's median and the paired ratio with its interval", () => {
    const table = formatPassPairs([{ name: "cifar-b8", phase: "infer", ours: [190, 210, 200], theirs: [400, 400, 400], ratio: 0.5, interval: [0.45, 0.55] }]);
    expect(table.split("\n")[2]).toBe("| cifar-b8 | inference | 200 | 400 | 0.50x (0.45-0.55) | 3 |");
  });
});
