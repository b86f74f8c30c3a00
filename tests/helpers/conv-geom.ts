/** The kernel part of a random conv configuration, shared by the conv kernel and op tests. */
import fc from "fast-check";

/** Kernel size, stride, padding and dilation per axis: 1-3, 1-3, 0-2, 1-2. */
export const kernelFields = {
  kh: fc.integer({ min: 1, max: 3 }),
  kw: fc.integer({ min: 1, max: 3 }),
  sh: fc.integer({ min: 1, max: 3 }),
  sw: fc.integer({ min: 1, max: 3 }),
  ph: fc.integer({ min: 0, max: 2 }),
  pw: fc.integer({ min: 0, max: 2 }),
  dh: fc.integer({ min: 1, max: 2 }),
  dw: fc.integer({ min: 1, max: 2 }),
};

/** The dilated kernel fits the padded h x w input (at least one output position per axis). */
export function kernelFits(g: { h: number; w: number; kh: number; kw: number; ph: number; pw: number; dh: number; dw: number }): boolean {
  return g.h + 2 * g.ph >= g.dh * (g.kh - 1) + 1 && g.w + 2 * g.pw >= g.dw * (g.kw - 1) + 1;
}
