/** Batched matrix product with NumPy-style batch broadcasting. */
import { fail, fmtShape } from "../tensor/errors.js";
import { broadcastShapes, sizeOf, type Shape } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import { gemmThreads } from "../kernels/gemm/threads.js";
import { record } from "../autograd/tape.js";
import { commonDtype, empty, unbroadcast } from "./util.js";

/** Batch offsets of each output matrix into a and b, under batch broadcasting. */
function batchOffsets(batch: Shape, aBatch: Shape, bBatch: Shape, aMat: number, bMat: number): [Int32Array, Int32Array] {
  const n = sizeOf(batch);
  const ao = new Int32Array(n);
  const bo = new Int32Array(n);
  const r = batch.length;
  for (let i = 0; i < n; i++) {
    let rem = i;
    let ai = 0;
    let bi = 0;
    let am = 1;
    let bm = 1;
    for (let d = r - 1; d >= 0; d--) {
      const idx = rem % batch[d]!;
      rem = Math.floor(rem / batch[d]!);
      const da = d - (r - aBatch.length);
      const db = d - (r - bBatch.length);
      if (da >= 0) {
        if (aBatch[da] !== 1) ai += idx * am;
        am *= aBatch[da]!;
      }
      if (db >= 0) {
        if (bBatch[db] !== 1) bi += idx * bm;
        bm *= bBatch[db]!;
      }
    }
    ao[i] = ai * aMat;
    bo[i] = bi * bMat;
  }
  return [ao, bo];
}

/**
 * a @ b for a `[..., m, k]`, b `[..., k, n]` (1-D operands are not promoted:
 * both must have rank >= 2); batch axes broadcast. Backward: dA = g bᵀ, dB = aᵀ g.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const op = "matmul";
  const dtype = commonDtype(op, a, b);
  if (a.rank < 2 || b.rank < 2) fail(op, `operands need rank >= 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [k2, n] = b.shape.slice(-2) as [number, number];
  if (k !== k2) fail(op, `inner sizes differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (expected a[..., m, k] @ b[..., k, n])`);
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batch = broadcastShapes(op, aBatch, bBatch);
  const out = empty([...batch, m, n], dtype);
  const [ao, bo] = batchOffsets(batch, aBatch, bBatch, m * k, k * n);
  for (let i = 0; i < ao.length; i++) gemmThreads(a.data, ao[i]!, false, b.data, bo[i]!, false, out.data, i * m * n, m, n, k, false);
  return record(op, out, [a, b], (g) => {
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) {
      const full = empty([...batch, m, k], dtype);
      for (let i = 0; i < ao.length; i++) gemmThreads(g.data, i * m * n, false, b.data, bo[i]!, true, full.data, i * m * k, m, k, n, false);
      ga = unbroadcast(full, a.shape);
    }
    if (b.requiresGrad) {
      const full = empty([...batch, k, n], dtype);
      for (let i = 0; i < ao.length; i++) gemmThreads(a.data, ao[i]!, true, g.data, i * m * n, false, full.data, i * k * n, k, n, m, false);
      gb = unbroadcast(full, b.shape);
    }
    return [ga, gb];
  });
}
