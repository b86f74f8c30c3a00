/**
 * Reference kernels of the fused multi-step spiking neuron (SpikingJelly's
 * MultiStepLIFNode / IFNode / ParametricLIFNode), REFERENCE section 1.
 * Input is [T, n] row-major with n = rows * cols per time step; spikes are
 * written packed along the last axis (cols), every row word-aligned.
 * With `f32` every elementary operation rounds to float32, so the forward is
 * bit-equal to the same expression evaluated op by op on float32 tensors.
 */
import type { FloatArray } from "../tensor/tensor.js";
import { BitspikeError } from "../tensor/errors.js";
import { wasmKernelsEnabled, wasmSimdAvailable } from "../wasm/backend.js";
import { lifForwardWasmCall, neuronKernel, sigmoidBackwardWasmCall } from "../wasm/neuron-kernel.js";
import { wordsFor } from "../tensor/bits.js";
import { expFdlibm } from "./exp.js";

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
  neuronForwardUnits(x, p, h, words, v, 0, p.rows * wordsFor(p.cols));
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
export function neuronForwardUnits(
  x: FloatArray, p: NeuronKernelParams, h: FloatArray | null, words: Uint32Array, v: FloatArray, u0: number, u1: number,
): void {
  if (p.f32 && p.leak === LEAK_DIV && p.decayInput) {
    if (wasmKernelsEnabled() && lifWasmFits(x, h, v, p)) lifForwardUnitsWasm(x as Float32Array, p, h as Float32Array | null, words, v as Float32Array, u0, u1);
    else lifForwardUnitsJs(x, p, h, words, v, u0, u1);
    return;
  }
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
 * The plain-TypeScript twin of {@link lifForwardUnitsWasm}.
 */
export function lifForwardUnitsJs(x: FloatArray, p: NeuronKernelParams, h: FloatArray | null, words: Uint32Array, v: FloatArray, u0: number, u1: number): void {
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
 * The single reverse BPTT loop. gS = dL/dS for all steps, h = saved H,
 * words = the spikes. Writes dL/dX into gx and returns dL/dk (the sum over
 * all elements and steps of gH dH/dk; only meaningful for LEAK_MUL, where `x`
 * must be the forward input). `gv` (length n, float64) is scratch.
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
    hardDetachedSigmoidBackwardUnits(gS, h, words, p, sigmoidAlpha, gx, gv, 0, p.rows * wordsFor(p.cols));
    return 0;
  }
  const r = p.f32 ? Math.fround : id;
  const { steps, rows, cols, leak, decayInput, vTh, vReset, hardReset, detachReset } = p;
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
        if (hardReset) dVdH = detachReset ? 1 - s : 1 - s + (vReset - hh) * sg;
        else dVdH = detachReset ? 1 : 1 - vTh * sg;
        const gH = gS[xo + i]! * sg + gv[i]! * dVdH;
        gx[xo + i] = gH * dHdX;
        gv[i] = gH * dHdV;
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
 * True when the backward with a sigmoid surrogate takes the inlined path
 * (hard reset, detach_reset, no PLIF weight gradient): a per-neuron loop with
 * no cross-neuron sum, which {@link hardDetachedSigmoidBackwardUnits} can run
 * on disjoint unit ranges.
 */
export function splittableBackward(p: NeuronKernelParams, wantK: boolean): boolean {
  return p.hardReset && p.detachReset && !(p.leak === LEAK_MUL && wantK);
}

/**
 * The backward of Spikformer's neuron (hard reset, detach_reset) with the
 * sigmoid surrogate inlined: the same arithmetic as {@link neuronBackward}
 * calling `sigmoidSurrogate(alpha).derivative`, without a call per element.
 * Only the neurons of spike units u0..u1-1 (see {@link unitElem}) are touched
 * (gx and the scratch gv at their elements), so disjoint unit ranges on any
 * threads give exactly the whole-tensor result.
 *
 * Runs the WebAssembly SIMD twin ({@link hardDetachedSigmoidBackwardUnitsWasm})
 * where the kernel backend enables it and the data are float32, else
 * {@link hardDetachedSigmoidBackwardUnitsJs}: the same bits either way.
 */
export function hardDetachedSigmoidBackwardUnits(
  gS: FloatArray, h: FloatArray, words: Uint32Array, p: NeuronKernelParams, alpha: number, gx: FloatArray, gv: Float64Array,
  u0: number, u1: number,
): void {
  if (wasmKernelsEnabled() && p.f32 && gS instanceof Float32Array && h instanceof Float32Array && gx instanceof Float32Array) {
    hardDetachedSigmoidBackwardUnitsWasm(gS, h, words, p, alpha, gx, u0, u1);
  } else {
    hardDetachedSigmoidBackwardUnitsJs(gS, h, words, p, alpha, gx, gv, u0, u1);
  }
}

/** dH/dV[t-1] and dH/dX of the charge equation: k = 1/tau for LIF, sigmoid(w) for PLIF, none for IF. */
function chargeGrads(p: NeuronKernelParams): { dHdV: number; dHdX: number } {
  const k = p.leak === LEAK_NONE ? 0 : p.k;
  return { dHdV: 1 - k, dHdX: p.leak !== LEAK_NONE && p.decayInput ? k : 1 };
}

/**
 * The plain-TypeScript twin of {@link hardDetachedSigmoidBackwardUnits},
 * whatever the backend. Its exp is {@link expFdlibm} (the same bits as V8's
 * Math.exp, and reproducible in WASM).
 */
export function hardDetachedSigmoidBackwardUnitsJs(
  gS: FloatArray, h: FloatArray, words: Uint32Array, p: NeuronKernelParams, alpha: number, gx: FloatArray, gv: Float64Array,
  u0: number, u1: number,
): void {
  const { steps, rows, cols, vTh, f32 } = p;
  const n = rows * cols;
  const wpr = wordsFor(cols);
  const { dHdV, dHdX } = chargeGrads(p);
  const f = Math.fround;
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
      // One spike word per 32 columns; the sigmoid as 1/(1+e^-a) (a >= 0) or
      // e^a/(1+e^a) (a < 0), written with one exp call and a select so the
      // sign test is not a hard-to-predict branch around the call.
      for (let q = qA; q < qB; q++) {
        const bits = words[wo + q]!;
        const c0 = q << 5;
        const c1 = c0 + 32 < cols ? c0 + 32 : cols;
        for (let c = c0; c < c1; c++) {
          const i = io + c;
          const a = alpha * (f32 ? f(h[xo + i]! - vTh) : h[xo + i]! - vTh);
          const e = expFdlibm(a >= 0 ? -a : a);
          const s = (a >= 0 ? 1 : e) / (1 + e);
          const sg = alpha * s * (1 - s);
          const gH = gS[xo + i]! * sg + (((bits >>> (c & 31)) & 1) !== 0 ? 0 : gv[i]!);
          gx[xo + i] = gH * dHdX;
          gv[i] = gH * dHdV;
        }
      }
    }
  }
}

