/**
 * Reference kernels of the fused multi-step spiking neuron (SpikingJelly's
 * MultiStepLIFNode / IFNode / ParametricLIFNode), REFERENCE section 1.
 * Input is [T, n] row-major with n = rows * cols per time step; spikes are
 * written packed along the last axis (cols), every row word-aligned.
 * With `f32` every elementary operation rounds to float32, so the forward is
 * bit-equal to the same expression evaluated op by op on float32 tensors.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { BitspikeError } from "../../tensor/errors.js";
import { wasmKernelsEnabled, wasmSimdAvailable } from "../../wasm/backend.js";
import { lifForwardWasmCall, neuronKernel, sigmoidBackwardWasmCall } from "./wasm.js";
import { heapPtr, unstage } from "../../wasm/runtime.js";
import { inHeap } from "../../tensor/heap.js";
import { wordsFor } from "../../tensor/bits.js";
import { sigmoidGradF32, sigmoidGradF64 } from "./exp.js";

/** How the membrane leaks: IF (none), LIF (divide by tau), PLIF (multiply by k = sigmoid(w)). */
export const LEAK_NONE = 0;
export const LEAK_DIV = 1;
export const LEAK_MUL = 2;

export interface NeuronKernelParams {
  /** T: number of time steps. */
  steps: number;
  /** Rows per time step (product of the axes between T and the last). */
  rows: number;
  /** Length of the last axis. */
  cols: number;
  leak: number;
  /** Divisor of LEAK_DIV. */
  tau: number;
  /** Multiplier of LEAK_MUL (and 1/tau for backward of LEAK_DIV). */
  k: number;
  decayInput: boolean;
  vTh: number;
  /** Reset value of a hard reset, and the rest potential of the charge equation (0 for a soft reset). */
  vReset: number;
  hardReset: boolean;
  detachReset: boolean;
  f32: boolean;
  /**
   * LIAF / PLIAF: the output is ReLU(H[t]) and the spike drives only the reset,
   * so the backward takes dL/dOut through the ReLU (not the surrogate) into H.
   * With a hard, detached reset its backward is per neuron ({@link hardDetachedBackwardRange},
   * split over threads); otherwise the general loop {@link neuronBackward} runs it.
   */
  analog?: boolean;
}

function id(v: number): number {
  return v;
}

/**
 * Forward over t = 0..T-1, membrane starting at vReset. Writes H of every step
 * into `h` (when not null) and the packed spikes into `words` (zeroed first);
 * `v` (length n) is scratch and ends holding the final membrane V[T-1].
 */
export function neuronForward(x: FloatArray, p: NeuronKernelParams, h: FloatArray | null, words: Uint32Array, v: FloatArray): void {
  neuronForwardRange(x, p, h, words, v, 0, p.rows * wordsFor(p.cols));
}

/**
 * Element index of the first column of spike unit `u`: units are the (row,
 * spike word) pairs of one time step in row-major order, u = row wpr + q,
 * covering columns 32 q .. min(32 q + 32, cols) - 1 of that row. A range of
 * units is a contiguous range of elements (and of words) within every step.
 */
export function unitElem(u: number, cols: number, wpr: number): number {
  if (wpr === 0) return 0;
  const row = Math.floor(u / wpr);
  return row * cols + (u - row * wpr) * 32;
}

/**
 * {@link neuronForward} restricted to the neurons of spike units u0..u1-1
 * (see {@link unitElem}): only their H, spike words and V are written (words
 * of those units zeroed first). Neurons are independent, so running disjoint
 * unit ranges (on any threads) gives exactly the whole-tensor result.
 */
export function neuronForwardRange(
  x: FloatArray, p: NeuronKernelParams, h: FloatArray | null, words: Uint32Array, v: FloatArray, u0: number, u1: number,
): void {
  if (p.f32 && p.decayInput && (p.leak === LEAK_DIV || p.leak === LEAK_MUL)) {
    if (wasmKernelsEnabled() && lifWasmFits(x, h, v, p)) lifForwardRangeWasm(x as Float32Array, p, h as Float32Array | null, words, v as Float32Array, u0, u1);
    else if (p.leak === LEAK_DIV) lifForwardRangeJs(x, p, h, words, v, u0, u1);
    else neuronForwardRangeReference(x, p, h, words, v, u0, u1);
    return;
  }
  neuronForwardRangeReference(x, p, h, words, v, u0, u1);
}

