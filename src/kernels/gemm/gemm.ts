/**
 * Dense matrix products on row-major typed arrays: a blocked, packed kernel
 * (`gemm`) and its plain reference twin (`gemmReference`), the oracle in tests.
 *
 * Contract shared by all of them (gemmReference, gemmJs, gemmWasm, gemm), in
 * two families chosen by the operands' element types:
 *
 * - float32 family, when A, B and C are ALL Float32Array: every output element
 *   is `acc = accumulate ? C[i,j] : +0; for p = 0..k-1 in order:
 *   acc = f32(acc + f32(A[i,p] B[p,j]))`: a float32 multiply, then a float32
 *   add, each rounded to nearest even, never fused. That is exactly WASM's
 *   `f32x4.mul` then `f32x4.add` per lane, and in JS `acc = Math.fround(acc +
 *   Math.fround(a * b))`: the double product of two float32 is exact, so its
 *   fround is the correctly rounded float32 product; the double sum of two
 *   float32 rounded again to float32 equals the float32 sum (double rounding
 *   is innocuous for + and * since 53 >= 2 * 24 + 2). Twice the SIMD lanes of
 *   float64, hence about twice the speed; PyTorch's CPU float32 matmul also
 *   accumulates in float32.
 * - float64 family, whenever any operand is a Float64Array (gradient checks,
 *   float64 accumulators such as the convolution weight gradient's): every
 *   output element is `acc = accumulate ? C[i,j] : 0; for p = 0..k-1 in order:
 *   acc += A[i,p] B[p,j]` with `acc` a float64, rounded to C's element type
 *   once at the end.
 *
 * In both, the summation order never depends on the transposes, the blocking
 * or the thread split, so all the kernels agree bit for bit.
 *
 * `gemm` runs one of two fast twins with that contract: `gemmJs` (plain
 * TypeScript) or `gemmWasm` (WebAssembly SIMD, src/kernels/gemm/wasm.ts), as
 * the kernel backend says (src/wasm/backend.ts: BITSPIKE_KERNELS or
 * setKernelBackend; by default the WASM twin wherever SIMD exists).
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { BitspikeError } from "../../tensor/errors.js";
import { wasmKernelsEnabled, wasmSimdAvailable } from "../../wasm/backend.js";
import {
  gemmScratch, gemmWasmCopy32, gemmWasmInterleave4, gemmWasmStripsToPanels, gemmWasmRowsToPanels, gemmWasmTiles, gemmWasmTilesF32, gemmWasmTilesF32Rows,
} from "./wasm.js";
import { heapF32, heapF64, inHeap } from "../../tensor/heap.js";
import { heapPtr, unstage } from "../../wasm/runtime.js";

/**
 * C[m,n] (+)= op(A) op(B), where op(A) is A[m,k] or, with transA, A stored as
 * [k,m]; likewise B [k,n] or [n,k] with transB. Offsets select one matrix of a
 * batch. Reference twin: a triple loop, clear rather than fast; float32
 * accumulation when A, B and C are all float32, else float64 (see the top of
 * this file).
 */
export function gemmReference(
  a: FloatArray, aOff: number, transA: boolean,
  b: FloatArray, bOff: number, transB: boolean,
  c: FloatArray, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): void {
  if (float32Family(a, b, c)) {
    reference32(a as Float32Array, aOff, transA, b as Float32Array, bOff, transB, c as Float32Array, cOff, m, n, k, accumulate);
    return;
  }
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = accumulate ? c[cOff + i * n + j]! : 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[aOff + p * m + i]! : a[aOff + i * k + p]!;
        const bv = transB ? b[bOff + j * k + p]! : b[bOff + p * n + j]!;
        acc += av * bv;
      }
      c[cOff + i * n + j] = acc;
    }
  }
}

/**
 * The float32-family reference: a float32 accumulator, each product and each
 * sum rounded to float32 (Math.fround of the exact double product, then of
 * the double sum, which double rounding cannot spoil at 53 >= 2 * 24 + 2 bits).
 */
function reference32(
  a: Float32Array, aOff: number, transA: boolean,
  b: Float32Array, bOff: number, transB: boolean,
  c: Float32Array, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): void {
  const fr = Math.fround;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = accumulate ? c[cOff + i * n + j]! : 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[aOff + p * m + i]! : a[aOff + i * k + p]!;
        const bv = transB ? b[bOff + j * k + p]! : b[bOff + p * n + j]!;
        acc = fr(acc + fr(av * bv));
      }
      c[cOff + i * n + j] = acc;
    }
  }
}

/** Register tile: MR rows of A x NR columns of B held in 16 local accumulators. */
const MR = 4;
const NR = 4;
/** Columns of B packed per block, chosen so a block of B (k x NC doubles) tends to stay in L2. */
const NC_TARGET_BYTES = 256 * 1024;

// Scratch for the packed panels, grown on demand and reused: no allocation per call.
let packA: Float64Array = new Float64Array(0);
let packB: Float64Array = new Float64Array(0);

function scratch(buf: Float64Array, n: number): Float64Array {
  return buf.length >= n ? buf : new Float64Array(Math.max(n, buf.length * 2));
}

