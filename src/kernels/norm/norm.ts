/**
 * Normalisation kernels. Batch norm sees x as [N, C, S] and reduces per
 * channel over (n, s); layer norm sees x as [R, D] and reduces per row. All
 * statistics use float64 accumulators in a fixed (source) order: batch norm's
 * in one pass of sums shifted by a channel's first value, layer norm's in two
 * (mean, then squared deviations).
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { normKernel, normPassWasm, type NormPass } from "./wasm.js";
import { heapPtr, unstage } from "../../wasm/runtime.js";
import { heapF64, inHeap } from "../../tensor/heap.js";

/**
 * Mean and biased variance of `count` values from their shifted sums s1 = Σ (x - k) and
 * s2 = Σ (x - k)² (float64): mean = k + s1 / count, var = s2 / count - (s1 / count)², at least 0.
 * With k one of the values, (k - mean)² <= count var, so the subtraction loses at most a factor
 * 1 + count of float64's precision (below 1e-9 relative for ten million values, far under float32's
 * 6e-8): one pass over x instead of a mean pass and a deviation pass.
 */
function shiftedMoments(k: number, s1: number, s2: number, count: number, mean: Float64Array, varB: Float64Array, ch: number): void {
  const m1 = s1 / count;
  mean[ch] = k + m1;
  varB[ch] = Math.max(0, s2 / count - m1 * m1);
}

/** The shift of channel ch of x [N, C, S]: its first value (0 when it has none). */
function channelShift(x: FloatArray, n: number, s: number, ch: number): number {
  return n > 0 && s > 0 ? x[ch * s]! : 0;
}

/**
 * Per-channel mean and biased variance of x [N, C, S] (plain: one channel at a time): the sums of
 * d = x - k and d² in (n, s) order, k the channel's first value ({@link shiftedMoments}).
 */
export function channelMeanVarReference(x: FloatArray, n: number, c: number, s: number, mean: Float64Array, varB: Float64Array): void {
  for (let ch = 0; ch < c; ch++) {
    const k = channelShift(x, n, s, ch);
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const o = (i * c + ch) * s;
      for (let q = 0; q < s; q++) {
        const d = x[o + q]! - k;
        s1 += d;
        s2 += d * d;
      }
    }
    shiftedMoments(k, s1, s2, n * s, mean, varB, ch);
  }
}

/**
 * Per-channel mean and biased variance of x [N, C, S]. Reads x once in
 * memory order (accumulators per channel, each run of S in locals), so
 * [rows, C] inputs (S = 1) are not walked with stride C; every channel's sums
 * still add in (n, s) order: bit-equal to {@link channelMeanVarReference}.
 */
export function channelMeanVar(x: FloatArray, n: number, c: number, s: number, mean: Float64Array, varB: Float64Array): void {
  channelMeanVarRange(x, n, c, s, 0, c, mean, varB);
}

/**
 * {@link channelMeanVar} of channels c0..c1-1 only (mean and varB written at
 * those channels): each channel's sums are the same additions in the same
 * order, so disjoint channel ranges on any threads give the whole result.
 */
export function channelMeanVarRange(x: FloatArray, n: number, c: number, s: number, c0: number, c1: number, mean: Float64Array, varB: Float64Array): void {
  if (passWasm(x, n, s, c0, c1)) {
    channelMeanVarWasm(x, n, c, s, mean, varB, c0, c1);
    return;
  }
  // The shifts in mean, the sums in varB and a local, until the moments replace them.
  const k = mean, s1 = new Float64Array(c1 - c0), s2 = varB;
  for (let ch = c0; ch < c1; ch++) k[ch] = channelShift(x, n, s, ch);
  s2.fill(0, c0, c1);
  const skip = (c - (c1 - c0)) * s;
  let o = c0 * s;
  if (s === 1) {
    for (let i = 0; i < n; i++, o += skip) {
      for (let ch = c0; ch < c1; ch++) {
        const d = x[o++]! - k[ch]!;
        s1[ch - c0] += d;
        s2[ch] += d * d;
      }
    }
  } else {
    for (let i = 0; i < n; i++, o += skip) {
      for (let ch = c0; ch < c1; ch++) {
        const kc = k[ch]!;
        let a1 = s1[ch - c0]!;
        let a2 = s2[ch]!;
        for (const end = o + s; o < end; o++) {
          const d = x[o]! - kc;
          a1 += d;
          a2 += d * d;
        }
        s1[ch - c0] = a1;
        s2[ch] = a2;
      }
    }
  }
  for (let ch = c0; ch < c1; ch++) shiftedMoments(k[ch]!, s1[ch - c0]!, s2[ch]!, n * s, mean, varB, ch);
}

