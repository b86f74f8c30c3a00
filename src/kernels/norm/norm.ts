/**
 * Normalisation kernels. Batch norm sees x as [N, C, S] and reduces per
 * channel over (n, s); layer norm sees x as [R, D] and reduces per row. All
 * statistics use float64 accumulators in a fixed (source) order: batch norm's
 * in one pass of sums shifted by a channel's first value, summed in blocks of
 * samples fixed by the shape ({@link sumBlocks}), layer norm's in two (mean,
 * then squared deviations).
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
 * Values of one channel that a block of the batch-norm sums covers (about; whole samples, at least one):
 * see {@link sumBlocks}.
 */
const SUM_BLOCK_VALUES = 512;

/**
 * The blocks of the batch-norm sums of x [N, C, S]: `per` consecutive samples each (the last may hold
 * fewer), `count` of them. Every channel's sums run block by block: each block adds its terms in (n, s)
 * order from +0, and the channel's sum adds the blocks' sums in block order from +0 (all float64). The
 * blocks depend on the shape only, so any split of whole blocks between threads gives the same bits, and
 * each thread streams whole rows (a split by channels read half of every token row and ran 1.3x slower).
 */
export function sumBlocks(n: number, s: number): { per: number; count: number } {
  const per = Math.max(1, Math.floor(SUM_BLOCK_VALUES / Math.max(1, s)));
  return { per, count: Math.ceil(n / per) };
}

/** The two sums passes of a batch norm: mean-var (Σ d, Σ d² with d = x - k) and the gradient's (Σ g, Σ g (x - mean)). */
export type SumsPass = "meanVar" | "gradSums";

/**
 * Per-channel mean and biased variance of x [N, C, S] (plain: one channel at a time): the block sums
 * ({@link sumBlocks}) of d = x - k and d², k the channel's first value ({@link shiftedMoments}).
 */
export function channelMeanVarReference(x: FloatArray, n: number, c: number, s: number, mean: Float64Array, varB: Float64Array): void {
  for (let ch = 0; ch < c; ch++) {
    const k = channelShift(x, n, s, ch);
    let [s1, s2, b1, b2] = [0, 0, 0, 0];
    eachChannelBlock(n, c, s, ch, (o) => {
      const d = x[o]! - k;
      b1 += d;
      b2 += d * d;
    }, () => {
      s1 += b1;
      s2 += b2;
      b1 = b2 = 0;
    });
    shiftedMoments(k, s1, s2, n * s, mean, varB, ch);
  }
}

/**
 * The references' walk of channel ch of x [N, C, S]: visit(o) for each of its values' indices in (n, s)
 * order, and endBlock() after each of its blocks ({@link sumBlocks}).
 */
function eachChannelBlock(n: number, c: number, s: number, ch: number, visit: (o: number) => void, endBlock: () => void): void {
  const { per, count } = sumBlocks(n, s);
  for (let b = 0; b < count; b++) {
    for (let i = b * per; i < Math.min(n, (b + 1) * per); i++) {
      const o = (i * c + ch) * s;
      for (let q = 0; q < s; q++) visit(o + q);
    }
    endBlock();
  }
}

/**
 * Per-channel sums for the batch-norm backward: sumG[c] = Σ g and sumGX[c] = Σ g (x - mean[c]) invStd[c]
 * (= Σ g x̂), block by block as {@link sumBlocks} says. Plain: one channel at a time.
 */
export function channelGradSumsReference(
  g: FloatArray, x: FloatArray, n: number, c: number, s: number,
  mean: Float64Array, invStd: Float64Array, sumG: Float64Array, sumGX: Float64Array,
): void {
  for (let ch = 0; ch < c; ch++) {
    const m = mean[ch]!;
    let [tg, tgx, bg, bgx] = [0, 0, 0, 0];
    eachChannelBlock(n, c, s, ch, (o) => {
      const gv = g[o]!;
      bg += gv;
      bgx += gv * (x[o]! - m);
    }, () => {
      tg += bg;
      tgx += bgx;
      bg = bgx = 0;
    });
    sumG[ch] = tg;
    sumGX[ch] = tgx * invStd[ch]!;
  }
}

/**
 * Per-channel mean and biased variance of x [N, C, S]: the blocks' sums ({@link sumsPartials}) in memory
 * order, then combined; bit-equal to {@link channelMeanVarReference}.
 */
export function channelMeanVar(x: FloatArray, n: number, c: number, s: number, mean: Float64Array, varB: Float64Array): void {
  meanVarBy(x, n, c, s, mean, varB, (k) => ownPartials("meanVar", x, x, n, c, s, k, false));
}

/**
 * Mean and biased variance of x [N, C, S] from its blocks' sums, which `partials` returns (every block, laid
 * out as {@link sumsPartials} writes them) given the channels' shifts k (their first values).
 */