/**
 * Products below this many multiply-adds take the reference loop: packing
 * costs more than it saves. (Measured: from here up the WASM twin is at least
 * as fast as the JS kernel, 1.6-2x from ~1,700 multiply-adds, so it needs no
 * threshold of its own.)
 */
const TINY = 512;
/**
 * The same for the float32 family, lower: its reference loop (a Math.fround
 * per operation) is slower. Measured: at 128 multiply-adds the packed twins
 * and the loop are about even (0.5-0.9 us), at 256 the twins take 0.4-0.8 us
 * and the loop 0.9-1.3 us, at 8 x 8 x 8 0.5-0.7 us against 1.9 us.
 */
const TINY32 = 128;

/**
 * C[m,n] (+)= op(A) op(B); same contract and result as {@link gemmReference}.
 * Tiny products run the reference loop; others the WASM SIMD twin
 * ({@link gemmWasm}) when the kernel backend enables it, else {@link gemmJs}.
 * All three give the same bits.
 */
export function gemm(
  a: FloatArray, aOff: number, transA: boolean,
  b: FloatArray, bOff: number, transB: boolean,
  c: FloatArray, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): void {
  if (smallDone(a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate)) return;
  packed(wasmKernelsEnabled(), a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate);
}

/**
 * True when every operand is a Float32Array: gemm's float32 family (see the
 * top of this file). The spike kernels use the same test for theirs.
 */
export function float32Family(...xs: readonly (FloatArray | Uint32Array)[]): boolean {
  for (const x of xs) if (!(x instanceof Float32Array)) return false;
  return true;
}

/**
 * Does an empty product (m or n = 0: nothing; k = 0: C = 0 unless
 * accumulating) and returns true; false for a product with work to do.
 */
export function emptyProductDone(c: FloatArray, cOff: number, m: number, n: number, k: number, accumulate: boolean): boolean {
  if (m === 0 || n === 0) return true;
  if (k !== 0) return false;
  if (!accumulate) c.fill(0, cOff, cOff + m * n);
  return true;
}

/**
 * A product with m, n, k >= 1 by the packed kernels of its family: the WASM
 * twin when `wasm` (falling back to JS only if its memory cannot grow), else JS.
 */
function packed(
  wasm: boolean,
  a: FloatArray, aOff: number, transA: boolean,
  b: FloatArray, bOff: number, transB: boolean,
  c: FloatArray, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): void {
  if (float32Family(a, b, c)) {
    const [a32, b32, c32] = [a as Float32Array, b as Float32Array, c as Float32Array];
    if (!wasm || !wasmPacked32(a32, aOff, transA, b32, bOff, transB, c32, cOff, m, n, k, accumulate)) {
      jsPacked32(a32, aOff, transA, b32, bOff, transB, c32, cOff, m, n, k, accumulate);
    }
    return;
  }
  if (!wasm || !wasmPacked(a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate)) {
    jsPacked(a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate);
  }
}

/** Does empty and tiny products (the reference loop) and returns true; false leaves C untouched for a packed kernel. */
function smallDone(
  a: FloatArray, aOff: number, transA: boolean,
  b: FloatArray, bOff: number, transB: boolean,
  c: FloatArray, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): boolean {
  if (emptyProductDone(c, cOff, m, n, k, accumulate)) return true;
  if (m * n * k >= (float32Family(a, b, c) ? TINY32 : TINY)) return false;
  gemmReference(a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate);
  return true;
}

/**
 * The plain-TypeScript twin, whatever the backend: same contract and result
 * as {@link gemmReference}. Float64 family: B is packed per column block into
 * k x 4 panels and A into 4 x k panels (both as float64, zero padded at ragged
 * edges), so one inner loop serves every transpose; a 4x4 tile of C
 * accumulates in locals over the whole of k. Float32 family: the same with
 * float32 panels in the WASM kernel's 4 x 8 layout and a Math.fround per
 * operation (slower than the float64 loop: the fallback where SIMD is missing).
 */
export function gemmJs(
  a: FloatArray, aOff: number, transA: boolean,
  b: FloatArray, bOff: number, transB: boolean,
  c: FloatArray, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): void {
  if (smallDone(a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate)) return;
  packed(false, a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate);
}

/**
 * The WebAssembly SIMD twin, whatever the backend and size (even tiny
 * products, so tests reach its ragged edges): same contract and result as
 * {@link gemmReference} (f64x2 lanes for the float64 family, f32x4 lanes for
 * the float32 one). Throws where SIMD is unavailable; falls back to the JS
 * kernel only if the WASM memory cannot grow to hold the packed panels.
 */
export function gemmWasm(
  a: FloatArray, aOff: number, transA: boolean,
  b: FloatArray, bOff: number, transB: boolean,
  c: FloatArray, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): void {
  if (!wasmSimdAvailable()) throw new BitspikeError("gemmWasm", "this runtime has no WebAssembly SIMD");
  if (emptyProductDone(c, cOff, m, n, k, accumulate)) return;
  packed(true, a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate);
}

/** Rows at least this long are copied between typed arrays and the WASM memory with TypedArray.set (measured: faster from ~32). */
const SET_MIN = 32;

