/**
 * The WebAssembly SIMD twin of the neuron backward with the sigmoid surrogate
 * (hardDetachedSigmoidBackwardRangeJs in src/kernels/neuron/neuron.ts), and of the
 * exp it needs (expFdlibm in src/kernels/neuron/exp.ts). Bytes emitted from
 * TypeScript at first use in each thread (see emit.ts).
 *
 * Every element is one float64 lane (two per f64x2) doing the JS kernel's
 * float64 operations in the JS order: float32 inputs are widened exactly
 * (f64x2.promote_low_f32x4), float32 roundings are f32x4.demote_f64x2_zero
 * (round to nearest even, as Math.fround and Float32Array stores), and the
 * branches of the JS code become lane masks and selects. So the results are
 * bit-identical to the JS twin; tests/kernels/neuron-wasm.test.ts checks it.
 *
 * The exp follows fdlibm step by step. Two liberties, both exact: the
 * high-word tests become comparisons of |x| with doubles (bit patterns of
 * non-negative doubles order like their values), and the k = 0 branch's
 * `1 - ((x c) / (c - 2) - x)` is computed as the k != 0 form
 * `1 - ((lo - (x c) / (2 - c)) - hi)` with hi = x, lo = +0, which is the same
 * value: IEEE division and subtraction round symmetrically, so
 * (x c) / (c - 2) = -((x c) / (2 - c)) exactly, and 0 - q differs from -q only
 * in the sign of a zero q, which x (not 0: |x| >= 2^-28 here) absorbs.
 *
 * The LIF forward twin (lifForwardRangeJs) is float32 throughout: each JS
 * step `Math.fround(a op b)` on float32 values is the float32 operation, so
 * f32x4 lanes give the same bits (the caller checks that tau, vTh and vReset
 * are float32 values, as the lanes use them rounded).
 *
 * Exports:
 *   exp(src, dst, pairs)  dst[i] = e^src[i] for 2 pairs float64 (for tests)
 *   expNonPositive(src, dst, pairs)  the same for src <= 0 (the neuron's variant)
 *   sigmoidBackward(gs, gsStep, h, hStep, words, wStep, gx, gxStep, gv, steps, units, q0, cols, wpr, alpha, vTh, dHdX, dHdV)
 *     one range of spike units (see unitElem in neuron.ts) over all steps,
 *     t = steps-1 .. 0: gs, h, gx float32, `elems` values a step (the range's
 *     elements) with step t at byte offset ptr + t step; words one per unit a
 *     step, likewise; gv float64 [elems], zero on entry; q0 = the first unit's
 *     word in its row. gx may be gs (each element is read before it is
 *     written).
 *   lifForward(x, xStep, h, hStep, v, words, wStep, steps, units, q0, cols, wpr, writeH, vReset, tau, vTh, hardReset)
 *     the same unit-range layout, t = 0 .. steps-1: x float32 (h, written
 *     when writeH != 0, may be x), v float32 [elems] holding vReset on entry
 *     and V[T-1] on exit, words written whole.
 *
 * The step strides (bytes) let the functions run in place on whole [T, n]
 * tensors in the heap (stride n values, rows wpr words) as well as on a
 * compact staged copy (stride elems values, units words). Nothing is read
 * outside the range's elements and words.
 */
import { Code, emitModule, F32, F64, I32, V128, frame, type FuncDef, type ValType } from "../../wasm/emit.js";
import { EXP } from "./exp.js";
import { HeapKernel } from "../../wasm/runtime.js";
import { heapF64 } from "../../tensor/heap.js";

const f64x2 = (v: number): number[] => [...new Uint8Array(new Float64Array([v, v]).buffer)];
const i64x2 = (v: number): number[] => [...new Uint8Array(new BigInt64Array([BigInt(v), BigInt(v)]).buffer)];
const i32x4 = (a: number, b: number, c: number, d: number): number[] => [...new Uint8Array(new Int32Array([a, b, c, d]).buffer)];
/** k + MAGIC puts the integer k in the low mantissa bits (MAGIC = 1.5 2^52, so |k| < 2^51 stays exact). */
const MAGIC = 1.5 * 2 ** 52;

