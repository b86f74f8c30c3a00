/**
 * The AND-popcount product of two bit matrices (spikes x spikes): the dot
 * products of spiking self-attention, Q Kᵀ and Kᵀ V, as integer counts.
 * The dispatch, the TypeScript twin, and the WASM SIMD twin in wasm.ts.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { popcnt32 } from "../../tensor/bits.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { andPopcountGemmWasm } from "./wasm.js";

/**
 * C[i, j] = sum_w popcnt(A[i, w] & B[j, w]) for bit matrices A [m rows] and
 * B [n rows] of `words` words each (offsets in words): the AND-popcount
 * product A Bᵀ of two 0/1 matrices packed along the shared axis. Entries are
 * integers <= 32 words, exact in every output type.
 */
export function andPopcountGemm(
  a: Uint32Array, aOff: number,
  b: Uint32Array, bOff: number,
  c: Int32Array | FloatArray, cOff: number,
  m: number, n: number, words: number,
): void {
  // Counts are integers, so the WASM SIMD twin gives the same values; below ~64 outputs the call costs more than it saves.
  if (m * n >= 64 && words > 0 && wasmKernelsEnabled()) andPopcountGemmWasm(a, aOff, b, bOff, c, cOff, m, n, words);
  else andPopcountGemmJs(a, aOff, b, bOff, c, cOff, m, n, words);
}

/** The plain-TypeScript twin of {@link andPopcountGemm}, whatever the kernel backend. */
export function andPopcountGemmJs(
  a: Uint32Array, aOff: number,
  b: Uint32Array, bOff: number,
  c: Int32Array | FloatArray, cOff: number,
  m: number, n: number, words: number,
): void {
  if (words === 1) {
    // One word per row (d <= 32, Spikformer's head size): no inner loop.
    for (let i = 0; i < m; i++) {
      const ai = a[aOff + i]!;
      const ci = cOff + i * n;
      for (let j = 0; j < n; j++) c[ci + j] = popcnt32(ai & b[bOff + j]!);
    }
    return;
  }
  for (let i = 0; i < m; i++) {
    const ai = aOff + i * words;
    const ci = cOff + i * n;
    for (let j = 0; j < n; j++) {
      const bj = bOff + j * words;
      let s = 0;
      for (let w = 0; w < words; w++) s += popcnt32(a[ai + w]! & b[bj + w]!);
      c[ci + j] = s;
    }
  }
}