/**
 * The general loop of the multi-step neuron (IF, LIF, PLIF; any reset), one
 * element at a time in SpikingJelly's order: the definition the fast LIF twins
 * ({@link lifForwardRangeJs}, {@link lifForwardRangeWasm}) are tested against.
 */
export function neuronForwardRangeReference(
  x: FloatArray, p: NeuronKernelParams, h: FloatArray | null, words: Uint32Array, v: FloatArray, u0: number, u1: number,
): void {
  const r = p.f32 ? Math.fround : id;
  const { steps, rows, cols, leak, tau, k, decayInput, vTh, vReset, hardReset } = p;
  const n = rows * cols;
  const wpr = wordsFor(cols);
  if (u1 <= u0) return;
  const rowA = Math.floor(u0 / wpr), rowB = Math.ceil(u1 / wpr);
  for (let t = 0; t < steps; t++) words.fill(0, t * rows * wpr + u0, t * rows * wpr + u1);
  v.fill(vReset, unitElem(u0, cols, wpr), unitElem(u1, cols, wpr));
  for (let t = 0; t < steps; t++) {
    const xo = t * n;
    for (let row = rowA; row < rowB; row++) {
      const io = row * cols;
      const wo = (t * rows + row) * wpr;
      const cA = row === rowA ? (u0 - row * wpr) * 32 : 0;
      const cB = row * wpr + wpr > u1 ? (u1 - row * wpr) * 32 : cols;
      for (let c = cA; c < cB; c++) {
        const i = io + c;
        const vp = v[i]!;
        const xv = x[xo + i]!;
        let hh: number;
        if (leak === LEAK_NONE) {
          hh = r(vp + xv);
        } else {
          const d = r(vp - vReset);
          if (decayInput) {
            const e = r(xv - d);
            hh = r(vp + (leak === LEAK_DIV ? r(e / tau) : r(e * k)));
          } else {
            hh = r(r(vp - (leak === LEAK_DIV ? r(d / tau) : r(d * k))) + xv);
          }
        }
        if (h !== null) h[xo + i] = hh;
        const z = r(hh - vTh);
        if (z >= 0) {
          words[wo + (c >>> 5)]! |= 1 << (c & 31);
          v[i] = hardReset ? vReset : z;
        } else {
          v[i] = hh;
        }
      }
    }
  }
}

/**
 * The LIF forward (decay_input, float32) with the rounding written out, so V8
 * compiles it without a call per element. Same operations, same order and the
 * same float32 roundings as the general loop above: bit-identical output.
 * The plain-TypeScript twin of {@link lifForwardRangeWasm}.
 */
export function lifForwardRangeJs(x: FloatArray, p: NeuronKernelParams, h: FloatArray | null, words: Uint32Array, v: FloatArray, u0: number, u1: number): void {
  const { steps, rows, cols, tau, vTh, vReset, hardReset } = p;
  const f = Math.fround;
  const n = rows * cols;
  const wpr = wordsFor(cols);
  if (u1 <= u0) return;
  const rowA = Math.floor(u0 / wpr), rowB = Math.ceil(u1 / wpr);
  for (let t = 0; t < steps; t++) words.fill(0, t * rows * wpr + u0, t * rows * wpr + u1);
  v.fill(vReset, unitElem(u0, cols, wpr), unitElem(u1, cols, wpr));
  for (let t = 0; t < steps; t++) {
    const xo = t * n;
    for (let row = rowA; row < rowB; row++) {
      const io = row * cols;
      const wo = (t * rows + row) * wpr;
      const cA = row === rowA ? (u0 - row * wpr) * 32 : 0;
      const cB = row * wpr + wpr > u1 ? (u1 - row * wpr) * 32 : cols;
      for (let c = cA; c < cB; c++) {
        const i = io + c;
        const vp = v[i]!;
        const hh = f(vp + f(f(x[xo + i]! - f(vp - vReset)) / tau));
        if (h !== null) h[xo + i] = hh;
        const z = f(hh - vTh);
        if (z >= 0) {
          words[wo + (c >>> 5)]! |= 1 << (c & 31);
          v[i] = hardReset ? vReset : z;
        } else {
          v[i] = hh;
        }
      }
    }
  }
}

