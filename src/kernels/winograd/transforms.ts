/**
 * The 1-D transforms of Winograd's F(4, 3) (Lavin & Gray 2016, points 0, ±1,
 * ±2, ∞) as straight-line programs of float32 operations, written once: the
 * TypeScript reference evaluates them with a rounding per operation, the WASM
 * twins emit the same operations on f32x4 lanes, so both give the same bits.
 * A 2-D transform applies a program to every row, then to every column of
 * the result (that order, in both twins).
 *
 *   B^T (input, 6 -> 6)   rows [4 0 -5 0 1 0] [0 -4 -4 1 1 0] [0 4 -4 -1 1 0]
 *                              [0 -2 -1 2 1 0] [0 2 -1 -2 1 0] [0 4 0 -5 0 1]
 *   A^T (output, 6 -> 4)  rows [1 1 1 1 1 0] [0 1 -1 2 -2 0] [0 1 1 4 4 0] [0 1 -1 8 -8 1]
 *   G   (weight, 3 -> 6)  rows [1/4 0 0] [-1/6 -1/6 -1/6] [-1/6 1/6 -1/6]
 *                              [1/24 1/12 1/6] [1/24 -1/12 1/6] [0 0 1]
 *
 * Common subexpressions are shared (x4 - x2 and x3 - x1 in B^T, m1 ± m2 and
 * m3 ± m4 in A^T); multiplications by 2, 4 and 8 are exact.
 */

/** One operation: dest = a op b, where a is a variable and b a variable or a constant. */
export type Step = readonly [dest: string, a: string, op: "+" | "-" | "*", b: string | number];

/** A 1-D transform: its input and output variable names and its operations in order. */
export interface Program {
  inputs: readonly string[];
  outputs: readonly string[];
  steps: readonly Step[];
}

const fr = Math.fround;

/** B^T on x0..x5 (also d B on a row: B^T's rows are B's columns). */
export const INPUT: Program = {
  inputs: ["x0", "x1", "x2", "x3", "x4", "x5"],
  outputs: ["b0", "b1", "b2", "b3", "b4", "b5"],
  steps: [
    ["t0", "x0", "*", 4], ["t1", "x2", "*", 5], ["t2", "t0", "-", "t1"], ["b0", "t2", "+", "x4"],
    ["t3", "x3", "+", "x4"], ["t4", "x1", "+", "x2"], ["t5", "t4", "*", 4], ["b1", "t3", "-", "t5"],
    ["t6", "x4", "-", "x3"], ["t7", "x1", "-", "x2"], ["t8", "t7", "*", 4], ["b2", "t6", "+", "t8"],
    ["t9", "x4", "-", "x2"], ["t10", "x3", "-", "x1"], ["t11", "t10", "*", 2], ["b3", "t9", "+", "t11"], ["b4", "t9", "-", "t11"],
    ["t12", "x1", "*", 4], ["t13", "x3", "*", 5], ["t14", "t12", "-", "t13"], ["b5", "t14", "+", "x5"],
  ],
};

/** A^T on m0..m5. */
export const OUTPUT: Program = {
  inputs: ["m0", "m1", "m2", "m3", "m4", "m5"],
  outputs: ["a0", "a1", "a2", "a3"],
  steps: [
    ["p", "m1", "+", "m2"], ["q", "m1", "-", "m2"], ["r", "m3", "+", "m4"], ["s", "m3", "-", "m4"],
    ["t0", "m0", "+", "p"], ["a0", "t0", "+", "r"],
    ["t1", "s", "*", 2], ["a1", "q", "+", "t1"],
    ["t2", "r", "*", 4], ["a2", "p", "+", "t2"],
    ["t3", "s", "*", 8], ["t4", "q", "+", "t3"], ["a3", "t4", "+", "m5"],
  ],
};

