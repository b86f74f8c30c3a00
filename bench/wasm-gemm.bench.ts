/**
 * Dense gemm: the plain-TypeScript kernel (gemmJs) against its WebAssembly
 * SIMD twin (gemmWasm), single thread, on square products and on the
 * convolution-shaped products of a training step (forward W·cols, input
 * gradient Wᵀ·gy, weight gradient gy·colsᵀ), in both contract families of
 * gemm.ts: float32 (A, B, C all float32: float32 accumulation, f32x4 lanes)
 * and float64 (the same float32 A and B into a float64 C: float64
 * accumulation, f64x2 lanes, what every float32 product used before the
 * float32 family). Prints GFLOP/s (2 m n k flops a product, from benny's
 * median time) and the ratios; then the AND-popcount product of spiking
 * self-attention, JS against its twin.
 * Run: npx tsx bench/wasm-gemm.bench.ts
 */
import b from "benny";
import { gemmJs, gemmReference, gemmWasm } from "../src/kernels/gemm/gemm.js";
import { wasmSimdAvailable } from "../src/wasm/backend.js";
import { andPopcountGemmWasm } from "../src/kernels/popcount/wasm.js";
import { andPopcountGemmJs } from "../src/kernels/popcount/popcount.js";
import { Rng } from "../src/tensor/random.js";

if (!wasmSimdAvailable()) {
  console.log("WebAssembly SIMD is not available in this runtime: nothing to compare.");
  process.exit(0);
}

function randArray(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform() * 2 - 1;
  return a;
}

interface Shape { name: string; m: number; n: number; k: number; transA: boolean; transB: boolean; slow?: boolean }
const shapes: Shape[] = [
  { name: "256x256x256", m: 256, n: 256, k: 256, transA: false, transB: false },
  { name: "1024x1024x1024", m: 1024, n: 1024, k: 1024, transA: false, transB: false, slow: true },
  { name: "conv fwd 3x3 16->32 @28x28 (m32 n784 k144)", m: 32, n: 784, k: 144, transA: false, transB: false },
  { name: "conv data-grad 3x3 16->32 (m144 n784 k32, Aᵀ)", m: 144, n: 784, k: 32, transA: true, transB: false },
  { name: "conv data-grad 3x3 16->8 (m144 n784 k8, Aᵀ)", m: 144, n: 784, k: 8, transA: true, transB: false },
  { name: "conv weight-grad 3x3 16->32 (m32 n144 k784, Bᵀ)", m: 32, n: 144, k: 784, transA: false, transB: true },
];

const rng = new Rng(3);
const summary: string[] = [];
const fmt = (x: number) => x.toFixed(2).padStart(6);
for (const s of shapes) {
  const { m, n, k, transA, transB } = s;
  const a = randArray(m * k, rng), bm = randArray(k * n, rng);
  const c32 = [new Float32Array(m * n), new Float32Array(m * n)];
  const c64 = [new Float64Array(m * n), new Float64Array(m * n)];
  // Same bits first: a benchmark of a wrong kernel is worthless.
  for (const [cj, cw] of [c32, c64] as const) {
    gemmJs(a, 0, transA, bm, 0, transB, cj, 0, m, n, k, false);
    gemmWasm(a, 0, transA, bm, 0, transB, cw, 0, m, n, k, false);
    for (let i = 0; i < m * n; i++) if (!Object.is(cj[i], cw[i])) throw new Error(`${s.name}: WASM and JS differ at ${i}`);
    if (m * n * k <= 1 << 22) {
      gemmReference(a, 0, transA, bm, 0, transB, cj, 0, m, n, k, false);
      for (let i = 0; i < m * n; i++) if (!Object.is(cj[i], cw[i])) throw new Error(`${s.name}: WASM and reference differ at ${i}`);
    }
  }
  const opts = s.slow ? { minSamples: 3, maxTime: 4, initCount: 1 } : { minSamples: 10, maxTime: 2 };
  const flops = 2 * m * n * k;
  await b.suite(
    `gemm ${s.name}`,
    b.add("js f32", () => { gemmJs(a, 0, transA, bm, 0, transB, c32[0]!, 0, m, n, k, false); }, opts),
    b.add("wasm f32", () => { gemmWasm(a, 0, transA, bm, 0, transB, c32[1]!, 0, m, n, k, false); }, opts),
    b.add("js f64", () => { gemmJs(a, 0, transA, bm, 0, transB, c64[0]!, 0, m, n, k, false); }, opts),
    b.add("wasm f64", () => { gemmWasm(a, 0, transA, bm, 0, transB, c64[1]!, 0, m, n, k, false); }, opts),
    b.cycle(),
    b.complete((res) => {
      // Speed from the median seconds per run (benny rounds its ops/s display).
      const gf = Object.fromEntries(res.results.map((r) => [r.name, flops / r.details.median / 1e9]));
      const f32 = gf["wasm f32"]!, f64 = gf["wasm f64"]!;
      summary.push(
        `${s.name.padEnd(48)} f32 family: js ${fmt(gf["js f32"]!)}  wasm ${fmt(f32)}   ` +
        `f64 family: js ${fmt(gf["js f64"]!)}  wasm ${fmt(f64)}   wasm f32/f64 ${(f32 / f64).toFixed(2)}x`,
      );
    }),
  );
}

// AND-popcount (SSA's Q Kᵀ on bits): rows of `words` 32-bit words, 25% of bits set.
const popSummary: string[] = [];
for (const [name, m, n, words] of [["Q Kᵀ N64 d32 (1 word)", 64, 64, 1], ["Kᵀ V N64 d32 (2 words)", 32, 32, 2], ["Q Kᵀ N196 d64 (2 words)", 196, 196, 2], ["Kᵀ V N196 d64 (7 words)", 64, 64, 7]] as const) {
  const bits = (len: number) => Uint32Array.from({ length: len }, () => {
    let w = 0;
    for (let i = 0; i < 32; i++) if (rng.uniform() < 0.25) w |= 1 << i;
    return w >>> 0;
  });
  const a = bits(m * words), bm = bits(n * words);
  const c1 = new Float32Array(m * n), c2 = new Float32Array(m * n);
  andPopcountGemmJs(a, 0, bm, 0, c1, 0, m, n, words);
  andPopcountGemmWasm(a, 0, bm, 0, c2, 0, m, n, words);
  for (let i = 0; i < m * n; i++) if (c1[i] !== c2[i]) throw new Error(`${name}: WASM and JS AND-popcount differ at ${i}`);
  const opts = { minSamples: 10, maxTime: 1 };
  await b.suite(
    `AND-popcount ${name}`,
    b.add("js", () => { andPopcountGemmJs(a, 0, bm, 0, c1, 0, m, n, words); }, opts),
    b.add("wasm", () => { andPopcountGemmWasm(a, 0, bm, 0, c2, 0, m, n, words); }, opts),
    b.cycle(),
    b.complete((res) => {
      const us = Object.fromEntries(res.results.map((r) => [r.name, r.details.median * 1e6]));
      popSummary.push(`${name.padEnd(48)} js ${us.js!.toFixed(1).padStart(7)} us   wasm ${us.wasm!.toFixed(1).padStart(7)} us   wasm/js speed ${(us.js! / us.wasm!).toFixed(2)}x`);
    }),
  );
}

console.log("\nSingle-thread gemm on float32 A, B, GFLOP/s from median time (f32 family: float32 C and accumulation; f64 family: float64 C and accumulation):\n  " + summary.join("\n  "));
console.log("\nAND-popcount into float32 (median time per product):\n  " + popSummary.join("\n  "));