/**
 * The single reverse BPTT loop. gS = dL/dS for all steps (dL/dOut for an
 * analog neuron, whose output is ReLU(H)), h = saved H,
 * words = the spikes. Writes dL/dX into gx and returns dL/dk (the sum over
 * all elements and steps of gH dH/dk; only meaningful for LEAK_MUL, where `x`
 * must be the forward input). `gv` (length n, float64) is scratch. With
 * `p.f32` every operation rounds to float32 (as SpikingJelly's float32
 * backward computes) and `derivative` must be the surrogate's float32 form
 * (surrogateDerivative in src/ops/spike/surrogate.ts); the dL/dk sum is float64.
 */
export function neuronBackward(
  gS: FloatArray,
  h: FloatArray,
  words: Uint32Array,
  x: FloatArray | null,
  p: NeuronKernelParams,
  derivative: (z: number) => number,
  gx: FloatArray,
  gv: Float64Array,
  sigmoidAlpha?: number,
): number {
  if (sigmoidAlpha !== undefined && splittableBackward(p, x !== null)) {
    hardDetachedBackwardRange(gS, h, words, p, sigmoidAlpha, gx, gv, 0, p.rows * wordsFor(p.cols));
    return 0;
  }
  const r = p.f32 ? Math.fround : id;
  const { steps, rows, cols, leak, decayInput, vTh, vReset, hardReset, detachReset } = p;
  const analog = p.analog === true;
  const n = rows * cols;
  const wpr = wordsFor(cols);
  const { dHdV, dHdX } = chargeGrads(p);
  const wantK = leak === LEAK_MUL && x !== null;
  let gk = 0;
  gv.fill(0);
  for (let t = steps - 1; t >= 0; t--) {
    const xo = t * n;
    for (let row = 0; row < rows; row++) {
      const io = row * cols;
      const wo = (t * rows + row) * wpr;
      for (let c = 0; c < cols; c++) {
        const i = io + c;
        const hh = h[xo + i]!;
        const sg = derivative(r(hh - vTh));
        const s = (words[wo + (c >>> 5)]! >>> (c & 31)) & 1;
        let dVdH: number;
        if (hardReset) dVdH = detachReset ? 1 - s : r(1 - s + r(r(vReset - hh) * sg));
        else dVdH = detachReset ? 1 : r(1 - r(vTh * sg));
        const gOut = analog ? (hh > 0 ? gS[xo + i]! : 0) : r(gS[xo + i]! * sg);
        const gH = r(gOut + r(gv[i]! * dVdH));
        gx[xo + i] = r(gH * dHdX);
        gv[i] = r(gH * dHdV);
        if (wantK) {
          // V[t-1] rebuilt from H[t-1] and S[t-1]; V[-1] = vReset.
          let vp = vReset;
          if (t > 0) {
            const hp = h[xo - n + i]!;
            const sp = (words[wo - rows * wpr + (c >>> 5)]! >>> (c & 31)) & 1;
            vp = sp === 0 ? hp : hardReset ? vReset : r(hp - vTh);
          }
          const d = vp - vReset;
          gk += gH * (decayInput ? x![xo + i]! - d : -d);
        }
      }
    }
  }
  return gk;
}

/**
 * True when the backward with a sigmoid surrogate takes a per-neuron path
 * (hard reset, detach_reset, no PLIF weight gradient) with no cross-neuron
 * sum, which {@link hardDetachedBackwardRange} can run on disjoint unit
 * ranges: the inlined sigmoid backward, or for an analog neuron (LIAF /
 * PLIAF), whose detached hard reset leaves the surrogate out altogether, the
 * same loop without it.
 */
export function splittableBackward(p: NeuronKernelParams, wantK: boolean): boolean {
  return p.hardReset && p.detachReset && !(p.leak === LEAK_MUL && wantK);
}

