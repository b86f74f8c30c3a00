import { afterAll, describe, expect, it } from "vitest";
import { Spikformer } from "../../src/models/spikformer.js";
import { spikformerConfig } from "../../src/models/config.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/random.js";
import { crossEntropy } from "../../src/ops/loss.js";
import { backward } from "../../src/autograd/tape.js";
import { getKernelBackend, setKernelBackend, wasmSimdAvailable, type KernelBackend } from "../../src/wasm/backend.js";
import { poolInfo, poolReady, setMinWorkPerThread, setThreads, shutdownPool } from "../../src/parallel/pool.js";

/** Logits, loss and every gradient of one training step of a small Spikformer, as arrays of float bits. */
function step(): number[][] {
  const model = new Spikformer(spikformerConfig("spikformer-cifar-1-32", { imgSize: 16, inChannels: 3, numClasses: 5, T: 2, numHeads: 2, seed: 3 }));
  model.train();
  const x = Tensor.uniform([4, 3, 16, 16], new Rng(7), -1, 2);
  const logits = model.forward(x);
  const loss = crossEntropy(logits, Int32Array.from([0, 1, 4, 2]));
  backward(loss);
  const bits = (t: Tensor) => Array.from(new Uint32Array(Float32Array.from(t.data).buffer));
  return [bits(logits), bits(loss), ...[...model.parameters()].map((p) => (p.grad ? bits(p.grad) : []))];
}

describe("kernel backends and thread counts", () => {
  const startBackend = getKernelBackend();
  afterAll(async () => {
    setKernelBackend(startBackend);
    setThreads(2);
    await shutdownPool();
  });

  it("a whole Spikformer training step gives the same logits, loss and gradients with JS or WASM kernels, on 1 or 2 threads", async () => {
    const backends: KernelBackend[] = wasmSimdAvailable() ? ["js", "wasm"] : ["js"];
    let reference: number[][] | null = null;
    for (const threads of [1, 2]) {
      setThreads(threads);
      expect(await poolReady()).toBe(threads);
      // Thread even the small products of this model, so the workers take part.
      const oldMin = setMinWorkPerThread(threads === 1 ? Infinity : 1);
      try {
        for (const be of backends) {
          setKernelBackend(be);
          const parts0 = poolInfo().workerParts;
          const got = step();
          if (threads === 2) expect(poolInfo().workerParts).toBeGreaterThan(parts0);
          if (reference === null) reference = got;
          else expect(got).toEqual(reference);
        }
      } finally {
        setMinWorkPerThread(oldMin);
      }
    }
  });
});
