/**
 * The WebAssembly SIMD twins of the neuron kernels of src/kernels/neuron/neuron.ts,
 * float32 throughout: each JS step `Math.fround(a op b)` on float32 values is
 * the float32 operation, so f32x4 lanes doing the same operations in the same
 * order give the same bits (tests/kernels/neuron-wasm.test.ts checks it).
 * Bytes emitted from TypeScript at first use in each thread (see emit.ts).
 *
 * - sigmoidBackward: the twin of hardDetachedBackwardRangeJs on float32
 *   data, with the float32 sigmoid surrogate sigmoidGradF32 and its exp
 *   expNonPositiveF32 (src/kernels/neuron/exp.ts) in lanes; the JS `1 - spike`
 *   is a lane mask over 1.0.
 * - lifForward: the twin of lifForwardRangeJs; plifForward: of the general
 *   loop's PLIF charge (decay_input), the leak's division by tau a
 *   multiplication by k.
 * The callers check that the constants are float32 values, as the lanes use
 * them rounded.
 *
 * Exports (each takes, last, `consts`: the byte offset of the thread's copy of the module's constant
 * table, neuronKernel.constants(); see ConstTable in src/wasm/emit.ts):
 *   expF32(src, dst, quads)  dst[i] = expNonPositiveF32(src[i]) for 4 quads float32 (for tests)
 *   sigmoidBackward(gs, gsStep, h, hStep, words, wStep, gx, gxStep, gv, steps, units, q0, cols, wpr, alpha, vTh, dHdX, dHdV)
 *     one range of spike units (see unitElem in neuron.ts) over all steps,
 *     t = steps-1 .. 0: gs, h, gx float32, `elems` values a step (the range's
 *     elements) with step t at byte offset ptr + t step; words one per unit a
 *     step, likewise; gv float32 [elems], zero on entry; q0 = the first unit's
 *     word in its row. gx may be gs (each element is read before it is
 *     written).
 *   lifForward(x, xStep, h, hStep, v, words, wStep, steps, units, q0, cols, wpr, writeH, vReset, tau, vTh, hardReset)
 *     the same unit-range layout, t = 0 .. steps-1: x float32 (h, written
 *     when writeH != 0, may be x), v float32 [elems]: not read at step 0,
 *     which starts from vReset, and V[T-1] on exit; words written whole.
 *   plifForward(the same, k in tau's place)  PLIF's charge: the leak multiplies by k.
 *
 * The step strides (bytes) let the functions run in place on whole [T, n]
 * tensors in the heap (stride n values, rows wpr words) as well as on a
 * compact staged copy (stride elems values, units words). Nothing is read or
 * written outside the range's elements and words (a unit's last 1-3 columns
 * are loaded into zeroed lanes and stored lane by lane).
 */
import { Code, ConstTable, emitModule, F32, I32, i32x4Bytes, V128, withConstLocals, type ConstLocal, type FuncDef } from "../../wasm/emit.js";
import { EXPF } from "./exp.js";
import { HeapKernel } from "../../wasm/runtime.js";
import { heapF32 } from "../../tensor/heap.js";

/** The v128 constants of the neuron module's functions (see ConstTable), filled as the module is emitted. */
const NEURON_CONSTS = new ConstTable();

export const f32x4 = (v: number): number[] => [...new Uint8Array(new Float32Array([v, v, v, v]).buffer)];
const i32x4 = (a: number, b: number, c: number, d: number): number[] => i32x4Bytes([a, b, c, d]);

/** The v128 scratch locals of the exp. */
export const EXP_TEMPS = ["k", "r", "p"] as const;

/**
 * Emits res = expNonPositiveF32(x) lane-wise (x, res: v128 locals holding
 * f32x4; x is overwritten by its clamp): the JS operations in the JS order.
 * 2^k is built from exponent bits (k is an integer in [-126, 0]).
 */
