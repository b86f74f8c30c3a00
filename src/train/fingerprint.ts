/**
 * The fingerprint of a training step: FNV-1a over the bytes of the loss and of
 * every parameter gradient, in parameter order, beside the loss to 9 digits.
 * Two runs with the same fingerprint computed the same bits. The step is the
 * one `bench/train-step.ts` times (the MNIST main job's former model), so a
 * speed change, another thread count, kernel backend or runtime (Node, a
 * browser) can be checked to leave the results bit-identical.
 */
import type { Tensor } from "../tensor/tensor.js";
import { Tensor as T } from "../tensor/tensor.js";
import { backward } from "../autograd/tape.js";
import { stepScope } from "../tensor/retain.js";
import { fail } from "../tensor/errors.js";
import { crossEntropy } from "../ops/loss.js";
import { Spikformer } from "../models/spikformer.js";
import { spikformerConfig, type SpikformerConfig } from "../models/config.js";

/** FNV-1a over the bytes of the loss and of every parameter gradient, in parameter order. */
export function gradientFingerprint(loss: Tensor, params: readonly Tensor[]): string {
  let h = 0x811c9dc5;
  const eat = (a: Float32Array | Float64Array): void => {
    const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i]!, 0x01000193) >>> 0;
  };
  eat(loss.data);
  for (const p of params) if (p.grad) eat(p.grad.data);
  return `${loss.item().toPrecision(9)} ${h.toString(16).padStart(8, "0")}`;
}

/** The fingerprinted step's model: spikformer-cifar-1-64 on 28x28x1 digits, T = 2, 10 classes. */
export function fingerprintModelConfig(): SpikformerConfig {
  return spikformerConfig("spikformer-cifar-1-64", { imgSize: 28, inChannels: 1, T: 2, numClasses: 10 });
}

/** Digits a fingerprinted step takes. */
export const FINGERPRINT_BATCH = 32;

/**
 * One training step (forward, cross-entropy, backward; no optimizer step) of a
 * fresh {@link fingerprintModelConfig} model on the first 32 of `images`
 * (normalised [N, 1, 28, 28] floats, N >= 32) and their labels: its fingerprint.
 */
export function fingerprintStep(images: Float32Array, labels: Int32Array): string {
  const B = FINGERPRINT_BATCH;
  if (images.length < B * 784 || labels.length < B) fail("fingerprintStep", `needs ${B} digits of 28x28, got ${images.length / 784} images and ${labels.length} labels`);
  const model = new Spikformer(fingerprintModelConfig()).train();
  const x = new T(images.slice(0, B * 784), [B, 1, 28, 28]);
  const params = [...model.parameters()];
  return stepScope(() => {
    const loss = crossEntropy(model.forward(x), labels.slice(0, B));
    backward(loss);
    return gradientFingerprint(loss, params);
  }, model);
}
