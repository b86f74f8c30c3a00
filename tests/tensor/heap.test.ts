import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import fc from "fast-check";
import {
  allocBlock, blockOf, freeArray, freeBlock, heapArray, heapScope, heapStats, inHeap, resetHeapCounters,
} from "../../src/tensor/heap.js";
import { allocFloat, Tensor } from "../../src/tensor/tensor.js";
import { Spikes } from "../../src/tensor/spikes.js";
import { stepScope } from "../../src/tensor/retain.js";
import { heapPtr, unstage } from "../../src/wasm/runtime.js";
import { backward } from "../../src/autograd/tape.js";
import { add, mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { expectBitspikeError } from "../helpers/errors.js";

describe("the one heap", () => {
  it("hands out 64-byte aligned, zeroed, non-overlapping blocks, and reuses freed ones of the same class", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 70_000 }), { minLength: 1, maxLength: 40 }), fc.array(fc.boolean(), { maxLength: 40 }), (sizes, frees) => {
        const live: { off: number; end: number; b: ReturnType<typeof allocBlock> }[] = [];
        for (let i = 0; i < sizes.length; i++) {
          const b = allocBlock(sizes[i]!);
          expect(b.offset % 64).toBe(0);
          expect(b.bytes).toBeGreaterThanOrEqual(sizes[i]!);
          const a = heapArray(Uint8Array, 0); // a zero-length request is a block too
          freeArray(a);
          const view = new Uint8Array(heapArray(Uint8Array, 1).buffer, b.offset, sizes[i]!);
          expect(view.every((v) => v === 0)).toBe(true);
          view.fill(7);
          for (const o of live) expect(b.offset >= o.end || b.offset + b.bytes <= o.off).toBe(true);
          live.push({ off: b.offset, end: b.offset + b.bytes, b });
          if (frees[i]) {
            const victim = live.shift()!;
            freeBlock(victim.b);
            const again = allocBlock(victim.b.bytes);
            expect(again.offset).toBe(victim.off); // the free list gives the block back
            live.push({ off: again.offset, end: again.offset + again.bytes, b: again });
          }
        }
        for (const o of live) freeBlock(o.b);
      }),
      { seed: 12, numRuns: 30 },
    );
  });

  it("a request with no free block of its size takes a free one of up to four classes up (twice its class size; the block keeps its size), not a larger one", () => {
    // Sizes no other test uses, so no other free block sits in the classes between.
    const [request, double, more] = [2_900_000, 5_100_000, 7_500_000];
    const a = allocBlock(double);
    const aOff = a.offset, aBytes = a.bytes;
    freeBlock(a);
    const b = allocBlock(request, true);
    expect(b.offset).toBe(aOff);
    expect(b.bytes).toBe(aBytes); // it goes back to its own free list
    new Uint8Array(heapArray(Uint8Array, 1).buffer, b.offset, request).fill(9);
    freeBlock(b);
    const c = allocBlock(request);
    expect(c.offset).toBe(aOff);
    expect(new Uint8Array(heapArray(Uint8Array, 1).buffer, c.offset, request).every((v) => v === 0)).toBe(true); // zeroed again
    freeBlock(c);
    const big = allocBlock(more);
    const bigOff = big.offset;
    const d = allocBlock(aBytes); // takes a's block
    freeBlock(big);
    const e = allocBlock(request);
    expect(e.offset).not.toBe(bigOff); // more than twice the request: new space
    for (const x of [d, e]) freeBlock(x);
  });

  it("tensors and spikes made by the engine live in the heap; foreign arrays are accepted as they are", () => {
    expect(inHeap(Tensor.zeros([3, 5]).data)).toBe(true);
    expect(inHeap(Spikes.zeros([2, 33]).words)).toBe(true);
    const own = new Float32Array(4);
    const t = new Tensor(own, [4]);
    expect(inHeap(t.data)).toBe(false);
    expect(t.data).toBe(own);
    expect(inHeap(allocFloat("float64", 3, false))).toBe(false);
  });

  it("a scope frees what it made except what keep() names, and a released tensor throws instead of reading reused bytes", () => {
    const kept = Tensor.zeros([4]);
    let inner: Tensor | null = null;
    let kept2: Tensor | null = null;
    const before = heapStats().liveBytes;
    heapScope(() => {
      inner = Tensor.full([1000], 3);
      kept2 = Tensor.full([10], 5);
    }, () => [kept2!.data]);
    expect(kept.data.length).toBe(4);
    expect(kept2!.data[0]).toBe(5);
    expectBitspikeError(() => inner!.data, "Tensor[1000]", /released at the end of its scope/);
    expect(heapStats().liveBytes).toBeLessThanOrEqual(before + 64 * 2);
  });

  it("stepScope keeps what the roots reach (parameters, their gradients, optimizer-like state) and frees the step's activations", () => {
    const w = Tensor.full([8], 2).requireGrad();
    const state = { moments: new Map<string, Float32Array>() };
    let act: Tensor | null = null;
    stepScope(() => {
      act = mul(w, Tensor.full([8], 3));
      backward(sum(act));
      state.moments.set("w", allocFloat("float32", 8) as Float32Array);
    }, w, state);
    expect(Array.from(w.grad!.data)).toEqual(new Array(8).fill(3));
    expect(state.moments.get("w")!.length).toBe(8);
    expectBitspikeError(() => act!.data, "Tensor[8]", /released at the end of its step/);
  });

  it("backward frees intermediate gradients but keeps leaf and retained ones", () => {
    const x = Tensor.full([5], 1.5).requireGrad();
    const y = add(mul(x, x), x).retainGrad();
    const loss = sum(y);
    const live0 = heapStats().liveBytes;
    backward(loss);
    expect(Array.from(x.grad!.data)).toEqual(new Array(5).fill(4));
    expect(Array.from(y.grad!.data)).toEqual(new Array(5).fill(1));
    // Only the two kept gradients (a 64-byte block each) remain of what backward made.
    expect(heapStats().liveBytes - live0).toBeLessThanOrEqual(2 * 64);
  });

  it("an allocation past 4 GiB is a clear error naming the request and the live total, not a crash", () => {
    expectBitspikeError(() => allocBlock(5 * 2 ** 30), "heap", /cannot allocate 5120\.0 MB: .* live in the heap .*4 GiB/);
    expectBitspikeError(() => allocBlock(-1), "heap", /non-negative integer/);
  });

  it("heapPtr passes a heap array by address and stages a foreign one (counting its bytes); unstage copies back", () => {
    const scratch = heapArray(Float64Array, 16);
    const stage = scratch.byteOffset;
    const inside = allocFloat("float64", 10), outside = allocFloat("float64", 10, false);
    for (let i = 0; i < 10; i++) inside[i] = outside[i] = i + 0.5;
    resetHeapCounters();
    expect(heapPtr(inside, 3, 5, stage, true)).toBe(inside.byteOffset + 3 * 8);
    expect(heapStats().stagedBytes).toBe(0);
    expect(blockOf(outside)).toBeNull();
    expect(heapPtr(outside, 3, 5, stage, true)).toBe(stage);
    expect(heapStats().stagedBytes).toBe(5 * 8);
    expect(Array.from(scratch.subarray(0, 5))).toEqual([3.5, 4.5, 5.5, 6.5, 7.5]);
    scratch[0] = -1;
    unstage(outside, 3, 5, stage);
    expect(outside[3]).toBe(-1);
    expect(heapStats().stagedBytes).toBe(2 * 5 * 8);
    freeArray(scratch);
  });
});

