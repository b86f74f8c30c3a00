/**
 * Elementwise kernels over typed arrays. No shapes beyond what the loop
 * needs, no autograd: ops in `src/ops/` own the checks. The array sum (the
 * tape's gradient accumulation) has WASM and threaded twins.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { inHeap } from "../../tensor/heap.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { addWasmCall } from "./wasm.js";

/** dst[i] = f(a[i]). */
export function mapUnary(a: FloatArray, dst: FloatArray, f: (x: number) => number): void {
  const n = a.length;
  for (let i = 0; i < n; i++) dst[i] = f(a[i]!);
}

/**
 * One run of a binary op along the last axis: out[o + j] = a[ao + j sa] op b[bo + j sb], j < n.
 * One function per op, so each loop's operation is inlined (a callback per element is not, once
 * several ops share the loop).
 */
export type BinaryRow = (out: FloatArray, o: number, a: FloatArray, ao: number, sa: number, b: FloatArray, bo: number, sb: number, n: number) => void;

/** The row kernels of the arithmetic ops. */
export const BINARY_ROWS = {
  add: ((out, o, a, ao, sa, b, bo, sb, n) => { for (let j = 0; j < n; j++) out[o + j] = a[ao + j * sa]! + b[bo + j * sb]!; }) as BinaryRow,
  sub: ((out, o, a, ao, sa, b, bo, sb, n) => { for (let j = 0; j < n; j++) out[o + j] = a[ao + j * sa]! - b[bo + j * sb]!; }) as BinaryRow,
  mul: ((out, o, a, ao, sa, b, bo, sb, n) => { for (let j = 0; j < n; j++) out[o + j] = a[ao + j * sa]! * b[bo + j * sb]!; }) as BinaryRow,
  div: ((out, o, a, ao, sa, b, bo, sb, n) => { for (let j = 0; j < n; j++) out[o + j] = a[ao + j * sa]! / b[bo + j * sb]!; }) as BinaryRow,
};

/** The row kernel of any f (a call per element). */
export function binaryRowOf(f: (x: number, y: number) => number): BinaryRow {
  return (out, o, a, ao, sa, b, bo, sb, n) => {
    for (let j = 0; j < n; j++) out[o + j] = f(a[ao + j * sa]!, b[bo + j * sb]!);
  };
}

/**
 * out[idx] = a[idx through aStrides] op b[idx through bStrides] over `outShape`,
 * where broadcast axes have stride 0, one `row` call a run along the last axis
 * (one call in all for equal shapes or a scalar b).
 */
export function binaryBroadcast(
  a: FloatArray,
  aStrides: readonly number[],
  b: FloatArray,
  bStrides: readonly number[],
  out: FloatArray,
  outShape: readonly number[],
  row: BinaryRow,
): void {
  const n = out.length;
  if (n === 0) return;
  if (a.length === n && b.length === n) {
    row(out, 0, a, 0, 1, b, 0, 1, n);
    return;
  }
  if (a.length === n && b.length === 1) {
    row(out, 0, a, 0, 1, b, 0, 0, n);
    return;
  }
  const rank = outShape.length;
  const inner = outShape[rank - 1]!;
  const sa = aStrides[rank - 1]!;
  const sb = bStrides[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let ao = 0;
  let bo = 0;
  for (let o = 0; o < n; o += inner) {
    row(out, o, a, ao, sa, b, bo, sb, inner);
    // advance the outer index (all axes but the last)
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      ao += aStrides[d]!;
      bo += bStrides[d]!;
      if (idx[d]! < outShape[d]!) break;
      ao -= aStrides[d]! * outShape[d]!;
      bo -= bStrides[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

/** out[i] = a[i] + b[i] for i in i0..i1-1 (out may be a or b): the plain loop that defines the result. */
export function addArraysRangeReference(a: FloatArray, b: FloatArray, out: FloatArray, i0: number, i1: number): void {
  for (let i = i0; i < i1; i++) out[i] = a[i]! + b[i]!;
}

/** True when a, b and out share one float type and live in the heap: the WASM twin's case. */
function wasmAddable(a: FloatArray, b: FloatArray, out: FloatArray): boolean {
  const f64 = out instanceof Float64Array;
  return a instanceof Float64Array === f64 && b instanceof Float64Array === f64 && inHeap(a) && inHeap(b) && inHeap(out);
}

/** {@link addArraysRangeReference} by the WASM SIMD twin (./wasm.ts); a, b and out must be heap arrays of one type. */
export function addArraysRangeWasm(a: FloatArray, b: FloatArray, out: FloatArray, i0: number, i1: number): void {
  if (!wasmAddable(a, b, out)) throw new Error("addArraysRangeWasm: needs heap arrays of one float type");
  if (i1 <= i0) return;
  const es = out.BYTES_PER_ELEMENT;
  addWasmCall(es === 8, a.byteOffset + i0 * es, b.byteOffset + i0 * es, out.byteOffset + i0 * es, i1 - i0);
}

/** One thread's dispatch: the WASM twin where it applies (backend, heap arrays of one type), else the plain loop. */
export function addArraysRange(a: FloatArray, b: FloatArray, out: FloatArray, i0: number, i1: number): void {
  if (i1 - i0 >= 64 && wasmKernelsEnabled() && wasmAddable(a, b, out)) addArraysRangeWasm(a, b, out, i0, i1);
  else addArraysRangeReference(a, b, out, i0, i1);
}
