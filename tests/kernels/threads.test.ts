import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { Tensor, allocFloat, type FloatArray } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { heapStats } from "../../src/tensor/heap.js";
import { BitspikeError } from "../../src/tensor/errors.js";
import { gemm, gemmReference } from "../../src/kernels/gemm/gemm.js";
import { gemmThreads } from "../../src/kernels/gemm/threads.js";
import { transposePart, transposeThreads } from "../../src/kernels/transpose/threads.js";
import { sumPerChannelPart, sumPerChannelThreads } from "../../src/kernels/bias/threads.js";
import {
  besidePending, getThreads, minWorkPerThread, partShares, poolInfo, poolProfile, poolReady, runBeside, runBesideOr, runParts, sequencePart, setMinWorkPerThread,
  setPoolBeside, setPoolSpin, setThreadHost, setThreads, sabBase, shutdownPool, usableThreads, type Part,
} from "../../src/parallel/pool.js";
import { OP_TEST_EXIT, OP_TEST_THROW, spinFor } from "../../src/parallel/protocol.js";
import { nodeThreadHost } from "../../src/parallel/host.js";
import { conv2d } from "../../src/ops/conv.js";
import { linear } from "../../src/ops/linear.js";
import { countsLinear, spikeLinear } from "../../src/ops/spike/spike-linear.js";
import { spikeConv2d } from "../../src/ops/spike/spike-conv.js";
import { floatToSpikes } from "../../src/ops/spike/cast.js";
import { matmul } from "../../src/ops/matmul.js";
import { sum } from "../../src/ops/reduce.js";
import { mul } from "../../src/ops/elementwise.js";
import { backward } from "../../src/autograd/tape.js";
import { SKEWED_SPEEDS, useSplittingPool, withSpeeds } from "../helpers/pool.js";
import { OP_ECHO_ARGS, OP_SPIN_US, OP_THROWS, spinUs } from "../helpers/echo-task.js";
import { evenCuts } from "../../src/parallel/balance.js";
import { learnSpeeds, setThreadSpeeds, threadSpeed } from "../../src/parallel/speeds.js";
import { randArray, sameBits } from "../helpers/arrays.js";

/** Same bits (NaN payloads aside, none arise here). */

useSplittingPool();

/** Three threads and a 64 x 40 x 48 gemm split three ways: its single-thread product, and a run of the threaded one. */
async function threeWayGemm(seed: number): Promise<{ want: Float32Array; run: () => Float32Array }> {
  setThreads(3);
  await poolReady();
  const rng = new Rng(seed);
  const a = randArray(false, 64 * 48, rng, false), b = randArray(false, 48 * 40, rng, false);
  const want = new Float32Array(64 * 40);
  gemm(a, 0, false, b, 0, false, want, 0, 64, 40, 48, false);
  const run = (): Float32Array => {
    const got = new Float32Array(64 * 40);
    gemmThreads(a, 0, false, b, 0, false, got, 0, 64, 40, 48, false, 3);
    return got;
  };
  return { want, run };
}

describe("threaded gemm", () => {
  it("claimed rows (heap float32 operands, whole tiles): the same bits as gemm on any thread count, offsets and accumulate included", () => {
    const rng = new Rng(17);
    // m a multiple of 4 and n of 8 (the claimed path); k odd; n past one column block of B (k 200: 40 columns a block).
    for (const [m, n, k, acc] of [[4, 8, 3, false], [64, 48, 200, false], [132, 88, 200, true], [36, 16, 7, true]] as const) {
      const off = 5;
      const a = randArray(false, off + m * k, rng, true), b = randArray(false, off + k * n, rng, true);
      const c0 = randArray(false, off + m * n, rng, true);
      const want = c0.slice();
      gemm(a, off, false, b, off, false, want, off, m, n, k, acc);
      for (const threads of [1, 2, 3]) {
        const got = allocFloat("float32", off + m * n, true);
        got.set(c0);
        gemmThreads(a, off, false, b, off, false, got, off, m, n, k, acc, threads);
        expect(sameBits(got, want)).toBe(true);
      }
    }
  });

  it("gemmThreads keeps small products on the calling thread and splits big ones, with the same bits", () => {
    const old = setMinWorkPerThread(1 << 17);
    try {
      const rng = new Rng(5);
      for (const [m, n, k] of [[8, 8, 8], [130, 67, 99]] as const) {
        const a = randArray(false, m * k, rng, false);
        const b = randArray(false, n * k, rng, false);
        const want = new Float32Array(m * n);
        const got = new Float32Array(m * n);
        gemm(a, 0, false, b, 0, true, want, 0, m, n, k, false);
        const before = poolInfo().workerParts;
        gemmThreads(a, 0, false, b, 0, true, got, 0, m, n, k, false);
        expect(sameBits(got, want)).toBe(true);
        expect(poolInfo().workerParts > before).toBe(m * n * k >= 2 * minWorkPerThread());
      }
    } finally {
      setMinWorkPerThread(old);
    }
  });
});

