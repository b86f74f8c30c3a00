/**
 * A tiny WebAssembly module emitter: just enough of the binary format
 * (https://webassembly.github.io/spec/core/binary/) to write bitspike's SIMD
 * kernels from TypeScript, so the repository holds no opaque .wasm files and
 * needs no toolchain: the bytes of every module are emitted by this code.
 *
 * A module here is a list of functions over one imported memory; each
 * function body is written with {@link Code}, one method per instruction.
 */

/** Value types (binary encodings). */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof I64 | typeof F32 | typeof F64 | typeof V128;

/**
 * Unsigned LEB128 of a non-negative integer below 2^32 (sizes, indices,
 * offsets): 7 bits a byte, low first, high bit set on all but the last byte.
 */
export function uleb(n: number): number[] {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`uleb: ${n} is not a u32`);
  const out: number[] = [];
  do {
    let byte = n % 128; // arithmetic, not bit operators: n may exceed 2^31
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/**
 * Signed LEB128 of an integer in [-2^31, 2^31) (i32.const immediates): stops
 * once the remaining value is all sign bits and the last byte's bit 6 agrees.
 */
export function sleb(n: number): number[] {
  if (!Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff) throw new RangeError(`sleb: ${n} is not an i32`);
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7; // arithmetic shift keeps the sign
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/** The 16 little-endian bytes of four i32 lanes (a v128.const). */
export function i32x4Bytes(v: readonly [number, number, number, number]): number[] {
  return [...new Uint8Array(new Int32Array(v).buffer)];
}

/** A name as the binary format wants it: byte length, then UTF-8. */
function name(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

/** A vector: element count, then the elements' bytes. */
function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** A section: id, byte size, contents. */
function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** Block type of a block / loop / if without results. */
const EMPTY = 0x40;

/**
 * The body of one function, built one instruction at a time (each method
 * appends its opcode and immediates and returns `this`, so code reads as a
 * column of instructions). Memory accesses take a byte offset immediate and
 * use natural alignment.
 */
export class Code {
  readonly bytes: number[] = [];
  /** Where statements end (after each local.set and store), when recording for {@link interleave}. */
  private marks: number[] | null = null;

  private op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  /** 0xFD-prefixed SIMD instruction (the sub-opcode is a u32 LEB). */
  private simd(sub: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(sub), ...imm);
  }
  private stmtEnd(): this {
    this.marks?.push(this.bytes.length);
    return this;
  }

  /**
   * Starts recording where statements end: after every local.set and store,
   * which in the kernels here always leave the operand stack empty.
   */
  statements(): this {
    this.marks = [];
    return this;
  }

  /**
   * Appends the statements of `parts` (each recorded with {@link statements})
   * round-robin: the first of each, then the second of each, and so on. For
   * independent chains of work on disjoint locals and memory, the result
   * computes the same values, with the chains' instructions side by side so
   * the processor can overlap them (a long dependent chain alone is latency
   * bound).
   */
  interleave(parts: readonly Code[]): this {
    const split = parts.map((p) => {
      if (p.marks === null) throw new Error("interleave: record the parts with statements()");
      const out: number[][] = [];
      let a = 0;
      for (const m of p.marks) { out.push(p.bytes.slice(a, m)); a = m; }
      if (a < p.bytes.length) throw new Error("interleave: a part ends inside a statement");
      return out;
    });
    const n = Math.max(0, ...split.map((s) => s.length));
    for (let i = 0; i < n; i++) for (const s of split) if (i < s.length) this.bytes.push(...s[i]!);
    return this;
  }

  /** memarg: log2 alignment, then offset. */
  private mem(alignLog2: number, offset: number): number[] {
    return [...uleb(alignLog2), ...uleb(offset)];
  }

  // Control.
  block(): this { return this.op(0x02, EMPTY); }
  loop(): this { return this.op(0x03, EMPTY); }
  if(): this { return this.op(0x04, EMPTY); }
  else(): this { return this.op(0x05); }
  end(): this { return this.op(0x0b); }
  /** Branch to the enclosing block `depth` levels out (0 = innermost). */
  br(depth: number): this { return this.op(0x0c, ...uleb(depth)); }
  /** `while (local x < local end, unsigned) body()`, the test at the top: the kernels' counted loop. */
  whileLtU(x: number, end: number, body: () => void): this {
    this.block().loop();
    this.get(x).get(end).i32LtU().i32Eqz().brIf(1);
    body();
    return this.br(0).end().end();
  }
  brIf(depth: number): this { return this.op(0x0d, ...uleb(depth)); }

  // Locals (parameters first, then declared locals).
  get(i: number): this { return this.op(0x20, ...uleb(i)); }
  set(i: number): this { return this.op(0x21, ...uleb(i)).stmtEnd(); }
  tee(i: number): this { return this.op(0x22, ...uleb(i)); }

  // Scalar memory.
  i32Load(offset = 0): this { return this.op(0x28, ...this.mem(2, offset)); }
  f32Load(offset = 0): this { return this.op(0x2a, ...this.mem(2, offset)); }
  f32Store(offset = 0): this { return this.op(0x38, ...this.mem(2, offset)).stmtEnd(); }
  /** memory.fill (bulk memory): pops the address, the byte value and the count. */
  memoryFill(): this { return this.op(0xfc, ...uleb(11), 0x00).stmtEnd(); }
  f32Add(): this { return this.op(0x92); }
  f32Sub(): this { return this.op(0x93); }
  f32Mul(): this { return this.op(0x94); }
  f64Load(offset = 0): this { return this.op(0x2b, ...this.mem(3, offset)); }
  i32Store(offset = 0): this { return this.op(0x36, ...this.mem(2, offset)).stmtEnd(); }
  f64Store(offset = 0): this { return this.op(0x39, ...this.mem(3, offset)).stmtEnd(); }

  // i32 arithmetic.
  i32Const(v: number): this { return this.op(0x41, ...sleb(v)); }
  i32Eqz(): this { return this.op(0x45); }
  i32LtU(): this { return this.op(0x49); }
  i32LtS(): this { return this.op(0x48); }
  i32GtS(): this { return this.op(0x4a); }
  i32DivS(): this { return this.op(0x6d); }
  i32DivU(): this { return this.op(0x6e); }
  i32Add(): this { return this.op(0x6a); }
  i32Sub(): this { return this.op(0x6b); }
  i32Mul(): this { return this.op(0x6c); }
  i32Popcnt(): this { return this.op(0x69); }
  /** Trailing zero bits (32 for 0). */
  i32Ctz(): this { return this.op(0x68); }
  i32And(): this { return this.op(0x71); }
  i32Or(): this { return this.op(0x72); }
  i32Shl(): this { return this.op(0x74); }

  // f64 arithmetic.
  /** An f64 constant (the 8 bytes of its IEEE encoding, little-endian). */
  f64Const(v: number): this { return this.op(0x44, ...new Uint8Array(new Float64Array([v]).buffer)); }
  f64Add(): this { return this.op(0xa0); }
  f64Sub(): this { return this.op(0xa1); }
  f64Mul(): this { return this.op(0xa2); }
  f64Div(): this { return this.op(0xa3); }
  /** f64.sqrt: correctly rounded, as Math.sqrt. */
  f64Sqrt(): this { return this.op(0x9f); }
  f64PromoteF32(): this { return this.op(0xbb); }
  /** f32.demote_f64: round to nearest even, as a JS store of a double into a Float32Array. */
  f32DemoteF64(): this { return this.op(0xb6); }

  // SIMD (v128) memory.
  v128Load(offset = 0): this { return this.simd(0x00, ...this.mem(4, offset)); }
  /** Loads one f64 and splats it to both lanes: a broadcast without a separate splat. */
  v128Load64Splat(offset = 0): this { return this.simd(0x0a, ...this.mem(3, offset)); }
  /** Loads one f32 and splats it to all four lanes: a broadcast without a separate splat. */
  v128Load32Splat(offset = 0): this { return this.simd(0x09, ...this.mem(2, offset)); }
  v128Store(offset = 0): this { return this.simd(0x0b, ...this.mem(4, offset)).stmtEnd(); }
  /** A 16-byte constant (little-endian lanes). */
  v128Const(bytes: readonly number[]): this {
    if (bytes.length !== 16) throw new RangeError("v128.const takes 16 bytes");
    return this.simd(0x0c, ...bytes);
  }

  // SIMD lanes and arithmetic.
  i32x4Splat(): this { return this.simd(0x11); }
  f64x2Splat(): this { return this.simd(0x14); }
  f32x4Splat(): this { return this.simd(0x13); }
  /**
   * Byte shuffle of two vectors a, b (pushed in that order): result byte i is
   * byte lanes[i] of a (0-15) or of b (16-31).
   */
  i8x16Shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16 || lanes.some((l) => !Number.isInteger(l) || l < 0 || l > 31)) throw new RangeError("i8x16.shuffle takes 16 lane indices in 0..31");
    return this.simd(0x0d, ...lanes);
  }
  i32x4ExtractLane(lane: number): this { return this.simd(0x1b, lane); }
  v128And(): this { return this.simd(0x4e); }
  i8x16Popcnt(): this { return this.simd(0x62); }
  /** Adds adjacent unsigned byte pairs into 16-bit lanes. */
  i16x8ExtaddPairwiseI8x16U(): this { return this.simd(0x7d); }
  /** The low 8 bytes widened to u16 lanes. */
  i16x8ExtendLowI8x16U(): this { return this.simd(0x89); }
  /** The low / high 4 u16 lanes widened to u32 lanes. */
  i32x4ExtendLowI16x8U(): this { return this.simd(0xa9); }
  i32x4ExtendHighI16x8U(): this { return this.simd(0xaa); }
  /** Adds adjacent unsigned 16-bit pairs into 32-bit lanes. */
  i32x4ExtaddPairwiseI16x8U(): this { return this.simd(0x7f); }
  i32x4Add(): this { return this.simd(0xae); }
  i32x4Mul(): this { return this.simd(0xb5); }
  /** Byte lanes of a (pushed first) picked by the bytes of b; an index of 16 or more gives 0. */
  i8x16Swizzle(): this { return this.simd(0x0e); }
  /** Lane-wise byte add, wrapping. */
  i8x16Add(): this { return this.simd(0x6e); }
  f32x4Add(): this { return this.simd(0xe4); }
  f32x4Mul(): this { return this.simd(0xe6); }
  f64x2Add(): this { return this.simd(0xf0); }
  f64x2Mul(): this { return this.simd(0xf2); }
  /** The two low f32 lanes widened to f64 (exact). */
  f64x2PromoteLowF32x4(): this { return this.simd(0x5f); }
  /** The four i32 lanes to f32 (signed; exact below 2^24). */
  f32x4ConvertI32x4S(): this { return this.simd(0xfa); }
  /** The two low i32 lanes to f64 (signed, exact). */
  f64x2ConvertLowI32x4S(): this { return this.simd(0xfe); }
  f32ConvertI32S(): this { return this.op(0xb2); }
  f64ConvertI32S(): this { return this.op(0xb7); }

  // f64x2 math (the neuron kernels: element-wise float64 with lane masks).
  /** Loads 4 bytes into lane 0 of an i32x4, other lanes 0. */
  v128Load32Zero(offset = 0): this { return this.simd(0x5c, ...this.mem(2, offset)); }
  /** Loads 8 bytes into the low half, the high half 0. */
  v128Load64Zero(offset = 0): this { return this.simd(0x5d, ...this.mem(3, offset)); }
  /** Replaces 32-bit lane `lane` of a v128 with 4 bytes from memory (pops the address, then the vector). */
  v128Load32Lane(lane: number, offset = 0): this { return this.simd(0x56, ...this.mem(2, offset), lane); }
  /** Stores 32-bit lane `lane`. */
  v128Store32Lane(lane: number, offset = 0): this { return this.simd(0x5a, ...this.mem(2, offset), lane).stmtEnd(); }
  /** Stores 64-bit lane `lane`. */
  v128Store64Lane(lane: number, offset = 0): this { return this.simd(0x5b, ...this.mem(3, offset), lane).stmtEnd(); }
  /** Both f64 lanes rounded to f32 into the two low lanes (round to nearest even, as Math.fround), high lanes 0. */
  f32x4DemoteF64x2Zero(): this { return this.simd(0x5e); }
  /** (a & mask) | (b & ~mask), with a, b, mask pushed in that order. */
  v128Bitselect(): this { return this.simd(0x52); }
  v128Or(): this { return this.simd(0x50); }
  v128Xor(): this { return this.simd(0x51); }
  /** 1 when any bit of the vector is set, else 0 (an i32). */
  v128AnyTrue(): this { return this.simd(0x53); }
  /** a & ~b. */
  v128Andnot(): this { return this.simd(0x4f); }
  i32x4Eq(): this { return this.simd(0x37); }
  i64x2Add(): this { return this.simd(0xce); }
  i64x2Shl(): this { return this.simd(0xcb); }
  f64x2Eq(): this { return this.simd(0x47); }
  f64x2Ne(): this { return this.simd(0x48); }
  f64x2Lt(): this { return this.simd(0x49); }
  f64x2Gt(): this { return this.simd(0x4a); }
  f64x2Ge(): this { return this.simd(0x4c); }
  f64x2Trunc(): this { return this.simd(0x7a); }
  f64x2Abs(): this { return this.simd(0xec); }
  f64x2Neg(): this { return this.simd(0xed); }
  f64x2Sub(): this { return this.simd(0xf1); }
  f64x2Div(): this { return this.simd(0xf3); }
  /** f64x2.sqrt: correctly rounded in each lane, as Math.sqrt. */
  f64x2Sqrt(): this { return this.simd(0xef); }
  f32x4Sub(): this { return this.simd(0xe5); }
  f32x4Div(): this { return this.simd(0xe7); }
  f32x4Ge(): this { return this.simd(0x46); }
  f32x4Abs(): this { return this.simd(0xe0); }
  f32x4Neg(): this { return this.simd(0xe1); }
  /** IEEE max with NaN propagation (a NaN operand gives NaN), as Math.max. */
  f32x4Max(): this { return this.simd(0xe9); }
  /**
   * f32x4.pmax(a, b) = a < b ? b : a, lane-wise: one x64 maxps, where f32x4.max (NaN and signed-zero rules)
   * is seven instructions. The same as max for a b that is neither NaN nor a zero (a NaN a comes through).
   */
  f32x4Pmax(): this { return this.simd(0xeb); }
  /** f32 lanes to i32, truncating (saturating; NaN gives 0). */
  i32x4TruncSatF32x4S(): this { return this.simd(0xf8); }
  /** Shifts each i32 lane left by an i32 count (mod 32). */
  i32x4Shl(): this { return this.simd(0xab); }
  i32x4ShrU(): this { return this.simd(0xad); }
  /** The sign bits of the four i32 lanes as an i32 (lane 0 in bit 0): a compare mask to spike bits. */
  i32x4Bitmask(): this { return this.simd(0xa4); }
  f32x4Ne(): this { return this.simd(0x42); }
  f32Ne(): this { return this.op(0x5c); }
  f32Const(v: number): this { return this.op(0x43, ...new Uint8Array(new Float32Array([v]).buffer)); }
  i32ShrU(): this { return this.op(0x76); }
  /** Pops a, b, cond: a when cond != 0, else b. */
  select(): this { return this.op(0x1b); }
  i32GeU(): this { return this.op(0x4f); }
  i32Eq(): this { return this.op(0x46); }
}

