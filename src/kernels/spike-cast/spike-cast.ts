/**
 * Spikes to floats, optionally added to a base in the same pass:
 * out[i] = base[i] + bit(i) (base a float array, or spikes: their 0/1), or
 * out[i] = bit(i) without a base. The residual join of Spikformer
 * (counts + spikes, or spikes + spikes) without materialising the unpacked
 * spikes. Each element is one JS addition of the same two numbers the
 * unfused ops added (x + 0 or x + 1, rounded to out's type on the store), so
 * the bits are the same; a range is rows r0..r1-1 of [rows, cols].
 */
import { wordsFor } from "../../tensor/bits.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { inHeap } from "../../tensor/heap.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { unpackWasmCall } from "./wasm.js";

/** What is added to the spikes: nothing, a float array [rows, cols], or spikes of the same shape (packed words). */
export type UnpackBase = FloatArray | Uint32Array | null;

/** The plain element-by-element loop (the tests' oracle). */
export function unpackAddRangeReference(base: UnpackBase, s: Uint32Array, out: FloatArray, cols: number, r0: number, r1: number): void {
  const wpr = wordsFor(cols);
  for (let r = r0; r < r1; r++) {
    for (let c = 0; c < cols; c++) {
      const v = (s[r * wpr + (c >>> 5)]! >>> (c & 31)) & 1;
      const i = r * cols + c;
      if (base === null) out[i] = v;
      else if (base instanceof Uint32Array) out[i] = ((base[r * wpr + (c >>> 5)]! >>> (c & 31)) & 1) + v;
      else out[i] = base[i]! + v;
    }
  }
}

/** The TypeScript twin: one word at a time, a loop per kind of base. */
export function unpackAddRangeJs(base: UnpackBase, s: Uint32Array, out: FloatArray, cols: number, r0: number, r1: number): void {
  const wpr = wordsFor(cols);
  for (let r = r0; r < r1; r++) {
    const o = r * cols, wo = r * wpr;
    for (let w = 0; w < wpr; w++) {
      const x = s[wo + w]!;
      const c0 = o + (w << 5), n = Math.min(32, cols - (w << 5));
      if (base === null) {
        for (let b = 0; b < n; b++) out[c0 + b] = (x >>> b) & 1;
      } else if (base instanceof Uint32Array) {
        const y = base[wo + w]!;
        for (let b = 0; b < n; b++) out[c0 + b] = ((y >>> b) & 1) + ((x >>> b) & 1);
      } else {
        for (let b = 0; b < n; b++) out[c0 + b] = base[c0 + b]! + ((x >>> b) & 1);
      }
    }
  }
}

/** The WASM twin's case: heap arrays, a float base of out's type. */
function wasmCase(base: UnpackBase, s: Uint32Array, out: FloatArray): boolean {
  if (!inHeap(s) || !inHeap(out)) return false;
  if (base === null) return true;
  return inHeap(base) && (base instanceof Uint32Array || base instanceof Float64Array === out instanceof Float64Array);
}

/** {@link unpackAddRangeReference} by the WASM twin (./wasm.ts); needs heap arrays and a float base of out's type. */
export function unpackAddRangeWasm(base: UnpackBase, s: Uint32Array, out: FloatArray, cols: number, r0: number, r1: number): void {
  if (!wasmCase(base, s, out)) throw new Error("unpackAddRangeWasm: needs heap arrays and a float base of the output's type");
  if (r1 <= r0) return;
  const wpr = wordsFor(cols), es = out.BYTES_PER_ELEMENT;
  const kind = base === null ? "" : base instanceof Uint32Array ? "B" : "F";
  const b = base === null ? 0 : base instanceof Uint32Array ? base.byteOffset + r0 * wpr * 4 : base.byteOffset + r0 * cols * es;
  unpackWasmCall(es === 8, kind, b, s.byteOffset + r0 * wpr * 4, out.byteOffset + r0 * cols * es, cols, wpr, r1 - r0);
}

/** One thread's dispatch on rows r0..r1-1: the WASM twin where the backend allows and it applies, else the TypeScript twin. */
export function unpackAddRange(base: UnpackBase, s: Uint32Array, out: FloatArray, cols: number, r0: number, r1: number): void {
  if (wasmKernelsEnabled() && wasmCase(base, s, out)) unpackAddRangeWasm(base, s, out, cols, r0, r1);
  else unpackAddRangeJs(base, s, out, cols, r0, r1);
}