/** G on a kernel row f0..f2 (the constants rounded to float32). */
export const WEIGHT: Program = {
  inputs: ["f0", "f1", "f2"],
  outputs: ["g0", "g1", "g2", "g3", "g4", "g5"],
  steps: [
    ["g0", "f0", "*", 0.25],
    ["t0", "f0", "+", "f1"], ["t1", "t0", "+", "f2"], ["g1", "t1", "*", fr(-1 / 6)],
    ["t2", "f0", "-", "f1"], ["t3", "t2", "+", "f2"], ["g2", "t3", "*", fr(-1 / 6)],
    ["t4", "f1", "*", 2], ["t5", "f2", "*", 4], ["t6", "f0", "+", "t4"], ["t7", "t6", "+", "t5"], ["g3", "t7", "*", fr(1 / 24)],
    ["t8", "f0", "-", "t4"], ["t9", "t8", "+", "t5"], ["g4", "t9", "*", fr(1 / 24)],
    ["g5", "f2", "*", 1],
  ],
};

/** A program with its variables numbered: slot i of a Float64Array holds variable i. */
interface Compiled {
  slots: number;
  inputs: Int32Array;
  outputs: Int32Array;
  /** Per step: dest, a, op (0 +, 1 -, 2 *), b (a slot, or -1 for the constant). */
  code: Int32Array;
  consts: Float64Array;
}

const compiled = new Map<Program, Compiled>();

function compile(p: Program): Compiled {
  let c = compiled.get(p);
  if (c !== undefined) return c;
  const slot = new Map<string, number>();
  const at = (name: string): number => {
    if (!slot.has(name)) slot.set(name, slot.size);
    return slot.get(name)!;
  };
  const inputs = Int32Array.from(p.inputs, at);
  const code = new Int32Array(4 * p.steps.length), consts = new Float64Array(p.steps.length);
  p.steps.forEach(([dest, a, op, b], i) => {
    code.set([at(dest), at(a), op === "+" ? 0 : op === "-" ? 1 : 2, typeof b === "number" ? -1 : at(b)], 4 * i);
    consts[i] = typeof b === "number" ? b : 0;
  });
  c = { slots: slot.size, inputs, outputs: Int32Array.from(p.outputs, at), code, consts };
  compiled.set(p, c);
  return c;
}

/**
 * Runs a program on float32 numbers (a rounding per operation): inputs from x[xOff + i xStride], outputs
 * to y[yOff + i yStride].
 */
export function runProgram(
  p: Program, x: ArrayLike<number>, xOff: number, xStride: number, y: { [i: number]: number }, yOff: number, yStride: number,
): void {
  const c = compile(p);
  const v = scratchSlots(c.slots);
  for (let i = 0; i < c.inputs.length; i++) v[c.inputs[i]!] = x[xOff + i * xStride]!;
  const code = c.code;
  for (let i = 0, n = c.consts.length; i < n; i++) {
    const a = v[code[4 * i + 1]!]!, bi = code[4 * i + 3]!, b = bi < 0 ? c.consts[i]! : v[bi]!, op = code[4 * i + 2]!;
    v[code[4 * i]!] = fr(op === 0 ? a + b : op === 1 ? a - b : a * b);
  }
  for (let i = 0; i < c.outputs.length; i++) y[yOff + i * yStride] = v[c.outputs[i]!]!;
}

let slotsBuf = new Float64Array(64);
function scratchSlots(n: number): Float64Array {
  if (slotsBuf.length < n) slotsBuf = new Float64Array(n);
  return slotsBuf;
}

/**
 * A 2-D transform of an n x n block: the program on every row, then on every column of that (n = the
 * program's inputs, k its outputs). x row-major from xOff (row stride xRow); the k x k result into y from
 * yOff with element (i, j) at yOff + i yRow + j yCol. `tmp` holds n k values.
 */
export function transform2d(
  p: Program, x: ArrayLike<number>, xOff: number, xRow: number, y: { [i: number]: number }, yOff: number, yRow: number, yCol: number, tmp: Float64Array,
): void {
  const n = p.inputs.length, k = p.outputs.length;
  for (let r = 0; r < n; r++) runProgram(p, x, xOff + r * xRow, 1, tmp, r * k, 1);
  for (let j = 0; j < k; j++) runProgram(p, tmp, j, k, y, yOff + j * yCol, yRow);
}