/**
 * Output and every gradient of f(inputs) under the loss sum(y * r), the work
 * (`work` multiply-adds per pass) split into `parts` (1: the calling thread alone).
 * The pool keeps 3 threads; the split is steered by the work threshold.
 */
function runWith(parts: number, work: number, f: (xs: Tensor[]) => Tensor, make: () => Tensor[]): FloatArray[] {
  const old = setMinWorkPerThread(parts === 1 ? Infinity : Math.max(1, Math.floor(work / parts)));
  try {
    const xs = make().map((t) => t.requireGrad());
    const y = f(xs);
    const r = Tensor.uniform(y.shape, new Rng(99), -1, 1);
    backward(sum(mul(y, r.clone(y.dtype))));
    return [y.data, ...xs.map((t) => t.grad!.data)];
  } finally {
    setMinWorkPerThread(old);
  }
}

/** Runs with 1, 2 and 3 parts give the same bits. */
function expectSameRuns(work: number, f: (xs: Tensor[]) => Tensor, make: () => Tensor[]): void {
  const one = runWith(1, work, f, make);
  // Every static split cut evenly-ish (learned) and far from even (fixed skews).
  for (const speeds of SKEWED_SPEEDS) {
    for (const parts of [2, 3]) {
      const got = withSpeeds(speeds, () => runWith(parts, work, f, make));
      for (let i = 0; i < one.length; i++) expect(sameBits(got[i]!, one[i]!)).toBe(true);
    }
  }
}