/**
 * Names a function's parameters and locals in declaration order, so a body
 * can say `L.x` rather than a bare index; returns the indices and the type
 * lists a {@link FuncDef} wants.
 */
export function frame<P extends string, Q extends string>(
  params: readonly (readonly [P, ValType])[],
  locals: readonly (readonly [Q, ValType])[],
): { idx: Record<P | Q, number>; params: ValType[]; locals: ValType[] } {
  const idx = {} as Record<P | Q, number>;
  let n = 0;
  for (const [s] of [...params, ...locals]) {
    if ((idx as Record<string, number>)[s] !== undefined) throw new Error(`frame: '${s}' declared twice`);
    (idx as Record<string, number>)[s] = n++;
  }
  return { idx, params: params.map(([, t]) => t), locals: locals.map(([, t]) => t) };
}

/** One function of a module: signature, extra locals (in index order after the params), body. */
export interface FuncDef {
  /** Export name. */
  name: string;
  params: ValType[];
  results: ValType[];
  locals: ValType[];
  body: Code;
}

/** A module: functions over one memory imported as `env.memory` (minimum `minPages` 64 KiB pages). */
export interface ModuleDef {
  minPages: number;
  /** Import a shared memory (the heap, src/tensor/heap.ts) instead of a private one. */
  shared?: boolean;
  funcs: FuncDef[];
}

