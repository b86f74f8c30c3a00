import { describe, expect, it } from "vitest";
import { mergeResults, takePaired, threadSpeedups, type E2EResult } from "../../bench/e2e.js";
import { alternatePasses, fmtInterval, medianInterval, pairedInterval, pairedMedian } from "../../bench/paired.js";
import { Rng } from "../../src/tensor/random.js";

// bench/e2e.ts: the pure parts of --rounds (`npx tsx bench/e2e.ts` runs the workloads).

const timing = (median: number) => ({ median, min: median - 1, max: median + 1, warmup: 1, times: [median] });
const result = (name: string, threads: number, infer: number, train: number) =>
  ({ name, threads, infer: timing(infer), train: timing(train) }) as unknown as E2EResult;

describe("--rounds: a workload's thread counts run one after the other, the speed-up is each round's own", () => {
  it("threadSpeedups divides each round's one-thread median by the same round's t-thread median", () => {
    const rounds = [
      [result("w", 1, 300, 2000), result("w", 2, 200, 1000), result("v", 2, 50, 80)], // 1.5x, 2.0x; v has no one-thread run
      [result("w", 1, 600, 1800), result("w", 2, 300, 1000)], // a slow round: 2.0x, 1.8x
    ];
    const s = threadSpeedups(rounds);
    expect([...s.keys()]).toEqual(["w/inference/2 threads", "w/train step/2 threads"]);
    expect(s.get("w/inference/2 threads")).toEqual([1.5, 2]);
    expect(s.get("w/train step/2 threads")).toEqual([2, 1.8]);
    // Not the ratio of the merged medians (450 / 250 = 1.8): the pairing is the point.
    const merged = mergeResults(rounds.map((r) => r.filter((x) => x.name === "w")));
    expect(merged[0]!.infer.median / merged[1]!.infer.median).toBeCloseTo(1.8, 12);
    expect(threadSpeedups([[result("w", 2, 1, 1)]]).size).toBe(0);
  });

  it("mergeResults: every timing the median of its rounds, the least min, the largest max, all the times", () => {
    const merged = mergeResults([[result("w", 2, 30, 60)], [result("w", 2, 10, 20)], [result("w", 2, 20, 40)]]);
    expect(merged[0]!.infer).toEqual({ median: 20, min: 9, max: 31, warmup: 1, times: [30, 10, 20] });
    expect(merged[0]!.train).toMatchObject({ median: 40, min: 19, max: 61 });
  });
});

describe("--paired: one thread against more, pass by pass in one process", () => {
  it("takePaired takes the flag out of argv; absent is 0 (off); a bad count is an error", () => {
    const argv = ["--threads", "1,2", "--paired", "4", "--json"];
    expect(takePaired(argv)).toBe(4);
    expect(argv).toEqual(["--threads", "1,2", "--json"]);
    expect(takePaired(["--paired=2"])).toBe(2);
    expect(takePaired(["--json"])).toBe(0);
    for (const bad of [["--paired"], ["--paired", "0"], ["--paired", "2.5"], ["--paired=x"]]) expect(() => takePaired(bad)).toThrow(/--paired needs an integer >= 1/);
  });

  it("pairedMedian is the median of the rounds' own ratios, not the ratio of the medians", () => {
    // Round 2 is a slow stretch for both arms: its ratio is 2 like the others'.
    const one = [200, 600, 210], many = [100, 300, 140];
    expect(pairedMedian(one, many)).toBe(2);
    expect(pairedMedian(many, one)).toBeCloseTo(0.5, 12);
    expect(() => pairedMedian([1, 2], [1])).toThrow(/2 against 1 rounds/);
  });

  it("pairedInterval: rounds all alike give a point; the interval holds the paired median and is the same for the same rounds", () => {
    expect(pairedInterval([300, 360, 420], [200, 240, 280])).toEqual([1.5, 1.5]);
    const one = [200, 230, 190, 260, 215, 240, 205], many = [110, 120, 118, 125, 112, 140, 109];
    const [lo, hi] = pairedInterval(one, many);
    const m = pairedMedian(one, many);
    expect(lo).toBeLessThanOrEqual(m);
    expect(hi).toBeGreaterThanOrEqual(m);
    expect(lo).toBeLessThan(hi);
    expect(pairedInterval(one, many)).toEqual([lo, hi]);
    expect(fmtInterval([lo, hi], 2)).toBe(`${lo.toFixed(2)}-${hi.toFixed(2)}`);
    expect(pairedInterval(one, many)).toEqual(medianInterval(one.map((v, i) => v / many[i]!)));
    expect(() => pairedInterval([1, 2], [1])).toThrow(/2 against 1 rounds/);
    expect(() => medianInterval([])).toThrow(/no values/);
    expect(() => medianInterval([1], 1)).toThrow(/level must be between 0 and 1, got 1/);
    expect(() => medianInterval([1], 0.9, 0)).toThrow(/resamples must be an integer >= 1, got 0/);
  });

  it("medianInterval: rounds drawn around a known median cover it in most runs at 95%, narrower than the rounds' range, wider as they spread", () => {
    // 200 runs of 15 rounds, each round's ratio log-normal around 1.8 (a speed-up read on a drifting host).
    const rng = new Rng(7);
    const draw = (spread: number): number[] => Array.from({ length: 15 }, () => 1.8 * Math.exp(spread * rng.normal()));
    let covered = 0, width = 0, range = 0;
    for (let run = 0; run < 200; run++) {
      const ratios = draw(0.1);
      const [lo, hi] = medianInterval(ratios, 0.95, 400);
      if (lo <= 1.8 && 1.8 <= hi) covered++;
      width += hi - lo;
      range += Math.max(...ratios) - Math.min(...ratios);
    }
    expect(covered / 200).toBeGreaterThan(0.85);
    expect(width / range).toBeLessThan(0.6);
    const spreadOf = (spread: number): number => {
      const [lo, hi] = medianInterval(draw(spread), 0.95, 400);
      return hi - lo;
    };
    expect(spreadOf(0.02)).toBeLessThan(spreadOf(0.2));
  });

  it("alternatePasses runs every setting once a round, an untimed pass then a timed one, the order turned each round", () => {
    const seen: string[] = [];
    let arm = "";
    const times = alternatePasses(() => void seen.push(arm), null, [() => void (arm = "a"), () => void (arm = "b"), () => void (arm = "c")], 4);
    expect(seen.join("")).toBe("aabbcc" + "bbccaa" + "ccaabb" + "aabbcc");
    expect(times.map((t) => t.length)).toEqual([4, 4, 4]);
    for (const t of times.flat()) expect(t).toBeGreaterThanOrEqual(0);
  });

  it("alternatePasses files each timed pass under its own setting, whatever the round's order", () => {
    let arm = 0, clock = 0;
    const now = performance.now;
    // Each setting's timed pass takes (setting + 1) ms on a fake clock: its list must hold only that.
    performance.now = () => clock;
    try {
      const times = alternatePasses(() => void (clock += arm + 1), null, [0, 1, 2].map((j) => () => void (arm = j)), 5);
      expect(times).toEqual([[1, 1, 1, 1, 1], [2, 2, 2, 2, 2], [3, 3, 3, 3, 3]]);
    } finally {
      performance.now = now;
    }
  });
});