/** The v128 scratch locals the exp needs. */
const EXP_TEMPS = ["ax", "m1", "neg", "k", "hi", "lo", "r", "t", "cc", "y", "lowK", "hiK"] as const;
type ExpTemp = (typeof EXP_TEMPS)[number];

/**
 * The local holding a v128 constant. Kernels read their constants from locals
 * set once before the loops: V8 builds a v128.const inside a loop anew each
 * time (several instructions), which cost more than the arithmetic here.
 */
type ConstLocal = (bytes: number[]) => number;

/**
 * Builds a function whose body uses constants through `k`: a first pass
 * collects the distinct constants, then the body is emitted again behind a
 * prologue that sets one local per constant.
 */
function withConstLocals(
  name: string,
  params: readonly (readonly [string, ValType])[],
  locals: readonly (readonly [string, ValType])[],
  emitBody: (c: Code, L: Record<string, number>, k: ConstLocal) => void,
): FuncDef {
  const seen = new Map<string, number[]>();
  const probe = frame(params, locals);
  emitBody(new Code(), probe.idx, (b) => (seen.set(b.join(","), b), 0));
  const consts = [...seen.values()];
  const f = frame(params, [...locals, ...consts.map((_, i) => [`const${i}`, V128] as const)]);
  const c = new Code();
  consts.forEach((b, i) => c.v128Const(b).set(f.idx[`const${i}`]!));
  const local = new Map(consts.map((b, i) => [b.join(","), f.idx[`const${i}`]!]));
  emitBody(c, f.idx, (b) => local.get(b.join(","))!);
  return { name, params: f.params, results: [], locals: f.locals, body: c };
}

/**
 * Emits res = e^x lane-wise (x, res: v128 locals holding f64x2); see the
 * header for the two exact liberties. With `nonPositive` the caller promises
 * x <= 0 (or NaN): the branches only positive x can take are left out (k = 1024,
 * overflow, x = 1, the +0.5 rounding), which changes no result for such x;
 * a NaN then comes out as some NaN rather than x + x.
 */