/**
 * The backward of Spikformer's neuron (hard reset, detach_reset) with the
 * sigmoid surrogate inlined: the same arithmetic as {@link neuronBackward}
 * calling the sigmoid surrogate's derivative (its float32 form
 * {@link sigmoidGradF32} for a float32 neuron), without a call per element.
 * For an analog neuron (LIAF / PLIAF, output ReLU(H)) the general loop's
 * arithmetic without its surrogate, which such a neuron never uses (dV/dH =
 * 1 - S; dL/dOut enters H through the ReLU); `alpha` is then unused.
 * Only the neurons of spike units u0..u1-1 (see {@link unitElem}) are touched
 * (gx and the scratch gv at their elements), so disjoint unit ranges on any
 * threads give exactly the whole-tensor result.
 *
 * Runs the WebAssembly SIMD twin ({@link hardDetachedSigmoidBackwardRangeWasm},
 * spike output only) where the kernel backend enables it and it fits
 * ({@link sigmoidWasmFits}), else {@link hardDetachedBackwardRangeJs}: the
 * same bits either way.
 */
export function hardDetachedBackwardRange(
  gS: FloatArray, h: FloatArray, words: Uint32Array, p: NeuronKernelParams, alpha: number, gx: FloatArray, gv: Float64Array,
  u0: number, u1: number,
): void {
  if (wasmKernelsEnabled() && sigmoidWasmFits(gS, h, gx, p, alpha)) {
    hardDetachedSigmoidBackwardRangeWasm(gS as Float32Array, h as Float32Array, words, p, alpha, gx as Float32Array, u0, u1);
  } else {
    hardDetachedBackwardRangeJs(gS, h, words, p, alpha, gx, gv, u0, u1);
  }
}

/**
 * True when PLIF's backward with its weight gradient takes the fast path (the
 * Spikeformer neuron: hard reset, detach_reset, decay_input; spike output, or
 * PLIAF's ReLU(H)): gH of every neuron and step comes from the split
 * per-neuron backward ({@link hardDetachedBackwardRange}: with the inlined
 * sigmoid, or the analog one without a surrogate), split over threads like LIF's ({@link plifMembraneGradParams}),
 * and {@link plifBackwardTail} then forms dX and the weight gradient's sum in
 * the general loop's order.
 */
export function plifFastBackward(p: NeuronKernelParams, wantK: boolean): boolean {
  return wantK && p.leak === LEAK_MUL && p.decayInput && p.hardReset && p.detachReset;
}

/**
 * PLIF's parameters with dH/dX = 1 (decay_input off changes nothing else the
 * backward reads: dH/dV stays 1 - k), so the split backward stores
 * gH itself, exactly: into a float64 array for a float64 neuron, a float32 one
 * for a float32 neuron (whose gH are float32 values; its WASM twin then runs).
 */
export function plifMembraneGradParams(p: NeuronKernelParams): NeuronKernelParams {
  return { ...p, decayInput: false };
}

/**
 * The end of PLIF's fast backward, from gH (every step, exact): dX = gH k
 * (rounded to gx's type on the store) and the returned sum over t = T-1..0 and
 * the neurons in order of gH dH/dk = gH (X - (V[t-1] - v_reset)): the general
 * loop's operations in its order, so its bits whatever thread split computed
 * gH. One pass with no exp; the sum is one fixed-order float64 reduction.
 */
export function plifBackwardTail(gH: FloatArray, h: FloatArray, words: Uint32Array, x: FloatArray, p: NeuronKernelParams, gx: FloatArray): number {
  const { steps, rows, cols, vReset } = p;
  const k = chargeGrads(p).dHdX; // k, rounded to float32 for a float32 neuron as the general loop's
  const n = rows * cols;
  const wpr = wordsFor(cols);
  let gk = 0;
  for (let t = steps - 1; t >= 0; t--) {
    const xo = t * n;
    for (let row = 0; row < rows; row++) {
      const io = row * cols;
      const wp = ((t - 1) * rows + row) * wpr;
      for (let q = 0; q < wpr; q++) {
        // S[t-1] (all set at t = 0: V[-1] = vReset, as after a hard reset), so d = V[t-1] - vReset = 0 or H[t-1] - vReset.
        const bits = t === 0 ? -1 : words[wp + q]!;
        const c1 = (q << 5) + 32 < cols ? (q << 5) + 32 : cols;
        for (let c = q << 5, i = io + c; c < c1; c++, i++) {
          const g = gH[xo + i]!;
          gx[xo + i] = g * k;
          const d = ((bits >>> (c & 31)) & 1) !== 0 ? vReset - vReset : h[xo - n + i]! - vReset;
          gk += g * (x[xo + i]! - d);
        }
      }
    }
  }
  return gk;
}