export function meanVarBy(
  x: FloatArray, n: number, c: number, s: number, mean: Float64Array, varB: Float64Array, partials: (k: Float64Array) => Float64Array,
): void {
  const k = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) k[ch] = channelShift(x, n, s, ch);
  const part = partials(k), { count } = sumBlocks(n, s);
  for (let ch = 0; ch < c; ch++) {
    const [s1, s2] = combinedPartials(part, count, c, ch);
    shiftedMoments(k[ch]!, s1, s2, n * s, mean, varB, ch);
  }
}

/**
 * Per-channel sums for the batch-norm backward (see {@link channelGradSumsReference}): the blocks' sums in
 * memory order, then combined; bit-equal to the reference.
 */
export function channelGradSums(
  g: FloatArray, x: FloatArray, n: number, c: number, s: number,
  mean: Float64Array, invStd: Float64Array, sumG: Float64Array, sumGX: Float64Array,
): void {
  gradSumsBy(n, c, s, invStd, sumG, sumGX, () => ownPartials("gradSums", g, x, n, c, s, mean, false));
}

/** sumG and sumGX of an [N, C, S] input from its blocks' sums, which `partials` returns (as {@link meanVarBy}'s). */
export function gradSumsBy(
  n: number, c: number, s: number, invStd: Float64Array, sumG: Float64Array, sumGX: Float64Array, partials: () => Float64Array,
): void {
  const part = partials(), { count } = sumBlocks(n, s);
  for (let ch = 0; ch < c; ch++) {
    const [tg, tgx] = combinedPartials(part, count, c, ch);
    sumG[ch] = tg;
    sumGX[ch] = tgx * invStd[ch]!;
  }
}

/** Every block's sums of `pass` on this thread, into a new array (`wasm`: the WASM twin, whatever the dispatch says). */
function ownPartials(pass: SumsPass, g: FloatArray, x: FloatArray, n: number, c: number, s: number, vec: Float64Array, wasm: boolean): Float64Array {
  const { per, count } = sumBlocks(n, s);
  const part = new Float64Array(2 * c * count);
  if (wasm) sumsPartialsWasm(pass, g as Float32Array, x as Float32Array, n, c, s, per, vec, 0, count, part);
  else sumsPartials(pass, g, x, n, c, s, vec, 0, count, part);
  return part;
}

/** Channel ch's two sums: its blocks' sums added in block order from +0. */
function combinedPartials(part: Float64Array, count: number, c: number, ch: number): [number, number] {
  let a = 0;
  let b = 0;
  for (let blk = 0, o = ch; blk < count; blk++, o += 2 * c) {
    a += part[o]!;
    b += part[o + c]!;
  }
  return [a, b];
}

/**
 * The sums of blocks b0..b1-1 ({@link sumBlocks}) of pass `pass` over x [n, c, s] (g: the output
 * gradient, for "gradSums"; any array for "meanVar"): block b's two sums of channel ch, each from +0, go to
 * part[2 c b + ch] and part[2 c b + c + ch] (meanVar: Σ d and Σ d², d = x - vec[ch]; gradSums: Σ g and
 * Σ g (x - vec[ch])). Reads x (and g) once in memory order; the WASM twin where {@link passWasm} says.
 */
export function sumsPartials(
  pass: SumsPass, g: FloatArray, x: FloatArray, n: number, c: number, s: number, vec: Float64Array, b0: number, b1: number, part: Float64Array,
): void {
  if (b1 <= b0) return;
  const { per } = sumBlocks(n, s);
  if (passWasm(x, n, s, 0, c) && (pass === "meanVar" || g instanceof Float32Array)) {
    sumsPartialsWasm(pass, g as Float32Array, x, n, c, s, per, vec, b0, b1, part);
    return;
  }
  for (let b = b0; b < b1; b++) {
    const pa = 2 * c * b, pb = pa + c;
    part.fill(0, pa, pb + c);
    const i1 = Math.min(n, (b + 1) * per);
    let o = b * per * c * s;
    if (s === 1) {
      for (let i = b * per; i < i1; i++) {
        for (let ch = 0; ch < c; ch++, o++) {
          if (pass === "meanVar") {
            const d = x[o]! - vec[ch]!;
            part[pa + ch] += d;
            part[pb + ch] += d * d;
          } else {
            const gv = g[o]!;
            part[pa + ch] += gv;
            part[pb + ch] += gv * (x[o]! - vec[ch]!);
          }
        }
      }
      continue;
    }
    for (let i = b * per; i < i1; i++) {
      for (let ch = 0; ch < c; ch++) {
        const v = vec[ch]!;
        let ta = part[pa + ch]!;
        let tb = part[pb + ch]!;
        const end = o + s;
        if (pass === "meanVar") {
          for (; o < end; o++) {
            const d = x[o]! - v;
            ta += d;
            tb += d * d;
          }
        } else {
          for (; o < end; o++) {
            const gv = g[o]!;
            ta += gv;
            tb += gv * (x[o]! - v);
          }
        }
        part[pa + ch] = ta;
        part[pb + ch] = tb;
      }
    }
  }
}