function emitExp(c: Code, L: Record<string, number>, kc: ConstLocal, x: number, res: number, nonPositive: boolean): void {
  const k = (v: number) => c.get(kc(f64x2(v)));
  /** Pushes `neg` where x < 0, else `pos` (x < 0 in every lane that reaches a select when nonPositive). */
  const bySign = (neg: number, pos: number) => {
    if (nonPositive) k(neg);
    else { k(neg); k(pos); c.get(L.neg!).v128Bitselect(); }
  };
  c.get(x).f64x2Abs().set(L.ax!);
  c.get(L.ax!); k(EXP.REDUCE); c.f64x2Ge().set(L.m1!);
  if (!nonPositive) { c.get(x); k(0); c.f64x2Lt().set(L.neg!); }
  // k = m1 ? (|x| < NEAR ? +-1 : trunc(INV_LN2 x +- 0.5)) : 0
  bySign(-1, 1);
  k(EXP.INV_LN2); c.get(x).f64x2Mul(); bySign(-0.5, 0.5); c.f64x2Add().f64x2Trunc();
  c.get(L.ax!); k(EXP.NEAR); c.f64x2Lt().v128Bitselect();
  c.get(L.m1!).v128And().set(L.k!);
  // hi = x - k LN2_HI, lo = k LN2_LO, r = hi - lo (= x where k = 0)
  c.get(x).get(L.k!); k(EXP.LN2_HI); c.f64x2Mul().f64x2Sub().set(L.hi!);
  c.get(L.k!); k(EXP.LN2_LO); c.f64x2Mul().set(L.lo!);
  c.get(L.hi!).get(L.lo!).f64x2Sub().set(L.r!);
  // c = r - t (P1 + t (P2 + t (P3 + t (P4 + t P5)))), t = r r
  c.get(L.r!).get(L.r!).f64x2Mul().set(L.t!);
  c.get(L.r!);
  for (const p of [EXP.P1, EXP.P2, EXP.P3, EXP.P4]) { c.get(L.t!); k(p); }
  c.get(L.t!); k(EXP.P5); c.f64x2Mul();
  for (let i = 0; i < 4; i++) c.f64x2Add().f64x2Mul();
  c.f64x2Sub().set(L.cc!);
  // y = 1 - ((lo - (r c) / (2 - c)) - hi)
  k(1); c.get(L.lo!).get(L.r!).get(L.cc!).f64x2Mul(); k(2); c.get(L.cc!).f64x2Sub().f64x2Div().f64x2Sub();
  c.get(L.hi!).f64x2Sub().f64x2Sub().set(L.y!);
  // Scale by 2^k: (y 2^k') post, k' = k (+1000 below -1021, -1023 at 1024), post = 1, 2^-1000 or 2^1023.
  c.get(L.k!); k(-1021); c.f64x2Lt().set(L.lowK!);
  if (!nonPositive) { c.get(L.k!); k(1024); c.f64x2Eq().set(L.hiK!); }
  c.get(L.y!);
  c.get(L.k!); k(1000); c.get(L.lowK!).v128And().f64x2Add();
  if (!nonPositive) { k(1023); c.get(L.hiK!).v128And().f64x2Sub(); }
  k(MAGIC); c.f64x2Add().get(kc(i64x2(1023))).i64x2Add().i32Const(52).i64x2Shl();
  c.f64x2Mul();
  k(EXP.TWO_M1000);
  if (nonPositive) k(1);
  else { k(EXP.TWO_1023); k(1); c.get(L.hiK!).v128Bitselect(); }
  c.get(L.lowK!).v128Bitselect().f64x2Mul().set(res);
  // The answers fdlibm gives before reducing, last wins: e at 1, 1 + x when tiny, 0, inf, NaN.
  if (!nonPositive) { k(EXP.E); c.get(res).get(x); k(1); c.f64x2Eq().v128Bitselect().set(res); }
  k(1); c.get(x).f64x2Add().get(res).get(L.ax!); k(EXP.TINY); c.f64x2Lt().v128Bitselect().set(res);
  c.get(res).get(x); k(EXP.UNDER); c.f64x2Lt().v128Andnot().set(res);
  if (!nonPositive) {
    k(Infinity); c.get(res).get(x); k(EXP.OVER); c.f64x2Gt().v128Bitselect().set(res);
    c.get(x).get(x).f64x2Add().get(res).get(x).get(x).f64x2Ne().v128Bitselect().set(res);
  }
}

function expFunc(name: string, nonPositive: boolean): FuncDef {
  return withConstLocals(
    name,
    [["src", I32], ["dst", I32], ["pairs", I32]],
    [["end", I32], ["x", V128], ["res", V128], ...EXP_TEMPS.map((n) => [n, V128] as const)],
    (c, L, kc) => {
      c.get(L.src!).get(L.pairs!).i32Const(4).i32Shl().i32Add().set(L.end!);
      c.block().loop();
      c.get(L.src!).get(L.end!).i32LtU().i32Eqz().brIf(1);
      c.get(L.src!).v128Load(0).set(L.x!);
      emitExp(c, L, kc, L.x!, L.res!, nonPositive);
      c.get(L.dst!).get(L.res!).v128Store(0);
      c.get(L.src!).i32Const(16).i32Add().set(L.src!);
      c.get(L.dst!).i32Const(16).i32Add().set(L.dst!);
      c.br(0).end().end();
    },
  );
}

/** Sets each pointer local to its array's base plus `step` times its step stride (bytes). */
function atStep(c: Code, L: Record<string, number>, arrays: readonly (readonly [base: string, stride: string, ptr: string])[]): void {
  for (const [base, stride, ptr] of arrays) c.get(L[base]!).get(L.step!).get(L[stride]!).i32Mul().i32Add().set(L[ptr]!);
}

/**
 * The loop over the spike units of one step shared by the neuron kernels:
 * u = 0 .. units-1 with q the unit's word in its row (from q0, wrapping at
 * wpr), cnt = its columns (32, or fewer at a row's end); `body` runs per unit
 * and the word pointer wp moves on after it. Locals: u, q, cnt, wp, units,
 * q0, cols, wpr.
 */
