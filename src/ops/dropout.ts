/** Inverted dropout with a seeded generator. */
import { fail } from "../tensor/errors.js";
import type { Rng } from "../tensor/random.js";
import { Tensor } from "../tensor/tensor.js";
import { applyMask, keepMask } from "../kernels/dropout.js";
import { record } from "../autograd/tape.js";
import { empty } from "./util.js";
import { mul } from "./elementwise.js";

/**
 * Zeroes each element with probability p and scales the survivors by
 * 1 / (1 - p), so the expectation is unchanged. Identity (x itself, no draws)
 * when `training` is false or p = 0; p = 1 gives zeros. In training it draws
 * exactly one 32-bit number per element from `rng`, so runs are reproducible.
 */
export function dropout(x: Tensor, p: number, rng: Rng, training: boolean): Tensor {
  if (!(p >= 0 && p <= 1)) fail("dropout", `p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x;
  const mask = new Uint8Array(x.size);
  keepMask(rng, p, mask);
  const scale = p === 1 ? 0 : 1 / (1 - p);
  const out = empty(x.shape, x.dtype);
  applyMask(x.data, mask, scale, out.data);
  return record("dropout", out, [x], (g) => {
    const gx = empty(x.shape, x.dtype);
    applyMask(g.data, mask, scale, gx.data);
    return [gx];
  });
}

/**
 * Stochastic depth (timm's `drop_path`): zeroes whole slices x[i, ...] of the
 * first axis with probability p and scales the kept ones by 1 / (1 - p).
 * Identity (x itself, no draws) when `training` is false or p = 0. Draws one
 * uniform number per slice from `rng` (kept when floor(1 - p + u) = 1, as timm).
 */
export function dropPath(x: Tensor, p: number, rng: Rng, training: boolean): Tensor {
  if (!(p >= 0 && p < 1)) fail("dropPath", `p must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const keep = 1 - p;
  const scale = Tensor.zeros([x.shape[0]!, ...x.shape.slice(1).map(() => 1)], x.dtype);
  for (let i = 0; i < scale.size; i++) scale.data[i] = Math.floor(keep + rng.uniform()) / keep;
  return mul(x, scale);
}