/** Run-length groups of equal local types, the form the code section stores. */
function localGroups(locals: ValType[]): number[][] {
  const groups: number[][] = [];
  for (const t of locals) {
    const last = groups[groups.length - 1];
    if (last && last[1] === t) last[0] = last[0]! + 1;
    else groups.push([1, t]);
  }
  return groups.map(([n, t]) => [...uleb(n!), t!]);
}

/**
 * The bytes of a module: header, then the type, import (the memory), function,
 * export and code sections, in the order the format requires. Each function
 * gets its own type entry (duplicates are legal and keep this simple).
 */
export function emitModule(def: ModuleDef): Uint8Array {
  const types = def.funcs.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))]);
  // Memory import: kind 2, limits flag 0 = minimum only (a private memory may grow without bound),
  // or flag 3 = shared with a maximum (shared memories must declare one: the 4 GiB of wasm32).
  const limits = def.shared ? [0x03, ...uleb(def.minPages), ...uleb(65536)] : [0x00, ...uleb(def.minPages)];
  const imports = [[...name("env"), ...name("memory"), 0x02, ...limits]];
  const funcs = def.funcs.map((_, i) => uleb(i));
  const exports = def.funcs.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]);
  const bodies = def.funcs.map((f) => {
    const body = [...vec(localGroups(f.locals)), ...f.body.bytes, 0x0b];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, // "\0asm"
    0x01, 0x00, 0x00, 0x00, // version 1
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(funcs)),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
    // The name section (function names): profiles and stack traces then show gemmTiles, not wasm-function[3].
    ...section(0, [...name("name"), ...[1].flatMap((sub) => {
      const body = vec(def.funcs.map((f, i) => [...uleb(i), ...name(f.name)]));
      return [sub, ...uleb(body.length), ...body];
    })]),
  ]);
}