function eachUnit(c: Code, L: Record<string, number>, body: () => void): void {
  c.get(L.q0!).set(L.q!).i32Const(0).set(L.u!);
  c.block().loop();
  c.get(L.u!).get(L.units!).i32LtU().i32Eqz().brIf(1);
  c.get(L.cols!).get(L.q!).i32Const(5).i32Shl().i32Sub().set(L.cnt!); // cnt = min(32, cols - 32 q)
  c.get(L.cnt!).i32Const(32).get(L.cnt!).i32Const(32).i32LtU().select().set(L.cnt!);
  body();
  c.get(L.wp!).i32Const(4).i32Add().set(L.wp!);
  c.get(L.u!).i32Const(1).i32Add().set(L.u!);
  c.get(L.q!).i32Const(1).i32Add().tee(L.q!).get(L.wpr!).i32Eq().if().i32Const(0).set(L.q!).end();
  c.br(0).end().end();
}

/** The v128 locals one chain of the sigmoid backward needs, besides the exp's. */
const CHAIN_TEMPS = ["a", "pos", "x", "e", "s", "gH"] as const;
/** Independent chains the sigmoid backward runs side by side, a pair of elements each (measured: 2 chains 1.25x one, 4 chains 1.45x). */
const CHAINS = 4;

function sigmoidBackwardFunc(): FuncDef {
  const perChain = [...CHAIN_TEMPS, ...EXP_TEMPS];
  return withConstLocals(
    "sigmoidBackward",
    [
      ["gs", I32], ["gsStep", I32], ["h", I32], ["hStep", I32], ["words", I32], ["wStep", I32], ["gx", I32], ["gxStep", I32],
      ["gv", I32], ["steps", I32], ["units", I32], ["q0", I32], ["cols", I32], ["wpr", I32],
      ["alpha", F64], ["vTh", F64], ["dHdX", F64], ["dHdV", F64],
    ],
    [
      ["step", I32], ["u", I32], ["q", I32], ["cnt", I32], ["bits", I32], ["j", I32],
      ["ph", I32], ["pg", I32], ["po", I32], ["pv", I32], ["wp", I32],
      ["alpha2", V128], ["vTh2", V128], ["dHdX2", V128], ["dHdV2", V128],
      ...Array.from({ length: CHAINS }, (_, i) => perChain.map((n) => [`${n}${i}`, V128] as const)).flat(),
    ],
    (c, L, kc) => sigmoidBackwardBody(c, L as Record<string, number>, kc),
  );
}