/** Columns per block of B for k: a block (k x nc doubles) tends to stay in L2. */
function blockCols(n: number, k: number): number {
  let nc = Math.floor(NC_TARGET_BYTES / (8 * k * NR)) * NR;
  if (nc < 4 * NR) nc = 4 * NR;
  if (nc > n) nc = Math.ceil(n / NR) * NR;
  return nc;
}

/**
 * Byte offset of `bytes` of the gemm kernel's heap scratch, or -1 when the
 * heap cannot hold them (the caller then falls back to the JS kernel).
 */
function scratchAt(bytes: number): number {
  try {
    return gemmScratch(bytes);
  } catch (e) {
    if (e instanceof BitspikeError) return -1;
    throw e;
  }
}

/**
 * The WASM path (m, n, k >= 1): packs op(A) and each column block of op(B)
 * into the kernel's heap scratch with the JS packers (packing is the
 * algorithm here: any element type in, float64 panels out), runs every tile
 * of the block in one WASM call into a float64 C scratch, then rounds into C.
 * Returns false (having touched nothing) when the heap cannot hold the panels.
 */
function wasmPacked(
  a: FloatArray, aOff: number, transA: boolean,
  b: FloatArray, bOff: number, transB: boolean,
  c: FloatArray, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): boolean {
  const nc = blockCols(n, k);
  const mPanels = Math.ceil(m / MR);
  const rowsP = mPanels * MR;
  const aLen = rowsP * k, bLen = nc * k;
  const base = scratchAt(8 * (aLen + bLen + rowsP * nc));
  if (base < 0) return false;
  const mem = heapF64();
  const pa0 = base / 8, pb0 = pa0 + aLen, cs = pb0 + bLen;
  const pa = mem.subarray(pa0, pb0);
  const pb = mem.subarray(pb0, cs);
  packPanelsA(a, aOff, transA, m, k, pa);
  for (let j0 = 0; j0 < n; j0 += nc) {
    const nb = Math.min(nc, n - j0);
    packPanelsB(b, bOff, transB, n, k, j0, nb, pb);
    const nPanels = Math.ceil(nb / NR);
    const ldc = nPanels * NR;
    if (accumulate) {
      // The tiles start from C; padding starts from 0 (never read back, but kept finite and normal).
      for (let i = 0; i < rowsP; i++) {
        const d = cs + i * ldc;
        if (i < m) {
          const src = cOff + i * n + j0;
          if (nb >= SET_MIN) mem.set(c.subarray(src, src + nb), d);
          else for (let j = 0; j < nb; j++) mem[d + j] = c[src + j]!;
          for (let j = nb; j < ldc; j++) mem[d + j] = 0;
        } else {
          mem.fill(0, d, d + ldc);
        }
      }
    }
    gemmWasmTiles(pa0, pb0, cs, k, mPanels, nPanels, accumulate);
    // Round into C. Long rows go by TypedArray.set (a native loop, with the
    // same float64 -> float32 rounding as an element store); short rows by hand.
    for (let i = 0; i < m; i++) {
      const s = cs + i * ldc;
      const dst = cOff + i * n + j0;
      if (nb >= SET_MIN) c.set(mem.subarray(s, s + nb), dst);
      else for (let j = 0; j < nb; j++) c[dst + j] = mem[s + j]!;
    }
  }
  return true;
}

/** The JS path (m, n, k >= 1), the packed, tiled loop described at {@link gemmJs}. */
function jsPacked(
  a: FloatArray, aOff: number, transA: boolean,
  b: FloatArray, bOff: number, transB: boolean,
  c: FloatArray, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): void {
  const nc = blockCols(n, k);
  const mPanels = Math.ceil(m / MR);
  packA = scratch(packA, mPanels * MR * k);
  packB = scratch(packB, nc * k);
  const pa = packA;
  const pb = packB;
  packPanelsA(a, aOff, transA, m, k, pa);
  for (let j0 = 0; j0 < n; j0 += nc) {
    const nb = Math.min(nc, n - j0);
    packPanelsB(b, bOff, transB, n, k, j0, nb, pb);
    const nPanels = Math.ceil(nb / NR);
    for (let ip = 0; ip < mPanels; ip++) {
      const i0 = ip * MR;
      const rows = Math.min(MR, m - i0);
      for (let jp = 0; jp < nPanels; jp++) {
        const jj = j0 + jp * NR;
        microKernel(pa, ip * MR * k, pb, jp * NR * k, k, c, cOff + i0 * n + jj, n, rows, Math.min(NR, n - jj), accumulate);
      }
    }
  }
}

/** Packs op(A) into ceil(m/4) panels, each laid out [k][4] (rows past m are zero). */
function packPanelsA(a: FloatArray, aOff: number, transA: boolean, m: number, k: number, pa: Float64Array): void {
  for (let i0 = 0; i0 < m; i0 += MR) {
    const base = i0 * k;
    const rows = Math.min(MR, m - i0);
    for (let r = 0; r < MR; r++) {
      if (r >= rows) {
        for (let p = 0; p < k; p++) pa[base + p * MR + r] = 0;
      } else if (transA) {
        let src = aOff + i0 + r;
        for (let p = 0; p < k; p++, src += m) pa[base + p * MR + r] = a[src]!;
      } else {
        const src = aOff + (i0 + r) * k;
        for (let p = 0; p < k; p++) pa[base + p * MR + r] = a[src + p]!;
      }
    }
  }
}

