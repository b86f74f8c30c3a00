/**
 * im2col / col2im for 2-D convolution (stride, zero padding, dilation). A
 * column matrix for channels [c0, c0 + cn) of one image has rows ordered
 * (c, ki, kj) and columns (oh, ow): `cols[((c - c0) kh + ki) kw + kj, oh OW + ow]`,
 * which matches a weight slice [O, cn, kh, kw] read as [O, cn kh kw].
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { BitspikeError } from "../../tensor/errors.js";
import { wasmKernelsEnabled, wasmSimdAvailable } from "../../wasm/backend.js";
import { col2imWasmCall, convKernel } from "./wasm.js";
import { heapPtr, unstage } from "../../wasm/runtime.js";
import { heapU8, inHeap } from "../../tensor/heap.js";

/** Geometry of one 2-D convolution (or pooling) window sweep. */
export interface ConvGeom {
  /** Input height and width. */
  h: number; w: number;
  /** Kernel height and width. */
  kh: number; kw: number;
  sh: number; sw: number;
  ph: number; pw: number;
  dh: number; dw: number;
  /** Output height and width. */
  oh: number; ow: number;
}

/** First and one-past-last output index o with 0 <= o*s - p + off < size. */
function validRange(size: number, out: number, s: number, p: number, off: number): [number, number] {
  // o*s >= p - off  and  o*s <= size - 1 + p - off
  const lo = Math.max(0, Math.ceil((p - off) / s));
  const hi = Math.min(out, Math.floor((size - 1 + p - off) / s) + 1);
  return [lo, Math.max(lo, hi)];
}

/**
 * Fills `cols` (from `colsOff`, cn kh kw rows of oh ow) from channels
 * c0..c0+cn-1 of the image at `xOff` (layout [C, h, w]); padding reads as 0.
 */
export function im2col(x: FloatArray, xOff: number, c0: number, cn: number, g: ConvGeom, cols: FloatArray, colsOff: number): void {
  const { h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow } = g;
  const plane = h * w;
  let r = colsOff;
  for (let c = 0; c < cn; c++) {
    const xc = xOff + (c0 + c) * plane;
    for (let ki = 0; ki < kh; ki++) {
      const [ohLo, ohHi] = validRange(h, oh, sh, ph, ki * dh);
      for (let kj = 0; kj < kw; kj++, r += oh * ow) {
        const [owLo, owHi] = validRange(w, ow, sw, pw, kj * dw);
        if (ohLo > 0) cols.fill(0, r, r + ohLo * ow);
        if (ohHi < oh) cols.fill(0, r + ohHi * ow, r + oh * ow);
        for (let o = ohLo; o < ohHi; o++) {
          const row = r + o * ow;
          const src = xc + (o * sh - ph + ki * dh) * w + kj * dw - pw;
          if (owLo > 0) cols.fill(0, row, row + owLo);
          if (owHi < ow) cols.fill(0, row + owHi, row + ow);
          if (sw === 1) {
            for (let q = owLo; q < owHi; q++) cols[row + q] = x[src + q]!;
          } else {
            for (let q = owLo; q < owHi; q++) cols[row + q] = x[src + q * sw]!;
          }
        }
      }
    }
  }
}

/**
 * The adjoint of {@link im2col}: adds each column entry back onto the input
 * position it was read from (`dx` layout [C, h, w] at `xOff`); padding
 * entries are dropped. Fixed order: rows of cols in order. Runs the
 * WebAssembly SIMD twin ({@link col2imWasm}) where the kernel backend enables
 * it and both arrays are float32, else {@link col2imJs}: the same bits.
 */
export function col2im(cols: FloatArray, colsOff: number, c0: number, cn: number, g: ConvGeom, dx: FloatArray, xOff: number): void {
  if (cols instanceof Float32Array && dx instanceof Float32Array && cn * g.kh * g.kw * g.oh * g.ow >= COL2IM_WASM_MIN && wasmKernelsEnabled()) {
    col2imWasm(cols, colsOff, c0, cn, g, dx, xOff);
  } else {
    col2imJs(cols, colsOff, c0, cn, g, dx, xOff);
  }
}

/** Column entries below which col2im stays in JS (the copies in and out cost more). */
const COL2IM_WASM_MIN = 1024;

/**
 * The WebAssembly SIMD twin of {@link col2imJs} (src/kernels/conv/wasm.ts),
 * in place: reads cols and adds into dx where they are in the heap (float32
 * adds, four at a time where the column stride is 1), with the small table of
 * valid ranges and shifts in the kernel's scratch. A foreign array is staged
 * there too (counted), dx copied back. Same bits.
 */
export function col2imWasm(cols: Float32Array, colsOff: number, c0: number, cn: number, g: ConvGeom, dx: Float32Array, xOff: number): void {
  if (!wasmSimdAvailable()) throw new BitspikeError("col2imWasm", "this runtime has no WebAssembly SIMD");
  const { h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow } = g;
  const plane = h * w, colsLen = cn * kh * kw * oh * ow, dxLen = cn * plane, x0 = xOff + c0 * plane;
  const round16 = (b: number) => Math.ceil(b / 16) * 16;
  const tableB = round16((kh + kw) * 12);
  const colsStage = inHeap(cols) ? 0 : round16(colsLen * 4);
  const at = convKernel.scratch.take(tableB + colsStage + (inHeap(dx) ? 0 : dxLen * 4));
  const i32 = new Int32Array(heapU8().buffer, at, tableB / 4);
  for (let ki = 0; ki < kh; ki++) {
    [i32[2 * ki], i32[2 * ki + 1]] = validRange(h, oh, sh, ph, ki * dh);
    i32[2 * (kh + kw) + ki] = (ki * dh - ph) * w;
  }
  for (let kj = 0; kj < kw; kj++) {
    [i32[2 * (kh + kj)], i32[2 * (kh + kj) + 1]] = validRange(w, ow, sw, pw, kj * dw);
    i32[2 * (kh + kw) + kh + kj] = kj * dw - pw;
  }
  const colsB = heapPtr(cols, colsOff, colsLen, at + tableB, true);
  const dxB = heapPtr(dx, x0, dxLen, at + tableB + colsStage, true);
  col2imWasmCall(colsB, dxB, at, cn, plane, w, kh, kw, oh, ow, sh, sw);
  if (!inHeap(dx)) unstage(dx, x0, dxLen, dxB);
}

/** The plain-TypeScript twin of {@link col2im}, whatever the backend. */
export function col2imJs(cols: FloatArray, colsOff: number, c0: number, cn: number, g: ConvGeom, dx: FloatArray, xOff: number): void {
  const { h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow } = g;
  const plane = h * w;
  let r = colsOff;
  for (let c = 0; c < cn; c++) {
    const xc = xOff + (c0 + c) * plane;
    for (let ki = 0; ki < kh; ki++) {
      const [ohLo, ohHi] = validRange(h, oh, sh, ph, ki * dh);
      for (let kj = 0; kj < kw; kj++, r += oh * ow) {
        const [owLo, owHi] = validRange(w, ow, sw, pw, kj * dw);
        for (let o = ohLo; o < ohHi; o++) {
          const row = r + o * ow;
          const dst = xc + (o * sh - ph + ki * dh) * w + kj * dw - pw;
          for (let q = owLo; q < owHi; q++) dx[dst + q * sw]! += cols[row + q]!;
        }
      }
    }
  }
}
