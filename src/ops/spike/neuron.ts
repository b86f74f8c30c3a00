/**
 * The fused multi-step spiking neuron: [T, ...] float input to [T, ...] packed
 * spikes in one autograd node (REFERENCE section 1). Forward saves H for every
 * step and the packed spikes; backward is one reverse BPTT loop instead of
 * T x 5 taped elementwise ops.
 */
import { fail, fmtShape } from "../../tensor/errors.js";
import { sizeOf } from "../../tensor/shape.js";
import { Spikes } from "../../tensor/spikes.js";
import { allocFloat, Tensor, type DType, type FloatArray } from "../../tensor/tensor.js";
import { freeArray } from "../../tensor/heap.js";
import { wordsFor } from "../../tensor/bits.js";
import { LEAK_DIV, LEAK_MUL, LEAK_NONE, type NeuronKernelParams } from "../../kernels/neuron/neuron.js";
import { neuronBackwardThreads, neuronForwardThreads } from "../../kernels/neuron/threads.js";
import { needsGrad, record } from "../../autograd/tape.js";
import { sigmoidSurrogate, surrogateDerivative, type Surrogate } from "./surrogate.js";

/** Options of {@link multiStepNeuron}. Defaults are SpikingJelly's. */
export interface NeuronOptions {
  /** LIF (leaky), IF (no leak) or PLIF (leak 1/tau = sigmoid(w), w learnable). */
  kind: "lif" | "if" | "plif";
  /** LIF membrane time constant, must be > 1 (SpikingJelly asserts it). Default 2. Ignored by IF and PLIF. */
  tau?: number;
  /** Firing threshold: S = (H - vThreshold >= 0). Default 1. */
  vThreshold?: number;
  /** Hard-reset value (and rest potential); null = soft reset (subtract the threshold, rest at 0). Default 0. */
  vReset?: number | null;
  /**
   * Cut the reset from the graph (gradients do not flow through S into V).
   * Default false, as in SpikingJelly; Spikformer passes true.
   */
  detachReset?: boolean;
  /** LIF/PLIF: the input is scaled by 1/tau too (H = V + (X - (V - v_reset)) / tau). Default true. */
  decayInput?: boolean;
  /** Backward stand-in for the step. Default sigmoid, alpha 4. */
  surrogate?: Surrogate;
  /** PLIF only (required there): the one-element parameter w, 1/tau = sigmoid(w). Gets a gradient. */
  plifW?: Tensor;
}

/** What {@link multiStepNeuronTrace} returns. */
export interface NeuronTrace {
  /** The spikes, differentiable exactly as {@link multiStepNeuron}'s output. */
  spikes: Spikes;
  /** H (the membrane before firing) at every step, [T, ...]; not differentiable. */
  h: Tensor;
  /** The membrane after the last step's reset, [...] (without T); not differentiable. */
  v: Tensor;
}

const OP = "multiStepNeuron";
const OP_ANALOG = "multiStepAnalogNeuron";