/** True when the WASM LIF forward applies: float32 arrays, and constants that are float32 values (the lanes use them rounded). */
function lifWasmFits(x: FloatArray, h: FloatArray | null, v: FloatArray, p: NeuronKernelParams): boolean {
  const f = Math.fround;
  return x instanceof Float32Array && (h === null || h instanceof Float32Array) && v instanceof Float32Array &&
    f(p.tau) === p.tau && f(p.vTh) === p.vTh && f(p.vReset) === p.vReset;
}

/**
 * The WebAssembly SIMD twin of {@link lifForwardUnitsJs} (f32x4 lanes,
 * src/wasm/neuron-kernel.ts): chunks of the unit range are staged into the
 * kernel's memory (X of every step; V starts at vReset there), run over all
 * steps, and H, the spike words and V copied back. Same bits; tau, vTh and
 * vReset must be float32 values.
 */
export function lifForwardUnitsWasm(
  x: Float32Array, p: NeuronKernelParams, h: Float32Array | null, words: Uint32Array, v: Float32Array, u0: number, u1: number,
): void {
  if (!wasmSimdAvailable()) throw new BitspikeError("lifForwardUnitsWasm", "this runtime has no WebAssembly SIMD");
  if (!lifWasmFits(x, h, v, p)) {
    throw new BitspikeError("lifForwardUnitsWasm", `needs float32 arrays and float32 constants, got tau ${p.tau}, vTh ${p.vTh}, vReset ${p.vReset}`);
  }
  const { steps, cols, tau, vTh, vReset, hardReset } = p;
  wasmChunks(p, u0, u1, (ua, ub, ea, eb, n, wpr, stepWords) => {
    const units = ub - ua, elems = eb - ea;
    // Layout (bytes): x (H written over it) | v | words, with 16 bytes of slack after each
    // array (a ragged group of four lanes reads past its end; those lanes are not stored).
    const xB = 0, vB = steps * elems * 4 + 16, wB = vB + elems * 4 + 16;
    const buf = neuronKernel.reserve(wB + steps * units * 4);
    if (buf === null) throw new BitspikeError("lifForwardUnitsWasm", `kernel memory cannot grow to ${wB + steps * units * 4} bytes`);
    const f32 = new Float32Array(buf), u32 = new Uint32Array(buf);
    for (let t = 0; t < steps; t++) f32.set(x.subarray(t * n + ea, t * n + eb), xB / 4 + t * elems);
    f32.fill(vReset, vB / 4, vB / 4 + elems);
    lifForwardWasmCall(xB, xB, vB, wB, steps, units, ua % wpr, cols, wpr, elems, h !== null, vReset, tau, vTh, hardReset);
    for (let t = 0; t < steps; t++) {
      if (h !== null) h.set(f32.subarray(xB / 4 + t * elems, xB / 4 + (t + 1) * elems), t * n + ea);
      words.set(u32.subarray(wB / 4 + t * units, wB / 4 + (t + 1) * units), t * stepWords + ua);
    }
    v.set(f32.subarray(vB / 4, vB / 4 + elems), ea);
  });
}