/**
 * The local holding a v128 constant. Kernels read their constants from locals set once before the loops.
 */
export type ConstLocal = (bytes: number[]) => number;

/**
 * The v128 constants of a module's functions, 16 bytes each at a fixed offset (given the first time one is
 * asked for): a thread's copy sits in the heap ({@link HeapKernel.constants}), and each function built by
 * {@link withConstLocals} loads its constants from it once, before its loops. TurboFan treats a v128.const,
 * even one set into a local before a loop, as a value to rebuild where it is used (three instructions, a
 * 64-bit move, a move to xmm and an unpack, at every use in the loop), and moves pure values computed from
 * it into the loop too; a value loaded from memory stays where it was loaded. The float32 exp's loop
 * (thirteen constants): 1.90 -> 1.22 ns a value.
 */
export class ConstTable {
  private readonly at = new Map<string, number>();
  private readonly rows: (readonly number[])[] = [];

  /** Byte offset of the 16 bytes `bytes` in the table. */
  offset(bytes: readonly number[]): number {
    if (bytes.length !== 16) throw new RangeError("ConstTable: a v128 constant is 16 bytes");
    const key = bytes.join(",");
    let o = this.at.get(key);
    if (o === undefined) {
      o = 16 * this.rows.length;
      this.at.set(key, o);
      this.rows.push([...bytes]);
    }
    return o;
  }

