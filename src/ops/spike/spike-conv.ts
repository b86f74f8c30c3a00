/**
 * Event-driven convolution of spikes: every set input bit scatters its
 * kernel-weighted contribution into the outputs it reaches, so the work follows
 * the firing rate. Forward, weight and bias gradients equal the dense
 * `conv2d`/`conv1d` bit for bit on float32 and float64 data: the forward sums
 * in gemm's family (float32 adds on float32 data), the weight gradient in an
 * accumulator of the data's dtype as the dense conv's does (src/kernels/spike-conv/). The input
 * gradient is dense (gemm + col2im, as in conv2d), since it feeds the
 * surrogate of every neuron.
 *
 * Supported: stride, zero padding, dilation; groups = 1 only.
 * Spikformer's 1x1 Conv1d (q/k/v, proj, MLP of the ImageNet/DVS variants) is
 * {@link spikeConv1d} with k = 1; on [N, C, L] spikes packed along the tokens
 * it is the same scatter with a 1x1 kernel (no re-packing along channels).
 *
 * {@link countsConv2d} is the same convolution of a float tensor of mostly
 * zeros (Spikeformer's SEW ADD output: spike counts 0..2), work per nonzero,
 * each nonzero v scattering v times its kernel column (the weighted bucket sums).
 */
import { freeArray, heapArray } from "../../tensor/heap.js";
import { packRows, wordsFor } from "../../tensor/bits.js";
import { sampledDensity } from "../../parallel/balance.js";
import { fail, fmtShape } from "../../tensor/errors.js";
import { Spikes } from "../../tensor/spikes.js";
import { Tensor } from "../../tensor/tensor.js";
import { convDataThreads, convForwardThreads, convWeightThreads } from "../../kernels/conv/threads.js";
import { addChannelBiasThreads } from "../../kernels/bias/threads.js";
import { spikeConvForwardThreads, spikeConvWeightPart, spikeConvWeightThreads } from "../../kernels/spike-conv/threads.js";
import { gradsBesideInputGrad } from "./grads-beside.js";
import { record } from "../../autograd/tape.js";
import { commonDtype, unzeroed } from "../util.js";
import { convGeometry, pair, type Pair } from "../conv.js";

/** Options of {@link spikeConv2d}; each of stride, padding and dilation is one number or [h, w]. */
export interface SpikeConv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  /** Must be 1 (grouped event-driven convolution is not implemented). */
  groups?: number;
}

/** Options of {@link spikeConv1d}. */
export interface SpikeConv1dOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  /** Must be 1. */
  groups?: number;
}

/**
 * Nonzero shares of a counts input from which its forward, and its weight
 * gradient, run as the dense conv2d (im2col + gemm) instead: the sparse sums
 * pay per nonzero and tap, the gemm per element. Measured on Spikeformer's
 * SEW shapes (`npx tsx bench/counts-conv.bench.ts`): the forward breaks even
 * near 0.2 (stride 2) to 0.25 (stride 1), the weight gradient near 0.5.
 */
const COUNTS_DENSE_FORWARD = 0.2;
const COUNTS_DENSE_GRAD = 0.45;

/**
 * The nonzeros of counts x [N, C, H, W] as bits (rows of W packed, as Spikes'
 * words), in the heap: the set bits the counts kernels visit. Free after use.
 */
function countsSupport(x: Tensor, rows: number, wd: number): Uint32Array {
  const words = heapArray(Uint32Array, rows * wordsFor(wd), false);
  packRows(x.data, rows, wd, words);
  return words;
}

