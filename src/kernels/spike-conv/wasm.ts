/**
 * The WebAssembly twin of the spike conv's bucket fill (fillBuckets in
 * ./spike-conv.ts) for stride 1 and dilation 1, every Spikformer stem conv:
 * for each set bit (c, y, x) of one image, channels c0..c1-1, in (c, y, x)
 * order, and each tap (ki, kj) that lands inside the output, in order, with
 * pos = (y + ph - ki) OW + (x + pw - kj) and p = (c kh + ki) kw + kj:
 *
 *   fillByOutput   bucket pos gets p O      (the forward's buckets; c0 = 0, c1 = C)
 *   fillByWeight   bucket p - c0 kh kw gets pos O   (the weight gradient's)
 *
 * The same pairs in the same order as the JS loop, so the buckets (and the sums
 * over them) are identical; the JS loop's per-bit work was a tenth of a MNIST
 * training step. Both take (s, wpr, c0, c1, h, kh, kw, ph, pw, oh, ow, o, cap,
 * nb, cnt, idx, x, w, val, yLo, yHi): s the byte offset of the image's words [C, h, wpr],
 * of which input rows yLo..yHi-1 are read (a band of output rows, see outputBand in ./spike-conv.ts,
 * needs only some; ph may then be negative);
 * cnt of nb int32 bucket lengths (zeroed here); idx of nb cap int32 entries,
 * bucket b at idx + 4 b cap. The counts variants (...F32, ...F64) read the
 * value of each set bit from the image's values x [C, h, w] (the bits are its
 * nonzeros) and store it beside each of its entries, at the entry's slot of
 * the table val: the weighted bucket sums' values. The spike variants ignore
 * x, w and val.
 */
