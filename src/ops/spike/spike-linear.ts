/**
 * Event-driven fully connected layers: y = x Wᵀ + b where x is spikes (work
 * per set bit) or a float tensor of mostly-zero counts (work per nonzero).
 * Both equal the dense `linear` bit for bit, forward and weight/bias
 * gradients alike, on float32 and float64 data: the kernels accumulate in
 * gemm's family (float32 adds of float32 data, float64 otherwise) in the same
 * order, and the zero terms they skip cannot change such a sum (see
 * src/kernels/spike-gemm.ts).
 */
import { freeArray, heapArray } from "../../tensor/heap.js";
import { sizeOf } from "../../tensor/shape.js";
import { Spikes } from "../../tensor/spikes.js";
import { Tensor, type DType, type FloatArray } from "../../tensor/tensor.js";
import { gemmThreads } from "../../kernels/gemm/threads.js";
import { addChannelBiasThreads } from "../../kernels/bias/threads.js";
import { sampledDensity } from "../../parallel/balance.js";
import {
  countsGatherAddThreads, countsScatterPart, countsScatterRowsThreads, spikeGatherAddThreads, spikeScatterPart, spikeScatterRowsThreads,
} from "../../kernels/spike-sum/threads.js";
import type { Part } from "../../parallel/pool.js";
import { gradsBesideInputGrad } from "./grads-beside.js";
import { COUNTS_DENSE_FORWARD, COUNTS_DENSE_GRAD } from "../../kernels/spike-sum/spike-sum.js";
import { record } from "../../autograd/tape.js";
import { commonDtype, unzeroed } from "../util.js";
import { checkLinear } from "../linear.js";

/**
 * An accumulator of dWᵀ [in, out] in the kernels' family: float32 for float32 data, float64 (rounded once
 * later) else. Not zeroed: the scatters run `fresh`, each thread zeroing the rows it sums into (a zero fill
 * here was 28 MB of a CIFAR b8 step on the calling thread alone).
 */
function weightAcc(dtype: DType, nIn: number, nOut: number): FloatArray {
  return heapArray(dtype === "float32" ? Float32Array : Float64Array, nIn * nOut, false);
}

/** A sparse weight gradient into an accumulator of dWᵀ [in, out], `fresh`: whole as one worker's part (null: cannot), or split. */
interface WeightScatter {
  part(accT: FloatArray): Part | null;
  run(accT: FloatArray): void;
}

/**
 * The rest of a linear's backward beside its input gradient (`inputGrad`, whose gemm's threads claim rows;
 * ./grads-beside.ts): the weight gradient's scatter (when `scatter` is given) and its transpose into dW [out,
 * in] (rounded to the weight's type), and the bias gradient (when `b` wants one). Returns dW and db.
 */
function besideInputGrad(
  inputGrad: () => void, g: Tensor, rows: number, dtype: DType, weight: Tensor, b: Tensor | null, nOut: number, nIn: number, scatter: WeightScatter | null,
): [Tensor | null, Tensor | null] {
  const accT = scatter === null ? null : weightAcc(dtype, nIn, nOut);
  const gw = accT === null ? null : unzeroed(weight.shape, weight.dtype);
  const gb = b !== null && b.requiresGrad ? unzeroed(b.shape, dtype) : null;
  gradsBesideInputGrad(
    inputGrad,
    accT === null ? null : { acc: accT, rows: nIn, cols: nOut, gw: gw!, part: scatter!.part(accT), run: () => scatter!.run(accT) },
    gb === null ? null : { g: g.data, gb, outer: rows, channels: nOut, inner: 1 },
  );
  if (accT !== null) freeArray(accT, "released by the spike linear backward (its accumulator)");
  return [gw, gb];
}

/**
 * Linear on spikes `[..., in]` with weight `[out, in]`, optional bias `[out]`
 * -> float `[..., out]`: y[m, :] = b + sum of the weight columns of the set
 * bits of row m. Cost ~ rows · firing rate · in · out adds (plus one pass over
 * the weight per thread: the kernels read it as Wᵀ, each input feature's weights one contiguous row, packed
 * from the weight as it is). Backward: dW[o, k] = sum over rows with bit k set of
 * g[m, o] (sparse, per spike); d spikes = g W (dense, it feeds the surrogate);
 * db = sum of g over rows.
 */
