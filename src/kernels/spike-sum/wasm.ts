/**
 * The WebAssembly SIMD twin of the event-driven gather-add loops (sumBuckets
 * in src/kernels/spike-conv.ts and the bucket sums of src/kernels/spike-gemm.ts):
 *
 *   for each bucket r < nb:  dst[r, :] = start + sum over the bucket's entries e of (v_e *) src[e.off + j]
 *
 * with `start` = dst[r, :] (accumulate) or +0 (`zero`). Two families, as gemm's:
 *
 * - float64 (sum32 / sum64 / wsum32 / wsum64): dst rows of o float64, src
 *   float32 or float64, val float64. Each dst[r, j] is one float64 lane that
 *   adds its terms one at a time in bucket order (f64x2.add, after f64x2.mul
 *   for the weighted form, never fused), float32 sources widened exactly by
 *   f64x2.promote_low_f32x4. Chunks of 14 columns (7 f64x2 accumulators held
 *   in registers over the whole bucket; see WIDE_ACCS), then 2, then one scalar column.
 * - float32 (sum32f / wsum32f): src, dst and val all float32; each lane does
 *   acc = f32(acc + src) or acc = f32(acc + f32(v * src)) (f32x4.mul then
 *   f32x4.add, never fused: gemm's float32 family with a = v). Chunks of 28
 *   columns (7 f32x4 accumulators), then 4, then scalar (f32.mul / f32.add).
 *
 * JS's `d = d + a + b + c` is ((d + a) + b) + c, the same sequence; so the
 * twin is bit-identical to the JS kernels whatever their unrolling.
 *
 * All take (nb, cap, src, o, dst, cnt, idx, val, zero, bias). sum32fPanels / wsum32fPanels
 * (…, zero, k, kBlock, tile, cur, bias) are sum32f / wsum32f reading a source of k rows packed by
 * {@link packPanelsF32}: per column chunk (the kernel's order, {@link sumChunks})
 * its k rows of `cols` values, PANEL_ENTRY bytes apart; idx then holds row numbers times
 * PANEL_ENTRY, increasing within a bucket. They run tiles of `tile` buckets, each in blocks of kBlock source rows
 * (a bucket's entries of one block are a consecutive run of it; `cur` is 2 tile i32 of
 * scratch for the runs' bounds). The same entries, the same adds in the same order: the same bits.
 * src, dst, cnt, idx, val: byte offsets in the heap (src/tensor/heap.ts), which
 * the module imports: sources and destinations are used where they are, the
 * tables sit in the module's scratch (any element alignment). idx holds i32
 * element offsets into src. cap > 0: bucket r is idx[r cap ..] with cnt[r]
 * entries; cap = 0: cnt is a prefix array, bucket r is idx[cnt[r] .. cnt[r+1]).
 * val (weighted only) holds one value per idx slot (same index). zero != 0:
 * every row starts at +0 and is written even when its bucket is empty; zero =
 * 0: empty buckets leave their rows untouched. bias != 0 (the float32 family
 * with zero only): each row then gets f32(acc + bias[j]) once its terms are
 * summed, as adding the bias to C afterwards would (the float64 family ignores it).
 */
import { Code, emitModule, F32, F64, I32, i32x4Bytes, V128, type ValType } from "../../wasm/emit.js";
import type { FloatArray } from "../../tensor/tensor.js";
import { countStaged, heapF32, heapF64, inHeap, Scratch } from "../../tensor/heap.js";
import { HeapKernel, heapTable } from "../../wasm/runtime.js";
import { copyWasmCall } from "../copy/wasm.js";
import { transposeWasmCall } from "../transpose/wasm.js";

/**
 * Accumulators held in registers over a bucket: 7 v128 (14 columns of float64,
 * 28 of float32). With 8, TurboFan (which loads a whole entry's vectors before
 * adding) needs 16 xmm registers and spills one accumulator to the stack every
 * entry, a store-to-load chain on the critical path (seen with
 * --print-wasm-code); 7 fit the 15 it allocates. Measured on 2048 rows at rate
 * 0.15, one thread: 384->384 9.1 -> 14.9 Gadd/s, 384->1536 7.7 -> 12.3;
 * weighted (counts) 6.1 -> 8.7, 7.5 -> 9.3; 6 accumulators no better than 7.
 */
const WIDE_ACCS = 7;

/**
 * A panel row's bytes in every column chunk (a wide chunk's 28 float32 columns; a narrower chunk's rows are
 * padded to it), and so the unit of a panel sum's entries: an entry is its source row times this, the
 * row's byte offset in the chunk's panel, which the sum adds to the panel's start. A row number multiplied by
 * the chunk's row bytes in the inner loop (an `imul` an entry beside its adds) cost the panel sums of a
 * one-thread CIFAR b8 inference pass about a fifth (their self time 370 -> 296 ms, profiled; the pass 405 ->
 * 347 ms; bench/sum-forms.ts's counts sums 0.732 -> 0.605 ms at 384 -> 384, 3.075 -> 2.476 at 384 -> 1536;
 * 2026-12-06, Intel Xeon VM). Same entries, same bits.
 */
export const PANEL_ENTRY = WIDE_ACCS * 16;

/**
 * Buckets swept together chunk by chunk: a tile's rows reuse a chunk's columns of the source rows
 * from cache, where bucket by bucket each swept the whole source (a 384 x 1536 weight is 2.4 MB).
 * Spikformer-4-384 CIFAR inference, one thread: 572 -> 530 ms (8 rows 545, 64 rows 515, 128 rows 830:
 * a tile's destination rows, o floats apart, then collide in cache sets).
 */
export const ROW_TILE = 32;

/**
 * One bucket-sum function. `f32` picks the family (float32: f32x4 lanes,
 * float32 dst and val; float64: f64x2 lanes, float64 dst and val); `srcF32`
 * the source type (float32 sources of the float64 family are widened
 * exactly by f64x2.promote_low_f32x4); `weighted` the v * src form.
 */