export function emitExpF32(c: Code, L: Record<string, number>, kc: ConstLocal, x: number, res: number): void {
  const k = (v: number) => c.get(kc(f32x4(v)));
  // The clamp: pmax is max here (FLOOR is neither NaN nor zero; a NaN x comes through) in one instruction, not seven.
  c.get(x); k(EXPF.FLOOR); c.f32x4Pmax().set(x);
  c.get(x); k(EXPF.LOG2E); c.f32x4Mul(); k(EXPF.MAGIC); c.f32x4Add(); k(EXPF.MAGIC); c.f32x4Sub().set(L.k!);
  c.get(x).get(L.k!); k(EXPF.C1); c.f32x4Mul().f32x4Sub().get(L.k!); k(EXPF.C2); c.f32x4Mul().f32x4Sub().set(L.r!);
  const [p0, ...ps] = EXPF.P;
  k(p0!); c.get(L.r!).f32x4Mul();
  for (const [i, p] of ps.entries()) {
    k(p); c.f32x4Add();
    if (i < ps.length - 1) c.get(L.r!).f32x4Mul();
  }
  c.get(L.r!).get(L.r!).f32x4Mul().f32x4Mul().get(L.r!).f32x4Add(); k(1); c.f32x4Add();
  // 2^k from k's bits in k + MAGIC (exact: the integer k in the low mantissa bits, MAGIC's low 9 bits 0):
  // (bits + 127) << 23 keeps k + 127 as the exponent. One add where i32x4.trunc_sat_f32x4_s is 5 x64
  // instructions and a constant load (its saturation), the same 2^k.
  c.get(L.k!); k(EXPF.MAGIC); c.f32x4Add().get(kc(i32x4(127, 127, 127, 127))).i32x4Add().i32Const(23).i32x4Shl();
  c.f32x4Mul().set(res);
}