/** Packs columns j0..j0+nb-1 of op(B) into panels laid out [k][4] (columns past the block are zero). */
function packPanelsB(b: FloatArray, bOff: number, transB: boolean, n: number, k: number, j0: number, nb: number, pb: Float64Array): void {
  for (let jp = 0; jp < nb; jp += NR) {
    const base = jp * k;
    const cols = Math.min(NR, nb - jp);
    if (!transB) {
      let src = bOff + j0 + jp;
      if (cols === NR) {
        for (let p = 0, d = base; p < k; p++, d += NR, src += n) {
          pb[d] = b[src]!;
          pb[d + 1] = b[src + 1]!;
          pb[d + 2] = b[src + 2]!;
          pb[d + 3] = b[src + 3]!;
        }
      } else {
        for (let p = 0, d = base; p < k; p++, d += NR, src += n) {
          for (let q = 0; q < NR; q++) pb[d + q] = q < cols ? b[src + q]! : 0;
        }
      }
    } else {
      for (let q = 0; q < NR; q++) {
        if (q >= cols) {
          for (let p = 0; p < k; p++) pb[base + p * NR + q] = 0;
        } else {
          const src = bOff + (j0 + jp + q) * k;
          for (let p = 0; p < k; p++) pb[base + p * NR + q] = b[src + p]!;
        }
      }
    }
  }
}

/**
 * One 4x4 tile of C from a packed A panel and a packed B panel, summing over
 * p in order; only the first rows x cols entries are stored.
 */
function microKernel(
  pa: Float64Array, ao: number, pb: Float64Array, bo: number, k: number,
  c: FloatArray, co: number, ldc: number, rows: number, cols: number, accumulate: boolean,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  if (accumulate) {
    // Start from C so the additions happen in the reference order.
    const full = rows === MR && cols === NR;
    const r1 = co + ldc, r2 = r1 + ldc, r3 = r2 + ldc;
    if (full) {
      c00 = c[co]!; c01 = c[co + 1]!; c02 = c[co + 2]!; c03 = c[co + 3]!;
      c10 = c[r1]!; c11 = c[r1 + 1]!; c12 = c[r1 + 2]!; c13 = c[r1 + 3]!;
      c20 = c[r2]!; c21 = c[r2 + 1]!; c22 = c[r2 + 2]!; c23 = c[r2 + 3]!;
      c30 = c[r3]!; c31 = c[r3 + 1]!; c32 = c[r3 + 2]!; c33 = c[r3 + 3]!;
    } else {
      const t = edgeTile;
      for (let r = 0; r < MR; r++) for (let q = 0; q < NR; q++) t[r * NR + q] = r < rows && q < cols ? c[co + r * ldc + q]! : 0;
      c00 = t[0]!; c01 = t[1]!; c02 = t[2]!; c03 = t[3]!;
      c10 = t[4]!; c11 = t[5]!; c12 = t[6]!; c13 = t[7]!;
      c20 = t[8]!; c21 = t[9]!; c22 = t[10]!; c23 = t[11]!;
      c30 = t[12]!; c31 = t[13]!; c32 = t[14]!; c33 = t[15]!;
    }
  }
  const end = ao + k * MR;
  for (let x = ao, y = bo; x < end; x += MR, y += NR) {
    const a0 = pa[x]!, a1 = pa[x + 1]!, a2 = pa[x + 2]!, a3 = pa[x + 3]!;
    const b0 = pb[y]!, b1 = pb[y + 1]!, b2 = pb[y + 2]!, b3 = pb[y + 3]!;
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
  }
  storeTile(c, co, ldc, rows, cols, c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33);
}

/**
 * Stores a 4x4 tile held in locals into C at co (row stride ldc), only its
 * first rows x cols entries at a ragged edge. Shared by the float64 and
 * float32 micro-kernels (C's element store does the final rounding).
 */
function storeTile(
  c: FloatArray, co: number, ldc: number, rows: number, cols: number,
  c00: number, c01: number, c02: number, c03: number, c10: number, c11: number, c12: number, c13: number,
  c20: number, c21: number, c22: number, c23: number, c30: number, c31: number, c32: number, c33: number,
): void {
  if (rows === 4 && cols === 4) {
    const r1 = co + ldc, r2 = r1 + ldc, r3 = r2 + ldc;
    c[co] = c00; c[co + 1] = c01; c[co + 2] = c02; c[co + 3] = c03;
    c[r1] = c10; c[r1 + 1] = c11; c[r1 + 2] = c12; c[r1 + 3] = c13;
    c[r2] = c20; c[r2 + 1] = c21; c[r2 + 2] = c22; c[r2 + 3] = c23;
    c[r3] = c30; c[r3 + 1] = c31; c[r3 + 2] = c32; c[r3 + 3] = c33;
    return;
  }
  const t = edgeTile;
  t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03;
  t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
  t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23;
  t[12] = c30; t[13] = c31; t[14] = c32; t[15] = c33;
  for (let r = 0; r < rows; r++) for (let q = 0; q < cols; q++) c[co + r * ldc + q] = t[r * 4 + q]!;
}

/** Staging for ragged edge tiles (values, not references, so a float64 buffer is exact). */
const edgeTile = new Float64Array(MR * NR);