function sumBody(f32: boolean, srcF32: boolean, weighted: boolean, panels = false): Code {
  const [nb, cap, src, o, dst, cnt, idx, val, zero] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  // Panels only: the source's rows (the height of every panel), the rows of a block of them, the
  // rows of a tile, and 2 tile i32 of scratch for the tile's cursors (see blocks below).
  const [kRows, kBlock, tileRows, cur] = [9, 10, 11, 12];
  // The last parameter: the float32 family's bias (byte offset; 0: none), added to each row once its sums end.
  const bias = panels ? 13 : 9;
  const l0 = panels ? 14 : 10; // the first local
  const [r, n, b, d, j, srcJ, t, tEnd, p, tv, dj] = Array.from({ length: 11 }, (_, i) => l0 + i) as [number, number, number, number, number, number, number, number, number, number, number];
  const acc = Array.from({ length: 8 }, (_, i) => l0 + 11 + i);
  const vv = l0 + 19;
  const s = l0 + 20;
  const [r0, r1] = [l0 + 21, l0 + 22];
  // zf: rows start at +0 (and are written when empty): `zero`, and with blocks only in the first.
  const [zf, kb, kEnd] = [l0 + 23, l0 + 24, l0 + 25];
  // fb: this pass ends the rows' sums and adds the bias (the last block of source rows); bj: the chunk's bias.
  const [fb, bj] = [l0 + 26, l0 + 27];
  const lanesLeft = l0 + 28; // the accumulators of the chunk after the wide ones (see allChunks)
  // Panels only: the chunk's panel (byte offset), the bytes from one panel to the next, the block's end as an entry.
  const [panelAt, panelStep, kEndEntry] = [l0 + 29, l0 + 30, l0 + 31];
  const per = f32 ? 4 : 2; // values per v128
  const es = f32 ? 2 : 3; // log2 bytes per dst (and val) element
  const srcShift = srcF32 ? 2 : 3;
  const c = new Code();
  // The scalar and lane operations of the family.
  const sLoad = () => (f32 ? c.f32Load() : c.f64Load());
  const sAdd = () => (f32 ? c.f32Add() : c.f64Add());
  const sMul = () => (f32 ? c.f32Mul() : c.f64Mul());
  const vAdd = () => (f32 ? c.f32x4Add() : c.f64x2Add());
  const vMul = () => (f32 ? c.f32x4Mul() : c.f64x2Mul());
  /** Pushes the source value(s) at p: one scalar, or the `per` lanes of chunk k. */
  const loadSrc = (k: number | null): void => {
    c.get(p);
    if (k === null) {
      if (srcF32 && !f32) c.f32Load().f64PromoteF32();
      else sLoad();
    } else if (srcF32 && !f32) {
      c.v128Load64Splat(8 * k).f64x2PromoteLowF32x4();
    } else {
      c.v128Load(16 * k);
    }
  };

  /** One pass of row r's bucket over columns [j, j + lanes per): `lanes` accumulators, or the scalar column when lanes = 0. */
  const chunk = (lanes: number): void => {
    c.get(d).get(j).i32Const(es).i32Shl().i32Add().set(dj);
    // Start values.
    c.get(zf).if();
    if (lanes === 0) (f32 ? c.f32Const(0) : c.f64Const(0)).set(s);
    else for (let k = 0; k < lanes; k++) c.v128Const(new Array<number>(16).fill(0)).set(acc[k]!);
    c.else();
    if (lanes === 0) { c.get(dj); sLoad(); c.set(s); }
    else for (let k = 0; k < lanes; k++) c.get(dj).v128Load(16 * k).set(acc[k]!);
    c.end();
    // The chunk's source: columns from j of its rows, or (panels) its panel, k rows of `cols` values PANEL_ENTRY bytes apart.
    const cols = lanes === 0 ? 1 : lanes * per;
    if (panels) c.get(panelAt).set(srcJ);
    else c.get(src).get(j).i32Const(srcShift).i32Shl().i32Add().set(srcJ);
    c.get(b).set(t);
    // val holds one dst-typed value per idx slot (4 bytes): tv = val + (b - idx) es / 4 bytes.
    if (weighted) {
      c.get(val).get(b).get(idx).i32Sub();
      if (es === 3) c.i32Const(1).i32Shl();
      c.i32Add().set(tv);
    }
    // The entries of the bucket, in order: acc = acc + (v *) src.
    c.block().loop();
    c.get(t).get(tEnd).i32LtU().i32Eqz().brIf(1);
    if (panels) c.get(srcJ).get(t).i32Load().i32Add().set(p); // the entry is its row's byte offset in the panel
    else c.get(srcJ).get(t).i32Load().i32Const(srcShift).i32Shl().i32Add().set(p);
    if (lanes === 0) {
      c.get(s);
      if (weighted) { c.get(tv); sLoad(); }
      loadSrc(null);
      if (weighted) sMul();
      sAdd();
      c.set(s);
    } else {
      if (weighted) {
        c.get(tv);
        if (f32) c.v128Load32Splat(); else c.v128Load64Splat();
        c.set(vv);
      }
      for (let k = 0; k < lanes; k++) {
        c.get(acc[k]!);
        if (weighted) c.get(vv);
        loadSrc(k);
        if (weighted) vMul();
        vAdd();
        c.set(acc[k]!);
      }
    }
    c.get(t).i32Const(4).i32Add().set(t);
    if (weighted) c.get(tv).i32Const(1 << es).i32Add().set(tv);
    c.br(0).end().end();
    // The bias, after every term (the float32 family: acc = f32(acc + b), what adding it to C afterwards does).
    if (f32) {
      c.get(fb).if();
      c.get(bias).get(j).i32Const(2).i32Shl().i32Add().set(bj);
      if (lanes === 0) c.get(s).get(bj).f32Load().f32Add().set(s);
      else for (let k = 0; k < lanes; k++) c.get(acc[k]!).get(bj).v128Load(16 * k).f32x4Add().set(acc[k]!);
      c.end();
    }
    // Store.
    if (lanes === 0) { c.get(dj).get(s); if (f32) c.f32Store(0); else c.f64Store(0); }
    else for (let k = 0; k < lanes; k++) c.get(dj).get(acc[k]!).v128Store(16 * k);
  };

  /** Sets b (byte offset of bucket r's first entry) and n (its entries). */
  const bucketBounds = (): void => {
    c.get(cap).if();
    c.get(idx).get(r).get(cap).i32Mul().i32Const(2).i32Shl().i32Add().set(b);
    c.get(cnt).get(r).i32Const(2).i32Shl().i32Add().i32Load().set(n);
    c.else();
    c.get(cnt).get(r).i32Const(2).i32Shl().i32Add().tee(p).i32Load().set(n); // n = start[r] for now
    c.get(idx).get(n).i32Const(2).i32Shl().i32Add().set(b);
    c.get(p).i32Load(4).get(n).i32Sub().set(n);
    c.end();
  };
  /** Pushes the byte offset of row r's cursor (`which` 0: the block's first entry, 1: past its last). */
  const cursor = (which: 0 | 1): void => {
    c.get(cur).get(r).get(r0).i32Sub().i32Const(2).i32Shl().i32Add();
    if (which === 1) c.get(tileRows).i32Const(2).i32Shl().i32Add();
  };

  /** The columns [j, j + cols) of every row of the tile [r0, r1): bucket r's entries (of this block), then chunk(lanes); j moves on after. */
  const tileChunk = (lanes: number): void => {
    const cols = lanes === 0 ? 1 : lanes * per;
    c.get(r0).set(r);
    c.whileLtU(r, r1, () => {
      if (panels) {
        cursor(0); c.i32Load().set(b);
        cursor(1); c.i32Load().set(tEnd);
        c.get(tEnd).get(b).i32Sub().i32Const(2).i32ShrU().set(n);
      } else {
        bucketBounds();
      }
      c.block(); // skip: empty bucket when accumulating, unless the bias is due
      c.get(n).get(zf).i32Or().get(fb).i32Or().i32Eqz().brIf(0);
      if (!panels) c.get(b).get(n).i32Const(2).i32Shl().i32Add().set(tEnd);
      c.get(dst).get(r).get(o).i32Mul().i32Const(es).i32Shl().i32Add().set(d);
      chunk(lanes);
      c.end();
      c.get(r).i32Const(1).i32Add().set(r);
    });
    c.get(j).i32Const(cols).i32Add().set(j);
    if (panels) c.get(panelAt).get(panelStep).i32Add().set(panelAt);
  };

  /**
   * Panels: row r's entries of the block [kb, kEnd) of source rows into its cursors: from where the
   * previous block's run ended (the bucket's start in the first block) up to the first entry at or
   * past kEnd. Entries are (scaled) row numbers in increasing order, so the blocks cut each bucket into
   * consecutive runs and every destination element still adds its terms in bucket order; a block's
   * panel rows stay in L1.
   */
  const blockEntries = (): void => {
    c.get(r0).set(r);
    c.whileLtU(r, r1, () => {
      bucketBounds();
      c.get(b).get(n).i32Const(2).i32Shl().i32Add().set(tEnd); // the bucket's end
      c.get(kb).i32Eqz().if().get(b).set(t).else();
      cursor(1); c.i32Load().set(t);
      c.end();
      cursor(0); c.get(t).i32Store();
      c.get(kEnd).get(kRows).i32GeU().if().get(tEnd).set(t).else();
      c.block().loop();
      c.get(t).get(tEnd).i32GeU().brIf(1);
      c.get(t).i32Load().get(kEndEntry).i32GeU().brIf(1);
      c.get(t).i32Const(4).i32Add().set(t);
      c.br(0).end().end();
      c.end();
      cursor(1); c.get(t).i32Store();
      c.get(r).i32Const(1).i32Add().set(r);
    });
  };

  /** while (j + span <= o) tileChunk(lanes) */
  const chunks = (lanes: number, span = lanes === 0 ? 1 : lanes * per): void => {
    c.block().loop();
    c.get(o).get(j).i32Const(span).i32Add().i32LtU().brIf(1);
    tileChunk(lanes);
    c.br(0).end().end();
  };

  /**
   * Every column chunk of the tile's rows: wide chunks while more than two are left, then the vectors
   * left (8 to 14) in two chunks as even as can be, or (7 or fewer) in one. A chunk of one or two
   * accumulators waits on each add's latency: 32 columns (8 vectors) as 7 + 1 took a 16 -> 32 spike
   * conv (MNIST 28 x 28, one thread) 19.7-20.1 ms, as 4 + 4 16.4 ms; 64 columns as 7 + 7 + 2 49.3-49.7 ms,
   * as 7 + 5 + 4 45.8 ms. The same adds per column in the same order: the same bits.
   */
  const allChunks = (): void => {
    c.i32Const(0).set(j);
    if (panels) c.get(src).set(panelAt);
    chunks(WIDE_ACCS, (2 * WIDE_ACCS + 1) * per);
    c.block().loop();
    // lanesLeft = the vectors left, halved (rounding up) when more than a wide chunk's.
    c.get(o).get(j).i32Sub().i32Const(per === 4 ? 2 : 1).i32ShrU().set(lanesLeft);
    c.get(lanesLeft).i32Eqz().brIf(1);
    c.get(lanesLeft).i32Const(1).i32Add().i32Const(1).i32ShrU().get(lanesLeft).get(lanesLeft).i32Const(WIDE_ACCS).i32GtS().select().set(lanesLeft);
    for (let lanes = WIDE_ACCS; lanes >= 1; lanes--) {
      c.get(lanesLeft).i32Const(lanes).i32Eq().if();
      tileChunk(lanes);
      c.end();
    }
    c.br(0).end().end();
    chunks(0);
  };

  // Tiles of ROW_TILE rows (panels: tileRows), each swept chunk by chunk: a chunk's columns of the source
  // rows are reused by the tile's rows while they are in cache (row by row, every row swept the whole source).
  c.get(zero).set(zf);
  c.i32Const(0).set(fb);
  if (f32 && !panels) c.get(bias).i32Eqz().i32Eqz().set(fb);
  if (panels) c.get(kRows).i32Const(PANEL_ENTRY).i32Mul().set(panelStep);
  c.i32Const(0).set(r0);
  c.whileLtU(r0, nb, () => {
    if (panels) c.get(r0).get(tileRows).i32Add().set(r1);
    else c.get(r0).i32Const(ROW_TILE).i32Add().set(r1);
    c.get(nb).get(r1).i32LtU().if().get(nb).set(r1).end();
    if (panels) {
      // Blocks of kBlock source rows (all of them in one when kBlock >= kRows); rows start at +0 only in the first.
      c.i32Const(0).set(kb);
      c.get(zero).set(zf);
      c.block().loop();
      c.get(kb).get(kRows).i32LtU().i32Eqz().brIf(1);
      c.get(kb).get(kBlock).i32Add().set(kEnd);
      c.get(kEnd).i32Const(PANEL_ENTRY).i32Mul().set(kEndEntry);
      if (f32) c.get(bias).i32Eqz().i32Eqz().get(kEnd).get(kRows).i32GeU().i32And().set(fb);
      blockEntries();
      allChunks();
      c.i32Const(0).set(zf);
      c.get(kEnd).set(kb);
      c.br(0).end().end();
    } else {
      allChunks();
    }
    c.get(r1).set(r0);
  });
  return c;
}