export function spikeLinear(s: Spikes, weight: Tensor, bias?: Tensor | null): Tensor {
  const op = "spikeLinear";
  const b = bias ?? null;
  const dtype = b ? commonDtype(op, s, weight, b) : commonDtype(op, s, weight);
  const [nOut, nIn] = checkLinear(op, s.shape, weight, b);
  const rows = s.rows;
  const out = unzeroed([...s.shape.slice(0, -1), nOut], dtype);
  // The bias is added by the gather, to each row once its sums end (one pass over the output less).
  spikeGatherAddThreads(s.words, 0, s.wordsPerRow, weight.data, 0, out.data, 0, rows, nIn, nOut, false, undefined, true, b?.data ?? null);
  const inputs = b ? [s, weight, b] : [s, weight];
  return record(op, out, inputs, (g) => {
    let gs: Tensor | null = null;
    const inputGrad = (): void => {
      if (!s.requiresGrad) return;
      gs = unzeroed(s.shape, dtype);
      gemmThreads(g.data, 0, false, weight.data, 0, false, gs.data, 0, rows, nIn, nOut, false);
    };
    const scatter: WeightScatter | null = !weight.requiresGrad ? null : {
      part: (accT) => spikeScatterPart(s.words, 0, s.wordsPerRow, g.data, 0, accT, 0, rows, nIn, nOut, true),
      run: (accT) => spikeScatterRowsThreads(s.words, 0, s.wordsPerRow, g.data, 0, accT, 0, rows, nIn, nOut, undefined, true),
    };
    const [gw, gb] = besideInputGrad(inputGrad, g, rows, dtype, weight, b, nOut, nIn, scatter);
    return [gs, gw, gb];
  });
}

/**
 * Linear on a float tensor `[..., in]` whose entries are mostly zero (the
 * Spikformer residual stream: small integer spike counts), skipping zeros:
 * any values are accepted and the result equals `linear` bit for bit; it is only faster
 * when most entries are 0. Backward: dW sparse over the nonzeros
 * of x, dx = g W dense, db = sum of g.
 */
export function countsLinear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const op = "countsLinear";
  const b = bias ?? null;
  const dtype = b ? commonDtype(op, x, weight, b) : commonDtype(op, x, weight);
  const [nOut, nIn] = checkLinear(op, x.shape, weight, b);
  const rows = sizeOf(x.shape.slice(0, -1));
  const out = unzeroed([...x.shape.slice(0, -1), nOut], dtype);
  const density = sampledDensity(x.data, 0, rows, nIn);
  if (density >= COUNTS_DENSE_FORWARD) {
    // Dense enough that the gemm is faster; the same products in the same order, so the same bits (finite W).
    gemmThreads(x.data, 0, false, weight.data, 0, true, out.data, 0, rows, nOut, nIn, false);
    if (b) addChannelBiasThreads(out.data, b.data, rows, nOut, 1);
  } else {
    countsGatherAddThreads(x.data, 0, weight.data, 0, out.data, 0, rows, nIn, nOut, false, undefined, true, b?.data ?? null);
  }
  const inputs = b ? [x, weight, b] : [x, weight];
  return record(op, out, inputs, (g) => {
    let gx: Tensor | null = null;
    const inputGrad = (): void => {
      if (!x.requiresGrad) return;
      gx = unzeroed(x.shape, dtype);
      gemmThreads(g.data, 0, false, weight.data, 0, false, gx.data, 0, rows, nIn, nOut, false);
    };
    const sparse = weight.requiresGrad && density < COUNTS_DENSE_GRAD;
    const scatter: WeightScatter | null = !sparse ? null : {
      part: (accT) => countsScatterPart(x.data, 0, g.data, 0, accT, 0, rows, nIn, nOut, true),
      run: (accT) => countsScatterRowsThreads(x.data, 0, g.data, 0, accT, 0, rows, nIn, nOut, undefined, true),
    };
    const [scattered, gb] = besideInputGrad(inputGrad, g, rows, dtype, weight, b, nOut, nIn, scatter);
    let gw = scattered;
    if (weight.requiresGrad && !sparse) {
      // dW = gᵀ x by gemm: each element the same products added in the same (row) order from +0, and a
      // zero term adds +-0, which leaves such a sum's bits alone: the sparse scatter's bits (finite g).
      gw = unzeroed(weight.shape, dtype);
      gemmThreads(g.data, 0, true, x.data, 0, false, gw.data, 0, nOut, nIn, rows, false);
    }
    return [gx, gw, gb];
  });
}