function sigmoidBackwardBody(c: Code, L: Record<string, number>, kc: ConstLocal): void {
  /** The locals as chain `i` sees them: its own temporaries under their plain names. */
  const chainLocals = (i: number): Record<string, number> => {
    const own = Object.fromEntries([...CHAIN_TEMPS, ...EXP_TEMPS].map((n) => [n, L[`${n}${i}`]!]));
    return { ...L, ...own };
  };
  c.get(L.alpha!).f64x2Splat().set(L.alpha2!);
  c.get(L.vTh!).f64x2Splat().set(L.vTh2!);
  c.get(L.dHdX!).f64x2Splat().set(L.dHdX2!);
  c.get(L.dHdV!).f64x2Splat().set(L.dHdV2!);

  /**
   * The JS loop body for the elements at j + 2 chain (two, or one for an odd
   * tail), with masks for its branches, into `c` with chain `chain`'s locals.
   * Pointers are not moved (chain 1 reads and writes 2 elements further on).
   */
  const body = (c: Code, chain: number, two: boolean): void => {
    const Lc = chainLocals(chain);
    const k = (v: number) => c.get(kc(f64x2(v)));
    const o32 = 8 * chain, o64 = 16 * chain;
    const loadF32 = () => (two ? c.v128Load64Zero(o32) : c.v128Load32Zero(o32));
    // a = alpha f32(h - vTh); x = a >= 0 ? -a : a
    c.get(L.alpha2!).get(L.ph!); loadF32(); c.f64x2PromoteLowF32x4().get(L.vTh2!).f64x2Sub();
    c.f32x4DemoteF64x2Zero().f64x2PromoteLowF32x4().f64x2Mul().set(Lc.a!);
    c.get(Lc.a!); k(0); c.f64x2Ge().set(Lc.pos!);
    c.get(Lc.a!).f64x2Neg().get(Lc.a!).get(Lc.pos!).v128Bitselect().set(Lc.x!);
    emitExp(c, Lc, kc, Lc.x!, Lc.e!, true);
    // s = (a >= 0 ? 1 : e) / (1 + e)
    k(1); c.get(Lc.e!).get(Lc.pos!).v128Bitselect(); k(1); c.get(Lc.e!).f64x2Add().f64x2Div().set(Lc.s!);
    // gH = gS (alpha s (1 - s)) + (spike ? 0 : gv)
    c.get(L.pg!); loadF32(); c.f64x2PromoteLowF32x4();
    c.get(L.alpha2!).get(Lc.s!).f64x2Mul(); k(1); c.get(Lc.s!).f64x2Sub().f64x2Mul();
    c.f64x2Mul();
    c.get(L.pv!);
    if (two) c.v128Load(o64); else c.v128Load64Zero(o64);
    c.get(L.bits!).get(L.j!);
    if (chain > 0) c.i32Const(2 * chain).i32Add();
    c.i32ShrU().i32x4Splat().get(kc(i32x4(1, 1, 2, 2))).v128And();
    c.get(kc(i32x4(0, 0, 0, 0))).i32x4Eq().v128And(); // all ones where the spike bit is 0
    c.f64x2Add().set(Lc.gH!);
    // gx = f32(gH dHdX); gv = gH dHdV
    c.get(L.po!).get(Lc.gH!).get(L.dHdX2!).f64x2Mul().f32x4DemoteF64x2Zero();
    if (two) c.v128Store64Lane(0, o32); else c.v128Store32Lane(0, o32);
    c.get(L.pv!).get(Lc.gH!).get(L.dHdV2!).f64x2Mul();
    if (two) c.v128Store(o64); else c.v128Store64Lane(0, o64);
  };
  /** Moves the element pointers `n` elements on and j by n. */
  const advance = (n: number): void => {
    for (const p of [L.ph!, L.pg!, L.po!]) c.get(p).i32Const(4 * n).i32Add().set(p);
    c.get(L.pv!).i32Const(8 * n).i32Add().set(L.pv!);
    c.get(L.j!).i32Const(n).i32Add().set(L.j!);
  };
  /** while (j + n <= cnt): run `emit`, advance by n. */
  const loopWhile = (n: number, emit: () => void): void => {
    c.block().loop();
    c.get(L.j!).i32Const(n - 1).i32Add().get(L.cnt!).i32GeU().brIf(1);
    emit();
    advance(n);
    c.br(0).end().end();
  };

  c.get(L.steps!).set(L.step!);
  c.block().loop(); // t = steps-1 .. 0
  c.get(L.step!).i32Eqz().brIf(1);
  c.get(L.step!).i32Const(1).i32Sub().set(L.step!);
  atStep(c, L, [["h", "hStep", "ph"], ["gs", "gsStep", "pg"], ["gx", "gxStep", "po"], ["words", "wStep", "wp"]]);
  c.get(L.gv!).set(L.pv!);
  eachUnit(c, L, () => {
    c.get(L.wp!).i32Load(0).set(L.bits!);
    c.i32Const(0).set(L.j!);
    // 2 CHAINS elements at a time as interleaved chains, then a pair, then an odd one.
    loopWhile(2 * CHAINS, () => c.interleave(Array.from({ length: CHAINS }, (_, i) => {
      const part = new Code().statements();
      body(part, i, true);
      return part;
    })));
    loopWhile(2, () => body(c, 0, true));
    c.get(L.j!).get(L.cnt!).i32LtU().if();
    body(c, 0, false);
    advance(1);
    c.end();
  });
  c.br(0).end().end();
}