/** Below this many outputs per call (gathers, one conv image, bucket entries x columns) the JS loops run: the WASM setup does not pay (measured). */
export const SPIKE_SUM_MIN_OUT = 256;

/**
 * The weighted buckets of a float32 counts gather (countsGatherAddWasm's
 * table fill): for rows r < rows of x [rows, k] (byte offset of row 0), bucket
 * r lists the nonzero x[r, p] in p order, entry p n at idx + 4 (r k + i) and
 * the value at val + 4 (r k + i), its length at cnt + 4 r. Four values at a
 * time, without a branch: a lane mask of the nonzero ones (f32x4.ne: -0
 * counts as zero and NaN as nonzero, as the JS `x === 0` test) picks one of
 * 16 swizzles (at `tbl`, {@link compactSwizzles}) that packs those lanes' entries and values to the
 * front, stored 16 bytes at a time at the bucket's end, which then moves on by
 * their count (a loop over the set lanes mispredicted its exit most groups:
 * 22 ms of a CIFAR b8 inference pass). The bucket holds at most the j values
 * before the group, so the 4 slots stored from there stay within the row's k.
 * Tails of 1-3 columns one at a time.
 */
function countsBucketsBody(): Code {
  const [x, k, rows, n, cnt, idx, val, tbl] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [r, p, m, e, row, k4, j] = [8, 9, 10, 11, 12, 13, 14];
  const [xv, sw, lanes, jv, step] = [15, 16, 17, 18, 19];
  const c = new Code();
  /** Appends entry p (value at byte offset `at`) to bucket r; e counts its entries. */
  const append = (at: () => void): void => {
    c.get(idx).get(row).get(e).i32Add().i32Const(2).i32Shl().i32Add().get(p).get(n).i32Mul().i32Store(0);
    c.get(val).get(row).get(e).i32Add().i32Const(2).i32Shl().i32Add();
    at();
    c.f32Load().f32Store(0);
    c.get(e).i32Const(1).i32Add().set(e);
  };
  c.get(k).i32Const(-4).i32And().set(k4);
  // lanes = [0, n, 2 n, 3 n]: a group's entries are j n + lanes.
  c.get(n).i32x4Splat().v128Const(i32x4Bytes([0, 1, 2, 3])).i32x4Mul().set(lanes);
  c.get(n).i32Const(2).i32Shl().i32x4Splat().set(step);
  c.i32Const(0).set(r);
  c.whileLtU(r, rows, () => {
    c.get(r).get(k).i32Mul().set(row);
    c.i32Const(0).set(e).i32Const(0).set(j);
    // jv = j n + lanes, carried through the loop (built from j in it, TurboFan rebuilt lanes' constant and
    // multiply there: eight instructions a group).
    c.get(lanes).set(jv);
    c.whileLtU(j, k4, () => {
      c.get(x).get(row).get(j).i32Add().i32Const(2).i32Shl().i32Add().v128Load(0).tee(xv);
      c.v128Const(new Array<number>(16).fill(0)).f32x4Ne().i32x4Bitmask().set(m);
      c.get(tbl).get(m).i32Const(4).i32Shl().i32Add().v128Load(0).set(sw);
      c.get(idx).get(row).get(e).i32Add().i32Const(2).i32Shl().i32Add();
      c.get(jv).get(sw).i8x16Swizzle().v128Store(0);
      c.get(jv).get(step).i32x4Add().set(jv);
      c.get(val).get(row).get(e).i32Add().i32Const(2).i32Shl().i32Add();
      c.get(xv).get(sw).i8x16Swizzle().v128Store(0);
      c.get(e).get(m).i32Popcnt().i32Add().set(e);
      c.get(j).i32Const(4).i32Add().set(j);
    });
    c.whileLtU(j, k, () => {
      c.get(j).set(p);
      c.get(x).get(row).get(p).i32Add().i32Const(2).i32Shl().i32Add().f32Load().f32Const(0).f32Ne().if();
      append(() => c.get(x).get(row).get(p).i32Add().i32Const(2).i32Shl().i32Add());
      c.end();
      c.get(j).i32Const(1).i32Add().set(j);
    });
    c.get(cnt).get(r).i32Const(2).i32Shl().i32Add().get(e).i32Store(0);
    c.get(r).i32Const(1).i32Add().set(r);
  });
  return c;
}