/**
 * WASM twin of {@link sumsPartials}: the kernel's pass (shiftedSums / gradSums, row or run form) once a
 * block, into zeroed accumulators; x and g where they are in the heap (foreign ones staged), `vec` and
 * `part` through the kernel's scratch unless `part` is in the heap (a thread's share of a shared one).
 */
function sumsPartialsWasm(
  pass: SumsPass, g: Float32Array, x: Float32Array, n: number, c: number, s: number, per: number,
  vec: Float64Array, b0: number, b1: number, part: Float64Array,
): void {
  const len = n * c * s, arrayB = Math.ceil((len * 4) / 16) * 16;
  const ins = pass === "meanVar" ? [x] : [g, x];
  const direct = inHeap(part);
  const vecB = Math.ceil((c * 8) / 16) * 16, partB = direct ? 0 : 2 * c * (b1 - b0) * 8;
  const at = normKernel.scratch.take(vecB + partB + ins.filter((a) => !inHeap(a)).length * arrayB);
  heapF64().set(vec.subarray(0, c), at / 8);
  // The partial sums of block b: byte address pAt + 2 c (b - pFirst) 8.
  const pAt = direct ? part.byteOffset : at + vecB, pFirst = direct ? 0 : b0;
  heapF64().fill(0, pAt / 8 + 2 * c * (b0 - pFirst), pAt / 8 + 2 * c * (b1 - pFirst));
  let stage = at + vecB + partB;
  const ptrs = ins.map((a) => {
    const p = heapPtr(a, 0, len, stage, true);
    if (!inHeap(a)) stage += arrayB;
    return p;
  });
  const name = pass === "meanVar" ? "shiftedSums" : "gradSums";
  for (let b = b0; b < b1; b++) {
    const rows = Math.min(per, n - b * per), first = ptrs.map((p) => p + b * per * c * s * 4);
    const pa = pAt + 2 * c * (b - pFirst) * 8, pb = pa + c * 8;
    if (s === 1) normPassWasm(name, ...first, rows, c, c, at, pa, pb);
    else normPassWasm(`${name}Runs`, ...first, rows, c, s, c * s, at, pa, pb);
  }
  if (!direct) part.set(heapF64().subarray(pAt / 8, pAt / 8 + 2 * c * (b1 - b0)), 2 * c * b0);
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
 * Runs an element-wise WASM norm pass over channels c0..c1-1 of x [n, c, s] in
 * place: the arrays `ins` are read and `out` written where they are in the heap
 * (a foreign one is staged in the kernel's scratch, counted, and `out` copied
 * back). The per-channel float64 vectors' values at c0..c1-1 are copied into
 * the scratch. The token layout
 * (s = 1) takes the kernel's row form, others its run form; rows (samples)
 * are c values (c s) apart, the pass covering c1 - c0 (runs) of each.
 */
function runPassWasm(
  pass: "affine" | "gradInput", ins: readonly Float32Array[], out: Float32Array,
  n: number, c: number, s: number, c0: number, c1: number, vectors: readonly Float64Array[],
): void {
  const w = c1 - c0, len = n * c * s, arrayB = Math.ceil((len * 4) / 16) * 16, vecB = Math.ceil((vectors.length * w * 8) / 16) * 16;
  const arrays = [...ins, out];
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
  if (!inHeap(out)) unstage(out, 0, len, ptrs[ins.length]!);
}

/** WASM twin of {@link channelMeanVar} (float32 x [n, c, s]), any size (foreign x staged). */
export function channelMeanVarWasm(x: Float32Array, n: number, c: number, s: number, mean: Float64Array, varB: Float64Array): void {
  meanVarBy(x, n, c, s, mean, varB, (k) => ownPartials("meanVar", x, x, n, c, s, k, true));
}

/** WASM twin of {@link channelGradSums} (float32 g, x [n, c, s]), any size (foreign arrays staged). */
export function channelGradSumsWasm(
  g: Float32Array, x: Float32Array, n: number, c: number, s: number,
  mean: Float64Array, invStd: Float64Array, sumG: Float64Array, sumGX: Float64Array,
): void {
  gradSumsBy(n, c, s, invStd, sumG, sumGX, () => ownPartials("gradSums", g, x, n, c, s, mean, true));
}

/** WASM twin of {@link channelAffineRange} ([n, c, s]; all channels by default), any size. */
export function channelAffineWasm(
  x: Float32Array, out: Float32Array, n: number, c: number, s: number, scale: Float64Array, shift: Float64Array, c0 = 0, c1 = c,
): void {
  runPassWasm("affine", [x], out, n, c, s, c0, c1, [scale, shift]);
}

/** WASM twin of {@link channelGradInputRange} ([n, c, s]; all channels by default), any size. */
export function channelGradInputWasm(
  g: Float32Array, x: Float32Array, dx: Float32Array, n: number, c: number, s: number,
  mean: Float64Array, invStd: Float64Array, k: Float64Array, a: Float64Array, b: Float64Array, c0 = 0, c1 = c,
): void {
  runPassWasm("gradInput", [g, x], dx, n, c, s, c0, c1, [mean, invStd, k, a, b]);
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