/** Shared core: spikes [N, C, H, W] (or counts, with their support bits), weight data laid out [O, C, kh, kw]. */
function spikeConvCore(
  op: string, s: Spikes | Tensor, weight: Tensor, bias: Tensor | null,
  n: number, cIn: number, h: number, wd: number, o: number, kh: number, kw: number,
  stride: [number, number], padding: [number, number], dilation: [number, number], groups: number | undefined,
  outShape: (oh: number, ow: number) => number[],
): Tensor {
  const dtype = bias ? commonDtype(op, s, weight, bias) : commonDtype(op, s, weight);
  const what = s instanceof Spikes ? "spikes" : "input";
  if (groups !== undefined && groups !== 1) fail(op, `only groups = 1 is supported for ${what === "spikes" ? "spike" : "counts"} input, got groups ${groups}`);
  if (weight.shape[1] !== cIn) fail(op, `weight ${fmtShape(weight.shape)} expects ${weight.shape[1]} input channels but the ${what} ${fmtShape(s.shape)} have ${cIn}`);
  const g = convGeometry(op, weight, bias, h, wd, kh, kw, stride, padding, dilation);
  const { oh, ow } = g;
  const kk = cIn * kh * kw;
  const ohw = oh * ow;
  const wpr = wordsFor(wd);
  const counts = s instanceof Spikes ? null : s.data;
  const dims = { n, c: cIn, o, wpr, g };
  const denseDims = { n, cIn, o, groups: 1, g };
  // Counts: their nonzeros as bits, made again for the backward (one pass over x) rather than held between the two.
  const bits = (): Uint32Array => (s instanceof Spikes ? s.words : countsSupport(s, n * cIn * h, wd));
  const done = (words: Uint32Array): void => void (s instanceof Spikes || freeArray(words, `released by ${op} (the counts' nonzero bits)`));

  const out = unzeroed(outShape(oh, ow), dtype);
  // The nonzero share of counts, from a sample of rows (a pass over them all cost a third of a dense forward).
  const density = counts === null ? 0 : sampledDensity(counts, 0, n * cIn * h, wd);
  if (density >= COUNTS_DENSE_FORWARD) {
    // Dense enough that im2col + gemm is faster: the same products added in the same order, so the same bits.
    convForwardThreads(denseDims, counts!, weight.data, out.data);
  } else {
    // The kernels read the weight [O, C kh kw] as [C kh kw, O] (each tap's O weights contiguous), packed from it.
    const fwdWords = bits();
    spikeConvForwardThreads(dims, fwdWords, weight.data, out.data, undefined, counts, true);
    done(fwdWords);
  }
  if (bias) addChannelBiasThreads(out.data, bias.data, n, o, ohw);

  const inputs = bias ? [s, weight, bias] : [s, weight];
  return record(op, out, inputs, (gy) => {
    let gs: Tensor | null = null;
    let gw: Tensor | null = null;
    let gb: Tensor | null = null;
    const inputGrad = (): void => {
      if (!s.requiresGrad) return;
      // Dense, the very computation of conv2d's input gradient (columns = Wᵀ g, then col2im), threaded over images.
      gs = unzeroed(s.shape, dtype);
      convDataThreads(denseDims, gy.data, weight.data, gs.data);
    };
    const sparse = weight.requiresGrad && density < COUNTS_DENSE_GRAD;
    // Not zeroed: the scatter runs fresh, each thread zeroing the rows it sums into.
    const accW = sparse ? heapArray(dtype === "float32" ? Float32Array : Float64Array, kk * o, false) : null;
    const words = sparse ? bits() : null;
    if (sparse) gw = unzeroed(weight.shape, dtype);
    if (bias && bias.requiresGrad) gb = unzeroed(bias.shape, dtype);
    // The weight gradient's scatter and transpose and the bias gradient whole on a worker while the input
    // gradient's claimed images start on the calling thread (where it claims; else one after the other).
    gradsBesideInputGrad(
      inputGrad,
      !sparse ? null : {
        acc: accW!, rows: kk, cols: o, gw: gw!, part: spikeConvWeightPart(dims, words!, gy.data, accW!, counts, true),
        run: () => spikeConvWeightThreads(dims, words!, gy.data, accW!, undefined, counts, true),
      },
      gb === null ? null : { g: gy.data, gb, outer: n, channels: o, inner: ohw },
    );
    if (sparse) {
      done(words!);
      freeArray(accW!, "released by the spike conv backward (its accumulator)");
    } else if (weight.requiresGrad) {
      // conv2d's weight gradient: the same products in the same (batch, position) order, the same bits.
      const acc = heapArray(dtype === "float32" ? Float32Array : Float64Array, o * kk);
      convWeightThreads(denseDims, gy.data, counts!, acc);
      gw = unzeroed(weight.shape, dtype);
      gw.data.set(acc);
      freeArray(acc, `released by the ${op} backward (its accumulator)`);
    }
    return [gs, gw, gb];
  });
}

