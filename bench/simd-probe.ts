/**
 * What this core's 128-bit lanes do a cycle, for reading the kernels' rates against: loops of eight
 * independent f32x4 chains, each step an add, a multiply, or a load + multiply + add (the weighted event
 * sums' step, a v128 load from L1), emitted like the kernels (src/wasm/emit.ts) and run on one thread.
 * Prints ns per f32x4 step (divide into 1 / the clock for steps a cycle). The event sums do one load and
 * an add (spikes) or a load, a multiply and an add (counts) per step; the float32 gemm a multiply and an
 * add with its loads amortized over a register tile.
 *
 *   npx tsx bench/simd-probe.ts
 */
import { Code, emitModule, I32, V128 } from "../src/wasm/emit.js";
import { HeapKernel } from "../src/wasm/runtime.js";
import { heapArray } from "../src/tensor/heap.js";

/** Independent accumulator chains (the sums keep 7, the gemm's tile 12). */
const CHAINS = 8;
const KINDS = ["add", "mul", "load+add", "load+mul+add"] as const;
type Kind = (typeof KINDS)[number];

/** (n, p): n rounds of CHAINS steps on a 128-byte buffer at byte offset p; the chains' sum stored at p. */
function probe(kind: Kind): Code {
  const c = new Code();
  const [n, p, i, x] = [0, 1, 2, 3];
  const acc = Array.from({ length: CHAINS }, (_, k) => 4 + k);
  for (const a of [...acc, x]) c.get(p).v128Load(0).set(a);
  c.i32Const(0).set(i);
  c.block().loop();
  c.get(i).get(n).i32LtU().i32Eqz().brIf(1);
  for (let k = 0; k < CHAINS; k++) {
    c.get(acc[k]!);
    if (kind === "add") c.get(x).f32x4Add();
    else if (kind === "mul") c.get(x).f32x4Mul();
    else if (kind === "load+add") c.get(p).v128Load(16 * k).f32x4Add();
    else c.get(x).get(p).v128Load(16 * k).f32x4Mul().f32x4Add();
    c.set(acc[k]!);
  }
  c.get(i).i32Const(1).i32Add().set(i);
  c.br(0).end().end();
  for (let k = 1; k < CHAINS; k++) c.get(acc[0]!).get(acc[k]!).f32x4Add().set(acc[0]!);
  c.get(p).get(acc[0]!).v128Store(0);
  return c;
}

const kernel = new HeapKernel(() => emitModule({
  minPages: 1, shared: true,
  funcs: KINDS.map((kind) => ({ name: kind, params: [I32, I32], results: [], locals: [I32, ...new Array(CHAINS + 1).fill(V128)], body: probe(kind) })),
}));
// Values near 1, so the chains stay normal numbers (no subnormal slow paths) over the rounds.
const buf = heapArray(Float32Array, 32, false) as Float32Array;
buf.fill(1.0000001);
const rounds = 2e7;
for (const kind of KINDS) {
  const f = kernel.exports()[kind] as (n: number, p: number) => void;
  f(rounds / 10, buf.byteOffset); // warm up: compiled, tiered up
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    buf.fill(1.0000001);
    const t0 = performance.now();
    f(rounds, buf.byteOffset);
    best = Math.min(best, performance.now() - t0);
  }
  console.log(`${kind.padEnd(13)} ${((best * 1e6) / (rounds * CHAINS)).toFixed(3)} ns a step (${CHAINS} chains)`);
}
