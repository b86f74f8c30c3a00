/**
 * Max-pooling spikes: an OR over each window, read a window row as a word
 * (the dispatch, its range form and the reference twin); threads.ts splits
 * the planes over the pool.
 */
import { wordsFor } from "../../tensor/bits.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { inHeap } from "../../tensor/heap.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { maxPoolForwardWasmCall, maxPoolGradWasmCall } from "./wasm.js";

/** Geometry of a 2-D pooling window. */
export interface PoolGeometry {
  planes: number; // N * C
  h: number;
  w: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  oh: number;
  ow: number;
}

/**
 * Max-pool on spikes: an output bit is the OR of its window. `argmax[o]`
 * receives the flat input index (within the plane) that PyTorch's max_pool2d
 * would pick: the first set bit in row-major window order, else the first
 * in-bounds element (all values equal 0). dst must be zeroed.
 */
export function maxPoolBits(src: Uint32Array, dst: Uint32Array, argmax: Int32Array | null, g: PoolGeometry): void {
  maxPoolBitsRange(src, dst, argmax, g, 0, g.planes);
}

/**
 * {@link maxPoolBits} of planes p0..p1-1 only (their dst words must be zeroed);
 * planes are independent. Rows of one word: {@link oneWordRows}, or its WASM
 * twin where the kernel backend enables it and the arrays are in the heap;
 * else without argmax (inference) {@link maxPoolBitsRangeRows}; with it, the
 * WASM twin (backend, heap, windows at most 31 wide), else
 * {@link maxPoolBitsRangeJs}. Same output every way.
 */
export function maxPoolBitsRange(src: Uint32Array, dst: Uint32Array, argmax: Int32Array | null, g: PoolGeometry, p0: number, p1: number): void {
  const wasm = wasmKernelsEnabled() && inHeap(src) && inHeap(dst) && (argmax === null || inHeap(argmax));
  if (oneWordFits(g)) (wasm ? oneWordRowsWasm : oneWordRows)(src, dst, argmax, g, p0, p1);
  else if (argmax === null && g.kw <= 31) maxPoolBitsRangeRows(src, dst, g, p0, p1);
  else if (g.kw <= 31 && wasm) maxPoolBitsRangeWasm(src, dst, argmax, g, p0, p1);
  else maxPoolBitsRangeJs(src, dst, argmax, g, p0, p1);
}

// The OR of one output row's window rows, one spare zero word for reads across the last word (grow-only).
let orRow = new Uint32Array(0);

/**
 * {@link maxPoolBitsRange} without argmax (a spike is all an output needs):
 * the window rows of an output row ORed word by word once, then each output
 * reads its columns of that OR (a shifted word or two, masked), and the
 * output bits are stored a word at a time. The same spikes as
 * {@link maxPoolBitsRangeReference}; windows at most 31 wide.
 */
export function maxPoolBitsRangeRows(src: Uint32Array, dst: Uint32Array, g: PoolGeometry, p0: number, p1: number): void {
  const { h, w, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  if (kw > 31) throw new Error(`maxPoolBitsRangeRows: windows at most 31 wide, got ${kw}`);
  const siw = wordsFor(w), dow = wordsFor(ow);
  if (orRow.length < siw + 1) orRow = new Uint32Array(siw + 1);
  const row = orRow;
  for (let p = p0; p < p1; p++) {
    const plane = p * h * siw;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - ph;
      const yA = y0 < 0 ? 0 : y0, yB = y0 + kh > h ? h : y0 + kh;
      row.fill(0, 0, siw);
      for (let y = yA; y < yB; y++) for (let q = 0, r = plane + y * siw; q < siw; q++) row[q]! |= src[r + q]!;
      const drow = (p * oh + oy) * dow;
      let acc = 0;
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - pw;
        const xA = x0 < 0 ? 0 : x0, xB = x0 + kw > w ? w : x0 + kw;
        const len = xB - xA;
        if (len > 0) {
          const q = xA >>> 5, off = xA & 31;
          let bits = row[q]! >>> off;
          if (off + len > 32) bits |= row[q + 1]! << (32 - off);
          if ((bits & ((1 << len) - 1)) !== 0) acc |= 1 << (ox & 31);
        }
        if ((ox & 31) === 31 || ox === ow - 1) {
          dst[drow + (ox >>> 5)]! |= acc;
          acc = 0;
        }
      }
    }
  }
}

