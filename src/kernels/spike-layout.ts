/**
 * Kernels that move bits between layouts: splitting the packed channel axis
 * into attention heads (their float gradients merge back through the strided
 * copy, src/kernels/copy/). Max-pooling spikes is the spike-pool family.
 */
import { ctz32, wordsFor } from "../tensor/bits.js";
import { inHeap } from "../tensor/heap.js";
import { wasmKernelsEnabled } from "../wasm/backend.js";
import { transposeWasmCall } from "./transpose/wasm.js";

/**
 * src: `outer` blocks of [n, heads*d] bits; dst: `outer` blocks of
 * [heads, n, d] bits. dst must be zeroed.
 */
export function splitHeadsBits(src: Uint32Array, dst: Uint32Array, outer: number, n: number, heads: number, d: number): void {
  const sw = wordsFor(heads * d);
  const dw = wordsFor(d);
  if (d % 32 === 0) {
    // Heads of whole words (Spikformer's d = 32, 64): each head's row is dw words of the token's row, copied
    // as they are (bit by bit, 3.1-3.2 ms of a one-thread CIFAR b8 / MNIST b64 step on the calling thread).
    if ((dw === 1 || dw === 2) && wasmKernelsEnabled() && inHeap(src) && inHeap(dst)) {
      // Heads of one or two words: each outer block is a transpose of [n, heads] such units, moved as i32 / f64
      // (loads and stores keep every bit): 0.25 ns a word against the JS loop's 3.6-3.75, warm (a CIFAR b8
      // call's 24.6k words 88-92 -> 6 us).
      for (let o = 0; o < outer; o++) transposeWasmCall(dw === 1 ? "t32" : "t64", src.byteOffset + o * n * sw * 4, dst.byteOffset + o * heads * n * dw * 4, n, heads, 0, n);
      return;
    }
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < n; i++) {
        const so = (o * n + i) * sw;
        for (let h = 0; h < heads; h++) {
          const to = ((o * heads + h) * n + i) * dw, from = so + h * dw;
          for (let w = 0; w < dw; w++) dst[to + w] = src[from + w]!;
        }
      }
    }
    return;
  }
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < n; i++) {
      const so = (o * n + i) * sw;
      for (let w = 0; w < sw; w++) {
        let x = src[so + w]!;
        while (x !== 0) {
          const c = (w << 5) + ctz32(x);
          x &= x - 1;
          const h = (c / d) | 0;
          const j = c - h * d;
          dst[((o * heads + h) * n + i) * dw + (j >>> 5)]! |= 1 << (j & 31);
        }
      }
    }
  }
}
