/**
 * NumPy's legacy global generator, as far as `np.random.seed(s); np.random.permutation(n)`
 * needs it: MT19937 seeded by init_genrand(s) (RandomState's legacy seeding of an integer
 * seed), and the Fisher-Yates shuffle of RandomState.shuffle, which draws each index with
 * `random_interval` (a 32-bit draw masked to the bits of the bound, redrawn while above it).
 * Used by bench/recipe.ts to rebuild the PyTorch peer's MNIST split without Python; the
 * tests pin it against NumPy's own output.
 */

/** The 32-bit Mersenne Twister (Matsumoto and Nishimura's genrand_int32). */
export class MT19937 {
  private readonly mt = new Uint32Array(624);
  private index = 624;

  /** init_genrand(seed): what `np.random.seed(seed)` does for an integer seed in [0, 2^32). */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`MT19937: seed must be an integer in [0, 2^32), got ${seed}`);
    const mt = this.mt;
    mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < 624; i++) {
      const y = (mt[i]! & 0x80000000) | (mt[(i + 1) % 624]! & 0x7fffffff);
      mt[i] = mt[(i + 397) % 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }

  /** The next 32-bit output, tempered. */
  next32(): number {
    if (this.index >= 624) this.twist();
    let y = this.mt[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** NumPy's `random_interval(max)`: uniform in [0, max] by masked rejection (max < 2^32). */
  interval(max: number): number {
    if (max === 0) return 0;
    let mask = max;
    for (const s of [1, 2, 4, 8, 16]) mask |= mask >>> s;
    mask >>>= 0;
    let v: number;
    do v = (this.next32() & mask) >>> 0;
    while (v > max);
    return v;
  }
}

/** `np.random.seed(seed); np.random.permutation(n)` (n < 2^32), as an Int32Array. */
export function numpyPermutation(n: number, seed: number): Int32Array {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new Error(`numpyPermutation: n must be an integer in [0, 2^31), got ${n}`);
  const rng = new MT19937(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i >= 1; i--) {
    const j = rng.interval(i);
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}
