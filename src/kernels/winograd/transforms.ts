/**
 * The transforms of Winograd's F(4x4, 3x3) (Lavin & Gray 2016, interpolation
 * points 0, 1, -1, 2, -2 and infinity), 1D and 2D, written once over an
 * abstract float32 arithmetic: the TypeScript reference (./winograd.ts) runs
 * them on numbers, Math.fround after every operation, and the WASM twins
 * (./wasm.ts) run them to emit the f32x4 instructions, so both do the same
 * operations in the same order: the same bits.
 *
 *   B^T = [4  0 -5  0  1  0]   G = [ 1/4     0    0 ]   A^T = [1  1  1  1  1  0]
 *         [0 -4 -4  1  1  0]       [-1/6 -1/6 -1/6 ]         [0  1 -1  2 -2  0]
 *         [0  4 -4 -1  1  0]       [-1/6  1/6 -1/6 ]         [0  1  1  4  4  0]
 *         [0 -2 -1  2  1  0]       [1/24 1/12  1/6 ]         [0  1 -1  8 -8  1]
 *         [0  2 -1 -2  1  0]       [1/24 -1/12 1/6 ]
 *         [0  4  0 -5  0  1]       [   0    0    1 ]
 *
 * The factorings share subexpressions (d4 - d2 in three rows of B^T, m1 - m2
 * and m3 - m4 in two of A^T) and multiply only by 2, 4 and 8, which is exact:
 * every rounding is of a sum or difference, bounded by the matching row of
 * |B^T| or |A^T| applied to the magnitudes, and no path takes more than 2
 * (B^T) or 3 (A^T) roundings. G's 1/6, 1/12 and 1/24 are not float32 numbers,
 * so the kernel goes through G' = diag(GSCALE) G, whose entries are small
 * integers (2 roundings a pass), and each element of G' F G'^T is divided once
 * by its exact integer scale: one correctly rounded division instead of
 * rounded constants times sums. tests/kernels/winograd.test.ts checks all
 * three against the printed matrices and derives the error bound from these
 * counts.
 */

/** The float32 operations the transforms use, over values of type T (numbers, or the WASM locals holding f32x4 lanes). */
export interface F32Ops<T> {
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  /** a times 2, 4 or 8: exact (barring overflow), so no rounding is spent. */
  mul(a: T, k: 2 | 4 | 8): T;
  /** a divided by an integer k exact in float32: one correctly rounded division. */
  div(a: T, k: number): T;
}

/**
 * Float32 arithmetic on numbers: each result rounded to float32 (for + - * / of two float32 the double result,
 * rounded again, gives the float32 one: 53 >= 2 * 24 + 2).
 */
export const f32: F32Ops<number> = {
  add: (a, b) => Math.fround(a + b),
  sub: (a, b) => Math.fround(a - b),
  mul: (a, k) => Math.fround(a * k),
  div: (a, k) => Math.fround(a / k),
};

/** Values of a 6-point transform (tile side of the input and of the transformed kernel). */
export const ALPHA = 6;

/** Outputs of a tile side. */
export const TILE = 4;

/**
 * B^T d for six values d0..d5 (a tile row or column of the gradient):
 * 4 (d0 - d2) + (d4 - d2), (d4 - 4 d2) +- (d3 - 4 d1), (d4 - d2) -+ 2 (d1 - d3), 4 (d1 - d3) + (d5 - d3).
 */
export function applyBt<T>(f: F32Ops<T>, d: readonly T[]): T[] {
  const [d0, d1, d2, d3, d4, d5] = d as [T, T, T, T, T, T];
  const s42 = f.sub(d4, d2), s13 = f.sub(d1, d3);
  const t = f.sub(d4, f.mul(d2, 4)), u = f.sub(d3, f.mul(d1, 4));
  const s13x2 = f.mul(s13, 2);
  return [
    f.add(f.mul(f.sub(d0, d2), 4), s42),
    f.add(t, u),
    f.sub(t, u),
    f.sub(s42, s13x2),
    f.add(s42, s13x2),
    f.add(f.mul(s13, 4), f.sub(d5, d3)),
  ];
}

/**
 * A^T m for six values m0..m5 (a row or column of a transformed tile):
 * (m0 + a) + c, b + 2 e, a + 4 c, (b + m5) + 8 e with a, b = m1 +- m2 and c, e = m3 +- m4 (m5 joins
 * b before 8 e: of the orders tried, the one whose rounding is smallest, max and rms).
 */
export function applyAt<T>(f: F32Ops<T>, m: readonly T[]): T[] {
  const [m0, m1, m2, m3, m4, m5] = m as [T, T, T, T, T, T];
  const a = f.add(m1, m2), b = f.sub(m1, m2), c = f.add(m3, m4), e = f.sub(m3, m4);
  return [f.add(f.add(m0, a), c), f.add(b, f.mul(e, 2)), f.add(a, f.mul(c, 4)), f.add(f.add(b, m5), f.mul(e, 8))];
}