/**
 * Per-channel sums for the batch-norm backward: sumG[c] = Σ g and
 * sumGX[c] = Σ g (x - mean[c]) invStd[c] (= Σ g x̂). Memory-order sweep as in
 * {@link channelMeanVar}; bit-equal to {@link channelGradSumsReference}.
 */
export function channelGradSums(
  g: FloatArray, x: FloatArray, n: number, c: number, s: number,
  mean: Float64Array, invStd: Float64Array, sumG: Float64Array, sumGX: Float64Array,
): void {
  channelGradSumsRange(g, x, n, c, s, 0, c, mean, invStd, sumG, sumGX);
}

/** {@link channelGradSums} of channels c0..c1-1 only (same additions, same order per channel). */
export function channelGradSumsRange(
  g: FloatArray, x: FloatArray, n: number, c: number, s: number, c0: number, c1: number,
  mean: Float64Array, invStd: Float64Array, sumG: Float64Array, sumGX: Float64Array,
): void {
  if (passWasm(x, n, s, c0, c1) && g instanceof Float32Array) {
    channelGradSumsWasm(g, x, n, c, s, mean, invStd, sumG, sumGX, c0, c1);
    return;
  }
  const skip = (c - (c1 - c0)) * s;
  sumG.fill(0, c0, c1);
  sumGX.fill(0, c0, c1);
  let o = c0 * s;
  if (s === 1) {
    for (let i = 0; i < n; i++, o += skip) {
      for (let ch = c0; ch < c1; ch++) {
        const gv = g[o]!;
        sumG[ch] += gv;
        sumGX[ch] += gv * (x[o++]! - mean[ch]!);
      }
    }
  } else {
    for (let i = 0; i < n; i++, o += skip) {
      for (let ch = c0; ch < c1; ch++) {
        const m = mean[ch]!;
        let tg = sumG[ch]!;
        let tgx = sumGX[ch]!;
        for (const end = o + s; o < end; o++) {
          const gv = g[o]!;
          tg += gv;
          tgx += gv * (x[o]! - m);
        }
        sumG[ch] = tg;
        sumGX[ch] = tgx;
      }
    }
  }
  for (let ch = c0; ch < c1; ch++) sumGX[ch] = sumGX[ch]! * invStd[ch]!;
}

/**
 * True when a pass over channels c0..c1-1 goes to its WebAssembly SIMD twin
 * (src/kernels/norm/wasm.ts): the kernel backend enables it, the data are
 * float32 and the share is not tiny. Same bits as the JS loops.
 */
function passWasm(x: FloatArray, n: number, s: number, c0: number, c1: number): x is Float32Array {
  return n * (c1 - c0) * s >= WASM_MIN && x instanceof Float32Array && wasmKernelsEnabled();
}

/** Fewer values than this stay in JS: staging and the call cost more than the loop (measured: break-even near 300). */
const WASM_MIN = 1024;

/**
 * Runs a WASM norm pass over channels c0..c1-1 of x [n, c, s] in place: the
 * arrays `ins` are read and `out` (if any) written where they are in the heap
 * (a foreign one is staged in the kernel's scratch, counted, and `out` copied
 * back). The per-channel float64 vectors' values at c0..c1-1 are copied into
 * the scratch (the pass adds into its accumulators there), and `done` gets
 * them (c1 - c0 values each) as they stand after the pass. The token layout
 * (s = 1) takes the kernel's row form, others its run form; rows (samples)
 * are c values (c s) apart, the pass covering c1 - c0 (runs) of each.
 */
function runPassWasm(
  pass: NormPass, ins: readonly Float32Array[], out: Float32Array | null,
  n: number, c: number, s: number, c0: number, c1: number, vectors: readonly Float64Array[], done: ((v: Float64Array[]) => void) | null,
): void {
  const w = c1 - c0, len = n * c * s, arrayB = Math.ceil((len * 4) / 16) * 16, vecB = Math.ceil((vectors.length * w * 8) / 16) * 16;
  const arrays = out ? [...ins, out] : ins;
  const at = normKernel.scratch.take(vecB + arrays.filter((a) => !inHeap(a)).length * arrayB);
  const f64 = heapF64();
  vectors.forEach((v, i) => f64.set(v.subarray(c0, c1), at / 8 + i * w));
  let stage = at + vecB;
  const whole = c0 === 0 && c1 === c;
  const ptrs = arrays.map((a, i) => {
    // A foreign output of a channel range is staged with its values: copying it back keeps the other channels.
    const p = heapPtr(a, 0, len, stage, i < ins.length || !whole);
    if (!inHeap(a)) stage += arrayB;
    return p;
  });
  const first = ptrs.map((p) => p + c0 * s * 4);
  const vecArgs = vectors.map((_, i) => at + i * w * 8);
  if (s === 1) normPassWasm(pass, ...first, n, w, c, ...vecArgs);
  else normPassWasm(`${pass}Runs`, ...first, n, w, s, c * s, ...vecArgs);
  if (out && !inHeap(out)) unstage(out, 0, len, ptrs[ins.length]!);
  if (done) done(vectors.map((_, i) => heapF64().slice(at / 8 + i * w, at / 8 + (i + 1) * w)));
}

