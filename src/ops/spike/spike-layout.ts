/** Differentiable layout ops on Spikes: reshape, head split, max-pool (OR over the window). */
import { heapArray } from "../../tensor/heap.js";
import { fail, fmtShape } from "../../tensor/errors.js";
import { sizeOf } from "../../tensor/shape.js";
import { Spikes } from "../../tensor/spikes.js";
import { Tensor } from "../../tensor/tensor.js";
import { record } from "../../autograd/tape.js";
import { maxPoolBitsThreads, maxPoolGradThreads } from "../../kernels/spike-pool/threads.js";
import { transposeThreads } from "../../kernels/transpose/threads.js";
import { splitHeadsBits } from "../../kernels/spike-layout.js";
import { copyStridedThreads } from "../../kernels/copy/threads.js";
import type { PoolGeometry } from "../../kernels/spike-pool/spike-pool.js";
import { empty, unzeroed } from "../util.js";

/** Same bits under a new shape whose last axis is unchanged (rows stay word-aligned). */
export function reshapeSpikes(s: Spikes, shape: readonly number[]): Spikes {
  const out = s.reshape(shape);
  return record("reshapeSpikes", out, [s], (g) => [new Tensor(g.data, s.shape)]);
}

/**
 * [..., N, heads*d] -> [..., heads, N, d]: channel c goes to head floor(c / d),
 * as in Spikformer's reshape + permute. Bits are moved one set bit at a time, or a word at a time
 * where d is a multiple of 32.
 */
export function splitHeads(s: Spikes, heads: number): Spikes {
  const op = "splitHeads";
  if (s.rank < 2) fail(op, `needs spikes [..., N, C], got ${fmtShape(s.shape)}`);
  const C = s.cols;
  if (!Number.isInteger(heads) || heads < 1 || C % heads !== 0) fail(op, `${C} channels do not split into ${heads} heads`);
  const d = C / heads;
  const n = s.shape[s.rank - 2]!;
  const outer = sizeOf(s.shape.slice(0, -2));
  const out = Spikes.zeros([...s.shape.slice(0, -2), heads, n, d], s.dtype);
  splitHeadsBits(s.words, out.words, outer, n, heads, d);
  return record(op, out, [s], (g) => {
    const gx = unzeroed(s.shape, g.dtype);
    // g [outer, heads, n, d] read as [outer, n, heads, d] (the head merge is that permute), written row-major.
    copyStridedThreads(g.data, 0, [heads * n * d, d, n * d, 1], gx.data, 0, [n * heads * d, heads * d, d, 1], [outer, n, heads, d]);
    return [gx];
  });
}

/** Options of {@link maxPool2dSpikes}, as PyTorch's MaxPool2d. */
export interface SpikePoolOptions {
  kernel: number;
  stride?: number;
  padding?: number;
}

/**
 * Max-pool of spikes [N, C, H, W]: an OR over each window, so the output is
 * spikes again. The gradient goes to the element PyTorch's max_pool2d picks
 * (the first maximum in row-major window order).
 */
export function maxPool2dSpikes(s: Spikes, opts: SpikePoolOptions): Spikes {
  const op = "maxPool2dSpikes";
  if (s.rank !== 4) fail(op, `needs spikes [N, C, H, W], got ${fmtShape(s.shape)}`);
  const k = opts.kernel;
  const st = opts.stride ?? k;
  const pad = opts.padding ?? 0;
  if (!(k >= 1 && st >= 1 && pad >= 0 && pad <= k / 2)) fail(op, `kernel ${k}, stride ${st}, padding ${pad}: need kernel, stride >= 1 and 0 <= padding <= kernel/2`);
  const [N, C, H, W] = s.shape as [number, number, number, number];
  const oh = Math.floor((H + 2 * pad - k) / st) + 1;
  const ow = Math.floor((W + 2 * pad - k) / st) + 1;
  if (oh < 1 || ow < 1) fail(op, `input ${fmtShape(s.shape)} is smaller than the kernel ${k} with padding ${pad}`);
  const geo: PoolGeometry = { planes: N * C, h: H, w: W, kh: k, kw: k, sh: st, sw: st, ph: pad, pw: pad, oh, ow };
  const out = Spikes.zeros([N, C, oh, ow], s.dtype);
  const argmax = s.requiresGrad ? heapArray(Int32Array, N * C * oh * ow, false) : null; // the kernels write every entry
  maxPoolBitsThreads(s.words, out.words, argmax, geo);
  return record(op, out, [s], (g) => {
    const gx = unzeroed(s.shape, g.dtype); // written whole: each thread zeroes its planes, then scatters onto them
    maxPoolGradThreads(g.data, argmax!, gx.data, N * C, H * W, oh * ow);
    return [gx];
  }, argmax ? [argmax] : undefined);
}

/** Swaps the last two axes of spikes (a bit-matrix transpose); the gradient is the float transpose. */
export function transposeSpikes(s: Spikes): Spikes {
  const out = s.transposeLast2();
  const r = s.shape[s.rank - 2]!;
  const c = s.cols;
  return record("transposeSpikes", out, [s], (g) => {
    const gx = unzeroed(s.shape, g.dtype);
    // g [..., c, r] back to [..., r, c].
    transposeThreads(g.data, 0, c, r, gx.data, 0, sizeOf(s.shape.slice(0, -2)));
    return [gx];
  });
}