/**
 * dH/dV[t-1] and dH/dX of the charge equation: k = 1/tau for LIF, sigmoid(w)
 * for PLIF, none for IF; float32 values (k and 1 - k rounded) for a float32 neuron.
 */
export function chargeGrads(p: NeuronKernelParams): { dHdV: number; dHdX: number } {
  const r = p.f32 ? Math.fround : id;
  const k = p.leak === LEAK_NONE ? 0 : r(p.k);
  return { dHdV: r(1 - k), dHdX: p.leak !== LEAK_NONE && p.decayInput ? k : 1 };
}

/**
 * The plain-TypeScript twin of {@link hardDetachedBackwardRange},
 * whatever the backend: {@link sigmoidGradF32} and float32 operations for a
 * float32 neuron, {@link sigmoidGradF64} and float64 ones for a float64 neuron;
 * for an analog neuron no surrogate, and the general loop's gV (1 - S) term.
 */
export function hardDetachedBackwardRangeJs(
  gS: FloatArray, h: FloatArray, words: Uint32Array, p: NeuronKernelParams, alpha: number, gx: FloatArray, gv: Float64Array,
  u0: number, u1: number,
): void {
  const { steps, rows, cols, vTh, f32 } = p;
  const analog = p.analog === true;
  const n = rows * cols;
  const wpr = wordsFor(cols);
  const { dHdV, dHdX } = chargeGrads(p);
  const r = f32 ? Math.fround : id;
  if (u1 <= u0) return;
  const rowA = Math.floor(u0 / wpr), rowB = Math.ceil(u1 / wpr);
  gv.fill(0, unitElem(u0, cols, wpr), unitElem(u1, cols, wpr));
  for (let t = steps - 1; t >= 0; t--) {
    const xo = t * n;
    for (let row = rowA; row < rowB; row++) {
      const io = row * cols;
      const wo = (t * rows + row) * wpr;
      const qA = row === rowA ? u0 - row * wpr : 0;
      const qB = row * wpr + wpr > u1 ? u1 - row * wpr : wpr;
      // One spike word per 32 columns.
      for (let q = qA; q < qB; q++) {
        const bits = words[wo + q]!;
        const c0 = q << 5;
        const c1 = c0 + 32 < cols ? c0 + 32 : cols;
        for (let c = c0; c < c1; c++) {
          const i = io + c;
          // gV (1 - S) as the general loop forms it: on a spike gV 0 keeps gV's sign (-0 + -0 is -0; a +0 would not).
          const carried = r(gv[i]! * (1 - ((bits >>> (c & 31)) & 1)));
          let gH: number;
          if (analog) {
            gH = r((h[xo + i]! > 0 ? gS[xo + i]! : 0) + carried);
          } else {
            const z = r(h[xo + i]! - vTh);
            const sg = f32 ? sigmoidGradF32(alpha, z) : sigmoidGradF64(alpha, z);
            gH = r(r(gS[xo + i]! * sg) + carried);
          }
          gx[xo + i] = r(gH * dHdX);
          gv[i] = r(gH * dHdV);
        }
      }
    }
  }
}

/**
 * True when the WASM sigmoid backward applies: a float32 neuron on float32
 * arrays, and alpha and vTh float32 values (the lanes use them rounded; dH/dX
 * and dH/dV are float32 values for a float32 neuron).
 */
export function sigmoidWasmFits(gS: FloatArray, h: FloatArray, gx: FloatArray, p: NeuronKernelParams, alpha: number): boolean {
  const f = Math.fround;
  return p.analog !== true && p.f32 && gS instanceof Float32Array && h instanceof Float32Array && gx instanceof Float32Array && f(alpha) === alpha && f(p.vTh) === p.vTh;
}

/**
 * True when the WASM LIF / PLIF forward applies: a float32 neuron with
 * decay_input and a leak (tau for LIF, k for PLIF), float32 arrays, and
 * constants that are float32 values (the lanes use them rounded).
 */
export function lifWasmFits(x: FloatArray, h: FloatArray | null, v: FloatArray, p: NeuronKernelParams): boolean {
  return lifParamsFit(p) && x instanceof Float32Array && (h === null || h instanceof Float32Array) && v instanceof Float32Array;
}

/** What a fused forward needs of a LIF besides its shape: tau, threshold, reset value and kind. */
export type LifConstants = Pick<NeuronKernelParams, "tau" | "vTh" | "vReset" | "hardReset">;

