/** Ternary select with broadcasting: the kernel of `where`. */
import type { FloatArray } from "../tensor/tensor.js";

/**
 * out[idx] = c[idx . cs] != 0 ? a[idx . as] : b[idx . bs] over `shape`
 * (strides 0 on broadcast axes). NaN in c counts as true (nonzero).
 */
export function selectBroadcast(
  c: FloatArray, cs: readonly number[], a: FloatArray, as: readonly number[], b: FloatArray, bs: readonly number[],
  out: FloatArray, shape: readonly number[],
): void {
  const n = out.length;
  if (n === 0) return;
  const rank = shape.length;
  if (rank === 0) {
    out[0] = c[0] !== 0 ? a[0]! : b[0]!;
    return;
  }
  const inner = shape[rank - 1]!;
  const ci = cs[rank - 1]!;
  const ai = as[rank - 1]!;
  const bi = bs[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let co = 0;
  let ao = 0;
  let bo = 0;
  for (let o = 0; o < n; o += inner) {
    for (let j = 0; j < inner; j++) out[o + j] = c[co + j * ci] !== 0 ? a[ao + j * ai]! : b[bo + j * bi]!;
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      co += cs[d]!;
      ao += as[d]!;
      bo += bs[d]!;
      if (idx[d]! < shape[d]!) break;
      co -= cs[d]! * shape[d]!;
      ao -= as[d]! * shape[d]!;
      bo -= bs[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}