describe("without WebAssembly (node --jitless)", () => {
  it("the heap runs over a growable SharedArrayBuffer, with the TypeScript twins and the workers, and gives the same bits", () => {
    const script = `
      import { Spikformer } from "./src/models/spikformer.ts";
      import { spikformerConfig } from "./src/models/config.ts";
      import { Tensor } from "./src/tensor/tensor.ts";
      import { Rng } from "./src/tensor/random.ts";
      import { heapIsWasm } from "./src/tensor/heap.ts";
      import { crossEntropy } from "./src/ops/loss.ts";
      import { backward } from "./src/autograd/tape.ts";
      import { setThreads, poolReady, setMinWorkPerThread } from "./src/parallel/pool.ts";
      setThreads(2); await poolReady(); setMinWorkPerThread(1);
      const m = new Spikformer(spikformerConfig("spikformer-cifar-1-16", { imgSize: 8, inChannels: 1, T: 2, numClasses: 3 }));
      const loss = crossEntropy(m.forward(Tensor.normal([4, 1, 8, 8], new Rng(1))), new Int32Array([0, 1, 2, 0]));
      backward(loss);
      let h = 0;
      for (const p of m.parameters()) for (const v of p.grad ? p.grad.data : []) h = (Math.imul(h, 31) + Math.round(v * 1e9)) | 0;
      console.log(JSON.stringify({ wasm: heapIsWasm(), loss: loss.item(), h }));`;
    const run = (flags: string[]) =>
      JSON.parse(execFileSync(process.execPath, [...flags, "--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    const jitless = run(["--jitless"]), wasm = run([]);
    expect(jitless.wasm).toBe(false);
    expect(wasm.wasm).toBe(true);
    expect(jitless.loss).toBe(wasm.loss);
    expect(jitless.h).toBe(wasm.h);
  }, 120_000);
});

describe("backward({ releaseActivations })", () => {
  it("gives the same gradients, frees each output once its node has run (lowering the peak), and a value read afterwards throws", async () => {
    const { Spikformer } = await import("../../src/models/spikformer.js");
    const { spikformerConfig } = await import("../../src/models/config.js");
    const { crossEntropy } = await import("../../src/ops/loss.js");
    const { Rng } = await import("../../src/tensor/random.js");
    const step = (release: boolean) => {
      const m = new Spikformer(spikformerConfig("spikformer-cifar-1-32", { imgSize: 16, inChannels: 1, T: 2, numClasses: 3 }));
      const x = Tensor.normal([4, 1, 16, 16], new Rng(3));
      let logits: Tensor | null = null;
      resetHeapCounters();
      const start = heapStats().liveBytes;
      stepScope(() => {
        logits = m.forward(x);
        backward(crossEntropy(logits, new Int32Array([0, 1, 2, 1])), undefined, { releaseActivations: release });
      }, m);
      return { grads: [...m.parameters()].map((p) => Array.from(p.grad?.data ?? [])), peak: heapStats().peakBytes - start, logits: logits! };
    };
    const kept = step(false), freed = step(true);
    freed.grads.forEach((g, i) => expect(g).toEqual(kept.grads[i]));
    expect(freed.peak).toBeLessThan(kept.peak);
    expectBitspikeError(() => freed.logits.data, "Tensor[4, 3]", /released/);
  });
});

describe("freed blocks leave nothing behind in a synchronous loop", () => {
  it("30,000 tensors made and freed without yielding keep no JS memory (their finalization cells go with the free)", () => {
    // A training loop never yields to the event loop, so finalization callbacks never run in it: a block's
    // registrations must be dropped when it is freed, or each freed block's record stays (76 KB a main-job step).
    const script = `
      const { allocFloat, Tensor } = await import(${JSON.stringify(new URL("../../src/tensor/tensor.ts", import.meta.url).href)});
      const { freeArray } = await import(${JSON.stringify(new URL("../../src/tensor/heap.ts", import.meta.url).href)});
      const round = (n) => { for (let i = 0; i < n; i++) { const t = new Tensor(allocFloat("float32", 16, true), [16]); freeArray(t.data, "freed by the test loop " + i); } };
      round(2000); gc();
      const before = process.memoryUsage().heapUsed;
      round(30000); gc();
      console.log(process.memoryUsage().heapUsed - before);`;
    const grown = Number(execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim());
    expect(grown).toBeLessThan(2 << 20);
  }, 60_000);
});
