/**
 * The rest of a backward beside its input gradient: a sparse weight gradient (a scatter into dWᵀ, then its
 * transpose into dW) and a bias gradient run whole on a worker while the calling thread starts the input
 * gradient's claimed call (runBesideOr in src/parallel/pool.ts); where the pool cannot, after it, each split.
 * Every pass is computed whole by one thread's code either way, so the bits are the same.
 */
import type { FloatArray, Tensor } from "../../tensor/tensor.js";
import { sumPerChannelPart, sumPerChannelThreads } from "../../kernels/bias/threads.js";
import { transposePart, transposeThreads } from "../../kernels/transpose/threads.js";
import { runBesideOr, type Part } from "../../parallel/pool.js";

/** A sparse weight gradient: `run` (split) or `part` (whole, on a worker; null: cannot) sums dWᵀ into acc [rows, cols], transposed then into gw. */
export interface SparseWeightGrad {
  acc: FloatArray;
  rows: number;
  cols: number;
  gw: Tensor;
  part: Part | null;
  run: () => void;
}

/** gb [channels] = the sums of g [outer, channels, inner] over outer and inner. */
export interface BiasGrad {
  g: FloatArray;
  gb: Tensor;
  outer: number;
  channels: number;
  inner: number;
}

/** Runs `inputGrad` and the weight and bias gradients given (null: none) beside it where the pool can, else one after the other. */
export function gradsBesideInputGrad(inputGrad: () => void, weight: SparseWeightGrad | null, bias: BiasGrad | null): void {
  const parts: (Part | null)[] = [];
  if (weight !== null) parts.push(weight.part, transposePart(weight.acc, 0, weight.rows, weight.cols, weight.gw.data, 0));
  if (bias !== null) parts.push(sumPerChannelPart(bias.g, bias.gb.data, bias.outer, bias.channels, bias.inner));
  runBesideOr(parts, inputGrad, () => {
    if (weight !== null) {
      weight.run();
      transposeThreads(weight.acc, 0, weight.rows, weight.cols, weight.gw.data, 0);
    }
    if (bias !== null) sumPerChannelThreads(bias.g, bias.gb.data, bias.outer, bias.channels, bias.inner);
  });
}
