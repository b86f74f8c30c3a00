/**
 * bitspike against the PyTorch peer (golden tensors from tests/fixtures/golden/make_golden.py):
 * the same weights under the official key names give the same logits, loss and gradients.
 */
import { describe, expect, it } from "vitest";
import { readSafetensorsFile } from "../../src/io/safetensors-file.js";
import { Spikformer } from "../../src/models/spikformer.js";
import { spikformerConfig } from "../../src/models/config.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { backward, noGrad } from "../../src/autograd/tape.js";
import { crossEntropy } from "../../src/ops/loss.js";

const file = readSafetensorsFile(new URL("../fixtures/golden/tiny-cifar.safetensors", import.meta.url).pathname);
const get = (k: string) => file.tensors.get(k)!;
const f32 = (k: string) => Array.from(get(k).data as Float32Array);

function loaded(): Spikformer {
  const m = new Spikformer(spikformerConfig("spikformer-cifar-1-32", { imgSize: 16, numClasses: 5, numHeads: 2, T: 2 }));
  const weights = new Map([...file.tensors].filter(([k]) => k.startsWith("weights.")).map(([k, v]) => [k.slice(8), v]));
  m.loadStateDict(weights, { strict: true });
  return m;
}

function expectClose(ours: ArrayLike<number>, theirs: number[], rel: number): void {
  expect(ours.length).toBe(theirs.length);
  const scale = Math.max(...theirs.map(Math.abs));
  for (let i = 0; i < theirs.length; i++) expect(Math.abs(ours[i]! - theirs[i]!)).toBeLessThanOrEqual(rel * scale);
}

describe("golden: PyTorch Spikformer (tiny CIFAR layout)", () => {
  const x = new Tensor(get("input").data as Float32Array, get("input").shape);
  const labels = Int32Array.from(get("labels").data as BigInt64Array, Number);

  it("eval logits equal PyTorch's, with bit kernels and with float kernels", () => {
    for (const mode of ["bits", "float"] as const) {
      const m = loaded().eval();
      m.compute.mode = mode;
      const y = noGrad(() => m.forward(x));
      expectClose(y.data, f32("eval_logits"), 1e-5);
    }
  });

  it("train-mode logits, loss and gradients equal PyTorch's", () => {
    const m = loaded().train();
    const logits = m.forward(x);
    expectClose(logits.data, f32("train_logits"), 1e-5);
    const loss = crossEntropy(logits, labels);
    expect(loss.item()).toBeCloseTo(f32("train_loss")[0]!, 5);
    backward(loss);
    const params = new Map(m.namedParameters());
    for (const [k] of file.tensors) {
      if (!k.startsWith("grad.")) continue;
      expectClose(params.get(k.slice(5))!.grad!.data, f32(k), 1e-4);
    }
  });
});