/** WASM twin of {@link channelMeanVarRange} (x [n, c, s]; all channels by default), any size. */
export function channelMeanVarWasm(x: Float32Array, n: number, c: number, s: number, mean: Float64Array, varB: Float64Array, c0 = 0, c1 = c): void {
  const k = new Float64Array(c), zero = new Float64Array(c);
  for (let ch = c0; ch < c1; ch++) k[ch] = channelShift(x, n, s, ch);
  runPassWasm("shiftedSums", [x], null, n, c, s, c0, c1, [k, zero, zero], (v) => {
    for (let ch = c0; ch < c1; ch++) shiftedMoments(k[ch]!, v[1]![ch - c0]!, v[2]![ch - c0]!, n * s, mean, varB, ch);
  });
}

/** WASM twin of {@link channelGradSumsRange} ([n, c, s]; all channels by default), any size. */
export function channelGradSumsWasm(
  g: Float32Array, x: Float32Array, n: number, c: number, s: number,
  mean: Float64Array, invStd: Float64Array, sumG: Float64Array, sumGX: Float64Array, c0 = 0, c1 = c,
): void {
  runPassWasm("gradSums", [g, x], null, n, c, s, c0, c1, [mean, new Float64Array(c), new Float64Array(c)], (v) => {
    for (let ch = c0; ch < c1; ch++) {
      sumG[ch] = v[1]![ch - c0]!;
      sumGX[ch] = v[2]![ch - c0]! * invStd[ch]!;
    }
  });
}

/** WASM twin of {@link channelAffineRange} ([n, c, s]; all channels by default), any size. */
export function channelAffineWasm(
  x: Float32Array, out: Float32Array, n: number, c: number, s: number, scale: Float64Array, shift: Float64Array, c0 = 0, c1 = c,
): void {
  runPassWasm("affine", [x], out, n, c, s, c0, c1, [scale, shift], null);
}

/** WASM twin of {@link channelGradInputRange} ([n, c, s]; all channels by default), any size. */
export function channelGradInputWasm(
  g: Float32Array, x: Float32Array, dx: Float32Array, n: number, c: number, s: number,
  mean: Float64Array, invStd: Float64Array, k: Float64Array, a: Float64Array, b: Float64Array, c0 = 0, c1 = c,
): void {
  runPassWasm("gradInput", [g, x], dx, n, c, s, c0, c1, [mean, invStd, k, a, b], null);
}

/**
 * One value of a batch norm's affine map x scale + shift. Float32 outputs (`f32`): f32(f32(x scale) +
 * shift), scale and shift being float32 values (batchNormState rounds them): PyTorch's CPU batch norm
 * (out = x alpha + beta in float32, two roundings), and two f32x4 operations for four values in the fused
 * LIF kernel (src/kernels/neuron/wasm.ts), where float64 lanes took about ten. Float64 otherwise.
 */
export function affineValue(x: number, scale: number, shift: number, f32: boolean): number {
  return f32 ? Math.fround(Math.fround(x * scale) + shift) : x * scale + shift;
}

/** out[n, c, s] = x[n, c, s] * scale[c] + shift[c] ({@link affineValue}). */
export function channelAffine(x: FloatArray, out: FloatArray, n: number, c: number, s: number, scale: Float64Array, shift: Float64Array): void {
  channelAffineRange(x, out, n, c, s, 0, c, scale, shift);
}

/** {@link channelAffine} of channels c0..c1-1 only. */
export function channelAffineRange(
  x: FloatArray, out: FloatArray, n: number, c: number, s: number, c0: number, c1: number, scale: Float64Array, shift: Float64Array,
): void {
  if (passWasm(x, n, s, c0, c1) && out instanceof Float32Array) {
    channelAffineWasm(x, out, n, c, s, scale, shift, c0, c1);
    return;
  }
  const skip = (c - (c1 - c0)) * s;
  const f32 = out instanceof Float32Array;
  let o = c0 * s;
  for (let i = 0; i < n; i++, o += skip) {
    for (let ch = c0; ch < c1; ch++) {
      const a = scale[ch]!;
      const b = shift[ch]!;
      const end = o + s;
      for (; o < end; o++) out[o] = affineValue(x[o]!, a, b, f32);
    }
  }
}

/**
 * Per-channel sums for the batch-norm backward: sumG[c] = Σ g and
 * sumGX[c] = Σ g (x - mean[c]) invStd[c] (= Σ g x̂). Plain: one channel at a time.
 */