/** True when {@link oneWordRows} applies: input rows of one word, window starts (ox sw) within one, windows at most 31 wide. */
export function oneWordFits(g: PoolGeometry): boolean {
  return g.w <= 32 && (g.ow - 1) * g.sw < 32 && g.kw <= 31;
}

/**
 * {@link maxPoolBitsRange} where an input row is one word and the sampled
 * window starts (ox sw) fit in one (the Spikformer stems: 32 wide and less):
 * the window rows ORed, their OR over the kw columns of every start at once by
 * shifts (bits below 0 and past w are the padding's zeros), then the starts
 * ox sw picked out (every bit, every other bit by the usual mask steps, or one
 * by one). argmax, when asked: an output without a spike takes its window's
 * first element at once; one with a spike scans its window rows for the first
 * set bit, as {@link maxPoolBitsRangeJs} does for every output.
 */
export function oneWordRows(src: Uint32Array, dst: Uint32Array, argmax: Int32Array | null, g: PoolGeometry, p0: number, p1: number): void {
  if (!oneWordFits(g)) throw new Error("oneWordRows: needs rows of one word, window starts within one and windows at most 31 wide");
  const { h, w, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const inMask = w === 32 ? -1 : (1 << w) - 1, outMask = ow === 32 ? -1 : (1 << ow) - 1;
  for (let p = p0; p < p1; p++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - ph;
      const yA = y0 < 0 ? 0 : y0, yB = y0 + kh > h ? h : y0 + kh;
      let r = 0;
      for (let y = yA; y < yB; y++) r |= src[p * h + y]!;
      r &= inMask;
      // Bit x of t: any spike in columns x - pw .. x - pw + kw - 1.
      let t = 0;
      for (let j = 0; j < kw; j++) t |= pw - j >= 0 ? r << (pw - j) : r >>> (j - pw);
      let out: number;
      if (sw === 1) {
        out = t;
      } else if (sw === 2) {
        out = t & 0x55555555;
        out = (out | (out >>> 1)) & 0x33333333;
        out = (out | (out >>> 2)) & 0x0f0f0f0f;
        out = (out | (out >>> 4)) & 0x00ff00ff;
        out = (out | (out >>> 8)) & 0x0000ffff;
      } else {
        out = 0;
        for (let ox = 0; ox < ow; ox++) out |= ((t >>> (ox * sw)) & 1) << ox;
      }
      out &= outMask;
      dst[p * oh + oy] = out;
      if (argmax === null) continue;
      const arow = (p * oh + oy) * ow;
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - pw;
        const xA = x0 < 0 ? 0 : x0, xB = x0 + kw > w ? w : x0 + kw;
        const len = xB - xA;
        let hit = yA < yB && len > 0 ? yA * w + xA : -1;
        if ((out >>> ox) & 1) {
          const mask = (1 << len) - 1;
          for (let y = yA; y < yB; y++) {
            const bits = (src[p * h + y]! >>> xA) & mask;
            if (bits !== 0) {
              hit = y * w + xA + (31 - Math.clz32(bits & -bits));
              break;
            }
          }
        }
        argmax[arow + ox] = hit;
      }
    }
  }
}

/**
 * The WASM twin of {@link oneWordRows} (heap arrays; the same words and argmax). With argmax, 3x3 windows
 * of stride 2 at density 0.15, one thread: 16,384 planes of 28 x 28 39 -> 17 ms, 32,768 of 14 x 14
 * 22 -> 8 ms (the MNIST b64 stem's two pools); in the MNIST b64 training step (sparser) 40 -> 27 ms.
 */
