/** IAND, SEW ResNet's binary residual: (NOT a) AND s. */
import { fail, fmtShape } from "../../tensor/errors.js";
import { sameShape } from "../../tensor/shape.js";
import { Spikes } from "../../tensor/spikes.js";
import { allocFloat, Tensor } from "../../tensor/tensor.js";
import { maskedScale } from "../../kernels/spike-mask.js";
import { record } from "../../autograd/tape.js";

/**
 * IAND(a, s) = (1 - a) * s, computed as the bitwise s & ~a, where a is the
 * branch's output spikes and s the shortcut spikes (Spikformer V2 Table VI).
 * Backward treats it as the float product: dL/da = -g * s, dL/ds = g * (1 - a),
 * so the gradient reaches the surrogates of both neurons.
 */
export function iand(a: Spikes, s: Spikes): Spikes {
  if (!(a instanceof Spikes) || !(s instanceof Spikes)) fail("iand", "both operands must be Spikes");
  if (!sameShape(a.shape, s.shape)) fail("iand", `shapes ${fmtShape(a.shape)} and ${fmtShape(s.shape)} must be equal`);
  if (a.dtype !== s.dtype) fail("iand", `spikes ${fmtShape(a.shape)} carry ${a.dtype} gradients but ${fmtShape(s.shape)} carry ${s.dtype}`);
  const out = s.andNot(a);
  return record("iand", out, [a, s], (g) => {
    const dtype = a.dtype;
    const ga = a.requiresGrad ? allocFloat(dtype, a.size) : null;
    if (ga) maskedScale(g.data, s.words, s.rows, s.cols, false, -1, ga);
    const gs = s.requiresGrad ? allocFloat(dtype, s.size) : null;
    if (gs) maskedScale(g.data, a.words, a.rows, a.cols, true, 1, gs);
    return [ga && new Tensor(ga, a.shape), gs && new Tensor(gs, s.shape)];
  });
}