/** Elements per step staged in the WASM memory per call: small enough to stay in cache, large enough to amortise the call. */
const WASM_CHUNK = 8192;

/**
 * Runs `chunk` over units u0..u1-1 in pieces of about WASM_CHUNK elements a
 * step: units ua..ub-1, elements ea..eb-1 of each step (plus n, wpr and the
 * words a step, which the stagings need). Neurons are independent, so the
 * pieces change no bits.
 */
function wasmChunks(
  p: NeuronKernelParams, u0: number, u1: number,
  chunk: (ua: number, ub: number, ea: number, eb: number, n: number, wpr: number, stepWords: number) => void,
): void {
  const wpr = wordsFor(p.cols);
  const n = p.rows * p.cols, stepWords = p.rows * wpr;
  const chunkUnits = Math.max(1, Math.floor(WASM_CHUNK / 32));
  for (let ua = u0; ua < u1; ua += chunkUnits) {
    const ub = Math.min(u1, ua + chunkUnits);
    chunk(ua, ub, unitElem(ua, p.cols, wpr), unitElem(ub, p.cols, wpr), n, wpr, stepWords);
  }
}

/**
 * The WebAssembly SIMD twin of {@link hardDetachedSigmoidBackwardUnitsJs}
 * (float32 data; src/wasm/neuron-kernel.ts): the unit range goes through in
 * chunks, each staged (gS, H, spike words of every step) into the kernel's
 * memory, run over all steps with a float64 gv there, and gx copied back.
 * Neurons are independent, so chunking changes no bits. Throws where SIMD is
 * unavailable.
 */
export function hardDetachedSigmoidBackwardUnitsWasm(
  gS: Float32Array, h: Float32Array, words: Uint32Array, p: NeuronKernelParams, alpha: number, gx: Float32Array,
  u0: number, u1: number,
): void {
  if (!wasmSimdAvailable()) throw new BitspikeError("hardDetachedSigmoidBackwardUnitsWasm", "this runtime has no WebAssembly SIMD");
  if (!p.f32) throw new BitspikeError("hardDetachedSigmoidBackwardUnitsWasm", "needs float32 neuron semantics (p.f32)");
  const { steps, cols, vTh } = p;
  const { dHdV, dHdX } = chargeGrads(p);
  wasmChunks(p, u0, u1, (ua, ub, ea, eb, n, wpr, stepWords) => {
    const units = ub - ua, elems = eb - ea;
    // Layout (bytes): gs (gx written over it) | h | words | gv (8-aligned).
    const gsB = 0, hB = steps * elems * 4, wB = 2 * steps * elems * 4;
    const gvB = Math.ceil((wB + steps * units * 4) / 8) * 8;
    const buf = neuronKernel.reserve(gvB + elems * 8);
    if (buf === null) throw new BitspikeError("hardDetachedSigmoidBackwardUnitsWasm", `kernel memory cannot grow to ${gvB + elems * 8} bytes`);
    const f32 = new Float32Array(buf), u32 = new Uint32Array(buf), f64 = new Float64Array(buf);
    for (let t = 0; t < steps; t++) {
      f32.set(gS.subarray(t * n + ea, t * n + eb), gsB / 4 + t * elems);
      f32.set(h.subarray(t * n + ea, t * n + eb), hB / 4 + t * elems);
      u32.set(words.subarray(t * stepWords + ua, t * stepWords + ub), wB / 4 + t * units);
    }
    f64.fill(0, gvB / 8, gvB / 8 + elems);
    sigmoidBackwardWasmCall(gsB, hB, wB, gsB, gvB, steps, units, ua % wpr, cols, wpr, elems, alpha, vTh, dHdX, dHdV);
    for (let t = 0; t < steps; t++) gx.set(f32.subarray(gsB / 4 + t * elems, gsB / 4 + (t + 1) * elems), t * n + ea);
  });
}
