/**
 * 2-D pooling over planes [P, h, w] (P = N C) with stride and padding,
 * floor output size. Window geometry reuses {@link ConvGeom} (dilation 1).
 */
import type { FloatArray } from "../tensor/tensor.js";
import type { ConvGeom } from "./conv/conv.js";

/**
 * Max pooling. Padding counts as -inf. `arg[o]` receives the flat index in
 * the plane of the first maximum in row-major window order (strict `>`), or
 * -1 when a window holds no input element (not reachable with PyTorch's
 * padding limit).
 */
export function maxPool2dForward(x: FloatArray, planes: number, g: ConvGeom, out: FloatArray, arg: Int32Array): void {
  const { h, w, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const plane = h * w;
  let o = 0;
  for (let pl = 0; pl < planes; pl++) {
    const xo = pl * plane;
    for (let i = 0; i < oh; i++) {
      const r0 = i * sh - ph;
      const rLo = Math.max(0, r0);
      const rHi = Math.min(h, r0 + kh);
      for (let j = 0; j < ow; j++, o++) {
        const c0 = j * sw - pw;
        const cLo = Math.max(0, c0);
        const cHi = Math.min(w, c0 + kw);
        let best = -Infinity;
        let bi = -1;
        for (let r = rLo; r < rHi; r++) {
          const row = r * w;
          for (let c = cLo; c < cHi; c++) {
            const v = x[xo + row + c]!;
            // NaN propagates like PyTorch: a NaN wins the window.
            if (v > best || bi < 0 || v !== v) {
              best = v;
              bi = row + c;
              if (v !== v) { r = rHi; break; }
            }
          }
        }
        out[o] = best;
        arg[o] = bi;
      }
    }
  }
}

/** Adds g[o] onto dx at each window's recorded maximum. */
export function maxPool2dBackward(g: FloatArray, arg: Int32Array, planes: number, plane: number, outPlane: number, dx: FloatArray): void {
  let o = 0;
  for (let pl = 0; pl < planes; pl++) {
    const xo = pl * plane;
    for (let q = 0; q < outPlane; q++, o++) {
      const a = arg[o]!;
      if (a >= 0) dx[xo + a]! += g[o]!;
    }
  }
}

/** Average pooling; padding counts as zeros in the window (divisor kh kw, count_include_pad). */
export function avgPool2dForward(x: FloatArray, planes: number, g: ConvGeom, out: FloatArray): void {
  const { h, w, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const plane = h * w;
  const inv = 1 / (kh * kw);
  let o = 0;
  for (let pl = 0; pl < planes; pl++) {
    const xo = pl * plane;
    for (let i = 0; i < oh; i++) {
      const r0 = i * sh - ph;
      const rLo = Math.max(0, r0);
      const rHi = Math.min(h, r0 + kh);
      for (let j = 0; j < ow; j++, o++) {
        const c0 = j * sw - pw;
        const cLo = Math.max(0, c0);
        const cHi = Math.min(w, c0 + kw);
        let s = 0;
        for (let r = rLo; r < rHi; r++) for (let c = cLo; c < cHi; c++) s += x[xo + r * w + c]!;
        out[o] = s * inv;
      }
    }
  }
}

/** Adjoint of {@link avgPool2dForward}: spreads g / (kh kw) over each window's input elements. */
export function avgPool2dBackward(gy: FloatArray, planes: number, g: ConvGeom, dx: FloatArray): void {
  const { h, w, kh, kw, sh, sw, ph, pw, oh, ow } = g;
  const plane = h * w;
  const inv = 1 / (kh * kw);
  let o = 0;
  for (let pl = 0; pl < planes; pl++) {
    const xo = pl * plane;
    for (let i = 0; i < oh; i++) {
      const r0 = i * sh - ph;
      const rLo = Math.max(0, r0);
      const rHi = Math.min(h, r0 + kh);
      for (let j = 0; j < ow; j++, o++) {
        const c0 = j * sw - pw;
        const cLo = Math.max(0, c0);
        const cHi = Math.min(w, c0 + kw);
        const v = gy[o]! * inv;
        for (let r = rLo; r < rHi; r++) for (let c = cLo; c < cHi; c++) dx[xo + r * w + c]! += v;
      }
    }
  }
}