// ---------------------------------------------------------------------------
// The float32 family: float32 panels (MR32 x NR32 = 4 x 8 tiles, the WASM
// kernel's layout, src/kernels/gemm/wasm.ts), float32 accumulators.

/**
 * Register tile of the float32 family, the same as src/kernels/gemm/wasm.ts
 * (the packed layouts must agree; see there for why 4 x 8). Local constants,
 * not imports: an imported binding in a hot loop costs a load and a check.
 */
const MR32 = 4;
const NR32 = 8;
/** Columns of B packed per block for the float32 kernels: a block (k x NC floats) tends to stay in L2. */
const NC32_TARGET_BYTES = 256 * 1024;

/** Columns per block of B for k, a multiple of NR32. */
function blockCols32(n: number, k: number): number {
  let nc = Math.floor(NC32_TARGET_BYTES / (4 * k * NR32)) * NR32;
  if (nc < 4 * NR32) nc = 4 * NR32;
  if (nc > n) nc = Math.ceil(n / NR32) * NR32;
  return nc;
}

/**
 * Packs op(A) into ceil(m/4) panels at pa[po..], each laid out [k][4] (rows
 * past m are zero). Full panels copy 4 elements a step, written out: a plain
 * copy (float32 to float32), 2-3x faster than a loop over the rows.
 */
function packA32(a: Float32Array, aOff: number, transA: boolean, m: number, k: number, pa: Float32Array, po: number): void {
  for (let i0 = 0; i0 < m; i0 += MR32) {
    const base = po + i0 * k;
    const rows = Math.min(MR32, m - i0);
    if (rows < MR32) {
      for (let r = 0; r < MR32; r++) {
        for (let p = 0, d = base + r; p < k; p++, d += MR32) {
          pa[d] = r >= rows ? 0 : transA ? a[aOff + p * m + i0 + r]! : a[aOff + (i0 + r) * k + p]!;
        }
      }
    } else if (transA) {
      for (let p = 0, d = base, src = aOff + i0; p < k; p++, d += MR32, src += m) {
        pa[d] = a[src]!; pa[d + 1] = a[src + 1]!; pa[d + 2] = a[src + 2]!; pa[d + 3] = a[src + 3]!;
      }
    } else {
      const s0 = aOff + i0 * k, s1 = s0 + k, s2 = s1 + k, s3 = s2 + k;
      for (let p = 0, d = base; p < k; p++, d += MR32) {
        pa[d] = a[s0 + p]!; pa[d + 1] = a[s1 + p]!; pa[d + 2] = a[s2 + p]!; pa[d + 3] = a[s3 + p]!;
      }
    }
  }
}

/** Packs columns j0..j0+nb-1 of op(B) into panels at pb[po..] laid out [k][8] (columns past the block are zero). */
function packB32(b: Float32Array, bOff: number, transB: boolean, n: number, k: number, j0: number, nb: number, pb: Float32Array, po: number): void {
  for (let jp = 0; jp < nb; jp += NR32) {
    const base = po + jp * k;
    const cols = Math.min(NR32, nb - jp);
    const j = j0 + jp;
    if (cols < NR32) {
      for (let q = 0; q < NR32; q++) {
        for (let p = 0, d = base + q; p < k; p++, d += NR32) {
          pb[d] = q >= cols ? 0 : transB ? b[bOff + (j + q) * k + p]! : b[bOff + p * n + j + q]!;
        }
      }
    } else if (!transB) {
      for (let p = 0, d = base, src = bOff + j; p < k; p++, d += NR32, src += n) {
        pb[d] = b[src]!; pb[d + 1] = b[src + 1]!; pb[d + 2] = b[src + 2]!; pb[d + 3] = b[src + 3]!;
        pb[d + 4] = b[src + 4]!; pb[d + 5] = b[src + 5]!; pb[d + 6] = b[src + 6]!; pb[d + 7] = b[src + 7]!;
      }
    } else {
      const s0 = bOff + j * k, s1 = s0 + k, s2 = s1 + k, s3 = s2 + k, s4 = s3 + k, s5 = s4 + k, s6 = s5 + k, s7 = s6 + k;
      for (let p = 0, d = base; p < k; p++, d += NR32) {
        pb[d] = b[s0 + p]!; pb[d + 1] = b[s1 + p]!; pb[d + 2] = b[s2 + p]!; pb[d + 3] = b[s3 + p]!;
        pb[d + 4] = b[s4 + p]!; pb[d + 5] = b[s5 + p]!; pb[d + 6] = b[s6 + p]!; pb[d + 7] = b[s7 + p]!;
      }
    }
  }
}

/** Bytes rounded up to a 64-byte line (scratch regions start on one). */
function line(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}

/**
 * The float32 WASM path (m, n, k >= 1). WASM helpers pack each column block
 * of op(B), and a transposed A, straight from where they are in the heap into
 * the panels of {@link packB32} and {@link packA32} (a foreign A or B is first
 * copied into the kernel's scratch, counted as staged); an A not transposed is
 * read where it is, 4 rows a tile (only a ragged last panel packed); the tiles write the
 * whole 4 x 8 tiles of C in place (row stride n). Only C's ragged edges, when
 * n is not a multiple of 8 or m not one of 4, go through small scratches: the
 * right edge [mFull][8] and the bottom edge [4][n padded to 8], filled from C
 * first when accumulating and copied back after. A foreign C is staged whole.
 * Copying element by element in JS costs 1.3-2 ns a float, several times the
 * WASM packing. Returns false (having touched nothing) when the heap cannot
 * hold the scratch.
 */