/** The float32 LIF (decay_input, leak divided by tau, detached reset) with constants `l` over `steps` steps of rows x cols. */
export function lifKernelParams(steps: number, rows: number, cols: number, l: LifConstants): NeuronKernelParams {
  return { steps, rows, cols, leak: LEAK_DIV, tau: l.tau, k: 1 / l.tau, decayInput: true, vTh: l.vTh, vReset: l.vReset, hardReset: l.hardReset, detachReset: true, f32: true };
}

/** The neuron half of {@link lifWasmFits}: a float32 LIF / PLIF with decay_input whose constants are float32 values. */
export function lifParamsFit(p: NeuronKernelParams): boolean {
  const f = Math.fround;
  const leak = p.leak === LEAK_MUL ? p.k : p.tau;
  return p.f32 && p.decayInput && (p.leak === LEAK_DIV || p.leak === LEAK_MUL) && f(leak) === leak && f(p.vTh) === p.vTh && f(p.vReset) === p.vReset;
}

/** A typed array a kernel can take in place or staged (see {@link heapPtr}). */
type KernelArray = Float32Array | Uint32Array;

/**
 * Where the WASM neuron kernels find a unit range of a [T, ...] array: for
 * each of `steps` steps t, `len` elements from element from + t stride. A
 * heap array is used in place (its own stride); a foreign one gets compact
 * `len`-element steps in the kernel's scratch, at byte offset `stage`.
 */
interface Stepped {
  a: KernelArray;
  steps: number;
  from: number;
  stride: number;
  len: number;
  stage: number;
}

/**
 * Lays out a neuron kernel call's scratch: `fixed` bytes first (the kernel's
 * working memory), then one compact staging per foreign array of `arrays`
 * (16-byte aligned); takes it and returns the scratch offset. Sets each
 * array's `stage`.
 */
function takeScratch(fixed: number, arrays: readonly (Stepped | null)[]): number {
  let top = Math.ceil(fixed / 16) * 16;
  const foreign = arrays.filter((s): s is Stepped => s !== null && !inHeap(s.a));
  for (const s of foreign) {
    s.stage = top;
    top += Math.ceil((s.steps * s.len * s.a.BYTES_PER_ELEMENT) / 16) * 16;
  }
  const at = neuronKernel.scratch.take(top);
  for (const s of foreign) s.stage += at;
  return at;
}

/**
 * Byte pointer and byte step stride of `s` for the kernel: in place for a
 * heap array; a foreign one's steps are copied into its staging when
 * `copyIn` (counted as staged bytes).
 */
function stepPtr(s: Stepped, copyIn: boolean): [number, number] {
  const bpe = s.a.BYTES_PER_ELEMENT;
  if (inHeap(s.a)) return [s.a.byteOffset + s.from * bpe, s.stride * bpe];
  if (copyIn) for (let t = 0; t < s.steps; t++) heapPtr(s.a, s.from + t * s.stride, s.len, s.stage + t * s.len * bpe, true);
  return [s.stage, s.len * bpe];
}

/** Copies a kernel's output steps back into a foreign array (counted); nothing for a heap array. */
function stepUnstage(s: Stepped): void {
  if (inHeap(s.a)) return;
  for (let t = 0; t < s.steps; t++) unstage(s.a, s.from + t * s.stride, s.len, s.stage + t * s.len * s.a.BYTES_PER_ELEMENT);
}

/** The elements and spike words of units u0..u1-1 in every step, as {@link Stepped} views of an element and a word array. */
function unitRange(p: NeuronKernelParams, u0: number, u1: number): {
  wpr: number; ea: number; elems: number; units: number;
  el: (a: KernelArray) => Stepped; wd: (a: Uint32Array) => Stepped;
} {
  const wpr = wordsFor(p.cols);
  const ea = unitElem(u0, p.cols, wpr), elems = unitElem(u1, p.cols, wpr) - ea, units = u1 - u0;
  return {
    wpr, ea, elems, units,
    el: (a) => ({ a, steps: p.steps, from: ea, stride: p.rows * p.cols, len: elems, stage: 0 }),
    wd: (a) => ({ a, steps: p.steps, from: u0, stride: p.rows * wpr, len: units, stage: 0 }),
  };
}