function lifForwardFunc(): FuncDef {
  return withConstLocals(
    "lifForward",
    [
      ["x", I32], ["xStep", I32], ["h", I32], ["hStep", I32], ["v", I32], ["words", I32], ["wStep", I32],
      ["steps", I32], ["units", I32], ["q0", I32], ["cols", I32], ["wpr", I32],
      ["writeH", I32], ["vReset", F32], ["tau", F32], ["vTh", F32], ["hardReset", I32],
    ],
    [
      ["step", I32], ["u", I32], ["q", I32], ["cnt", I32], ["bits", I32], ["j", I32], ["rem", I32],
      ["px", I32], ["ph", I32], ["pv", I32], ["wp", I32],
      ["vR4", V128], ["tau4", V128], ["vTh4", V128], ["soft", V128], ["vp", V128], ["hh", V128], ["z", V128], ["m", V128],
    ],
    (c, L) => lifForwardBody(c, L as Record<string, number>),
  );
}

function lifForwardBody(c: Code, L: Record<string, number>): void {
  c.get(L.vReset!).f32x4Splat().set(L.vR4!);
  c.get(L.tau!).f32x4Splat().set(L.tau4!);
  c.get(L.vTh!).f32x4Splat().set(L.vTh4!);
  c.get(L.hardReset!).i32x4Splat().v128Const(new Array<number>(16).fill(0)).i32x4Eq().set(L.soft!); // all ones for a soft reset
  /**
   * Pushes `lanes` float32 values at ptr (zeros in the other lanes): a tail
   * reads nothing past the range, which in place is another tensor's data
   * or the end of the memory.
   */
  const load = (ptr: number, lanes: number): void => {
    if (lanes === 4) { c.get(ptr).v128Load(0); return; }
    if (lanes === 3) c.get(ptr);
    c.get(ptr);
    if (lanes === 1) c.v128Load32Zero(0); else c.v128Load64Zero(0);
    if (lanes === 3) c.v128Load32Lane(2, 8);
  };
  /** Four lanes at j (`lanes` of them real: 4, or the 1-3 of a tail; the rest computed on zeros and not stored). */
  const group = (lanes: number): void => {
    // hh = vp + (x - (vp - vReset)) / tau; z = hh - vTh (every op a float32 op)
    load(L.pv!, lanes); c.set(L.vp!);
    c.get(L.vp!); load(L.px!, lanes); c.get(L.vp!).get(L.vR4!).f32x4Sub().f32x4Sub().get(L.tau4!).f32x4Div().f32x4Add().set(L.hh!);
    c.get(L.hh!).get(L.vTh4!).f32x4Sub().set(L.z!);
    c.get(L.z!).v128Const(new Array<number>(16).fill(0)).f32x4Ge().set(L.m!);
    // spikes: the mask's sign bits at columns j..j+3 of the word
    c.get(L.bits!).get(L.m!).i32x4Bitmask();
    if (lanes < 4) c.i32Const((1 << lanes) - 1).i32And();
    c.get(L.j!).i32Shl().i32Or().set(L.bits!);
    // v = spike ? (hard ? vReset : z) : hh
    const store = (ptr: number, value: () => void) => {
      if (lanes === 4) { c.get(ptr); value(); c.v128Store(0); return; }
      if (lanes >= 2) { c.get(ptr); value(); c.v128Store64Lane(0); }
      if (lanes !== 2) { c.get(ptr); value(); c.v128Store32Lane(lanes === 3 ? 2 : 0, lanes === 3 ? 8 : 0); }
    };
    c.get(L.writeH!).if();
    store(L.ph!, () => c.get(L.hh!));
    c.end();
    store(L.pv!, () => {
      c.get(L.z!).get(L.vR4!).get(L.soft!).v128Bitselect(); // hard ? vReset : z
      c.get(L.hh!).get(L.m!).v128Bitselect();
    });
  };

  c.i32Const(0).set(L.step!);
  c.block().loop(); // t = 0 .. steps-1
  c.get(L.step!).get(L.steps!).i32LtU().i32Eqz().brIf(1);
  atStep(c, L, [["x", "xStep", "px"], ["h", "hStep", "ph"], ["words", "wStep", "wp"]]);
  c.get(L.v!).set(L.pv!);
  eachUnit(c, L, () => {
    c.i32Const(0).set(L.bits!).i32Const(0).set(L.j!);
    c.block().loop(); // groups of 4
    c.get(L.j!).i32Const(3).i32Add().get(L.cnt!).i32GeU().brIf(1);
    group(4);
    c.get(L.j!).i32Const(4).i32Add().set(L.j!);
    for (const p of [L.px!, L.ph!, L.pv!]) c.get(p).i32Const(16).i32Add().set(p);
    c.br(0).end().end();
    c.get(L.cnt!).get(L.j!).i32Sub().set(L.rem!);
    for (const lanes of [1, 2, 3]) {
      c.get(L.rem!).i32Const(lanes).i32Eq().if();
      group(lanes);
      for (const p of [L.px!, L.ph!, L.pv!]) c.get(p).i32Const(4 * lanes).i32Add().set(p);
      c.end();
    }
    c.get(L.wp!).get(L.bits!).i32Store(0);
  });
  c.get(L.step!).i32Const(1).i32Add().set(L.step!);
  c.br(0).end().end();
}