import { Code, ConstTable, emitModule, F32, F64, frame, I32, i32x4Bytes, V128, withConstLocals, type ConstLocal, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";

/** The module's v128 constants (see ConstTable: the bit transposes' masks, loaded once, not rebuilt in the loop). */
const SPIKE_CONV_CONSTS = new ConstTable();

/** The value type of a weighted fill's counts and table: none (spikes), float32 or float64. */
export type Weights = null | "f32" | "f64";

function fillFunc(byOutput: boolean, weights: Weights): FuncDef {
  const f = frame(
    [["s", I32], ["wpr", I32], ["c0", I32], ["c1", I32], ["h", I32], ["kh", I32], ["kw", I32], ["ph", I32], ["pw", I32],
      ["oh", I32], ["ow", I32], ["o", I32], ["cap", I32], ["nb", I32], ["cnt", I32], ["idx", I32], ["x", I32], ["w", I32], ["val", I32],
      ["yLo", I32], ["yHi", I32]] as const,
    [["ci", I32], ["y", I32], ["q", I32], ["wp", I32], ["bits", I32], ["ty", I32], ["tx", I32], ["kiLo", I32], ["kiHi", I32],
      ["kjLo", I32], ["kjHi", I32], ["ki", I32], ["kj", I32], ["rowPos", I32], ["pRow", I32], ["cp", I32], ["n", I32],
      ["bucket", I32], ["entry", I32], ["rowX", I32], ["slot", I32], ["v32", F32], ["v64", F64], ["full", I32], ["pBase", I32],
      ["capB", I32], ["cntB", I32], ["slotB", I32], ["run", I32]] as const,
  );
  const es = weights === "f64" ? 3 : 2; // log2 bytes of a value
  const L = f.idx;
  const c = new Code();
  /** local = max(0, a) where `a` is pushed by push(). */
  const maxZero = (push: () => void, local: number): void => {
    push(); c.set(local);
    c.get(local).i32Const(0).get(local).i32Const(0).i32GtS().select().set(local);
  };
  /** local = min(hi - 1, local) for the local hi. */
  const minBelow = (hi: number, local: number): void => {
    c.get(hi).i32Const(1).i32Sub().get(local).get(local).get(hi).i32Const(1).i32Sub().i32GtS().select().set(local);
  };
  const inc = (local: number): void => void c.get(local).i32Const(1).i32Add().set(local);
  /**
   * Appends the tap at output position `pos` and weight row `p` (each pushed by its emitter) to its bucket:
   * by output, bucket pos gets p O; by weight row, bucket p gets pos O. Its count moves on; the value rides along.
   */
  const append = (pos: () => void, p: () => void): void => {
    (byOutput ? pos : p)();
    c.set(L.bucket);
    (byOutput ? p : pos)();
    c.get(L.o).i32Mul().set(L.entry);
    c.get(L.cnt).get(L.bucket).i32Const(2).i32Shl().i32Add().tee(L.cp).i32Load(0).set(L.n);
    c.get(L.cp).get(L.n).i32Const(1).i32Add().i32Store(0);
    c.get(L.bucket).get(L.cap).i32Mul().get(L.n).i32Add().set(L.slot);
    c.get(L.idx).get(L.slot).i32Const(2).i32Shl().i32Add().get(L.entry).i32Store(0);
    if (weights === "f32") c.get(L.val).get(L.slot).i32Const(2).i32Shl().i32Add().get(L.v32).f32Store(0);
    if (weights === "f64") c.get(L.val).get(L.slot).i32Const(3).i32Shl().i32Add().get(L.v64).f64Store(0);
  };
  /**
   * The nine taps of a bit whose taps all land in the output, in (ki, kj) order, appended as `append` does
   * with its products and bounds worked out once: by output, tap (ki, kj)'s bucket is rowPos - kj (its count
   * at a fixed offset from cntB, its slots capB bytes before the previous tap's) and its entry pBase o plus
   * (3 ki + kj) o (a running sum); by weight row, bucket pBase + 3 ki + kj (counts at fixed offsets from
   * cntB, slots capB bytes on from the previous tap's) and entry (rowPos - kj) o. The same entries in the same
   * slots, with two multiplies and the bound checks fewer a tap. The fills of a one-thread inference
   * pass's real inputs: MNIST b64 23.3 -> 21.5 ms (its sparse 28 x 28 layers 15-17% faster, the denser ones
   * within 4%), CIFAR b8 10.6 -> 9.8 ms. Not the count updates' chains (neighbouring bits share buckets): a
   * fill walking the outputs, whose appends in a row never share a count, ran 1.4-1.7x slower (the speed log's
   * thirty-first session); more likely the stores into the buckets' scattered lines, and the scan of words with few bits.
   */
  const fullTaps = (): void => {
    if (byOutput) c.get(L.pBase).get(L.o).i32Mul().set(L.run);
    else {
      c.get(L.cnt).get(L.pBase).i32Const(2).i32Shl().i32Add().set(L.cntB);
      c.get(L.idx).get(L.pBase).get(L.capB).i32Mul().i32Add().set(L.slotB);
    }
    for (let ki = 0; ki < 3; ki++) {
      c.get(L.ty).i32Const(ki).i32Sub().get(L.ow).i32Mul().get(L.tx).i32Add().set(L.rowPos);
      if (byOutput) {
        // Counts of buckets rowPos - 2 .. rowPos (never below 0: the taps land in the output) from cntB.
        c.get(L.cnt).get(L.rowPos).i32Const(2).i32Sub().i32Const(2).i32Shl().i32Add().set(L.cntB);
        c.get(L.idx).get(L.rowPos).get(L.capB).i32Mul().i32Add().set(L.slotB);
      } else {
        c.get(L.rowPos).get(L.o).i32Mul().set(L.run);
      }
      for (let kj = 0; kj < 3; kj++) {
        const off = byOutput ? 4 * (2 - kj) : 4 * (3 * ki + kj);
        c.get(L.cntB).i32Load(off).set(L.n);
        c.get(L.cntB).get(L.n).i32Const(1).i32Add().i32Store(off);
        c.get(L.slotB).get(L.n).i32Const(2).i32Shl().i32Add().get(L.run).i32Store(0);
        // The next tap: by output, entry + o and a bucket one back; by weight row, entry - o and a bucket on.
        if (byOutput) {
          c.get(L.run).get(L.o).i32Add().set(L.run);
          c.get(L.slotB).get(L.capB).i32Sub().set(L.slotB);
        } else {
          c.get(L.run).get(L.o).i32Sub().set(L.run);
          c.get(L.slotB).get(L.capB).i32Add().set(L.slotB);
        }
      }
    }
  };
  c.get(L.cap).i32Const(2).i32Shl().set(L.capB);
  // A 3 x 3 kernel's bit whose nine taps all land in the output (most bits: all but the image's border) takes
  // them written out, in the same (ki, kj) order, without the two tap loops and their bounds.
  c.get(L.kh).i32Const(3).i32Eq().get(L.kw).i32Const(3).i32Eq().i32And().set(L.full);
  // Every bucket starts empty.
  c.get(L.cnt).i32Const(0).get(L.nb).i32Const(2).i32Shl().memoryFill();
  c.get(L.c0).set(L.ci);
  c.whileLtU(L.ci, L.c1, () => {
    c.get(L.yLo).set(L.y);
    c.whileLtU(L.y, L.yHi, () => {
      c.get(L.s).get(L.ci).get(L.h).i32Mul().get(L.y).i32Add().get(L.wpr).i32Mul().i32Const(2).i32Shl().i32Add().set(L.wp);
      // The taps of this input row that land in the output: ki in [max(0, ty - oh + 1), min(kh - 1, ty)] (none when ty < 0).
      c.get(L.y).get(L.ph).i32Add().set(L.ty);
      // The counts row (ci, y): its values sit at rowX + (x << es).
      if (weights) c.get(L.x).get(L.ci).get(L.h).i32Mul().get(L.y).i32Add().get(L.w).i32Mul().i32Const(es).i32Shl().i32Add().set(L.rowX);
      maxZero(() => c.get(L.ty).get(L.oh).i32Sub().i32Const(1).i32Add(), L.kiLo);
      c.get(L.ty).set(L.kiHi);
      minBelow(L.kh, L.kiHi);
      c.i32Const(0).set(L.q);
      c.whileLtU(L.q, L.wpr, () => {
        c.get(L.wp).i32Load(0).set(L.bits);
        c.block().loop(); // each set bit, lowest first
        c.get(L.bits).i32Eqz().brIf(1);
        c.get(L.q).i32Const(5).i32Shl().get(L.bits).i32Ctz().i32Add().get(L.pw).i32Add().set(L.tx);
        c.get(L.bits).get(L.bits).i32Const(1).i32Sub().i32And().set(L.bits);
        if (weights) {
          c.get(L.rowX).get(L.tx).get(L.pw).i32Sub().i32Const(es).i32Shl().i32Add();
          if (weights === "f32") c.f32Load().set(L.v32); else c.f64Load().set(L.v64);
        }
        maxZero(() => c.get(L.tx).get(L.ow).i32Sub().i32Const(1).i32Add(), L.kjLo);
        c.get(L.tx).set(L.kjHi);
        minBelow(L.kw, L.kjHi);
        c.get(L.full).get(L.kiLo).i32Eqz().i32And().get(L.kiHi).i32Const(2).i32Eq().i32And()
          .get(L.kjLo).i32Eqz().i32And().get(L.kjHi).i32Const(2).i32Eq().i32And().if();
        // p of (ci, 0, 0), less c0 kh kw when bucketing by weight row
        c.get(L.ci);
        if (!byOutput) c.get(L.c0).i32Sub();
        c.i32Const(9).i32Mul().set(L.pBase);
        if (weights === null) fullTaps();
        else {
          for (let ki = 0; ki < 3; ki++) {
            c.get(L.ty).i32Const(ki).i32Sub().get(L.ow).i32Mul().get(L.tx).i32Add().set(L.rowPos);
            for (let kj = 0; kj < 3; kj++) append(() => c.get(L.rowPos).i32Const(kj).i32Sub(), () => c.get(L.pBase).i32Const(3 * ki + kj).i32Add());
          }
        }
        c.else();
        c.get(L.kiLo).set(L.ki);
        c.block().loop(); // ki = kiLo .. kiHi
        c.get(L.kiHi).get(L.ki).i32LtS().brIf(1);
        c.get(L.ty).get(L.ki).i32Sub().get(L.ow).i32Mul().get(L.tx).i32Add().set(L.rowPos);
        // p of (ci, ki, kj = 0), less the first bucketed row c0 kh kw when bucketing by weight row.
        c.get(L.ci);
        if (!byOutput) c.get(L.c0).i32Sub();
        c.get(L.kh).i32Mul().get(L.ki).i32Add().get(L.kw).i32Mul().set(L.pRow);
        c.get(L.kjLo).set(L.kj);
        c.block().loop(); // kj = kjLo .. kjHi
        c.get(L.kjHi).get(L.kj).i32LtS().brIf(1);
        append(() => c.get(L.rowPos).get(L.kj).i32Sub(), () => c.get(L.pRow).get(L.kj).i32Add());
        inc(L.kj);
        c.br(0).end().end();
        inc(L.ki);
        c.br(0).end().end();
        c.end();
        c.br(0).end().end();
        c.get(L.wp).i32Const(4).i32Add().set(L.wp);
        inc(L.q);
      });
      inc(L.y);
    });
    inc(L.ci);
  });
  return { name: fillName(byOutput, weights), params: f.params, results: [], locals: f.locals, body: c };
}

/**
 * channelsFirstBits(src, dst, oh, ow, wo, o, wprOut, planeRows, stage): the spike words of oh rows of
 * one image from the channels-last layout [oh OW, wo] (bit k of word cw: channel 32 cw + k of a position)
 * to the conv's channels-first rows [o, planeRows, wprOut] from dst (bit j of word xw: column 32 xw + j;
 * a band of oh rows of planes of planeRows), every destination word of those rows written
 * (channelsFirstBitsReference in ./norm-lif.ts defines it). Per output row y, 32 columns and
 * 32 channels at a time: the 32 x 32 bit block (staged, zero-padded) is transposed in 8 v128 registers
 * by five rounds of half-block swaps (rows k and k + j swap k's high j-bit columns with (k + j)'s
 * low ones; rows 4 apart and more are whole vectors, rows 2 and 1 apart lanes of one): 12 vector
 * swaps of 18 WASM instructions and 16 lane swaps of 20, about 550 for 1024 bits, their masks from the
 * module's constant table; a silent block is written as zeros without them. `stage`: 128 bytes of
 * scratch. 41-53 ns a block; on 32 i32 locals the same rounds spilled every value: 450 ns.
 */
function channelsFirstFunc(): FuncDef {
  return withConstLocals(
    "channelsFirstBits",
    [["src", I32], ["dst", I32], ["oh", I32], ["ow", I32], ["wo", I32], ["o", I32], ["wprOut", I32], ["planeRows", I32], ["stage", I32]],
    [["y", I32], ["xw", I32], ["cw", I32], ["x0", I32], ["xs", I32], ["ks", I32], ["j", I32], ["any", I32], ["p", I32], ["q", I32],
      ["chanStride", I32], ["posStride", I32], ["w", I32],
      ["v0", V128], ["v1", V128], ["v2", V128], ["v3", V128], ["v4", V128], ["v5", V128], ["v6", V128], ["v7", V128], ["t", V128]],
    SPIKE_CONV_CONSTS,
    (c, Lr, kc) => channelsFirstBody(c, Lr as Record<ChannelsFirstName, number>, kc),
  );
}

type ChannelsFirstName =
  | "src" | "dst" | "oh" | "ow" | "wo" | "o" | "wprOut" | "planeRows" | "stage" | "y" | "xw" | "cw" | "x0" | "xs" | "ks" | "j" | "any" | "p" | "q"
  | "chanStride" | "posStride" | "w" | "v0" | "v1" | "v2" | "v3" | "v4" | "v5" | "v6" | "v7" | "t";

function channelsFirstBody(c: Code, L: Record<ChannelsFirstName, number>, kc: ConstLocal): void {
  const v = [L.v0, L.v1, L.v2, L.v3, L.v4, L.v5, L.v6, L.v7];
  const inc = (local: number): void => void c.get(local).i32Const(1).i32Add().set(local);
  /** local = min(32, push() value) */
  const min32 = (push: () => void, local: number): void => {
    push(); c.set(local);
    c.get(local).i32Const(32).get(local).i32Const(32).i32LtS().select().set(local);
  };
  type Lanes = readonly [number, number, number, number];
  /** Pushes the i32x4 lanes of local `x` reordered: lane i takes lane partner[i]. */
  const partnerLanes = (x: number, partner: Lanes): void => void c.get(x).get(x).i8x16Shuffle(partner.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
  /** Rows of vectors a and b (4 apart or more, j bits): t = ((a >>> j) ^ b) & m; a ^= t << j; b ^= t. */
  const vectorSwap = (a: number, b: number, j: number, m: number): void => {
    c.get(a).i32Const(j).i32x4ShrU().get(b).v128Xor().get(kc(i32x4Bytes([m, m, m, m]))).v128And().set(L.t);
    c.get(a).get(L.t).i32Const(j).i32x4Shl().v128Xor().set(a);
    c.get(b).get(L.t).v128Xor().set(b);
  };
  /**
   * Rows j = 2 or 1 apart, lanes of one vector a (lane i pairs with partner[i]; `mask` nonzero on the
   * lower row of each pair): t = ((a >>> j) ^ partner lanes of a) & mask; a ^= (t << j) ^ partner lanes of t.
   */
  const laneSwap = (a: number, j: number, partner: Lanes, mask: Lanes): void => {
    c.get(a).i32Const(j).i32x4ShrU();
    partnerLanes(a, partner);
    c.v128Xor().get(kc(i32x4Bytes(mask))).v128And().set(L.t);
    c.get(a).get(L.t).i32Const(j).i32x4Shl().v128Xor();
    partnerLanes(L.t, partner);
    c.v128Xor().set(a);
  };
  c.get(L.planeRows).get(L.wprOut).i32Mul().i32Const(2).i32Shl().set(L.chanStride);
  c.get(L.wo).i32Const(2).i32Shl().set(L.posStride);
  c.i32Const(0).set(L.y);
  c.whileLtU(L.y, L.oh, () => {
    c.i32Const(0).set(L.xw);
    c.whileLtU(L.xw, L.wprOut, () => {
      c.get(L.xw).i32Const(5).i32Shl().set(L.x0);
      min32(() => c.get(L.ow).get(L.x0).i32Sub(), L.xs);
      c.i32Const(0).set(L.cw);
      c.whileLtU(L.cw, L.wo, () => {
        min32(() => c.get(L.o).get(L.cw).i32Const(5).i32Shl().i32Sub(), L.ks);
        // The block's positions into stage (zero past the row's end), noting whether any bit is set.
        c.i32Const(0).set(L.any);
        c.get(L.src).get(L.y).get(L.ow).i32Mul().get(L.x0).i32Add().get(L.wo).i32Mul().get(L.cw).i32Add().i32Const(2).i32Shl().i32Add().set(L.p);
        c.i32Const(0).set(L.j);
        c.whileLtU(L.j, L.xs, () => {
          c.get(L.p).i32Load().set(L.w);
          c.get(L.stage).get(L.j).i32Const(2).i32Shl().i32Add().get(L.w).i32Store();
          c.get(L.any).get(L.w).i32Or().set(L.any);
          c.get(L.p).get(L.posStride).i32Add().set(L.p);
          inc(L.j);
        });
        c.block().loop();
        c.get(L.j).i32Const(32).i32GeU().brIf(1);
        c.get(L.stage).get(L.j).i32Const(2).i32Shl().i32Add().i32Const(0).i32Store();
        inc(L.j);
        c.br(0).end().end();
        // q: the destination word of channel 32 cw, row y, column word xw; channel k's is k rows further.
        c.get(L.dst).get(L.cw).i32Const(5).i32Shl().get(L.planeRows).i32Mul().get(L.y).i32Add().get(L.wprOut).i32Mul().get(L.xw).i32Add().i32Const(2).i32Shl().i32Add().set(L.q);
        c.get(L.any).i32Eqz().if();
        c.i32Const(0).set(L.j);
        c.whileLtU(L.j, L.ks, () => {
          c.get(L.q).get(L.j).get(L.chanStride).i32Mul().i32Add().i32Const(0).i32Store();
          inc(L.j);
        });
        c.else();
        for (let g = 0; g < 8; g++) c.get(L.stage).v128Load(16 * g).set(v[g]!);
        for (const [j, m] of [[16, 0x0000ffff], [8, 0x00ff00ff], [4, 0x0f0f0f0f]] as const) {
          const span = j / 4; // vectors apart
          for (let g = 0; g < 8; g++) if ((g & span) === 0) vectorSwap(v[g]!, v[g + span]!, j, m);
        }
        for (let g = 0; g < 8; g++) laneSwap(v[g]!, 2, [2, 3, 0, 1], [0x33333333, 0x33333333, 0, 0]);
        for (let g = 0; g < 8; g++) laneSwap(v[g]!, 1, [1, 0, 3, 2], [0x55555555, 0, 0x55555555, 0]);
        for (let g = 0; g < 8; g++) c.get(L.stage).get(v[g]!).v128Store(16 * g);
        c.i32Const(0).set(L.j);
        c.whileLtU(L.j, L.ks, () => {
          c.get(L.q).get(L.stage).get(L.j).i32Const(2).i32Shl().i32Add().i32Load().i32Store();
          c.get(L.q).get(L.chanStride).i32Add().set(L.q);
          inc(L.j);
        });
        c.end();
        inc(L.cw);
      });
      inc(L.xw);
    });
    inc(L.y);
  });
}

function fillName(byOutput: boolean, weights: Weights): string {
  return (byOutput ? "fillByOutput" : "fillByWeight") + (weights === null ? "" : weights === "f32" ? "F32" : "F64");
}

/** The bucket-fill module's bytes (emitted from TypeScript, deterministic). */
export function spikeConvBucketModule(): Uint8Array {
  const funcs: FuncDef[] = [];
  for (const weights of [null, "f32", "f64"] as const) funcs.push(fillFunc(true, weights), fillFunc(false, weights));
  funcs.push(channelsFirstFunc());
  return emitModule({ minPages: 1, shared: true, funcs });
}

const kernel = new HeapKernel(spikeConvBucketModule, SPIKE_CONV_CONSTS);

/**
 * Runs fillByOutput or fillByWeight (byte offsets in the heap; see the file
 * comment) over input rows yLo..yHi-1 (all by default); with `weights`, the counts variant: x the byte offset of the
 * image's values [C, h, w] (float32 or float64 as `weights` says; the words
 * `s` are their nonzeros), and each entry's value stored at val + slot bytes
 * of a value (the slot of its idx entry).
 */
export function fillBucketsWasm(
  byOutput: boolean, s: number, wpr: number, c0: number, c1: number, h: number, kh: number, kw: number, ph: number, pw: number,
  oh: number, ow: number, o: number, cap: number, nb: number, cnt: number, idx: number,
  weights: Weights = null, x = 0, w = 0, val = 0, yLo = 0, yHi = h,
): void {
  (kernel.exports()[fillName(byOutput, weights)] as (...a: number[]) => void)(s, wpr, c0, c1, h, kh, kw, ph, pw, oh, ow, o, cap, nb, cnt, idx, x, w, val, yLo, yHi);
}

/**
 * Runs channelsFirstBits (byte offsets in the heap; see channelsFirstFunc): the spike words [oh OW,
 * wordsFor(o)] of oh rows of an image at src to the rows [o, planeRows, wprOut] at dst (the band's first
 * row of channel 0; planeRows = oh for a whole image), with 128 bytes of scratch at stage.
 */
export function channelsFirstBitsWasm(src: number, dst: number, oh: number, ow: number, o: number, wprOut: number, stage: number, planeRows = oh): void {
  (kernel.exports().channelsFirstBits as (...a: number[]) => void)(src, dst, oh, ow, (o + 31) >>> 5, o, wprOut, planeRows, stage, kernel.constants());
}