function expFunc(): FuncDef {
  return withConstLocals(
    "expF32",
    [["src", I32], ["dst", I32], ["quads", I32]],
    [["end", I32], ["x", V128], ["res", V128], ...EXP_TEMPS.map((n) => [n, V128] as const)],
    NEURON_CONSTS,
    (c, L, kc) => {
      c.get(L.src!).get(L.quads!).i32Const(4).i32Shl().i32Add().set(L.end!);
      c.block().loop();
      c.get(L.src!).get(L.end!).i32LtU().i32Eqz().brIf(1);
      c.get(L.src!).v128Load(0).set(L.x!);
      emitExpF32(c, L, kc, L.x!, L.res!);
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
 * Pushes `lanes` float32 values at ptr + offset (zeros in the other lanes):
 * a tail reads nothing past the range, which in place is another tensor's
 * data or the end of the memory.
 */
function loadLanes(c: Code, ptr: number, lanes: number, offset = 0): void {
  if (lanes === 4) { c.get(ptr).v128Load(offset); return; }
  if (lanes === 3) c.get(ptr);
  c.get(ptr);
  if (lanes === 1) c.v128Load32Zero(offset); else c.v128Load64Zero(offset);
  if (lanes === 3) c.v128Load32Lane(2, offset + 8);
}

/** Stores the first `lanes` float32 lanes of the vector `value` pushes at ptr + offset. */
function storeLanes(c: Code, ptr: number, lanes: number, value: () => void, offset = 0): void {
  if (lanes === 4) { c.get(ptr); value(); c.v128Store(offset); return; }
  if (lanes >= 2) { c.get(ptr); value(); c.v128Store64Lane(0, offset); }
  if (lanes !== 2) { c.get(ptr); value(); c.v128Store32Lane(lanes === 3 ? 2 : 0, lanes === 3 ? offset + 8 : offset); }
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
const CHAIN_TEMPS = ["x", "e", "sg", "gH"] as const;
/**
 * Independent chains the sigmoid backward runs side by side, four elements each: a unit's 32. The exp's
 * Horner chain makes the kernel wait on latency, not ports, so more chains in flight pay though some of
 * their temporaries spill. 4 -> 8 (and a row's last unit in one interleave of its 1-7 groups, not one group
 * at a time), the kernel's time in a one-thread training step (two alternations): CIFAR b8 115-118 -> 87-90
 * ms, MNIST b64 (28-column conv rows) 159-163 -> 129-130 ms; on 393k in-cache values 1.95 -> 1.69 ns each.
 */
const CHAINS = 8;
/** The chains of one all-zero-gS check in a full unit (the group loop's first half): 16 elements. */
const ZERO_CHECK = CHAINS / 2;

function sigmoidBackwardFunc(): FuncDef {
  const perChain = [...CHAIN_TEMPS, ...EXP_TEMPS];
  return withConstLocals(
    "sigmoidBackward",
    [
      ["gs", I32], ["gsStep", I32], ["h", I32], ["hStep", I32], ["words", I32], ["wStep", I32], ["gx", I32], ["gxStep", I32],
      ["gv", I32], ["steps", I32], ["units", I32], ["q0", I32], ["cols", I32], ["wpr", I32],
      ["alpha", F32], ["vTh", F32], ["dHdX", F32], ["dHdV", F32],
    ],
    [
      ["step", I32], ["u", I32], ["q", I32], ["cnt", I32], ["bits", I32], ["j", I32], ["rem", I32],
      ["ph", I32], ["pg", I32], ["po", I32], ["pv", I32], ["wp", I32],
      ["live0", I32], ["live1", I32],
      ["alpha4", V128], ["vTh4", V128], ["dHdX4", V128], ["dHdV4", V128], ["nan", V128], ["keep", V128],
      ...Array.from({ length: CHAINS }, (_, i) => perChain.map((n) => [`${n}${i}`, V128] as const)).flat(),
    ],
    NEURON_CONSTS,
    (c, L, kc) => sigmoidBackwardBody(c, L as Record<string, number>, kc),
  );
}

function sigmoidBackwardBody(c: Code, L: Record<string, number>, kc: ConstLocal): void {
  /** The locals as chain `i` sees them: its own temporaries under their plain names. */
  const chainLocals = (i: number): Record<string, number> => {
    const own = Object.fromEntries([...CHAIN_TEMPS, ...EXP_TEMPS].map((n) => [n, L[`${n}${i}`]!]));
    return { ...L, ...own };
  };
  c.get(L.alpha!).f32x4Splat().set(L.alpha4!);
  c.get(L.vTh!).f32x4Splat().set(L.vTh4!);
  c.get(L.dHdX!).f32x4Splat().set(L.dHdX4!);
  c.get(L.dHdV!).f32x4Splat().set(L.dHdV4!);

  /**
   * The JS loop body for the `lanes` elements at j + 4 chain, into `c` with
   * chain `chain`'s locals. Pointers are not moved (chain i reads and writes
   * 4 i elements further on).
   */
  const body = (c: Code, chain: number, lanes: number, zeroGS = false): void => {
    const Lc = chainLocals(chain);
    const o = 16 * chain;
    if (!zeroGS) {
      // x = -|alpha (h - vTh)|; e = exp(x); sg = (alpha e) / ((1 + e) (1 + e))
      // -|v| as v with its sign bit set: the same bits as abs then neg (NaN and zeros included), one or with a
      // constant in a register where V8 builds abs's and neg's masks in the loop (all ones, a shift: three
      // instructions each). The sigmoid backward in cache 1.49-1.50 -> 1.47 ns a value.
      loadLanes(c, L.ph!, lanes, o); c.get(L.vTh4!).f32x4Sub().get(L.alpha4!).f32x4Mul().get(kc(f32x4(-0))).v128Or().set(Lc.x!);
      emitExpF32(c, Lc, kc, Lc.x!, Lc.e!);
      c.get(L.alpha4!).get(Lc.e!).f32x4Mul().get(kc(f32x4(1))).get(Lc.e!).f32x4Add().tee(Lc.sg!).get(Lc.sg!).f32x4Mul().f32x4Div().set(Lc.sg!);
    }
    // gH = gS sg + gv (1 - spike); with gS all +-0 and x no NaN, gS alpha is gS sg (a zero with the sign of
    // gS times alpha's: sg is alpha e over a positive square, e > 0 after the exp's clamp, or NaN only with alpha)
    loadLanes(c, L.pg!, lanes, o); c.get(zeroGS ? L.alpha4! : Lc.sg!).f32x4Mul();
    loadLanes(c, L.pv!, lanes, o); c.get(L.keep!).v128And(); // gv, +0 in the first step (see keep)
    c.get(L.bits!).get(L.j!);
    if (chain > 0) c.i32Const(4 * chain).i32Add();
    c.i32ShrU().i32x4Splat().get(kc(i32x4(1, 2, 4, 8))).v128And();
    c.get(kc(i32x4(0, 0, 0, 0))).i32x4Eq(); // all ones where the spike bit is 0
    c.get(kc(f32x4(1))).v128And().f32x4Mul(); // 1 - spike as float32, then gv times it (a spike keeps gv's sign of zero)
    c.f32x4Add().set(Lc.gH!);
    // gx = gH dHdX; gv = gH dHdV
    storeLanes(c, L.po!, lanes, () => c.get(Lc.gH!).get(L.dHdX4!).f32x4Mul(), o);
    storeLanes(c, L.pv!, lanes, () => c.get(Lc.gH!).get(L.dHdV4!).f32x4Mul(), o);
  };
  /** Moves the element pointers `n` elements on and j by n. */
  const advance = (n: number): void => {
    for (const p of [L.ph!, L.pg!, L.po!, L.pv!]) c.get(p).i32Const(4 * n).i32Add().set(p);
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
  // keep: all ones, but all zeros in the first step (t = T - 1), whose gv is +0: so gv's scratch needs no zero
  // fill before the kernel (a pass over every unit's values: the call's time in a one-thread training step
  // 90.7 -> 88-90 ms CIFAR b8, 130.8 -> 128.6-129.2 MNIST b64), and whatever it holds is masked to +0, the same
  // value a filled scratch gives.
  c.get(L.step!).get(L.steps!).i32Const(1).i32Sub().i32Eq().i32x4Splat().get(kc(i32x4(0, 0, 0, 0))).i32x4Eq().set(L.keep!);
  atStep(c, L, [["h", "hStep", "ph"], ["gs", "gsStep", "pg"], ["gx", "gxStep", "po"], ["words", "wStep", "wp"]]);
  c.get(L.gv!).set(L.pv!);
  eachUnit(c, L, () => {
    c.get(L.wp!).i32Load(0).set(L.bits!);
    c.i32Const(0).set(L.j!);
    // A unit's whole groups of 4 as interleaved chains (all CHAINS for a full unit, else one interleave of as
    // many as there are), then the 1-3 of a row's end. A run of chains whose gS are all zero skips the exp
    // (12-17% of a Spikformer training step's LIF gradients, up to three quarters of an attention q / k / v
    // neuron's; positions a max-pool did not pick): the same bits unless an x is NaN, which goes the full way.
    /** Chains [from, to) interleaved, the full way. */
    const interleaved = (from: number, to: number): void => {
      c.interleave(Array.from({ length: to - from }, (_, i) => {
        const part = new Code().statements();
        body(part, from + i, 4);
        return part;
      }));
    };
    /** Sets `live` to whether chains [from, to) have a nonzero gS or a NaN x. */
    const liveCheck = (from: number, to: number, live: number): void => {
      for (let i = from; i < to; i++) {
        c.get(L.pg!).v128Load(16 * i).get(kc(f32x4(0))).f32x4Ne();
        if (i > from) c.v128Or();
        c.get(L.ph!).v128Load(16 * i).get(L.vTh4!).f32x4Sub().get(L.alpha4!).f32x4Mul().tee(L.nan!).get(L.nan!).f32x4Ne().v128Or();
      }
      c.v128AnyTrue().set(live);
    };
    /** Chains [from, to) the full way when `live`, else as gS alpha. */
    const checked = (from: number, to: number, live: number): void => {
      c.get(live).if();
      interleaved(from, to);
      c.else();
      for (let i = from; i < to; i++) body(c, i, 4, true);
      c.end();
    };
    const [live0, live1] = [L.live0!, L.live1!];
    // A full unit: two checks of ZERO_CHECK chains (the skips' grain), all CHAINS side by side when both live.
    loopWhile(4 * CHAINS, () => {
      liveCheck(0, ZERO_CHECK, live0);
      liveCheck(ZERO_CHECK, CHAINS, live1);
      c.get(live0).get(live1).i32And().if();
      interleaved(0, CHAINS);
      c.else();
      checked(0, ZERO_CHECK, live0);
      checked(ZERO_CHECK, CHAINS, live1);
      c.end();
    });
    // A row's last unit: its 1-7 whole groups in one interleave (a 28-column row: 7, where one chain at a time
    // would wait on each group's latency).
    c.get(L.cnt!).get(L.j!).i32Sub().i32Const(2).i32ShrU().set(L.rem!);
    for (let g = 1; g < CHAINS; g++) {
      c.get(L.rem!).i32Const(g).i32Eq().if();
      liveCheck(0, g, live0);
      checked(0, g, live0);
      advance(4 * g);
      c.end();
    }
    c.get(L.cnt!).get(L.j!).i32Sub().set(L.rem!);
    for (const lanes of [1, 2, 3]) {
      c.get(L.rem!).i32Const(lanes).i32Eq().if();
      body(c, 0, lanes);
      advance(lanes);
      c.end();
    }
  });
  c.br(0).end().end();
}

/** Where a fused batch norm's affine map finds a unit's channel (see AFFINE_PARAMS), or none. */
type Affine = "rows" | "columns" | null;

/**
 * lifForward (the leak divides by tau), plifForward (`mul`: it multiplies by k = sigmoid(w)), or with
 * `affine` normLifForward (each row one channel's) / normLifForwardColumns (the columns are the
 * channels): LIF over y = f32(f32(x scale[ch]) + shift[ch]), a batch norm's affine map in float32 lanes
 * (the norm passes' operations, src/kernels/norm/wasm.ts), so y never goes to memory.
 */
function lifForwardFunc(mul: boolean, affine: Affine = null): FuncDef {
  const name = affine === "rows" ? "normLifForward" : affine === "columns" ? "normLifForwardColumns" : mul ? "plifForward" : "lifForward";
  return withConstLocals(
    name,
    [
      ["x", I32], ["xStep", I32], ["h", I32], ["hStep", I32], ["v", I32], ["words", I32], ["wStep", I32],
      ["steps", I32], ["units", I32], ["q0", I32], ["cols", I32], ["wpr", I32],
      ["writeH", I32], ["vReset", F32], ["tau", F32], ["vTh", F32], ["hardReset", I32],
      ...(affine !== null ? AFFINE_PARAMS : []),
    ],
    [
      ["step", I32], ["u", I32], ["q", I32], ["cnt", I32], ["bits", I32], ["j", I32], ["rem", I32],
      ["px", I32], ["ph", I32], ["pv", I32], ["wp", I32], ["xu", I32], ["hu", I32], ["vu", I32],
      ["vR4", V128], ["tau4", V128], ["vTh4", V128], ["soft", V128], ["vp", V128], ["hh", V128], ["z", V128], ["m", V128],
      ...(affine !== null ? AFFINE_LOCALS : []),
    ],
    NEURON_CONSTS,
    (c, L) => lifForwardBody(c, L as Record<string, number>, mul, affine),
  );
}

/**
 * The affine map's parameters: per-channel float32 scale and shift (byte offsets; the columns form reads
 * up to 3 channels past a row's last, so the caller pads them), and for the rows form where a row's
 * channel comes from: `rpc` rows a channel in turn over `chans` channels (x [N, C, S], S = rpc cols), the
 * range's first row of channel ch0 with left0 of that channel's rows left (that row included), in every step.
 */
const AFFINE_PARAMS = [["scale", I32], ["shift", I32], ["rpc", I32], ["chans", I32], ["ch0", I32], ["left0", I32]] as const;
const AFFINE_LOCALS = [["ch", I32], ["left", I32], ["ps", I32], ["pt", I32], ["sc4", V128], ["sh4", V128], ["y", V128]] as const;

/**
 * Sets y = f32(f32(x scale) + shift) for the 4 lanes of x at px + o (`lanes` of them real), as the norm
 * passes compute it (affineValue in src/kernels/norm/norm.ts): a float32 multiply, then a float32 add.
 * Scale and shift: the row's channel splatted (sc4, sh4), or the columns' own from ps + o and pt + o.
 */
function emitAffine(c: Code, L: Record<string, number>, lanes: number, affine: "rows" | "columns", o = 0): void {
  loadLanes(c, L.px!, lanes, o);
  if (affine === "rows") c.get(L.sc4!); else c.get(L.ps!).v128Load(o);
  c.f32x4Mul();
  if (affine === "rows") c.get(L.sh4!); else c.get(L.pt!).v128Load(o);
  c.f32x4Add().set(L.y!);
}

/**
 * At a unit's start, the affine map's scale and shift: the rows form moves to the next row's channel
 * when the unit starts a row (not the range's first unit: its row is ch0's) and splats that channel's;
 * the columns form points ps and pt at the unit's first column.
 */
function emitUnitAffine(c: Code, L: Record<string, number>, affine: "rows" | "columns"): void {
  if (affine === "columns") {
    for (const [p, base] of [[L.ps!, L.scale!], [L.pt!, L.shift!]] as const) c.get(base).get(L.q!).i32Const(7).i32Shl().i32Add().set(p);
    return;
  }
  c.get(L.u!).i32Const(0).i32GtS().get(L.q!).i32Eqz().i32And().if();
  c.get(L.left!).i32Const(1).i32Sub().tee(L.left!).i32Eqz().if();
  c.get(L.rpc!).set(L.left!);
  c.get(L.ch!).i32Const(1).i32Add().tee(L.ch!).get(L.chans!).i32Eq().if().i32Const(0).set(L.ch!).end();
  c.end();
  c.end();
  c.get(L.scale!).get(L.ch!).i32Const(2).i32Shl().i32Add().v128Load32Splat().set(L.sc4!);
  c.get(L.shift!).get(L.ch!).i32Const(2).i32Shl().i32Add().v128Load32Splat().set(L.sh4!);
}

/**
 * How one group of four lanes is emitted: where it sits (`at`: the byte offset of a full unit's group g
 * from the pointers, bits at 4 g; null: at the pointers, bits at j), and what the caller already knows
 * (null: decided in the group at run time): whether this is step 0, whether h is written, whether the
 * reset is hard.
 */
interface GroupForm {
  at: { o: number; g: number } | null;
  step0: boolean | null;
  writeH: boolean | null;
  hard: boolean | null;
}

function lifForwardBody(c: Code, L: Record<string, number>, mul: boolean, affine: Affine): void {
  c.get(L.vReset!).f32x4Splat().set(L.vR4!);
  c.get(L.tau!).f32x4Splat().set(L.tau4!);
  c.get(L.vTh!).f32x4Splat().set(L.vTh4!);
  c.get(L.hardReset!).i32x4Splat().v128Const(new Array<number>(16).fill(0)).i32x4Eq().set(L.soft!); // all ones for a soft reset
  /** Four lanes (`lanes` of them real: 4, or the 1-3 of a tail; the rest computed on zeros and not stored). */
  const group = (lanes: number, f: GroupForm): void => {
    const o = f.at?.o ?? 0;
    // hh = vp + (x - (vp - vReset)) / tau (PLIF: * k); z = hh - vTh (every op a float32 op); x is y with an affine map
    if (affine !== null) emitAffine(c, L, lanes, affine, o);
    // vp: vReset at step 0 (v's entry values are not read: no fill pass before the kernel), else V[t - 1].
    if (f.step0 === null) {
      c.get(L.step!).i32Eqz().if().get(L.vR4!).set(L.vp!).else();
      loadLanes(c, L.pv!, lanes, o); c.set(L.vp!);
      c.end();
    } else if (f.step0) {
      c.get(L.vR4!).set(L.vp!);
    } else {
      loadLanes(c, L.pv!, lanes, o); c.set(L.vp!);
    }
    c.get(L.vp!);
    if (affine !== null) c.get(L.y!); else loadLanes(c, L.px!, lanes, o);
    c.get(L.vp!).get(L.vR4!).f32x4Sub().f32x4Sub().get(L.tau4!);
    if (mul) c.f32x4Mul(); else c.f32x4Div();
    c.f32x4Add().set(L.hh!);
    c.get(L.hh!).get(L.vTh4!).f32x4Sub().set(L.z!);
    c.get(L.z!).v128Const(new Array<number>(16).fill(0)).f32x4Ge().set(L.m!);
    // spikes: the mask's sign bits at columns j..j+3 of the word
    c.get(L.bits!).get(L.m!).i32x4Bitmask();
    if (lanes < 4) c.i32Const((1 << lanes) - 1).i32And();
    if (f.at === null) c.get(L.j!); else c.i32Const(4 * f.at.g);
    c.i32Shl().i32Or().set(L.bits!);
    // v = spike ? (hard ? vReset : z) : hh
    const store = (ptr: number, value: () => void) => storeLanes(c, ptr, lanes, value, o);
    if (f.writeH === null) {
      c.get(L.writeH!).if();
      store(L.ph!, () => c.get(L.hh!));
      c.end();
    } else if (f.writeH) {
      store(L.ph!, () => c.get(L.hh!));
    }
    store(L.pv!, () => {
      if (f.hard === null) c.get(L.z!).get(L.vR4!).get(L.soft!).v128Bitselect(); // hard ? vReset : z
      else c.get(f.hard ? L.vR4! : L.z!);
      c.get(L.hh!).get(L.m!).v128Bitselect();
    });
  };
  /** Moves the element pointers `n` elements on (and the columns form's scale and shift pointers). */
  const advance = (n: number): void => {
    for (const p of [L.px!, L.ph!, L.pv!]) c.get(p).i32Const(4 * n).i32Add().set(p);
    if (affine === "columns") for (const p of [L.ps!, L.pt!]) c.get(p).i32Const(4 * n).i32Add().set(p);
  };
  /**
   * A full unit's step (32 columns): its 8 groups at fixed offsets from the pointers, with step 0, h's
   * writing and the reset's kind decided once for the unit's step, not in each group. Every lane does the
   * same operations as in the loop below: the same bits. The loop's pointer moves, branches and run-time
   * selects were about a third of a group's instructions. lifForward on [4, 64 x 384] values (in cache),
   * one thread: 0.50-0.53 -> 0.34-0.37 ns a value; normLifForwardColumns in a one-thread inference pass
   * 19.8 -> 15.0 ms CIFAR b8, 20.0 -> 15.3 ms MNIST b64 (the rows form, on the convs' larger outputs,
   * waits on memory: unchanged).
   */
  const fullUnit = (): void => {
    const variants = (step0: boolean): void => {
      c.get(L.writeH!).if();
      hardOrSoft(step0, true);
      c.else();
      hardOrSoft(step0, false);
      c.end();
    };
    const hardOrSoft = (step0: boolean, writeH: boolean): void => {
      c.get(L.hardReset!).if();
      for (let g = 0; g < 8; g++) group(4, { at: { o: 16 * g, g }, step0, writeH, hard: true });
      c.else();
      for (let g = 0; g < 8; g++) group(4, { at: { o: 16 * g, g }, step0, writeH, hard: false });
      c.end();
    };
    c.get(L.step!).i32Eqz().if();
    variants(true);
    c.else();
    variants(false);
    c.end();
  };

  // Unit by unit, all steps of a unit before the next: its V (32 values) stays in L1 from step to step. Step
  // by step over the whole range, V went to memory and back every step, as much traffic as x itself.
  c.get(L.x!).set(L.xu!).get(L.h!).set(L.hu!).get(L.v!).set(L.vu!).get(L.words!).set(L.wp!);
  if (affine === "rows") c.get(L.ch0!).set(L.ch!).get(L.left0!).set(L.left!);
  eachUnit(c, L, () => {
    if (affine === "rows") emitUnitAffine(c, L, affine); // the unit's channel, for all its steps
    c.i32Const(0).set(L.step!);
    c.block().loop(); // t = 0 .. steps-1
    c.get(L.step!).get(L.steps!).i32LtU().i32Eqz().brIf(1);
    c.get(L.xu!).get(L.step!).get(L.xStep!).i32Mul().i32Add().set(L.px!);
    c.get(L.hu!).get(L.step!).get(L.hStep!).i32Mul().i32Add().set(L.ph!);
    c.get(L.vu!).set(L.pv!);
    if (affine === "columns") emitUnitAffine(c, L, affine); // the columns' scale and shift, moved on by the groups
    c.i32Const(0).set(L.bits!).i32Const(0).set(L.j!);
    c.get(L.cnt!).i32Const(32).i32Eq().if();
    fullUnit();
    c.else();
    const generic: GroupForm = { at: null, step0: null, writeH: null, hard: null };
    c.block().loop(); // groups of 4
    c.get(L.j!).i32Const(3).i32Add().get(L.cnt!).i32GeU().brIf(1);
    group(4, generic);
    c.get(L.j!).i32Const(4).i32Add().set(L.j!);
    advance(4);
    c.br(0).end().end();
    c.get(L.cnt!).get(L.j!).i32Sub().set(L.rem!);
    for (const lanes of [1, 2, 3]) {
      c.get(L.rem!).i32Const(lanes).i32Eq().if();
      group(lanes, generic);
      advance(lanes);
      c.end();
    }
    c.end();
    c.get(L.wp!).get(L.step!).get(L.wStep!).i32Mul().i32Add().get(L.bits!).i32Store(0);
    c.get(L.step!).i32Const(1).i32Add().set(L.step!);
    c.br(0).end().end();
    for (const p of [L.xu!, L.hu!, L.vu!]) c.get(p).get(L.cnt!).i32Const(2).i32Shl().i32Add().set(p);
  });
}

/** The neuron kernel module's bytes (emitted from TypeScript, deterministic). */
export function neuronKernelModule(): Uint8Array {
  return emitModule({
    minPages: 1, shared: true,
    funcs: [expFunc(), sigmoidBackwardFunc(), lifForwardFunc(false), lifForwardFunc(true), lifForwardFunc(false, "rows"), lifForwardFunc(false, "columns")],
  });
}

type SigmoidBackward = (
  gs: number, gsStep: number, h: number, hStep: number, words: number, wStep: number, gx: number, gxStep: number,
  gv: number, steps: number, units: number, q0: number, cols: number, wpr: number, alpha: number, vTh: number, dHdX: number, dHdV: number,
  consts: number,
) => void;

/** This thread's instance, over the heap; its scratch holds gv and the stagings of foreign arrays. */
export const neuronKernel = new HeapKernel(neuronKernelModule, NEURON_CONSTS);
let runs = 0;

/** Runs sigmoidBackward (byte offsets into the heap and step strides in bytes, as the header says). */
export function sigmoidBackwardWasmCall(
  gs: number, gsStep: number, h: number, hStep: number, words: number, wStep: number, gx: number, gxStep: number,
  gv: number, steps: number, units: number, q0: number, cols: number, wpr: number, alpha: number, vTh: number, dHdX: number, dHdV: number,
): void {
  runs++;
  (neuronKernel.exports().sigmoidBackward as SigmoidBackward)(gs, gsStep, h, hStep, words, wStep, gx, gxStep, gv, steps, units, q0, cols, wpr, alpha, vTh, dHdX, dHdV, neuronKernel.constants());
}

type LifForward = (
  x: number, xStep: number, h: number, hStep: number, v: number, words: number, wStep: number, steps: number, units: number,
  q0: number, cols: number, wpr: number, writeH: number, vReset: number, tau: number, vTh: number, hardReset: number, consts: number,
) => void;

/** Runs lifForward, or plifForward with `mul` (then `tau` is k); byte offsets into the heap and step strides in bytes, as the header says. */
export function lifForwardWasmCall(
  x: number, xStep: number, h: number, hStep: number, v: number, words: number, wStep: number, steps: number, units: number,
  q0: number, cols: number, wpr: number, writeH: boolean, vReset: number, tau: number, vTh: number, hardReset: boolean, mul = false,
): void {
  runs++;
  (neuronKernel.exports()[mul ? "plifForward" : "lifForward"] as LifForward)(
    x, xStep, h, hStep, v, words, wStep, steps, units, q0, cols, wpr, writeH ? 1 : 0, vReset, tau, vTh, hardReset ? 1 : 0, neuronKernel.constants(),
  );
}

type NormLifForward = (
  x: number, xStep: number, h: number, hStep: number, v: number, words: number, wStep: number, steps: number, units: number,
  q0: number, cols: number, wpr: number, writeH: number, vReset: number, tau: number, vTh: number, hardReset: number,
  scale: number, shift: number, rpc: number, chans: number, ch0: number, left0: number, consts: number,
) => void;

/**
 * Runs normLifForward (`columns` false: each row one channel's) or normLifForwardColumns: lifForward's
 * arguments, then the affine map's (byte offsets of the float64 scale and shift, and for rows the
 * channel walk), as the header of lifForwardFunc says.
 */
export function normLifForwardWasmCall(
  x: number, xStep: number, h: number, hStep: number, v: number, words: number, wStep: number, steps: number, units: number,
  q0: number, cols: number, wpr: number, writeH: boolean, vReset: number, tau: number, vTh: number, hardReset: boolean,
  scale: number, shift: number, columns: boolean, rpc: number, chans: number, ch0: number, left0: number,
): void {
  runs++;
  (neuronKernel.exports()[columns ? "normLifForwardColumns" : "normLifForward"] as NormLifForward)(
    x, xStep, h, hStep, v, words, wStep, steps, units, q0, cols, wpr, writeH ? 1 : 0, vReset, tau, vTh, hardReset ? 1 : 0,
    scale, shift, rpc, chans, ch0, left0, neuronKernel.constants(),
  );
}

/** How many times this thread has run a WASM neuron kernel (lets tests see which backend ran). */
export function neuronWasmRuns(): number {
  return runs;
}

/**
 * expNonPositiveF32 of every element (float32 values <= 0) with the WASM
 * lanes, for tests. Works in the kernel's scratch.
 */
export function expF32Wasm(src: Float32Array): Float32Array {
  const quads = Math.ceil(src.length / 4);
  const at = neuronKernel.scratch.take(quads * 32);
  const mem = heapF32();
  mem.fill(0, at / 4, at / 4 + 4 * quads);
  mem.set(src, at / 4);
  (neuronKernel.exports().expF32 as (s: number, d: number, q: number, consts: number) => void)(at, at + quads * 16, quads, neuronKernel.constants());
  return heapF32().slice(at / 4 + 4 * quads, at / 4 + 4 * quads + src.length);
}