/**
 * spikeBuckets32(s, wpr, rows, n, cnt, idx, cap, tbl): the buckets of a spike gather (spikeGatherAddWasm's
 * table fill): for rows r < rows of spike words (s: byte offset of row 0, wpr words a row), bucket r lists
 * the set bits p in increasing order, entry p n at idx + 4 (r cap + i), its length at cnt + 4 r (cap >= 32
 * wpr). A byte at a time, without a branch: `tbl` ({@link bytePositions}) holds each byte value's set-bit
 * positions, first to last, which are widened to i32 lanes, scaled and offset, and stored 8 at a time at the
 * bucket's end, which moves on by the byte's popcount (the slots past it are written over by the next byte,
 * and stay within the row's cap: a row's entries before a byte are at most the bits before it). A loop over
 * the set bits took 7.8 ns a bit in JS, 3.4 in WASM (its exit mispredicts most words); this 2.5 (a CIFAR
 * b8 block's projection and fc2 gathers, 370k bits, warm). Zero words are skipped.
 */
function spikeBucketsBody(): Code {
  const [s, wpr, rows, n, cnt, idx, cap, tbl] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [r, q, x, at, sp, base, b] = [8, 9, 10, 11, 12, 13, 14];
  const [nv, pv, w16] = [15, 16, 17];
  const c = new Code();
  c.get(n).i32x4Splat().set(nv);
  c.i32Const(0).set(r);
  c.get(s).set(sp);
  c.whileLtU(r, rows, () => {
    c.get(idx).get(r).get(cap).i32Mul().i32Const(2).i32Shl().i32Add().tee(at).set(base);
    c.i32Const(0).set(q);
    c.whileLtU(q, wpr, () => {
      c.get(sp).i32Load(0).tee(x).if();
      for (let j = 0; j < 4; j++) {
        c.get(x);
        if (j > 0) c.i32Const(8 * j).i32ShrU();
        c.i32Const(255).i32And().set(b);
        // the byte's positions p as i32 lanes: entries (32 q + 8 j + p) n
        c.get(tbl).get(b).i32Const(3).i32Shl().i32Add().v128Load64Zero(0).i16x8ExtendLowI8x16U().set(w16);
        c.get(q).i32Const(5).i32Shl().i32Const(8 * j).i32Add().i32x4Splat().set(pv);
        c.get(at).get(w16).i32x4ExtendLowI16x8U().get(pv).i32x4Add().get(nv).i32x4Mul().v128Store(0);
        c.get(at).get(w16).i32x4ExtendHighI16x8U().get(pv).i32x4Add().get(nv).i32x4Mul().v128Store(16);
        c.get(at).get(b).i32Popcnt().i32Const(2).i32Shl().i32Add().set(at);
      }
      c.end();
      c.get(sp).i32Const(4).i32Add().set(sp);
      c.get(q).i32Const(1).i32Add().set(q);
    });
    c.get(cnt).get(r).i32Const(2).i32Shl().i32Add().get(at).get(base).i32Sub().i32Const(2).i32ShrU().i32Store(0);
    c.get(r).i32Const(1).i32Add().set(r);
  });
  return c;
}

