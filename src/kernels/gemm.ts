/**
 * Dense matrix products on row-major typed arrays: a blocked, packed kernel
 * (`gemm`) and its plain reference twin (`gemmReference`), the oracle in tests.
 *
 * Contract shared by both (and by future WASM twins): every output element is
 * `acc = accumulate ? C[i,j] : 0; for p = 0..k-1 in order: acc += A[i,p] B[p,j]`
 * with `acc` a float64, rounded to C's element type once at the end. The
 * summation order never depends on the transposes or the blocking, so the two
 * kernels agree bit for bit.
 *
 * `gemm` runs one of two fast twins with that contract: `gemmJs` (plain
 * TypeScript) or `gemmWasm` (WebAssembly SIMD, src/wasm/gemm-kernel.ts), as
 * the kernel backend says (src/wasm/backend.ts: BITSPIKE_KERNELS or
 * setKernelBackend; by default the WASM twin wherever SIMD exists).
 */
import type { FloatArray } from "../tensor/tensor.js";
import { BitspikeError } from "../tensor/errors.js";
import { wasmKernelsEnabled, wasmSimdAvailable } from "../wasm/backend.js";
import { gemmWasmMemory, gemmWasmTiles } from "../wasm/gemm-kernel.js";

/**
 * C[m,n] (+)= op(A) op(B), where op(A) is A[m,k] or, with transA, A stored as
 * [k,m]; likewise B [k,n] or [n,k] with transB. Offsets select one matrix of a
 * batch. Reference twin: a triple loop, clear rather than fast.
 */
export function gemmReference(
  a: FloatArray, aOff: number, transA: boolean,
  b: FloatArray, bOff: number, transB: boolean,
  c: FloatArray, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): void {
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
  if (wasmKernelsEnabled() && wasmPacked(a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate)) return;
  jsPacked(a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate);
}

/** Does empty and tiny products (the reference loop) and returns true; false leaves C untouched for a packed kernel. */
function smallDone(
  a: FloatArray, aOff: number, transA: boolean,
  b: FloatArray, bOff: number, transB: boolean,
  c: FloatArray, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): boolean {
  if (m === 0 || n === 0) return true;
  if (k === 0) {
    if (!accumulate) c.fill(0, cOff, cOff + m * n);
    return true;
  }
  if (m * n * k >= TINY) return false;
  gemmReference(a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate);
  return true;
}

/**
 * The plain-TypeScript twin, whatever the backend: same contract and result
 * as {@link gemmReference}. B is packed per column block into k x 4 panels and
 * A into 4 x k panels (both as float64, zero padded at ragged edges), so one
 * inner loop serves every transpose; a 4x4 tile of C accumulates in locals
 * over the whole of k.
 */
export function gemmJs(
  a: FloatArray, aOff: number, transA: boolean,
  b: FloatArray, bOff: number, transB: boolean,
  c: FloatArray, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): void {
  if (smallDone(a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate)) return;
  jsPacked(a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate);
}

/**
 * The WebAssembly SIMD twin, whatever the backend and size (even tiny
 * products, so tests reach its ragged edges): same contract and result as
 * {@link gemmReference}. Throws where SIMD is unavailable; falls back to the
 * JS kernel only if the WASM memory cannot grow to hold the packed panels.
 */
export function gemmWasm(
  a: FloatArray, aOff: number, transA: boolean,
  b: FloatArray, bOff: number, transB: boolean,
  c: FloatArray, cOff: number,
  m: number, n: number, k: number,
  accumulate: boolean,
): void {
  if (!wasmSimdAvailable()) throw new BitspikeError("gemmWasm", "this runtime has no WebAssembly SIMD");
  if (m === 0 || n === 0) return;
  if (k === 0) {
    if (!accumulate) c.fill(0, cOff, cOff + m * n);
    return;
  }
  if (!wasmPacked(a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate)) {
    jsPacked(a, aOff, transA, b, bOff, transB, c, cOff, m, n, k, accumulate);
  }
}

/** Rows at least this long are copied between C and the WASM scratch with TypedArray.set (measured: faster from ~32). */
const SET_MIN = 32;

/** Columns per block of B for k: a block (k x nc doubles) tends to stay in L2. */
function blockCols(n: number, k: number): number {
  let nc = Math.floor(NC_TARGET_BYTES / (8 * k * NR)) * NR;
  if (nc < 4 * NR) nc = 4 * NR;
  if (nc > n) nc = Math.ceil(n / NR) * NR;
  return nc;
}

/**
 * The WASM path (m, n, k >= 1): packs op(A) and each column block of op(B)
 * into the kernel's memory with the JS packers, runs every tile of the block
 * in one WASM call into a float64 C scratch, then rounds into C. Returns false
 * (having touched nothing) when the memory cannot hold the panels.
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
  const mem = gemmWasmMemory(aLen + bLen + rowsP * nc);
  if (mem === null) return false;
  const pa = mem.subarray(0, aLen);
  const pb = mem.subarray(aLen, aLen + bLen);
  const cs = aLen + bLen;
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
    gemmWasmTiles(0, aLen, cs, k, mPanels, nPanels, accumulate);
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
  if (rows === MR && cols === NR) {
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
  for (let r = 0; r < rows; r++) for (let q = 0; q < cols; q++) c[co + r * ldc + q] = t[r * NR + q]!;
}

/** Staging for ragged edge tiles (values, not references, so a float64 buffer is exact). */
const edgeTile = new Float64Array(MR * NR);