  /** The table's bytes. */
  bytes(): Uint8Array {
    return Uint8Array.from(this.rows.flat());
  }
}

/**
 * Builds a function whose body uses constants through `k`: a first pass
 * collects the distinct constants, then the body is emitted again behind a
 * prologue that loads one local per constant from `table` (in the heap at
 * the byte offset of the function's last parameter, `consts`, appended to `params`).
 */
export function withConstLocals(
  name: string,
  params: readonly (readonly [string, ValType])[],
  locals: readonly (readonly [string, ValType])[],
  table: ConstTable,
  emitBody: (c: Code, L: Record<string, number>, k: ConstLocal) => void,
): FuncDef {
  const seen = new Map<string, number[]>();
  const allParams = [...params, ["consts", I32] as const];
  const probe = frame(allParams, locals);
  emitBody(new Code(), probe.idx, (b) => (seen.set(b.join(","), b), 0));
  const consts = [...seen.values()];
  const f = frame(allParams, [...locals, ...consts.map((_, i) => [`const${i}`, V128] as const)]);
  const c = new Code();
  consts.forEach((b, i) => c.get(f.idx.consts).v128Load(table.offset(b)).set(f.idx[`const${i}`]!));
  const local = new Map(consts.map((b, i) => [b.join(","), f.idx[`const${i}`]!]));
  emitBody(c, f.idx, (b) => local.get(b.join(","))!);
  return { name, params: f.params, results: [], locals: f.locals, body: c };
}