/** For each byte value v, 8 bytes: the positions of v's set bits, lowest first, then zeros. */
export function bytePositions(): Uint8Array {
  const out = new Uint8Array(256 * 8);
  for (let v = 0; v < 256; v++) {
    let k = 0;
    for (let p = 0; p < 8; p++) if ((v >> p) & 1) out[8 * v + k++] = p;
  }
  return out;
}

/**
 * The 16 swizzles of {@link countsBucketsBody}, 16 bytes each: for lane mask m, the 4-byte lanes
 * whose bits are set, in order, then zeros (index 16 swizzles in 0).
 */
export function compactSwizzles(): Uint8Array {
  const out = new Uint8Array(256);
  for (let m = 0; m < 16; m++) {
    const picks: number[] = [];
    for (let l = 0; l < 4; l++) if ((m >> l) & 1) picks.push(l);
    for (let s = 0; s < 4; s++) for (let b = 0; b < 4; b++) out[16 * m + 4 * s + b] = s < picks.length ? 4 * picks[s]! + b : 16;
  }
  return out;
}

/**
 * spikeColumnBuckets32(s, wpr, q0, q1, rows, n, cnt, idx): the column buckets of `rows` rows of spike words
 * (s: byte offset of the first row, wpr words a row), the columns of words q0..q1-1 only: for each set bit
 * (row r, column p), rows in order, entry r n appended to bucket p - 32 q0 (capacity `rows`, the sums' cap
 * form). The spike linear's weight gradient Sᵀ G.
 */
function spikeColumnBucketsBody(): Code {
  const [s, wpr, q0, q1, rows, n, cnt, idx] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [kc, r, rowP, e, q, m, p, cp, words] = [8, 9, 10, 11, 12, 13, 14, 15, 16];
  const c = new Code();
  c.get(q1).get(q0).i32Sub().tee(words).i32Const(5).i32Shl().set(kc);
  c.get(cnt).i32Const(0).get(kc).i32Const(2).i32Shl().memoryFill(); // the counts start at 0
  c.i32Const(0).set(r);
  c.whileLtU(r, rows, () => {
    c.get(s).get(r).get(wpr).i32Mul().get(q0).i32Add().i32Const(2).i32Shl().i32Add().set(rowP);
    c.get(r).get(n).i32Mul().set(e);
    c.i32Const(0).set(q);
    c.whileLtU(q, words, () => {
      c.get(rowP).get(q).i32Const(2).i32Shl().i32Add().i32Load(0).set(m);
      c.block().loop();
      c.get(m).i32Eqz().brIf(1);
      c.get(q).i32Const(5).i32Shl().get(m).i32Ctz().i32Add().set(p);
      c.get(m).get(m).i32Const(1).i32Sub().i32And().set(m);
      // idx[p rows + cnt[p]] = e; cnt[p]++
      c.get(cnt).get(p).i32Const(2).i32Shl().i32Add().set(cp);
      c.get(idx).get(p).get(rows).i32Mul().get(cp).i32Load(0).i32Add().i32Const(2).i32Shl().i32Add().get(e).i32Store(0);
      c.get(cp).get(cp).i32Load(0).i32Const(1).i32Add().i32Store(0);
      c.br(0).end().end();
      c.get(q).i32Const(1).i32Add().set(q);
    });
    c.get(r).i32Const(1).i32Add().set(r);
  });
  return c;
}