/** G' = diag(GSCALE) G: G's rows times 4, -6, -6, 24, 24, 1 are [1 0 0], [1 1 1], [1 -1 1], [1 2 4], [1 -2 4], [0 0 1]. */
export const GSCALE: readonly number[] = [4, -6, -6, 24, 24, 1];

/** U's divisors: element e = 6 xi + nu of G' F G'^T is GSCALE[xi] GSCALE[nu] times that of G F G^T (integers to 576). */
export const U_SCALE: readonly number[] = Array.from({ length: ALPHA * ALPHA }, (_, e) => GSCALE[Math.floor(e / ALPHA)]! * GSCALE[e % ALPHA]!);

/** G' x for three values x0..x2 (a kernel row or column): x0, (x0 + x2) +- x1, (x0 + 4 x2) +- 2 x1, x2. */
export function applyGScaled<T>(f: F32Ops<T>, x0: T, x1: T, x2: T): T[] {
  const p = f.add(x0, x2), q = f.add(x0, f.mul(x2, 4)), x1x2 = f.mul(x1, 2);
  return [x0, f.add(p, x1), f.sub(p, x1), f.add(q, x1x2), f.sub(q, x1x2), x2];
}

/**
 * Where a 2D transform keeps the results of its first pass until its second
 * takes them: the reference in an array, the WASM twins in memory (36 vectors
 * do not fit in 16 registers, and V8's spills of so many values cost more).
 */
export interface Stage<T> {
  put(i: number, j: number, x: T): void;
  take(i: number, j: number): T;
}

/** A stage in an array (the reference's). */
export function arrayStage<T>(): Stage<T> {
  const a: T[] = [];
  return { put: (i, j, x) => void (a[ALPHA * i + j] = x), take: (i, j) => a[ALPHA * i + j]! };
}

/**
 * V = B^T d B of a 6x6 tile whose row r is row(r): B^T along each row (over
 * the column index), then along each column of that; out(e, V[xi][nu]) with
 * e = 6 xi + nu, in the order computed.
 */
export function transformInput<T>(f: F32Ops<T>, row: (r: number) => readonly T[], stage: Stage<T>, out: (e: number, x: T) => void): void {
  for (let r = 0; r < ALPHA; r++) {
    const h = applyBt(f, row(r));
    for (let nu = 0; nu < ALPHA; nu++) stage.put(r, nu, h[nu]!);
  }
  const col: T[] = [];
  for (let nu = 0; nu < ALPHA; nu++) {
    for (let r = 0; r < ALPHA; r++) col[r] = stage.take(r, nu);
    const v = applyBt(f, col);
    for (let xi = 0; xi < ALPHA; xi++) out(ALPHA * xi + nu, v[xi]!);
  }
}

/**
 * Y = A^T M A of a tile whose element e = 6 xi + nu is m(e): A^T along each
 * row of M (over nu), then along each column of that; out(i, j, Y[i][j]),
 * a column j at a time.
 */
export function transformOutput<T>(f: F32Ops<T>, m: (e: number) => T, stage: Stage<T>, out: (i: number, j: number, x: T) => void): void {
  const x: T[] = [];
  for (let xi = 0; xi < ALPHA; xi++) {
    for (let nu = 0; nu < ALPHA; nu++) x[nu] = m(ALPHA * xi + nu);
    const r = applyAt(f, x);
    for (let j = 0; j < TILE; j++) stage.put(xi, j, r[j]!);
  }
  for (let j = 0; j < TILE; j++) {
    for (let xi = 0; xi < ALPHA; xi++) x[xi] = stage.take(xi, j);
    const y = applyAt(f, x);
    for (let i = 0; i < TILE; i++) out(i, j, y[i]!);
  }
}

/**
 * U = G F G^T of one 3x3 kernel w0..w8 (row-major) flipped, F[a][b] =
 * W[2 - a][2 - b]: G' down each column of F, then along each row of that,
 * each element divided by its scale; out(e, U[xi][nu]), e = 6 xi + nu, in order.
 */
export function transformKernel<T>(f: F32Ops<T>, w: readonly T[], out: (e: number, x: T) => void): void {
  // Column b of F is (W[2][2 - b], W[1][2 - b], W[0][2 - b]).
  const c0 = applyGScaled(f, w[8]!, w[5]!, w[2]!), c1 = applyGScaled(f, w[7]!, w[4]!, w[1]!), c2 = applyGScaled(f, w[6]!, w[3]!, w[0]!);
  for (let xi = 0; xi < ALPHA; xi++) {
    const row = applyGScaled(f, c0[xi]!, c1[xi]!, c2[xi]!);
    for (let nu = 0; nu < ALPHA; nu++) out(ALPHA * xi + nu, f.div(row[nu]!, U_SCALE[ALPHA * xi + nu]!));
  }
}