export function oneWordRowsWasm(src: Uint32Array, dst: Uint32Array, argmax: Int32Array | null, g: PoolGeometry, p0: number, p1: number): void {
  if (!oneWordFits(g)) throw new Error("oneWordRowsWasm: needs rows of one word, window starts within one and windows at most 31 wide");
  if (!inHeap(src) || !inHeap(dst) || (argmax !== null && !inHeap(argmax))) throw new Error("oneWordRowsWasm: needs heap arrays");
  forwardWasm(true, src, dst, argmax, g, p0, p1);
}

/** Planes p0..p1-1 by a WASM forward (`oneWord`: the one-word-rows one), the arrays' plane p0 located in the heap. */
function forwardWasm(oneWord: boolean, src: Uint32Array, dst: Uint32Array, argmax: Int32Array | null, g: PoolGeometry, p0: number, p1: number): void {
  if (p1 <= p0) return;
  const siw = wordsFor(g.w), dow = wordsFor(g.ow);
  maxPoolForwardWasmCall(
    oneWord, src.byteOffset + p0 * g.h * siw * 4, dst.byteOffset + p0 * g.oh * dow * 4, argmax === null ? 0 : argmax.byteOffset + p0 * g.oh * g.ow * 4,
    argmax !== null, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow, p1 - p0,
  );
}

/**
 * {@link maxPoolBitsRange} by the WASM twin (./wasm.ts): src, dst and argmax
 * must be heap arrays, windows at most 31 wide.
 */
export function maxPoolBitsRangeWasm(src: Uint32Array, dst: Uint32Array, argmax: Int32Array | null, g: PoolGeometry, p0: number, p1: number): void {
  if (g.kw > 31 || !inHeap(src) || !inHeap(dst) || (argmax !== null && !inHeap(argmax))) {
    throw new Error("maxPoolBitsRangeWasm: needs heap arrays and a window at most 31 wide");
  }
  forwardWasm(false, src, dst, argmax, g, p0, p1);
}

/**
 * The TypeScript twin of {@link maxPoolBitsRange}. Reads each window row's
 * bits at once (a shift of one or two words) instead of bit by bit: the first
 * set bit in (ky, kx) order is the first nonzero row's lowest bit. Same output
 * as {@link maxPoolBitsRangeReference}; windows wider than 31 go there.
 */
export function maxPoolBitsRangeJs(src: Uint32Array, dst: Uint32Array, argmax: Int32Array | null, g: PoolGeometry, p0: number, p1: number): void {
  if (g.kw > 31) {
    maxPoolBitsRangeReference(src, dst, argmax, g, p0, p1);
    return;
  }
  const { h, w, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const siw = wordsFor(w);
  const dow = wordsFor(ow);
  for (let p = p0; p < p1; p++) {
    const plane = p * h * siw;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - ph;
      const yA = y0 < 0 ? 0 : y0, yB = y0 + kh > h ? h : y0 + kh;
      const drow = (p * oh + oy) * dow;
      const arow = (p * oh + oy) * ow;
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - pw;
        const xA = x0 < 0 ? 0 : x0, xB = x0 + kw > w ? w : x0 + kw;
        const len = xB - xA;
        let hit = -1;
        if (len > 0) {
          const q = xA >>> 5, off = xA & 31;
          const mask = ((1 << len) - 1) | 0; // len <= 31
          const cross = off + len > 32;
          for (let y = yA; y < yB; y++) {
            const row = plane + y * siw + q;
            let bits = src[row]! >>> off;
            if (cross) bits |= src[row + 1]! << (32 - off);
            bits &= mask;
            if (bits !== 0) {
              hit = y * w + xA + (31 - Math.clz32(bits & -bits));
              break;
            }
          }
        }
        if (hit >= 0) dst[drow + (ox >>> 5)]! |= 1 << (ox & 31);
        // No spike in the window: the gradient goes to its first element, as a float max-pool's tie rule says.
        if (argmax) argmax[arow + ox] = hit >= 0 ? hit : yA < yB && len > 0 ? yA * w + xA : -1;
      }
    }
  }
}