/** The gather-add module's bytes (emitted from TypeScript, deterministic). */
export function spikeSumModule(): Uint8Array {
  const i32s = (k: number): ValType[] => new Array<ValType>(k).fill(I32);
  const fn = (name: string, f32: boolean, srcF32: boolean, w: boolean, panels = false) => ({
    name, params: i32s(panels ? 14 : 10), results: [],
    locals: [...i32s(11), ...new Array<ValType>(9).fill(V128), f32 ? F32 : F64, ...i32s(11)] as ValType[],
    body: sumBody(f32, srcF32, w, panels),
  });
  return emitModule({
    minPages: 1,
    shared: true,
    funcs: [
      fn("sum32", false, true, false), fn("sum64", false, false, false), fn("wsum32", false, true, true), fn("wsum64", false, false, true),
      fn("sum32f", true, true, false), fn("wsum32f", true, true, true),
      fn("sum32fPanels", true, true, false, true), fn("wsum32fPanels", true, true, true, true),
      { name: "countsBuckets32", params: i32s(8), results: [], locals: [...i32s(7), ...new Array<ValType>(5).fill(V128)], body: countsBucketsBody() },
      { name: "spikeBuckets32", params: i32s(8), results: [], locals: [...i32s(7), V128, V128, V128], body: spikeBucketsBody() },
      { name: "spikeColumnBuckets32", params: i32s(8), results: [], locals: i32s(9), body: spikeColumnBucketsBody() },
    ],
  });
}

type SumFn = (nb: number, cap: number, src: number, o: number, dst: number, cnt: number, idx: number, val: number, zero: number, ...panels: number[]) => void;

const kernel = new HeapKernel(spikeSumModule);
let runs = 0;
// The panel sums' row cursors (2 tile i32; their own region: callers hand over the bucket-sum scratch).
const cursors = new Scratch();

/**
 * The panel sums' loop nest: tiles of `tileRows` destination rows; per tile, blocks of `blockRows`
 * source rows; per block, each column chunk over the tile's rows. A wide chunk's block (28 float32
 * columns, 112 bytes a row) is 28 KB, which stays in L1 while the tile's rows sum from it, and each
 * tile streams the source from L2 / L3 once. Bucket sums alone, one thread, density 0.2, 85-340
 * rows a call (as the gathers' tables allow): tiles of 32 rows and one block (before) -> 256 and
 * 256: 1536 -> 384 13.5 -> 19.1 Gadd/s, 384 -> 1536 16.0 -> 19.3, 384 -> 384 21 both; the conv's
 * wT (3456 x 384, 512 rows, density 0.15) 11.5 -> 18.5. (Tiles of 256 and one block: 15.2 at
 * 1536 -> 384; blocks of 128 rows: 1-2 Gadd/s less.)
 * Blocks of 256 -> 512 rows, tiles of 256 -> 128 (2026-12-06, a Zen 5 VM with 48 KB of L1 and 1 MB of
 * L2 a core): a sparse source's buckets have few entries a block, and each block reloads and stores the
 * tile's accumulators; every sum of the e2e workloads on one thread, alternating in one process, three
 * rounds twice: CIFAR b8 inference 317 / 330 -> 308 / 316 ms a pass, training step 602 / 587 -> 582 / 586;
 * MNIST b64 147 / 147 -> 143 / 143, 295 / 291 -> 289 / 290 (the 384 -> 384 sums of sparse spikes
 * 10.0 -> 13.3 Gadd/s, the dense-ish counts 16.4 -> 17.1). Blocks do not change any sum's order.
 */
const PANEL_TILES = { blockRows: 512, tileRows: 128 };

/**
 * Sets the panel sums' block and tile heights (tests: small, to cut buckets into many runs and rows
 * into many tiles); returns the old ones.
 */
