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
 */
import { freeArray, heapArray } from "../../tensor/heap.js";
import { fail, fmtShape } from "../../tensor/errors.js";
import { Spikes } from "../../tensor/spikes.js";
import { Tensor } from "../../tensor/tensor.js";
import { convDataThreads } from "../../kernels/conv/threads.js";
import { addChannelBiasThreads, sumPerChannelThreads } from "../../kernels/bias/threads.js";
import { spikeConvForwardThreads, spikeConvWeightThreads } from "../../kernels/spike-conv/threads.js";
import { transposeThreads } from "../../kernels/transpose/threads.js";
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

/** Shared core: spikes [N, C, H, W], weight data laid out [O, C, kh, kw]. */
function spikeConvCore(
  op: string, s: Spikes, weight: Tensor, bias: Tensor | null,
  n: number, cIn: number, h: number, wd: number, o: number, kh: number, kw: number,
  stride: [number, number], padding: [number, number], dilation: [number, number], groups: number | undefined,
  outShape: (oh: number, ow: number) => number[],
): Tensor {
  const dtype = bias ? commonDtype(op, s, weight, bias) : commonDtype(op, s, weight);
  if (groups !== undefined && groups !== 1) fail(op, `only groups = 1 is supported for spike input, got groups ${groups}`);
  if (weight.shape[1] !== cIn) fail(op, `weight ${fmtShape(weight.shape)} expects ${weight.shape[1]} input channels but the spikes ${fmtShape(s.shape)} have ${cIn}`);
  const g = convGeometry(op, weight, bias, h, wd, kh, kw, stride, padding, dilation);
  const { oh, ow } = g;
  const kk = cIn * kh * kw;
  const ohw = oh * ow;
  const wpr = s.wordsPerRow;

  // Weight [O, C kh kw] -> [C kh kw, O]: each tap's O weights contiguous.
  const wT = unzeroed([kk * o], dtype).data;
  transposeThreads(weight.data, 0, o, kk, wT, 0);
  const out = unzeroed(outShape(oh, ow), dtype);
  spikeConvForwardThreads({ n, c: cIn, o, wpr, g }, s.words, wT, out.data);
  if (bias) addChannelBiasThreads(out.data, bias.data, n, o, ohw);

  const inputs = bias ? [s, weight, bias] : [s, weight];
  return record(op, out, inputs, (gy) => {
    let gs: Tensor | null = null;
    let gw: Tensor | null = null;
    let gb: Tensor | null = null;
    if (s.requiresGrad) {
      // Dense, the very computation of conv2d's input gradient (columns = Wᵀ g, then col2im), threaded over images.
      gs = unzeroed(s.shape, dtype);
      convDataThreads({ n, cIn, o, groups: 1, g }, gy.data, weight.data, gs.data);
    }
    if (weight.requiresGrad) {
      const accW = heapArray(dtype === "float32" ? Float32Array : Float64Array, kk * o);
      spikeConvWeightThreads({ n, c: cIn, o, wpr, g }, s.words, gy.data, accW);
      gw = unzeroed(weight.shape, dtype);
      transposeThreads(accW, 0, kk, o, gw.data, 0);
      freeArray(accW, "released by the spike conv backward (its accumulator)");
    }
    if (bias && bias.requiresGrad) {
      gb = unzeroed(bias.shape, dtype);
      sumPerChannelThreads(gy.data, gb.data, n, o, ohw);
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
  const op = "spikeConv2d";
  if (s.rank !== 4) fail(op, `input must be spikes [N, C, H, W], got ${fmtShape(s.shape)}`);
  if (weight.rank !== 4) fail(op, `weight must be [O, C, kh, kw], got ${fmtShape(weight.shape)}`);
  const [n, c, h, w] = s.shape as [number, number, number, number];
  const [o, , kh, kw] = weight.shape as [number, number, number, number];
  return spikeConvCore(
    op, s, weight, bias ?? null, n, c, h, w, o, kh, kw,
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