/**
 * Event-driven 2-D convolution of spikes `[N, C, H, W]` (packed along W) with
 * weight `[O, C, kh, kw]` and optional bias `[O]` -> float `[N, O, OH, OW]`,
 * PyTorch semantics. Cost ~ spikes · kh · kw · O adds.
 */
export function spikeConv2d(s: Spikes, weight: Tensor, bias?: Tensor | null, opts: SpikeConv2dOptions = {}): Tensor {
  return conv2dOf("spikeConv2d", s, weight, bias ?? null, opts);
}

/** spikeConv2d / countsConv2d: the shapes checked, then the shared core. */
function conv2dOf(op: string, x: Spikes | Tensor, weight: Tensor, bias: Tensor | null, opts: SpikeConv2dOptions): Tensor {
  if (x.rank !== 4) fail(op, `input must be ${x instanceof Spikes ? "spikes " : ""}[N, C, H, W], got ${fmtShape(x.shape)}`);
  if (weight.rank !== 4) fail(op, `weight must be [O, C, kh, kw], got ${fmtShape(weight.shape)}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [o, , kh, kw] = weight.shape as [number, number, number, number];
  return spikeConvCore(
    op, x, weight, bias, n, c, h, w, o, kh, kw,
    pair(op, "stride", opts.stride, 1, 1), pair(op, "padding", opts.padding, 0, 0), pair(op, "dilation", opts.dilation, 1, 1),
    opts.groups, (oh, ow) => [n, o, oh, ow],
  );
}

/**
 * Event-driven 1-D convolution of spikes `[N, C, L]` (packed along L) with
 * weight `[O, C, k]`, optional bias `[O]` -> float `[N, O, OL]`; conv2d over a
 * height of 1. With k = 1 this is Spikformer's token-wise Conv1d.
 */
export function spikeConv1d(s: Spikes, weight: Tensor, bias?: Tensor | null, opts: SpikeConv1dOptions = {}): Tensor {
  const op = "spikeConv1d";
  if (s.rank !== 3) fail(op, `input must be spikes [N, C, L], got ${fmtShape(s.shape)}`);
  if (weight.rank !== 3) fail(op, `weight must be [O, C, k], got ${fmtShape(weight.shape)}`);
  const [n, c, l] = s.shape as [number, number, number];
  const [o, , k] = weight.shape as [number, number, number];
  const [st] = pair(op, "stride", opts.stride, 1, 1);
  const [p] = pair(op, "padding", opts.padding, 0, 0);
  const [d] = pair(op, "dilation", opts.dilation, 1, 1);
  return spikeConvCore(op, s, weight, bias ?? null, n, c, 1, l, o, 1, k, [1, st], [0, p], [1, d], opts.groups, (_oh, ol) => [n, o, ol]);
}

/**
 * Event-driven 2-D convolution of a float tensor `[N, C, H, W]` of mostly
 * zeros (spike counts: Spikeformer's SEW ADD output, 0..2) with weight
 * `[O, C, kh, kw]` and optional bias `[O]` -> `[N, O, OH, OW]`, PyTorch
 * semantics: each nonzero v adds v times its kernel column to the outputs it
 * reaches. Any values are accepted and the result equals the dense
 * {@link conv2d} bit for bit (finite weights; float32 and float64): each
 * product v w is rounded once as the dense conv's is, and the sums run in
 * its order, skipping the zero terms, which cannot change them. Cost ~
 * nonzeros · kh · kw · O multiply-adds; from a nonzero share of 0.2 on the
 * forward (0.45 the weight gradient) runs as the dense conv2d's, which is
 * then faster (the same bits; the share estimated from a sample of rows).
 * Backward: the weight gradient sparse over the nonzeros (same bits as
 * conv2d's), the input gradient dense (as {@link spikeConv2d}'s), the bias
 * gradient a per-channel sum.
 */
export function countsConv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: SpikeConv2dOptions = {}): Tensor {
  return conv2dOf("countsConv2d", x, weight, bias ?? null, opts);
}