function wasmPacked32(
  a: Float32Array, aOff: number, transA: boolean,
  b: Float32Array, bOff: number, transB: boolean,
  c: Float32Array, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): boolean {
  const nc = blockCols32(n, k);
  const mPanels = Math.ceil(m / MR32);
  const mFull = m - (m % MR32), nFull = n - (n % NR32), nPad = Math.ceil(n / NR32) * NR32;
  // Scratch regions (bytes from its start): staged foreign operands, packed A, a packed block of B, C's ragged edges.
  let end = 0;
  const region = (bytes: number) => {
    const at = end;
    end += line(bytes);
    return at;
  };
  // A [m, k] (not transposed) is read where it is by the tiles of its whole 4-row panels: only a ragged last
  // panel is packed (packing all of A was a copy of it per call: 17-20 ms of a one-thread training step).
  const rowsA = !transA;
  const stA = region(inHeap(a) ? 0 : 4 * m * k), stB = region(inHeap(b) ? 0 : 4 * k * n), stC = region(inHeap(c) ? 0 : 4 * m * n);
  const paAt = region(4 * (rowsA ? 1 : mPanels) * MR32 * k), pbAt = region(4 * nc * k);
  const rightAt = region(nFull < n ? 4 * mFull * NR32 : 0), bottomAt = region(mFull < m ? 4 * MR32 * nPad : 0);
  const base = scratchAt(end);
  if (base < 0) return false;
  // Float32 indices in the heap from here on (heap arrays' byte offsets are multiples of 4).
  const ap = heapPtr(a, aOff, m * k, base + stA, true) / 4;
  const bp = heapPtr(b, bOff, k * n, base + stB, true) / 4;
  const cp = heapPtr(c, cOff, m * n, base + stC, accumulate) / 4;
  const pa = (base + paAt) / 4, pb = (base + pbAt) / 4, right = (base + rightAt) / 4, bottom = (base + bottomAt) / 4;
  if (rowsA) packRaggedA32(ap, false, m, k, pa);
  else wasmPackTransposedA32(ap, m, k, pa);
  const paRagged = rowsA ? pa : pa + mFull * k; // the ragged panel's place
  /** Tiles of the whole A panels against `panelsB` B panels at pbj, into C at cj (`ldcj` floats a row). */
  const fullTiles = (pbj: number, cj: number, ldcj: number, panelsB: number): void => {
    if (rowsA) gemmWasmTilesF32Rows(ap, k, pbj, cj, ldcj, k, mFull / MR32, panelsB, accumulate);
    else gemmWasmTilesF32(pa, pbj, cj, ldcj, k, mFull / MR32, panelsB, accumulate);
  };
  if (accumulate) edges(true, cp, m, n, right, bottom);
  for (let j0 = 0; j0 < n; j0 += nc) {
    const nb = Math.min(nc, n - j0);
    const panels = Math.ceil(nb / NR32), whole = Math.floor(nb / NR32);
    wasmPackB32(bp, transB, n, k, j0, nb, pb);
    if (mFull > 0 && whole > 0) fullTiles(pb, cp + j0, n, whole);
    if (mFull > 0 && whole < panels) fullTiles(pb + whole * NR32 * k, right, NR32, 1);
    if (mFull < m) gemmWasmTilesF32(paRagged, pb, bottom + j0, nPad, k, 1, panels, accumulate);
  }
  edges(false, cp, m, n, right, bottom);
  if (!inHeap(c)) unstage(c, cOff, m * n, cp * 4);
  return true;
}

/**
 * True when {@link packB32Blocks} and {@link gemmRows32} can run C = A B: the float32 family on the WASM
 * kernels, every operand in the heap, A and B not transposed, and only whole 4 x 8 tiles (m a multiple
 * of 4, n of 8), so no edge scratch is needed.
 */
export function gemmRows32Fits(a: FloatArray, transA: boolean, b: FloatArray, transB: boolean, c: FloatArray, m: number, n: number, k: number): boolean {
  return wasmKernelsEnabled() && float32Family(a, b, c) && !transA && !transB && inHeap(a) && inHeap(b) && inHeap(c) &&
    m > 0 && k > 0 && m % MR32 === 0 && n > 0 && n % NR32 === 0;
}

/**
 * Packs all of B [k, n] (float32, heap index bp) into the panels of its column blocks (the blocks of
 * {@link wasmPacked32}, block j0 at pb + j0 k), for {@link gemmRows32}; returns pb, the heap index of
 * `k n` floats of the gemm scratch (the caller's thread's: valid until its next gemm).
 */
export function packB32Blocks(bp: number, n: number, k: number): number {
  const pb = gemmScratch(4 * k * n) / 4;
  const nc = blockCols32(n, k);
  for (let j0 = 0; j0 < n; j0 += nc) wasmPackB32(bp, false, n, k, j0, Math.min(nc, n - j0), pb + j0 * k);
  return pb;
}