export function setPanelTiles(blockRows: number, tileRows: number): [number, number] {
  for (const [what, v] of [["blockRows", blockRows], ["tileRows", tileRows]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new Error(`setPanelTiles: ${what} must be an integer >= 1, got ${v}`);
  }
  const old: [number, number] = [PANEL_TILES.blockRows, PANEL_TILES.tileRows];
  PANEL_TILES.blockRows = blockRows;
  PANEL_TILES.tileRows = tileRows;
  return old;
}

/**
 * Byte offset (in the heap) of at least `bytes` of this thread's bucket-sum
 * scratch, 16-byte aligned: the tables (counts, entries, values) and the
 * working rows of one call. Valid until the next call; take the heap views
 * ({@link heapI32}, heapF32, heapF64) after it.
 */
export function spikeSumScratch(bytes: number): number {
  return kernel.scratch.take(bytes);
}

/** Scratch bytes to stage `len` elements of `a` (16-byte steps): 0 for a heap array, which is used in place. */
export function stageBytes(a: FloatArray | Uint32Array, len: number): number {
  return inHeap(a) ? 0 : align16(len * a.BYTES_PER_ELEMENT);
}

/** True when the sums can go straight into `a`: a heap array of the family's type (float32 for `f32`, else float64). */
function dstInPlace(a: FloatArray, f32: boolean): boolean {
  return inHeap(a) && a instanceof Float32Array === f32;
}

/** Scratch bytes for `len` destination elements of `a` in the family `f32`: 0 when they are summed in place. */
export function dstBytes(a: FloatArray, len: number, f32: boolean): number {
  return dstInPlace(a, f32) ? 0 : align16(len * (f32 ? 4 : 8));
}

/**
 * Heap byte offset of the destination rows a[from .. from + len) for a bucket
 * sum of the family `f32`: where they are for a heap array of the family's
 * type; else the scratch region at `region` (sized by {@link dstBytes}), filled
 * from `a` (converted to the family's type) when `load`. A foreign `a` counts
 * as staged; a heap `a` of the other type (a float32 output of a float64 sum)
 * is the sum's own float64 accumulator, converted once. Pair with {@link dstDone}.
 */
export function dstPtr(a: FloatArray, from: number, len: number, f32: boolean, region: number, load: boolean): number {
  if (dstInPlace(a, f32)) return a.byteOffset + from * a.BYTES_PER_ELEMENT;
  if (load) {
    (f32 ? heapF32() : heapF64()).set(a.subarray(from, from + len), region / (f32 ? 4 : 8));
    if (!inHeap(a)) countStaged(len * a.BYTES_PER_ELEMENT);
  }
  return region;
}

/** Copies the rows summed at `ptr` (from {@link dstPtr}) back into `a` unless they were summed in place. */
export function dstDone(a: FloatArray, from: number, len: number, f32: boolean, ptr: number): void {
  if (dstInPlace(a, f32)) return;
  const e = ptr / (f32 ? 4 : 8);
  a.set((f32 ? heapF32() : heapF64()).subarray(e, e + len), from);
  if (!inHeap(a)) countStaged(len * a.BYTES_PER_ELEMENT);
}

const swizzlesAt = heapTable(compactSwizzles);
const positionsAt = heapTable(bytePositions);

/** Fills the weighted buckets of a float32 counts gather (see countsBucketsBody; byte offsets in the heap). */
export function countsBucketsRun(x: number, k: number, rows: number, n: number, cnt: number, idx: number, val: number): void {
  (kernel.exports().countsBuckets32 as (...a: number[]) => void)(x, k, rows, n, cnt, idx, val, swizzlesAt());
}

/** Fills the buckets of rows of spike words for a gather (see spikeBucketsBody; byte offsets in the heap). */
export function spikeBucketsRun(s: number, wpr: number, rows: number, n: number, cnt: number, idx: number, cap: number): void {
  if (cap < 32 * wpr) throw new Error(`spikeBucketsRun: a bucket of ${cap} slots for rows of ${wpr} words`);
  (kernel.exports().spikeBuckets32 as (...a: number[]) => void)(s, wpr, rows, n, cnt, idx, cap, positionsAt());
}

/** Fills the column buckets of rows of spike words (see spikeColumnBucketsBody; byte offsets in the heap). */
export function spikeColumnBucketsRun(s: number, wpr: number, q0: number, q1: number, rows: number, n: number, cnt: number, idx: number): void {
  (kernel.exports().spikeColumnBuckets32 as (...a: number[]) => void)(s, wpr, q0, q1, rows, n, cnt, idx);
}

/**
 * Runs one bucket sum (see the file comment); all offsets are BYTE offsets in
 * the heap (operands in place or staged, tables in {@link spikeSumScratch}).
 * `family32`: the float32 family (dst and val float32; srcF32 must be true).
 * `panelRows` > 0: the source is in panels of that many rows (entries are row
 * numbers times PANEL_ENTRY, in increasing order within a bucket), summed in tiles of
 * `panelTile` destination rows and blocks of source rows (see PANEL_TILES).
 */
export function spikeSumRun(
  srcF32: boolean, weighted: boolean,
  nb: number, cap: number, src: number, o: number, dst: number, cnt: number, idx: number, val: number, zero: boolean,
  family32 = false, panelRows = 0, panelTile = PANEL_TILES.tileRows, bias = 0,
): void {
  if (nb === 0 || o === 0) return;
  if (family32 && !srcF32) throw new Error("spikeSumRun: the float32 family needs a float32 source");
  if (bias !== 0 && !(family32 && zero)) throw new Error("spikeSumRun: a bias is added by float32-family sums that start at +0 only");
  if (panelRows > 0 && !family32) throw new Error("spikeSumRun: panels are float32-family only");
  if (panelRows > 0 && !(Number.isInteger(panelTile) && panelTile >= 1)) throw new Error(`spikeSumRun: panelTile must be an integer >= 1, got ${panelTile}`);
  runs++;
  const ex = kernel.exports();
  if (panelRows > 0) {
    const cur = cursors.take(8 * panelTile);
    ((weighted ? ex.wsum32fPanels : ex.sum32fPanels) as SumFn)(nb, cap, src, o, dst, cnt, idx, val, zero ? 1 : 0, panelRows, PANEL_TILES.blockRows, panelTile, cur, bias);
    return;
  }
  const f = (family32 ? (weighted ? ex.wsum32f : ex.sum32f) : weighted ? (srcF32 ? ex.wsum32 : ex.wsum64) : srcF32 ? ex.sum32 : ex.sum64) as SumFn;
  f(nb, cap, src, o, dst, cnt, idx, val, zero ? 1 : 0, bias);
}

/**
 * When a float32 WASM sum (a gather of rows of W, a spike conv's forward over wT, a block of rows of G in
 * the counts weight gradient) first packs its source into the panels of its column chunks (each chunk's
 * k rows contiguous) and sums from those: from PANEL.rows destination rows (buckets) and PANEL.weights
 * source values. A chunk's source rows are then a few pages, not k rows n floats apart (1.5 KB at
 * n = 384, 6 KB at 1536: hundreds of pages): 2048 rows, one thread, 384 -> 384 1.1x, 384 -> 1536 1.2-1.3x, 1536 -> 384 1.06-1.09x;
 * 128 -> 128 (64 KB) 0.98x, 128 -> 512 (256 KB) 1.0-1.05x; the counts weight gradient 384 -> 1536
 * 1.2x (blocks of 128 x 1536), 384 -> 384 1.0x. From 256 KB (65,536 floats): the MNIST b64 model's
 * 64 -> 128 spike conv (wT 576 x 128, 295 KB) and its 128 <-> 512 linears then sum from panels too, a
 * one-thread inference pass 2.8-4.7% faster than from 512 KB (three runs of eight alternations; the conv alone 2.0-2.3%).
 * The packing is one copy of the source, which fewer rows would not pay for. Since the panel sums' entries
 * are byte offsets (PANEL_ENTRY), from 64 rows and 64 KB (16,384 floats; before: 128 rows, 256 KB), one-thread
 * steps alternating in one process (`bench/knobs.ts --knob panel-thresholds`, 2026-12-06, Intel Xeon VM): MNIST
 * b64 training 0.987x / 0.992x (two runs of six), inference 0.997x, CIFAR b8 training 0.993x; 64 rows alone
 * 1.003x, 64 KB alone 0.996x.
 */
const PANEL = { rows: 64, weights: 1 << 14 };

/** True when a float32 WASM sum into m rows (buckets) from kn source values sums from panels (see PANEL). */
export function usePanels(fam32: boolean, m: number, kn: number): boolean {
  return fam32 && m >= PANEL.rows && kn >= PANEL.weights;
}

/** Sets when the float32 WASM sums pack their source into panels (tests: 0, 0 = always); returns the old thresholds. */
export function setPanelThresholds(rows: number, weights: number): [number, number] {
  const old: [number, number] = [PANEL.rows, PANEL.weights];
  PANEL.rows = rows;
  PANEL.weights = weights;
  return old;
}

/**
 * The column chunks of an `o`-column sum in the order the kernel sweeps them (allChunks in sumBody):
 * [first column, columns], WIDE_ACCS vectors wide while more than two such chunks are left, then the
 * vectors left in one chunk or two as even as can be, then single columns.
 */
export function sumChunks(o: number): [number, number][] {
  const out: [number, number][] = [];
  let j = 0;
  for (; j + (2 * WIDE_ACCS + 1) * 4 <= o; j += WIDE_ACCS * 4) out.push([j, WIDE_ACCS * 4]);
  for (let vecs = (o - j) >> 2; vecs > 0; vecs = (o - j) >> 2) {
    const lanes = vecs > WIDE_ACCS ? (vecs + 1) >> 1 : vecs;
    out.push([j, lanes * 4]);
    j += lanes * 4;
  }
  for (; j < o; j++) out.push([j, 1]);
  return out;
}

/**
 * Packs float32 source rows src [k, o] (heap byte offsets; row stride o) into the panels the
 * *Panels sums read at dst ({@link panelBytes} of it): per column chunk (sumChunks), its k rows of `cols`
 * values PANEL_ENTRY bytes apart, chunk after chunk.
 */
export function packPanelsF32(src: number, k: number, o: number, dst: number): void {
  sumChunks(o).forEach(([j, cols], ci) => copyWasmCall(false, src + j * 4, dst + ci * k * PANEL_ENTRY, k, cols, o, PANEL_ENTRY / 4, 1, 1));
}

/** Bytes of the panels of a source of k rows of o float32 columns (see {@link packPanelsF32}). */
export function panelBytes(k: number, o: number): number {
  return sumChunks(o).length * k * PANEL_ENTRY;
}

/**
 * {@link packPanelsF32} of Wᵀ read from W [o, k] itself (row stride k, a linear's [out, in] weight): a
 * chunk's panel, k rows of `cols` values, is the transpose of W's rows j..j+cols-1 (rows padded).
 * One pass instead of a transpose into Wᵀ and then the packing copy (a weight read cold from memory
 * once, not written and read again).
 */
export function packPanelsF32FromRows(src: number, k: number, o: number, dst: number): void {
  sumChunks(o).forEach(([j, cols], ci) => transposeWasmCall("t32", src + j * k * 4, dst + ci * k * PANEL_ENTRY, cols, k, 0, cols, k, PANEL_ENTRY / 4));
}

/**
 * The source a sum reads, Wᵀ [k, o] as rows or (`panels`, float32) as panels: `src` itself, or built at `dst`
 * ({@link builtSourceBytes} of scratch): its panels ({@link packPanelsF32}), or from W [o, k] when `outIn`
 * ({@link packPanelsF32FromRows}; without panels, W transposed there). `f64`: float64 elements (no panels).
 */
export function panelsOr(panels: boolean, src: number, k: number, o: number, dst: number, outIn = false, f64 = false): number {
  if (panels && f64) throw new Error("panelsOr: panels are float32 only");
  if (panels) {
    if (outIn) packPanelsF32FromRows(src, k, o, dst);
    else packPanelsF32(src, k, o, dst);
    return dst;
  }
  if (!outIn) return src;
  transposeWasmCall(f64 ? "t64" : "t32", src, dst, o, k, 0, o);
  return dst;
}

/** Scratch bytes {@link panelsOr} builds its source in: the panels, W transposed (`outIn`, `bytesPer` an element), or none. */
export function builtSourceBytes(panels: boolean, outIn: boolean, k: number, o: number, bytesPer: number): number {
  return panels ? panelBytes(k, o) : outIn ? k * o * bytesPer : 0;
}

/** How many times this thread has run a WASM bucket sum (lets tests see which backend ran). */
export function spikeSumWasmRuns(): number {
  return runs;
}

/** Rounds a byte count up to a multiple of 16 (region starts stay v128-aligned). */
export function align16(bytes: number): number {
  return (bytes + 15) & ~15;
}