describe("threaded ops give the single-thread bits", () => {
  it("conv2d forward and the gradients of x, weight and bias (groups, stride, padding, dilation, 1x1)", () => {
    const before = poolInfo().workerParts;
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 5 }), groups: fc.integer({ min: 1, max: 2 }), cg: fc.integer({ min: 1, max: 3 }),
          og: fc.integer({ min: 1, max: 4 }), h: fc.integer({ min: 1, max: 7 }), w: fc.integer({ min: 1, max: 7 }),
          k: fc.integer({ min: 1, max: 3 }), s: fc.integer({ min: 1, max: 2 }), p: fc.integer({ min: 0, max: 1 }),
          d: fc.integer({ min: 1, max: 2 }), f64: fc.boolean(), seed: fc.integer(),
        }).filter((c) => c.h + 2 * c.p >= c.d * (c.k - 1) + 1 && c.w + 2 * c.p >= c.d * (c.k - 1) + 1),
        (c) => {
          const dtype = c.f64 ? "float64" : "float32";
          const make = (): Tensor[] => {
            const rng = new Rng(c.seed);
            return [
              Tensor.uniform([c.n, c.groups * c.cg, c.h, c.w], rng, -1, 1).clone(dtype),
              Tensor.uniform([c.groups * c.og, c.cg, c.k, c.k], rng, -1, 1).clone(dtype),
              Tensor.uniform([c.groups * c.og], rng, -1, 1).clone(dtype),
            ];
          };
          const oh = Math.floor((c.h + 2 * c.p - c.d * (c.k - 1) - 1) / c.s) + 1;
          const ow = Math.floor((c.w + 2 * c.p - c.d * (c.k - 1) - 1) / c.s) + 1;
          const work = c.n * c.groups * c.og * c.cg * c.k * c.k * oh * ow;
          expectSameRuns(work, (xs) => conv2d(xs[0]!, xs[1]!, xs[2]!, { stride: c.s, padding: c.p, dilation: c.d, groups: c.groups }), make);
        },
      ),
      { numRuns: 40 },
    );
    expect(poolInfo().workerParts).toBeGreaterThan(before);
  });

  it("conv2d ([8, 16, 16, 16] -> 32, 3x3, pad 1): forward and all gradients equal with setThreads(1) and setThreads(2)", async () => {
    const make = (): Tensor[] => {
      const rng = new Rng(1);
      return [Tensor.uniform([8, 16, 16, 16], rng, -1, 1), Tensor.uniform([32, 16, 3, 3], rng, -0.2, 0.2), Tensor.uniform([32], rng, -1, 1)];
    };
    const f = (xs: Tensor[]): Tensor => conv2d(xs[0]!, xs[1]!, xs[2]!, { padding: 1 });
    const old = setMinWorkPerThread(1 << 17); // the default: this layer is big enough to split
    try {
      const run = (): FloatArray[] => {
        const xs = make().map((t) => t.requireGrad());
        const y = f(xs);
        backward(sum(mul(y, Tensor.uniform(y.shape, new Rng(99), -1, 1))));
        return [y.data, ...xs.map((t) => t.grad!.data)];
      };
      setThreads(1);
      const one = run();
      setThreads(2);
      expect(await poolReady()).toBe(2);
      const before = poolInfo().workerParts;
      const two = run();
      expect(poolInfo().workerParts - before).toBe(3); // forward, input and weight gradient each sent one part
      for (let i = 0; i < one.length; i++) expect(sameBits(two[i]!, one[i]!)).toBe(true);
    } finally {
      setMinWorkPerThread(old);
      setThreads(3);
      await poolReady();
    }
  });

  it("spike / counts linear and spike conv with bias: weight and bias gradients beside the input gradient, the one-thread bits", () => {
    const rng = new Rng(31);
    // Mostly-zero small counts (the residual stream's), or their 0/1 as spikes.
    const counts = (shape: number[], ones: boolean): Tensor => {
      const t = Tensor.zeros(shape);
      for (let i = 0; i < t.data.length; i++) if (rng.uniform() < 0.25) t.data[i] = ones ? 1 : 1 + rng.int(3);
      return t;
    };
    // 24 images of 32 x 32: the Winograd data gradient claims its images (2 a chunk), so the conv's parts go beside it.
    const x = counts([4, 12, 40], false), s = counts([4, 12, 40], true), img = counts([24, 3, 32, 32], true);
    const w = Tensor.uniform([24, 40], rng, -1, 1), b = Tensor.uniform([24], rng, -1, 1);
    const wc = Tensor.uniform([8, 3, 3, 3], rng, -1, 1), bc = Tensor.uniform([8], rng, -1, 1);
    const before = poolInfo().workerParts;
    expectSameRuns(4 * 12 * 40 * 24, (xs) => countsLinear(xs[0]!, xs[1]!, xs[2]!), () => [x.clone(), w.clone(), b.clone()]);
    expectSameRuns(4 * 12 * 40 * 24, (xs) => spikeLinear(floatToSpikes(xs[0]!), xs[1]!, xs[2]!), () => [s.clone(), w.clone(), b.clone()]);
    expectSameRuns(24 * 3 * 1024 * 72, (xs) => spikeConv2d(floatToSpikes(xs[0]!), xs[1]!, xs[2]!, { padding: 1 }), () => [img.clone(), wc.clone(), bc.clone()]);
    expect(poolInfo().workerParts).toBeGreaterThan(before);
  });

  it("linear and matmul forward and gradients", () => {
    const rng = new Rng(2);
    const x = Tensor.uniform([3, 13, 21], rng, -1, 1);
    const w = Tensor.uniform([11, 21], rng, -1, 1);
    const bias = Tensor.uniform([11], rng, -1, 1);
    const before = poolInfo().workerParts;
    expectSameRuns(3 * 13 * 21 * 11, (xs) => linear(xs[0]!, xs[1]!, xs[2]!), () => [x.clone(), w.clone(), bias.clone()]);
    const a = Tensor.uniform([2, 1, 17, 9], rng, -1, 1);
    const b = Tensor.uniform([3, 9, 14], rng, -1, 1);
    expectSameRuns(17 * 9 * 14, (xs) => matmul(xs[0]!, xs[1]!), () => [a.clone(), b.clone()]);
    expect(poolInfo().workerParts).toBeGreaterThan(before);
  });
});