/**
 * Rows r0..r1-1 (multiples of 4) of C [m, n] (+)= A B, from A [m, k] read where it is (heap index ap) and
 * B packed by {@link packB32Blocks} at pb, into C at heap index cp: the tiles of {@link wasmPacked32} for
 * those rows, block by block, so every element gets the same products and sums in the same order.
 */
export function gemmRows32(ap: number, pb: number, cp: number, n: number, k: number, r0: number, r1: number, accumulate: boolean): void {
  const nc = blockCols32(n, k);
  for (let j0 = 0; j0 < n; j0 += nc) {
    const panels = Math.min(nc, n - j0) / NR32;
    gemmWasmTilesF32Rows(ap + r0 * k, k, pb + j0 * k, cp + r0 * n + j0, n, k, (r1 - r0) / MR32, panels, accumulate);
  }
}

/**
 * Moves C's ragged edges (float32 C [m, n] at heap index cp) between C and
 * the edge scratches of {@link wasmPacked32}: into them (`fill`, with zero
 * padding: never read back, but kept finite and normal) or back out. The
 * right edge holds columns nFull.. of the rows above mFull; the bottom edge
 * the rows from mFull, all columns.
 */
function edges(fill: boolean, cp: number, m: number, n: number, right: number, bottom: number): void {
  const mFull = m - (m % MR32), nFull = n - (n % NR32), nPad = Math.ceil(n / NR32) * NR32;
  const mem = heapF32();
  if (nFull < n) {
    const cols = n - nFull;
    for (let i = 0; i < mFull; i++) {
      const s = cp + i * n + nFull, d = right + i * NR32;
      if (fill) {
        for (let q = 0; q < NR32; q++) mem[d + q] = q < cols ? mem[s + q]! : 0;
      } else {
        for (let q = 0; q < cols; q++) mem[s + q] = mem[d + q]!;
      }
    }
  }
  for (let r = 0; r < MR32 && mFull < m; r++) {
    const d = bottom + r * nPad, s = cp + (mFull + r) * n;
    if (!fill) {
      if (mFull + r < m) copyRow(mem, d, mem, s, n);
    } else if (mFull + r < m) {
      copyRow(mem, s, mem, d, n);
      mem.fill(0, d + n, d + nPad);
    } else {
      mem.fill(0, d, d + nPad);
    }
  }
}

/** dst[d .. d+len) = src[s .. s+len): TypedArray.set for long rows, a loop for short ones. */
function copyRow(src: Float32Array, s: number, dst: Float32Array, d: number, len: number): void {
  if (len >= SET_MIN) dst.set(src.subarray(s, s + len), d);
  else for (let j = 0; j < len; j++) dst[d + j] = src[s + j]!;
}

/**
 * {@link packA32} with WASM helpers for a transposed A (an A [m, k] is read where it is, see
 * {@link wasmPacked32}), in the heap (float32 indices): Aᵀ at a into panels at pa. Rows of A [k, m] already
 * hold panel rows, 16 bytes a panel; a ragged last panel is zeroed, then filled a row at a time.
 */
function wasmPackTransposedA32(a: number, m: number, k: number, pa: number): void {
  const full = Math.floor(m / MR32);
  // 4 panels (a 64-byte strip of each row) at a time, then the rest.
  const strips = full >> 2;
  gemmWasmStripsToPanels(MR32, a, m, pa, k, strips);
  gemmWasmRowsToPanels(MR32, a + 4 * strips * MR32, m, pa + 4 * strips * MR32 * k, k, full & 3);
  packRaggedA32(a, true, m, k, pa + full * MR32 * k);
}

/** The last m mod 4 rows of op(A) (none when m is a multiple of 4) into one zero-padded panel at d (float32 index). */
function packRaggedA32(a: number, transA: boolean, m: number, k: number, d: number): void {
  const i0 = m - (m % MR32), rows = m - i0;
  if (rows === 0) return;
  heapF32().fill(0, d, d + MR32 * k);
  for (let r = 0; r < rows; r++) {
    if (transA) gemmWasmCopy32(a + i0 + r, m, d + r, MR32, k);
    else gemmWasmCopy32(a + (i0 + r) * k, 1, d + r, MR32, k);
  }
}

/**
 * {@link packB32} with WASM helpers, in the heap (float32 indices): columns
 * j0..j0+nb-1 of op(B) at b into panels at pb. Rows of B [k, n] hold panel
 * rows side by side; full panels from B [n, k] are two 4-row transposes
 * (columns 0-3, 4-7); a ragged last panel is zeroed, then filled a column at
 * a time.
 */
