/**
 * AND-popcount product throughput in bit multiply-adds per second, one
 * thread: C[m, n] = popcount(A[i] & B[j]) over k-bit rows, which stands for
 * m n k multiply-adds of 0/1 values. The WASM SIMD twin (the default kernel)
 * and the plain-TypeScript twin on square products and on Spikformer's
 * attention shape (d = 32 bits, one word a row); then one head's Kᵀ V (d x d
 * outputs over N-bit rows: two words for N 33..64) over heap arrays, as the
 * attention runs it, head after head.
 *
 *   npx tsx bench/popcount.bench.ts
 */
import { andPopcountGemm, andPopcountGemmJs } from "../src/kernels/popcount/popcount.js";
import { Rng } from "../src/tensor/random.js";
import { heapArray } from "../src/tensor/heap.js";

const rng = new Rng(5);
const words = (n: number) => new Uint32Array(n).map(() => (rng.uniform() * 2 ** 32) >>> 0);

/** Median seconds of `reps` runs after one warm-up. */
function median(f: () => void, reps: number): number {
  f();
  const t: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    f();
    t.push((performance.now() - t0) / 1000);
  }
  t.sort((a, b) => a - b);
  return t[t.length >> 1]!;
}

console.log("AND-popcount product, one thread: G bit-MAC/s (m x n outputs, k-bit rows)");
for (const [m, n, kBits] of [[64, 64, 32], [512, 512, 1024], [1024, 1024, 4096], [256, 256, 16384]] as const) {
  const w = kBits / 32;
  const a = words(m * w), b = words(n * w), c = new Int32Array(m * n);
  const macs = m * n * kBits;
  const reps = macs > 1e9 ? 5 : 20;
  const tw = median(() => andPopcountGemm(a, 0, b, 0, c, 0, m, n, w), reps);
  const tj = median(() => andPopcountGemmJs(a, 0, b, 0, c, 0, m, n, w), reps);
  console.log(`  ${m} x ${n} x ${kBits} bits: WASM ${(macs / tw / 1e9).toFixed(1)}, TypeScript ${(macs / tj / 1e9).toFixed(1)} G bit-MAC/s (${(tj / tw).toFixed(1)}x)`);
}
// One head's Kᵀ V (d x d counts over N-bit rows, float32 as the attention's forward keeps them), a pass's heads one after another
// (CIFAR b8: 4 blocks of 384 heads; MNIST b64: 2 blocks of 1,024).
for (const [d, nBits, heads] of [[32, 64, 1536], [32, 49, 2048]] as const) {
  const w = Math.ceil(nBits / 32);
  const a = heapArray(Uint32Array, d * w), b = heapArray(Uint32Array, d * w), c = heapArray(Float32Array, d * d);
  a.set(words(d * w)); b.set(words(d * w));
  const tw = median(() => { for (let h = 0; h < heads; h++) andPopcountGemm(a, 0, b, 0, c, 0, d, d, w); }, 20);
  const tj = median(() => { for (let h = 0; h < heads; h++) andPopcountGemmJs(a, 0, b, 0, c, 0, d, d, w); }, 20);
  console.log(`  ${heads} heads' Kᵀ V, ${d} x ${d} x ${nBits} bits, heap: WASM ${(tw * 1000).toFixed(2)} ms, TypeScript ${(tj * 1000).toFixed(2)} ms (${(tj / tw).toFixed(1)}x)`);
}