function sig(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

function checkOptions(x: Tensor, opts: NeuronOptions): void {
  if (!(x instanceof Tensor)) fail(OP, "input must be a float Tensor [T, ...]");
  checkNeuronOptions(OP, x.shape, opts);
  if (opts.kind === "plif") {
    const w = opts.plifW;
    if (!(w instanceof Tensor)) fail(OP, "kind \"plif\" needs plifW, a one-element Tensor (1/tau = sigmoid(w))");
    if (w.size !== 1) fail(OP, `plifW must hold one element (a scalar), got shape ${fmtShape(w.shape)}`);
    if (w.dtype !== x.dtype) fail(OP, `input ${fmtShape(x.shape)} is ${x.dtype} but plifW is ${w.dtype}; convert one with clone(dtype)`);
    if (!Number.isFinite(w.data[0]!)) fail(OP, `plifW must be finite, got ${w.data[0]}`);
  } else if (opts.plifW !== undefined) {
    fail(OP, `plifW is only for kind "plif", got kind "${opts.kind}"`);
  }
}

/** Checks a neuron's options (all but PLIF's parameter) for an input of `shape` [T, ...], naming `op`. */
export function checkNeuronOptions(op: string, shape: readonly number[], opts: Omit<NeuronOptions, "plifW">): void {
  if (shape.length < 2) fail(op, `input must be [T, ...] with at least one feature axis (rank >= 2), got shape ${fmtShape(shape)}`);
  const { kind } = opts;
  if (kind !== "lif" && kind !== "if" && kind !== "plif") fail(op, `kind must be "lif", "if" or "plif", got ${String(kind)}`);
  if (kind === "lif") {
    const tau = opts.tau ?? 2;
    if (typeof tau !== "number" || !(tau > 1) || !Number.isFinite(tau)) fail(op, `LIF tau must be a finite number > 1, got ${tau}`);
  }
  const vTh = opts.vThreshold ?? 1;
  if (typeof vTh !== "number" || !Number.isFinite(vTh)) fail(op, `vThreshold must be a finite number, got ${vTh}`);
  const vr = opts.vReset === undefined ? 0 : opts.vReset;
  if (vr !== null && (typeof vr !== "number" || !Number.isFinite(vr))) fail(op, `vReset must be a finite number or null (soft reset), got ${vr}`);
}

/**
 * Multi-step LIF / IF / PLIF neuron over x [T, ...] (time first), returning
 * spikes [T, ...]. The membrane starts at v_reset (0 for a soft reset) on every
 * call: no state survives between calls. Per element, for t = 0..T-1:
 *
 *     H[t] = V[t-1] + (X[t] - (V[t-1] - v_reset)) / tau     LIF, decayInput
 *     H[t] = V[t-1] - (V[t-1] - v_reset) / tau + X[t]       LIF, !decayInput
 *     H[t] = V[t-1] + X[t]                                  IF
 *     S[t] = H[t] - v_th >= 0;  V[t] = S ? v_reset : H (hard), H - v_th S (soft)
 *
 * (PLIF multiplies by sigmoid(w) instead of dividing by tau.) Every operation
 * rounds to the input dtype, so float32 results match SpikingJelly bit for bit
 * for tau 2. Backward: dL/dS through the surrogate, reverse in time, into x and
 * (PLIF) w. Note `detachReset` defaults to false like SpikingJelly; Spikformer
 * sets it to true.
 */
export function multiStepNeuron(x: Tensor, opts: NeuronOptions): Spikes {
  return run(x, opts, false).spikes;
}

/**
 * {@link multiStepNeuron} that also returns H for every step and the final
 * membrane, for inspection (costs one extra [T, ...] and [...] tensor).
 */
export function multiStepNeuronTrace(x: Tensor, opts: NeuronOptions): NeuronTrace {
  const { spikes, h, v } = run(x, opts, true);
  return { spikes, h: new Tensor(h!, x.shape), v: new Tensor(v, x.shape.slice(1)) };
}

/** A neuron's kernel parameters over an input of `shape` [T, ...] and `dtype`, its 1/tau (k) and surrogate (options checked). */
export function neuronPlan(shape: readonly number[], dtype: DType, opts: NeuronOptions): { p: NeuronKernelParams; k: number; surrogate: Surrogate } {
  const f32 = dtype === "float32";
  const rd = f32 ? Math.fround : (v: number) => v;
  const kind = opts.kind;
  const tau = kind === "lif" ? rd(opts.tau ?? 2) : 1;
  const vr = opts.vReset === undefined ? 0 : opts.vReset;
  const k = kind === "plif" ? rd(sig(opts.plifW!.data[0]!)) : kind === "lif" ? 1 / tau : 0;
  const cols = shape[shape.length - 1]!;
  const n = sizeOf(shape.slice(1));
  const p: NeuronKernelParams = {
    steps: shape[0]!,
    rows: cols === 0 ? 0 : n / cols,
    cols,
    leak: kind === "if" ? LEAK_NONE : kind === "lif" ? LEAK_DIV : LEAK_MUL,
    tau,
    k,
    decayInput: opts.decayInput ?? true,
    vTh: rd(opts.vThreshold ?? 1),
    vReset: vr === null ? 0 : rd(vr),
    hardReset: vr !== null,
    detachReset: opts.detachReset ?? false,
    f32,
  };
  return { p, k, surrogate: opts.surrogate ?? sigmoidSurrogate(4) };
}

function run(x: Tensor, opts: NeuronOptions, keepH: boolean): { spikes: Spikes; h: ReturnType<typeof allocFloat> | null; v: ReturnType<typeof allocFloat> } {
  checkOptions(x, opts);
  const dtype: DType = x.dtype;
  const w = opts.kind === "plif" ? opts.plifW! : null;
  const { p, k, surrogate } = neuronPlan(x.shape, dtype, opts);
  const inputs = w ? [x, w] : [x];
  const grad = needsGrad(...inputs);
  const { h, v, words } = charge(x, p, grad || keepH);
  const spikes = Spikes.fromKernelWords(words, x.shape, dtype);
  // H is the closure's own (unless traced): it goes back to the heap once the backward has run.
  record(OP, spikes, inputs, (g) => backwardOf(g, x, w, h!, words, p, k, surrogate), h !== null && !keepH ? [h] : undefined);
  if (!keepH) freeArray(v, "released by the neuron (its final membrane is not returned)");
  return { spikes, h, v };
}

/** The forward kernel over x: H for every step (when `keepH`), the spike words and the final membrane. */
function charge(x: Tensor, p: NeuronKernelParams, keepH: boolean): { h: FloatArray | null; v: FloatArray; words: Uint32Array } {
  // The kernel writes every H (when asked) and starts V at v_reset itself: no zero fill.
  const h = keepH ? allocFloat(x.dtype, x.size, true, false) : null;
  const v = allocFloat(x.dtype, p.rows * p.cols, true, false);
  const words = Spikes.allocWords(p.steps * p.rows * wordsFor(p.cols), false); // the neuron kernels write every word
  neuronForwardThreads(x.data, p, h, words, v);
  return { h, v, words };
}

/** dL/dx (and dL/dw for a PLIF w that requires grad) from the output gradient g. */
function backwardOf(g: Tensor, x: Tensor, w: Tensor | null, h: FloatArray, words: Uint32Array, p: NeuronKernelParams, k: number, surrogate: Surrogate): (Tensor | null)[] {
  const gx = allocFloat(x.dtype, x.size, true, false); // written in full by the backward
  const gk = neuronBackwardInto(g, h, words, w && w.requiresGrad ? x.data : null, p, surrogate, gx);
  const gw = w && w.requiresGrad ? Tensor.full(w.shape, gk * k * (1 - k), x.dtype) : null;
  return [new Tensor(gx, x.shape), gw];
}

/**
 * The analog multi-step neuron of Spikeformer's ImageNet model (LIAF, or
 * PLIAF with kind "plif"): the same charge, fire and reset as
 * {@link multiStepNeuron}, but the output is ReLU(H[t]), the membrane before
 * the reset, as a float tensor [T, ...]; the spike only drives the reset.
 * Backward: dL/dOut through the ReLU (H > 0) into H, reverse in time through
 * the reset as the options say (with detachReset no surrogate is involved),
 * into x and (PLIF) w.
 */
export function multiStepAnalogNeuron(x: Tensor, opts: NeuronOptions): Tensor {
  checkOptions(x, opts);
  const w = opts.kind === "plif" ? opts.plifW! : null;
  const plan = neuronPlan(x.shape, x.dtype, opts);
  const p: NeuronKernelParams = { ...plan.p, analog: true };
  const inputs = w ? [x, w] : [x];
  const { h, v, words } = charge(x, p, true);
  freeArray(v, "released by the analog neuron (its final membrane is not returned)");
  const out = allocFloat(x.dtype, x.size, true, false);
  for (let i = 0; i < out.length; i++) out[i] = h![i]! > 0 ? h![i]! : 0;
  const y = new Tensor(out, x.shape);
  if (!needsGrad(...inputs)) {
    freeArray(h!, "released by the analog neuron (no backward)");
    freeArray(words, "released by the analog neuron (no backward)");
    return y;
  }
  return record(OP_ANALOG, y, inputs, (g) => backwardOf(g, x, w, h!, words, p, plan.k, plan.surrogate), [h!, words]);
}

/**
 * The neuron backward of spike gradients g [T, ...] into gx (every element
 * written), from the saved H and spike words; x only for PLIF's parameter
 * gradient, whose sum (before the chain factor) it returns.
 */
export function neuronBackwardInto(
  g: Tensor, h: FloatArray, words: Uint32Array, x: FloatArray | null, p: NeuronKernelParams, surrogate: Surrogate, gx: FloatArray,
): number {
  // Unzeroed: the JS kernels zero the part they use, and the WASM one keeps its state in its own scratch.
  const gv = allocFloat("float64", p.rows * p.cols, true, false) as Float64Array;
  const gk = neuronBackwardThreads(g.data, h, words, x, p, surrogateDerivative(surrogate, p.f32), gx, gv, surrogate.sigmoidAlpha);
  freeArray(gv, "released by the neuron backward (its membrane-gradient scratch)");
  return gk;
}