function wasmPackB32(b: number, transB: boolean, n: number, k: number, j0: number, nb: number, pb: number): void {
  const full = Math.floor(nb / NR32);
  if (!transB) {
    // 2 panels (a 64-byte strip of each row) at a time, then the odd one.
    const strips = full >> 1;
    gemmWasmStripsToPanels(NR32, b + j0, n, pb, k, strips);
    gemmWasmRowsToPanels(NR32, b + j0 + 2 * strips * NR32, n, pb + 2 * strips * NR32 * k, k, full & 1);
  } else {
    const groups = Math.floor(k / 4), tail = groups * 4;
    for (let jp = 0; jp < full * NR32; jp += NR32) {
      const d = pb + jp * k;
      for (let h = 0; h < NR32; h += 4) {
        const src = b + (j0 + jp + h) * k;
        gemmWasmInterleave4(src, k, d + h, NR32, groups);
        if (tail < k) for (let q = 0; q < 4; q++) gemmWasmCopy32(src + q * k + tail, 1, d + tail * NR32 + h + q, NR32, k - tail);
      }
    }
  }
  if (full * NR32 < nb) {
    const jp = full * NR32, cols = nb - jp, d = pb + jp * k, j = j0 + jp;
    heapF32().fill(0, d, d + NR32 * k);
    for (let q = 0; q < cols; q++) {
      if (transB) gemmWasmCopy32(b + (j + q) * k, 1, d + q, NR32, k);
      else gemmWasmCopy32(b + j + q, n, d + q, NR32, k);
    }
  }
}

// Float32 panel scratch of the JS path, grown on demand and reused.
let packA32Buf = new Float32Array(0);
let packB32Buf = new Float32Array(0);

/**
 * The float32 JS path (m, n, k >= 1): the WASM path's packing and tiles, with
 * each 4x8 tile done as two 4x4 halves by {@link microKernel32} straight into C.
 */
function jsPacked32(
  a: Float32Array, aOff: number, transA: boolean,
  b: Float32Array, bOff: number, transB: boolean,
  c: Float32Array, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): void {
  const nc = blockCols32(n, k);
  const mPanels = Math.ceil(m / MR32);
  if (packA32Buf.length < mPanels * MR32 * k) packA32Buf = new Float32Array(Math.max(mPanels * MR32 * k, packA32Buf.length * 2));
  if (packB32Buf.length < nc * k) packB32Buf = new Float32Array(Math.max(nc * k, packB32Buf.length * 2));
  const pa = packA32Buf;
  const pb = packB32Buf;
  packA32(a, aOff, transA, m, k, pa, 0);
  for (let j0 = 0; j0 < n; j0 += nc) {
    const nb = Math.min(nc, n - j0);
    packB32(b, bOff, transB, n, k, j0, nb, pb, 0);
    const halves = Math.ceil(nb / 4);
    for (let ip = 0; ip < mPanels; ip++) {
      const i0 = ip * MR32;
      const rows = Math.min(MR32, m - i0);
      for (let h = 0; h < halves; h++) {
        const jj = j0 + 4 * h;
        // Half h is columns 4(h & 1) .. +3 of panel h >> 1.
        const bo = (h >> 1) * NR32 * k + 4 * (h & 1);
        microKernel32(pa, ip * MR32 * k, pb, bo, k, c, cOff + i0 * n + jj, n, rows, Math.min(4, n - jj), accumulate);
      }
    }
  }
}

/**
 * One 4x4 block of C from a packed A panel ([k][4]) and four columns of a
 * packed B panel ([k][8], from bo), in float32: every product and every sum
 * rounded by Math.fround, p in order; only the first rows x cols entries are
 * stored.
 */
function microKernel32(
  pa: Float32Array, ao: number, pb: Float32Array, bo: number, k: number,
  c: Float32Array, co: number, ldc: number, rows: number, cols: number, accumulate: boolean,
): void {
  const fr = Math.fround;
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  if (accumulate) {
    const t = edgeTile;
    for (let r = 0; r < 4; r++) for (let q = 0; q < 4; q++) t[r * 4 + q] = r < rows && q < cols ? c[co + r * ldc + q]! : 0;
    c00 = t[0]!; c01 = t[1]!; c02 = t[2]!; c03 = t[3]!;
    c10 = t[4]!; c11 = t[5]!; c12 = t[6]!; c13 = t[7]!;
    c20 = t[8]!; c21 = t[9]!; c22 = t[10]!; c23 = t[11]!;
    c30 = t[12]!; c31 = t[13]!; c32 = t[14]!; c33 = t[15]!;
  }
  const end = ao + k * MR32;
  for (let x = ao, y = bo; x < end; x += MR32, y += NR32) {
    const a0 = pa[x]!, a1 = pa[x + 1]!, a2 = pa[x + 2]!, a3 = pa[x + 3]!;
    const b0 = pb[y]!, b1 = pb[y + 1]!, b2 = pb[y + 2]!, b3 = pb[y + 3]!;
    c00 = fr(c00 + fr(a0 * b0)); c01 = fr(c01 + fr(a0 * b1)); c02 = fr(c02 + fr(a0 * b2)); c03 = fr(c03 + fr(a0 * b3));
    c10 = fr(c10 + fr(a1 * b0)); c11 = fr(c11 + fr(a1 * b1)); c12 = fr(c12 + fr(a1 * b2)); c13 = fr(c13 + fr(a1 * b3));
    c20 = fr(c20 + fr(a2 * b0)); c21 = fr(c21 + fr(a2 * b1)); c22 = fr(c22 + fr(a2 * b2)); c23 = fr(c23 + fr(a2 * b3));
    c30 = fr(c30 + fr(a3 * b0)); c31 = fr(c31 + fr(a3 * b1)); c32 = fr(c32 + fr(a3 * b2)); c33 = fr(c33 + fr(a3 * b3));
  }
  storeTile(c, co, ldc, rows, cols, c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33);
}