/** The plain bit-by-bit loop of {@link maxPoolBitsRange}: the tests' oracle. */
export function maxPoolBitsRangeReference(
  src: Uint32Array, dst: Uint32Array, argmax: Int32Array | null, g: PoolGeometry, p0: number, p1: number,
): void {
  const siw = wordsFor(g.w);
  const dow = wordsFor(g.ow);
  for (let p = p0; p < p1; p++) {
    for (let oy = 0; oy < g.oh; oy++) {
      for (let ox = 0; ox < g.ow; ox++) {
        let first = -1;
        let hit = -1;
        for (let ky = 0; ky < g.kh && hit < 0; ky++) {
          const y = oy * g.sh - g.ph + ky;
          if (y < 0 || y >= g.h) continue;
          const row = (p * g.h + y) * siw;
          for (let kx = 0; kx < g.kw; kx++) {
            const x = ox * g.sw - g.pw + kx;
            if (x < 0 || x >= g.w) continue;
            if (first < 0) first = y * g.w + x;
            if ((src[row + (x >>> 5)]! >>> (x & 31)) & 1) {
              hit = y * g.w + x;
              break;
            }
          }
        }
        if (hit >= 0) dst[(p * g.oh + oy) * dow + (ox >>> 5)]! |= 1 << (ox & 31);
        if (argmax) argmax[(p * g.oh + oy) * g.ow + ox] = hit >= 0 ? hit : first;
      }
    }
  }
}

/**
 * The spike max-pool's gradient for planes p0..p1-1: gx [planes, inPlane]
 * (zeroed) += each output's gradient g [planes, outPlane] at the input element
 * its argmax names, outputs in order (overlapping windows sum onto an element
 * in output order). Planes are independent. The TypeScript twin.
 */
export function maxPoolGradRangeJs(
  g: FloatArray, argmax: Int32Array, gx: FloatArray, inPlane: number, outPlane: number, p0: number, p1: number,
): void {
  for (let p = p0; p < p1; p++) {
    const gi = p * outPlane, xi = p * inPlane;
    for (let i = 0; i < outPlane; i++) gx[xi + argmax[gi + i]!]! += g[gi + i]!;
  }
}

/** {@link maxPoolGradRangeJs} as a gather, input element by element (quadratic): the tests' oracle. */
export function maxPoolGradRangeReference(
  g: FloatArray, argmax: Int32Array, gx: FloatArray, inPlane: number, outPlane: number, p0: number, p1: number,
): void {
  for (let p = p0; p < p1; p++) {
    for (let e = 0; e < inPlane; e++) for (let i = 0; i < outPlane; i++) if (argmax[p * outPlane + i] === e) gx[p * inPlane + e]! += g[p * outPlane + i]!;
  }
}

/** {@link maxPoolGradRangeJs} by the WASM twin (./wasm.ts); g, argmax and gx must be heap arrays, g and gx of one type. */
export function maxPoolGradRangeWasm(
  g: FloatArray, argmax: Int32Array, gx: FloatArray, inPlane: number, outPlane: number, p0: number, p1: number,
): void {
  if (!wasmGrad(g, argmax, gx)) throw new Error("maxPoolGradRangeWasm: needs heap arrays, g and gx of one type");
  if (p1 <= p0) return;
  const es = gx.BYTES_PER_ELEMENT;
  maxPoolGradWasmCall(es === 8, g.byteOffset + p0 * outPlane * es, argmax.byteOffset + p0 * outPlane * 4, gx.byteOffset + p0 * inPlane * es, inPlane, outPlane, p1 - p0);
}

function wasmGrad(g: FloatArray, argmax: Int32Array, gx: FloatArray): boolean {
  return g instanceof Float64Array === gx instanceof Float64Array && inHeap(g) && inHeap(argmax) && inHeap(gx);
}

/** One thread's dispatch of the gradient on planes p0..p1-1: the WASM twin for heap arrays where the backend allows, else the TypeScript twin. */
export function maxPoolGradRange(
  g: FloatArray, argmax: Int32Array, gx: FloatArray, inPlane: number, outPlane: number, p0: number, p1: number,
): void {
  if (wasmKernelsEnabled() && wasmGrad(g, argmax, gx)) maxPoolGradRangeWasm(g, argmax, gx, inPlane, outPlane, p0, p1);
  else maxPoolGradRangeJs(g, argmax, gx, inPlane, outPlane, p0, p1);
}