/** The neuron kernel module's bytes (emitted from TypeScript, deterministic). */
export function neuronKernelModule(): Uint8Array {
  return emitModule({ minPages: 1, shared: true, funcs: [expFunc("exp", false), expFunc("expNonPositive", true), sigmoidBackwardFunc(), lifForwardFunc()] });
}

type SigmoidBackward = (
  gs: number, gsStep: number, h: number, hStep: number, words: number, wStep: number, gx: number, gxStep: number,
  gv: number, steps: number, units: number, q0: number, cols: number, wpr: number, alpha: number, vTh: number, dHdX: number, dHdV: number,
) => void;

/** This thread's instance, over the heap; its scratch holds gv and the stagings of foreign arrays. */
export const neuronKernel = new HeapKernel(neuronKernelModule);
let runs = 0;

/** Runs sigmoidBackward (byte offsets into the heap and step strides in bytes, as the header says). */
export function sigmoidBackwardWasmCall(
  gs: number, gsStep: number, h: number, hStep: number, words: number, wStep: number, gx: number, gxStep: number,
  gv: number, steps: number, units: number, q0: number, cols: number, wpr: number, alpha: number, vTh: number, dHdX: number, dHdV: number,
): void {
  runs++;
  (neuronKernel.exports().sigmoidBackward as SigmoidBackward)(gs, gsStep, h, hStep, words, wStep, gx, gxStep, gv, steps, units, q0, cols, wpr, alpha, vTh, dHdX, dHdV);
}

type LifForward = (
  x: number, xStep: number, h: number, hStep: number, v: number, words: number, wStep: number, steps: number, units: number,
  q0: number, cols: number, wpr: number, writeH: number, vReset: number, tau: number, vTh: number, hardReset: number,
) => void;

/** Runs lifForward (byte offsets into the heap and step strides in bytes, as the header says). */
export function lifForwardWasmCall(
  x: number, xStep: number, h: number, hStep: number, v: number, words: number, wStep: number, steps: number, units: number,
  q0: number, cols: number, wpr: number, writeH: boolean, vReset: number, tau: number, vTh: number, hardReset: boolean,
): void {
  runs++;
  (neuronKernel.exports().lifForward as LifForward)(x, xStep, h, hStep, v, words, wStep, steps, units, q0, cols, wpr, writeH ? 1 : 0, vReset, tau, vTh, hardReset ? 1 : 0);
}

/** How many times this thread has run a WASM neuron kernel (lets tests see which backend ran). */
export function neuronWasmRuns(): number {
  return runs;
}

/**
 * e^x of every element with the WASM lanes (the twin of expFdlibm, for
 * tests); `nonPositive` runs the variant the neuron kernel inlines, valid for
 * x <= 0 only. Works in the kernel's scratch.
 */
export function expWasm(src: Float64Array, nonPositive = false): Float64Array {
  const pairs = Math.ceil(src.length / 2);
  const at = neuronKernel.scratch.take(pairs * 32);
  const mem = heapF64();
  mem.fill(0, at / 8, at / 8 + 2 * pairs);
  mem.set(src, at / 8);
  (neuronKernel.exports()[nonPositive ? "expNonPositive" : "exp"] as (s: number, d: number, p: number) => void)(at, at + pairs * 16, pairs);
  return heapF64().slice(at / 8 + 2 * pairs, at / 8 + 2 * pairs + src.length);
}