/**
 * The WebAssembly SIMD twin of {@link lifForwardRangeJs} (f32x4 lanes,
 * src/kernels/neuron/wasm.ts), and for PLIF of the general loop's charge
 * (the leak a multiplication by k), run in place over all steps: reads X and
 * writes H, the spike words and V where they are (step 0 charges from vReset; V's
 * entry values are not read).
 * Foreign arrays are staged in the kernel's scratch and copied back (counted).
 * Same bits; tau (k), vTh and vReset must be float32 values.
 */
export function lifForwardRangeWasm(
  x: Float32Array, p: NeuronKernelParams, h: Float32Array | null, words: Uint32Array, v: Float32Array, u0: number, u1: number,
): void {
  if (!wasmSimdAvailable()) throw new BitspikeError("lifForwardRangeWasm", "this runtime has no WebAssembly SIMD");
  if (!lifWasmFits(x, h, v, p)) {
    throw new BitspikeError("lifForwardRangeWasm", `needs a float32 LIF or PLIF with decay_input, float32 arrays and float32 constants, got tau ${p.tau}, k ${p.k}, vTh ${p.vTh}, vReset ${p.vReset}`);
  }
  if (u1 <= u0) return;
  const { steps, cols, tau, vTh, vReset, hardReset } = p;
  const r = unitRange(p, u0, u1);
  if (steps === 0) v.fill(vReset, r.ea, r.ea + r.elems); // no step writes V: it is the start
  const X = r.el(x), H = h === null ? null : r.el(h), W = r.wd(words), V: Stepped = { a: v, steps: 1, from: r.ea, stride: 0, len: r.elems, stage: 0 };
  takeScratch(0, [X, H, W, V]);
  const [px, xs] = stepPtr(X, true), [ph, hs] = H === null ? [0, 0] : stepPtr(H, false);
  const [pw, ws] = stepPtr(W, false), [pv] = stepPtr(V, steps === 0);
  const mul = p.leak === LEAK_MUL;
  lifForwardWasmCall(px, xs, ph, hs, pv, pw, ws, steps, r.units, u0 % r.wpr, cols, r.wpr, h !== null, vReset, mul ? p.k : tau, vTh, hardReset, mul);
  if (H !== null) stepUnstage(H);
  stepUnstage(W);
  stepUnstage(V);
}

/**
 * The WebAssembly SIMD twin of {@link hardDetachedBackwardRangeJs} (spike output)
 * (float32 data; src/kernels/neuron/wasm.ts), run in place over all steps:
 * reads gS, H and the spike words and writes gx where they are, with the
 * float32 gv (the backward's running state) in the kernel's scratch.
 * Foreign arrays are staged there too and gx copied back (counted). Throws
 * where SIMD is unavailable or the arguments do not fit (sigmoidWasmFits).
 */
export function hardDetachedSigmoidBackwardRangeWasm(
  gS: Float32Array, h: Float32Array, words: Uint32Array, p: NeuronKernelParams, alpha: number, gx: Float32Array,
  u0: number, u1: number,
): void {
  if (!wasmSimdAvailable()) throw new BitspikeError("hardDetachedSigmoidBackwardRangeWasm", "this runtime has no WebAssembly SIMD");
  if (!sigmoidWasmFits(gS, h, gx, p, alpha)) {
    throw new BitspikeError("hardDetachedSigmoidBackwardRangeWasm", `needs a float32 neuron (p.f32), float32 arrays and float32 constants, got alpha ${alpha}, vTh ${p.vTh}`);
  }
  if (u1 <= u0) return;
  const { steps, cols, vTh } = p;
  const { dHdV, dHdX } = chargeGrads(p);
  const r = unitRange(p, u0, u1);
  const G = r.el(gS), H = r.el(h), W = r.wd(words), GX = r.el(gx);
  const gv = takeScratch(r.elems * 4, [G, H, W, GX]); // read as +0 in the kernel's first step: no fill
  const [pg, gs] = stepPtr(G, true), [ph, hs] = stepPtr(H, true), [pw, ws] = stepPtr(W, true);
  const [po, os] = stepPtr(GX, false);
  sigmoidBackwardWasmCall(pg, gs, ph, hs, pw, ws, po, os, gv, steps, r.units, u0 % r.wpr, cols, r.wpr, alpha, vTh, dHdX, dHdV);
  stepUnstage(GX);
}