export function channelGradSumsReference(
  g: FloatArray, x: FloatArray, n: number, c: number, s: number,
  mean: Float64Array, invStd: Float64Array, sumG: Float64Array, sumGX: Float64Array,
): void {
  for (let ch = 0; ch < c; ch++) {
    const m = mean[ch]!;
    let tg = 0;
    let tgx = 0;
    for (let i = 0; i < n; i++) {
      const o = (i * c + ch) * s;
      for (let q = 0; q < s; q++) {
        const gv = g[o + q]!;
        tg += gv;
        tgx += gv * (x[o + q]! - m);
      }
    }
    sumG[ch] = tg;
    sumGX[ch] = tgx * invStd[ch]!;
  }
}

/**
 * dx = k[c] (g - a[c] - x̂ b[c]) with x̂ = (x - mean[c]) invStd[c]; the batch-norm
 * input gradient (a = b = 0 in eval mode).
 */
export function channelGradInput(
  g: FloatArray, x: FloatArray, dx: FloatArray, n: number, c: number, s: number,
  mean: Float64Array, invStd: Float64Array, k: Float64Array, a: Float64Array, b: Float64Array,
): void {
  channelGradInputRange(g, x, dx, n, c, s, 0, c, mean, invStd, k, a, b);
}

/** {@link channelGradInput} of channels c0..c1-1 only. */
export function channelGradInputRange(
  g: FloatArray, x: FloatArray, dx: FloatArray, n: number, c: number, s: number, c0: number, c1: number,
  mean: Float64Array, invStd: Float64Array, k: Float64Array, a: Float64Array, b: Float64Array,
): void {
  if (passWasm(x, n, s, c0, c1) && g instanceof Float32Array && dx instanceof Float32Array) {
    channelGradInputWasm(g, x, dx, n, c, s, mean, invStd, k, a, b, c0, c1);
    return;
  }
  const skip = (c - (c1 - c0)) * s;
  let o = c0 * s;
  for (let i = 0; i < n; i++, o += skip) {
    for (let ch = c0; ch < c1; ch++) {
      const m = mean[ch]!, is = invStd[ch]!, kc = k[ch]!, ac = a[ch]!, bc = b[ch]!;
      const end = o + s;
      for (; o < end; o++) dx[o] = kc * (g[o]! - ac - (x[o]! - m) * is * bc);
    }
  }
}

/**
 * Layer norm forward over rows of x [R, D]: out = x̂ w + b (w, b of length D,
 * or null), saving per-row mean and 1/sqrt(var + eps).
 */
export function layerNormForward(
  x: FloatArray, out: FloatArray, r: number, d: number, w: FloatArray | null, b: FloatArray | null, eps: number,
  mean: Float64Array, rstd: Float64Array,
): void {
  for (let i = 0; i < r; i++) {
    const o = i * d;
    let t = 0;
    for (let j = 0; j < d; j++) t += x[o + j]!;
    const m = t / d;
    let v = 0;
    for (let j = 0; j < d; j++) {
      const e = x[o + j]! - m;
      v += e * e;
    }
    const is = 1 / Math.sqrt(v / d + eps);
    mean[i] = m;
    rstd[i] = is;
    for (let j = 0; j < d; j++) {
      let y = (x[o + j]! - m) * is;
      if (w) y *= w[j]!;
      if (b) y += b[j]!;
      out[o + j] = y;
    }
  }
}

/**
 * Layer norm backward. dx (if not null) = rstd (ĝ - mean(ĝ) - x̂ mean(ĝ x̂))
 * with ĝ = g w; gw += Σ_rows g x̂ and gb += Σ_rows g (float64, row order).
 */
export function layerNormBackward(
  g: FloatArray, x: FloatArray, r: number, d: number, w: FloatArray | null, mean: Float64Array, rstd: Float64Array,
  dx: FloatArray | null, gw: Float64Array | null, gb: Float64Array | null,
): void {
  for (let i = 0; i < r; i++) {
    const o = i * d;
    const m = mean[i]!;
    const is = rstd[i]!;
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < d; j++) {
      const xh = (x[o + j]! - m) * is;
      const gv = g[o + j]!;
      const gh = w ? gv * w[j]! : gv;
      sg += gh;
      sgx += gh * xh;
      if (gw) gw[j]! += gv * xh;
      if (gb) gb[j]! += gv;
    }
    if (dx) {
      const mg = sg / d;
      const mgx = sgx / d;
      for (let j = 0; j < d; j++) {
        const xh = (x[o + j]! - m) * is;
        const gh = w ? g[o + j]! * w[j]! : g[o + j]!;
        dx[o + j] = is * (gh - mg - xh * mgx);
      }
    }
  }
}