describe("pool", () => {
  it("setThreads validates, 1 thread means no workers", async () => {
    expect(() => setThreads(0)).toThrow(BitspikeError);
    expect(() => setThreads(1.5)).toThrow(/setThreads: thread count must be an integer >= 1, got 1.5/);
    setThreads(1);
    expect(getThreads()).toBe(1);
    expect(usableThreads()).toBe(1);
    expect(poolInfo().readyWorkers).toBe(0);
    setThreads(3);
    expect(await poolReady()).toBe(3);
  });

  it("a task that throws in a worker surfaces as a BitspikeError, and the pool keeps working", async () => {
    setThreads(3);
    await poolReady();
    let ranLocal = false;
    const err = (() => {
      try {
        runParts("probe", [{ op: OP_TEST_THROW, args: [], bufs: [] }], () => { ranLocal = true; });
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(BitspikeError);
    expect((err as Error).message).toMatch(/^probe: thread pool: worker \d+ failed: Error: test failure requested by the pool/);
    expect(ranLocal).toBe(true);
    expect(usableThreads()).toBe(3);
    const c = new Float32Array(40 * 40);
    const a = new Float32Array(40 * 40).fill(1);
    gemmThreads(a, 0, false, a, 0, false, c, 0, 40, 40, 40, false, 3);
    expect(c.every((v) => v === 40)).toBe(true);
  });

  it("a worker that dies mid-task is an error, not a hang, and the pool restarts", async () => {
    setThreads(2);
    await poolReady();
    expect(() => runParts("probe", [{ op: OP_TEST_EXIT, args: [], bufs: [] }], () => {})).toThrow(/probe: thread pool: worker \d+ exited during the task/);
    expect(await poolReady()).toBe(2);
    setThreads(3);
    expect(await poolReady()).toBe(3);
  });

  it("poolProfile times threaded calls by op; in serial mode every part runs on the calling thread, with the same bits", async () => {
    const { want, run } = await threeWayGemm(11);
    try {
      poolProfile("threads");
      let before = poolInfo().workerParts;
      expect(sameBits(run(), want)).toBe(true);
      expect(poolInfo().workerParts - before).toBe(2);
      const threaded = poolProfile("serial").get("gemm")!;
      expect(threaded.calls).toBe(1);
      expect(threaded.ownMs).toBe(threaded.localMs); // with threads the own part is all the calling thread ran
      before = poolInfo().workerParts;
      expect(sameBits(run(), want)).toBe(true);
      expect(poolInfo().workerParts).toBe(before); // no worker ran a part
      const serial = poolProfile("off").get("gemm")!;
      expect(serial.calls).toBe(1);
      expect(serial.waitMs).toBe(0);
      // serial: the calling thread's own third of the rows timed apart from the others' (all three ran here)
      expect(serial.ownMs).toBeGreaterThan(0);
      expect(serial.ownMs).toBeLessThan(serial.localMs);
      run();
      expect(poolProfile("off").size).toBe(0); // off: nothing recorded
    } finally {
      poolProfile("off");
    }
  });

  it("poolProfile counts the parts whose worker had gone to sleep, and when the workers started", async () => {
    const { want, run } = await threeWayGemm(13);
    const old = setPoolSpin(0);
    try {
      // Spin 0 and a pause: both workers are asleep when their parts come, and each is woken.
      await new Promise((res) => setTimeout(res, 5));
      poolProfile("threads");
      expect(sameBits(run(), want)).toBe(true);
      const asleep = poolProfile("off").get("gemm")!;
      expect(asleep.wokenParts).toBe(2);
      expect(Number.isFinite(asleep.startMs)).toBe(true); // (two threads' clocks: a start a few microseconds "early" is possible)
      // Spinning workers (20 ms) take the next call's parts without a wake-up.
      setPoolSpin(20);
      run();
      poolProfile("threads");
      expect(sameBits(run(), want)).toBe(true);
      const spinning = poolProfile("off").get("gemm")!;
      expect(spinning.wokenParts).toBe(0);
      expect(Number.isFinite(spinning.startMs)).toBe(true);
    } finally {
      poolProfile("off");
      setPoolSpin(old);
    }
  });

  it("poolProfile times how long the workers had been idle before each dispatch, from the end of their previous part", async () => {
    const { want, run } = await threeWayGemm(19);
    try {
      poolProfile("threads");
      expect(sameBits(run(), want)).toBe(true); // its workers' previous parts are not this profile's: no idle time counted
      const first = poolProfile("threads").get("gemm")!;
      expect(first.idleMs).toBe(0);
      run();
      spinUs(10_000); // the calling thread busy 10 ms between two calls: the workers idle at least that long
      expect(sameBits(run(), want)).toBe(true);
      const two = poolProfile("serial").get("gemm")!;
      expect(two.calls).toBe(2);
      expect(two.idleMs).toBeGreaterThanOrEqual(9.5); // (two threads' clocks: a few microseconds either way)
      run();
      expect(poolProfile("off").get("gemm")!.idleMs).toBe(0); // serial: no worker ran a part
    } finally {
      poolProfile("off");
    }
  });

  it("a static split's part times teach the pool its threads' speeds, which the next cuts follow (and the profile shows)", async () => {
    await shutdownPool(); // fresh workers: no speeds learned from earlier tests
    setThreads(2);
    await poolReady();
    try {
      expect(partShares(2)).toEqual([1, 1]); // a fresh worker: as fast as the calling thread
      // Equal costs, the worker's part 4x as long: it is learned 4x slower (a median of the last calls).
      poolProfile("threads");
      for (let i = 0; i < 3; i++) runParts("spin", [{ op: OP_SPIN_US, args: [8000], bufs: [] }], () => spinUs(2000), [1, 1]);
      const times = poolProfile("off").get("spin")!;
      expect(times.workerMs).toBeGreaterThanOrEqual(3 * 8);
      const [caller, worker] = partShares(2) as [number, number];
      expect(caller).toBe(1);
      expect(worker).toBeLessThan(0.75); // 0.25 unless the host paused the calling thread for most of two calls
      expect(evenCuts(100, 2, partShares(2))[1]).toBeGreaterThan(57);
      // Fixed speeds override the learned ones; null goes back to them.
      setThreadSpeeds([1, 3]);
      expect(partShares(3)).toEqual([1, 3, 3]);
      setThreadSpeeds(null);
      expect(partShares(2)[1]).toBe(worker);
      expect(() => setThreadSpeeds([1, 0])).toThrow(/setThreadSpeeds: speeds must be finite and > 0, got \[1, 0\]/);
      expect(() => setThreadSpeeds([])).toThrow(BitspikeError);
    } finally {
      poolProfile("off");
      setThreadSpeeds(null);
      await shutdownPool(); // a fresh pool (fresh speeds) for the tests after
      setThreads(3);
      await poolReady();
    }
  });

  it("learns a worker's speed as the median of its last three calls, skipping short calls and bounding the ratio", () => {
    const w = 1_000_000; // a worker index no pool has: its own history
    const speed = (): number => threadSpeed(1, w);
    expect(speed()).toBe(1);
    learnSpeeds(1, 2, [{ index: w, cost: 1, ms: 4 }]); // half as fast
    expect(speed()).toBeCloseTo(0.5, 12);
    learnSpeeds(1, 2, [{ index: w, cost: 1, ms: 4 }]);
    learnSpeeds(1, 2, [{ index: w, cost: 1, ms: 40 }]); // a pause
    expect(speed()).toBeCloseTo(0.5, 12); // one outlier among three moves nothing
    learnSpeeds(1, 2, [{ index: w, cost: 2, ms: 2 }]);
    learnSpeeds(1, 2, [{ index: w, cost: 2, ms: 2 }]);
    expect(speed()).toBeCloseTo(2, 12); // the host's shares changed: followed within two calls
    learnSpeeds(1, 0.5, [{ index: w, cost: 1, ms: 100 }]); // the calling thread's part under 1 ms: skipped
    learnSpeeds(1, 2, [{ index: w, cost: 1, ms: 0.5 }]); // the worker's: skipped
    learnSpeeds(0, 2, [{ index: w, cost: 1, ms: 2 }]); // no cost to learn from
    expect(speed()).toBeCloseTo(2, 12);
    for (let i = 0; i < 3; i++) learnSpeeds(1, 1, [{ index: w, cost: 1000, ms: 1 }]);
    expect(speed()).toBeCloseTo(4, 12); // at most 4x either way
  });

  it("a part's arguments past those it passes read 0 in the worker, not what the slot's last task left", async () => {
    setThreads(3);
    await poolReady();
    const out = allocFloat("float64", 32, true) as Float64Array;
    const base = sabBase(out);
    const parts = (n: number, at: number): Part[] => [0, 1].map((w) => ({ op: OP_ECHO_ARGS, args: [base + at + 8 * w, 1, 2, 3, 4, 5, 6, 7].slice(0, n), bufs: [out] }));
    runParts("echo", parts(8, 0), () => {});
    runParts("echo", parts(2, 16), () => {});
    expect(Array.from(out.subarray(0, 8))).toEqual([base, 1, 2, 3, 4, 5, 6, 7]);
    expect(Array.from(out.subarray(16, 32))).toEqual([base + 16, 1, 0, 0, 0, 0, 0, 0, base + 24, 1, 0, 0, 0, 0, 0, 0]);
  });

  it("a sequence part runs its parts in order on one worker, each seeing its own arguments and 0 past them", async () => {
    setThreads(2);
    await poolReady();
    const out = allocFloat("float64", 32, true) as Float64Array;
    out.fill(-1);
    const base = sabBase(out);
    const echo = (at: number, n: number): Part => ({ op: OP_ECHO_ARGS, args: [base + at, 11, 12, 13, 14, 15, 16, 17].slice(0, n), bufs: [out] });
    // Each part writes over the one before's last slot: it ran after it.
    runParts("echo", [sequencePart(echo(0, 3), echo(7, 8), echo(14, 2))], () => {});
    expect(Array.from(out.subarray(0, 22))).toEqual([base, 11, 12, 0, 0, 0, 0, base + 7, 11, 12, 13, 14, 15, 16, base + 14, 11, 0, 0, 0, 0, 0, 0]);
    expect(out[22]).toBe(-1);
  });

  it("runBesideOr: its parts beside f where every one is there and a call claims, else f and then `otherwise`; whole parts give the twins' bits", async () => {
    setThreads(2);
    await poolReady();
    const rng = new Rng(23);
    const rows = 37, cols = 45;
    const src = randArray(false, rows * cols, rng, true);
    const g = randArray(false, 6 * cols * 5, rng, true);
    const wantT = allocFloat("float32", rows * cols, true), wantB = allocFloat("float32", cols, true);
    transposeThreads(src, 0, rows, cols, wantT, 0, 1, 1);
    sumPerChannelThreads(g, wantB, 6, cols, 5, 1);
    const a = randArray(false, 16 * 8, rng, true), b = randArray(false, 8 * 16, rng, true);
    const wantC = new Float32Array(16 * 16);
    gemm(a, 0, false, b, 0, false, wantC, 0, 16, 16, 8, false);
    for (const withNull of [false, true]) {
      const t = allocFloat("float32", rows * cols, true).fill(Number.NaN), s = allocFloat("float32", cols, true).fill(Number.NaN);
      const c = allocFloat("float32", 16 * 16, true);
      const order: string[] = [];
      runBesideOr([transposePart(src, 0, rows, cols, t, 0), withNull ? null : sumPerChannelPart(g, s, 6, cols, 5)], () => {
        order.push(besidePending() ? "f beside" : "f");
        gemmThreads(a, 0, false, b, 0, false, c, 0, 16, 16, 8, false, 2);
      }, () => {
        order.push("otherwise");
        transposeThreads(src, 0, rows, cols, t, 0);
        sumPerChannelThreads(g, s, 6, cols, 5);
      });
      expect(order).toEqual(withNull ? ["f", "otherwise"] : ["f beside"]);
      expect(sameBits(t, wantT) && sameBits(s, wantB) && sameBits(c, wantC)).toBe(true);
    }
    // Every part there but no call claims: f once, then `otherwise`.
    const order: string[] = [];
    runBesideOr([transposePart(src, 0, rows, cols, wantT, 0)], () => order.push("f"), () => order.push("otherwise"));
    expect(order).toEqual(["f", "otherwise"]);
    // Off the heap: no whole part.
    expect(transposePart(new Float32Array(rows * cols), 0, rows, cols, wantT, 0)).toBeNull();
    expect(sumPerChannelPart(g, new Float32Array(cols), 6, cols, 5)).toBeNull();
  });

  it("runBeside hands its part to the next claimed call's first worker, which runs it before it claims; false, the part not run, when no call claims", async () => {
    // A claimed gemm: heap float32 operands, m a multiple of 4 and n of 8.
    setThreads(3);
    await poolReady();
    const rng = new Rng(19);
    const a = randArray(false, 64 * 48, rng, true), b = randArray(false, 48 * 40, rng, true);
    const want = new Float32Array(64 * 40);
    gemm(a, 0, false, b, 0, false, want, 0, 64, 40, 48, false);
    const run = (): Float32Array => {
      const c = allocFloat("float32", 64 * 40, true) as Float32Array;
      gemmThreads(a, 0, false, b, 0, false, c, 0, 64, 40, 48, false, 3);
      return c;
    };
    const out = allocFloat("float64", 8, true) as Float64Array;
    const echo: Part = { op: OP_ECHO_ARGS, args: [sabBase(out), 21, 22, 23, 24, 25, 26, 27], bufs: [out] };
    for (const mode of ["threads", "serial"] as const) {
      out.fill(0);
      let got: Float32Array | null = null;
      poolProfile(mode);
      try {
        expect(runBeside(echo, () => {
          expect(besidePending()).toBe(true);
          got = run();
          expect(besidePending()).toBe(false);
        })).toBe(true);
      } finally {
        poolProfile("off");
      }
      expect(sameBits(got!, want)).toBe(true);
      expect(Array.from(out)).toEqual([sabBase(out), 21, 22, 23, 24, 25, 26, 27]);
    }
    out.fill(0);
    // No call, or one on a single thread (no claims): not taken, not run, and no longer offered after.
    expect(runBeside(echo, () => {})).toBe(false);
    const c = new Float32Array(64 * 40);
    expect(runBeside(echo, () => gemmThreads(new Float32Array(64 * 48), 0, false, new Float32Array(48 * 40), 0, false, c, 0, 64, 40, 48, false, 1))).toBe(false);
    expect(besidePending()).toBe(false);
    expect(sameBits(run(), want)).toBe(true);
    expect(out.every((v) => v === 0)).toBe(true);
    // Too large to go with the call's own part in one worker's task slots: left untaken, f as usual.
    const big: Part = { ...echo, args: [...echo.args, ...new Array<number>(90).fill(1)] };
    expect(runBeside(big, () => expect(sameBits(run(), want)).toBe(true))).toBe(false);
    expect(out.every((v) => v === 0)).toBe(true);
    // Declined (setPoolBeside(false), for benches): f runs, the part does not.
    const was = setPoolBeside(false);
    try {
      expect(runBeside(echo, () => expect(sameBits(run(), want)).toBe(true))).toBe(false);
    } finally {
      expect(setPoolBeside(was)).toBe(false);
    }
    expect(out.every((v) => v === 0)).toBe(true);
    expect(() => runBeside(echo, () => runBeside(echo, () => {}))).toThrow(/runBeside inside runBeside/);
    expect(besidePending()).toBe(false);
    // A part that throws fails the call that took it (named), after the claims are all done; the pool goes on.
    let failed: unknown = null;
    try {
      runBeside({ op: OP_THROWS, args: [], bufs: [] }, () => void run());
    } catch (e) {
      failed = e;
    }
    expect(failed).toBeInstanceOf(BitspikeError);
    expect((failed as Error).message).toMatch(/^gemm: thread pool: worker \d+ failed: Error: the test task failed$/);
    expect(sameBits(run(), want)).toBe(true);
  });

  it("setPoolSpin validates; sleeping workers (spin 0) and spinning ones (spin 20) both run every part, same bits", async () => {
    expect(() => setPoolSpin(-1)).toThrow(/setPoolSpin: spin time -1 ms: expected 0 to 10000/);
    expect(() => setPoolSpin(Number.NaN)).toThrow(BitspikeError);
    const old = setPoolSpin(0);
    try {
      const { want, run } = await threeWayGemm(9);
      for (const spin of [0, 20, 0]) {
        setPoolSpin(spin);
        for (let r = 0; r < 3; r++) {
          // A pause longer than any spin here: with spin 0 every worker is asleep when its part comes.
          await new Promise((res) => setTimeout(res, spin === 0 ? 5 : 0));
          const before = poolInfo().workerParts;
          expect(sameBits(run(), want)).toBe(true);
          expect(poolInfo().workerParts - before).toBe(2);
        }
      }
    } finally {
      expect(setPoolSpin(old)).toBe(0);
    }
  });

  it("spinFor returns true when the slot holds (or, differs, leaves) the value, false only after its time", () => {
    const i32 = new Int32Array(new SharedArrayBuffer(16));
    i32[2] = 7;
    expect(spinFor(i32, 2, 7, false, 1000)).toBe(true);
    expect(spinFor(i32, 2, 5, true, 1000)).toBe(true);
    for (const [value, differs] of [[5, false], [7, true]] as const) {
      const t0 = performance.now();
      expect(spinFor(i32, 2, value, differs, 3)).toBe(false);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(3);
    }
    expect(spinFor(i32, 2, 5, false, 0)).toBe(false);
  });

  it("shutdown stops every worker; the next threaded call restarts them", async () => {
    setThreads(3);
    await poolReady();
    await shutdownPool();
    expect(poolInfo().readyWorkers).toBe(0);
    // Until workers are back, threaded calls run on the calling thread (same bits).
    const a = new Float64Array(30 * 30).fill(0.5);
    const c = new Float64Array(30 * 30);
    gemmThreads(a, 0, false, a, 0, false, c, 0, 30, 30, 30, false, usableThreads());
    expect(c.every((v) => v === 7.5)).toBe(true);
    expect(await poolReady()).toBe(3);
  });
});

describe("thread hosts", () => {
  it("the pool runs on whatever host is set (here a counting wrapper of Node's), with the same bits", async () => {
    const node = nodeThreadHost()!;
    let started = 0;
    await setThreadHost({ cores: () => 3, start: (init, failed, exited) => (started++, node.start(init, failed, exited)) });
    try {
      setThreads(3);
      expect(await poolReady()).toBe(3);
      expect(started).toBe(2);
      const rng = new Rng(4);
      const a = randArray(false, 64 * 48, rng, true), b = randArray(false, 48 * 40, rng, true);
      const c1 = allocFloat("float32", 64 * 40), c2 = allocFloat("float32", 64 * 40);
      gemm(a, 0, false, b, 0, false, c1, 0, 64, 40, 48, false);
      const before = poolInfo().workerParts;
      gemmThreads(a, 0, false, b, 0, false, c2, 0, 64, 40, 48, false, 3);
      expect(poolInfo().workerParts - before).toBe(2);
      expect(sameBits(c2, c1)).toBe(true);
    } finally {
      await setThreadHost(node);
    }
  });
});

describe("gemmThreads staging", () => {
  it("the threaded twin on heap operands stages 0 bytes, a transposed A included (its copy is a working layout)", async () => {
    expect(await poolReady()).toBeGreaterThan(1); // an earlier test may have stopped a worker: split for real
    const rng = new Rng(10);
    for (const ta of [false, true]) {
      const m = 64, n = 48, k = 40;
      const a = randArray(false, m * k, rng, true), b = randArray(false, k * n, rng, true), c = allocFloat("float32", m * n) as Float32Array;
      const cr = new Float32Array(m * n);
      gemmReference(a, 0, ta, b, 0, false, cr, 0, m, n, k, false);
      const before = heapStats().stagedBytes;
      gemmThreads(a, 0, ta, b, 0, false, c, 0, m, n, k, false, 2);
      expect(heapStats().stagedBytes).toBe(before);
      expect(sameBits(c, cr)).toBe(true);
    }
  });
});
