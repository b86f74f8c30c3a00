/**
 * The WebAssembly twin of the spike max-pool's gradient (./spike-pool.ts):
 * per plane, each output's gradient added onto the input element its argmax
 * names, outputs in order; each addition a float32 (or float64) add of the
 * same two numbers as the JS `gx[e] += g[i]`, so the bits are the same.
 *
 *   grad32 / grad64(g, argmax, gx, inPlane, outPlane, planes)
 *
 * g, argmax (int32), gx: byte offsets in the heap of the first plane to run.
 *
 * And the twin of the forward on bits (maxPoolBitsRangeJs, windows up to 31
 * wide): the same window rows read as shifted words, the same first set bit.
 *
 *   forward(src, dst, am, hasAm, h, w, kh, kw, sh, sw, ph, pw, oh, ow, planes)
 *
 * src, dst (spike words, dst zeroed), am (int32, when hasAm): byte offsets of
 * the first plane to run. oneWord (the same arguments): the twin of oneWordRows,
 * for rows of one word.
 */
import { Code, emitModule, frame, I32, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";

function gradFunc(name: string, es: number, add: (c: Code, addr: number, g: number) => void): FuncDef {
  const f = frame(
    [["g", I32], ["am", I32], ["gx", I32], ["inPlane", I32], ["outPlane", I32], ["planes", I32]] as const,
    [["p", I32], ["end", I32], ["addr", I32]] as const,
  );
  const L = f.idx;
  const c = new Code();
  c.i32Const(0).set(L.p);
  c.whileLtU(L.p, L.planes, () => {
    c.get(L.am).get(L.outPlane).i32Const(4).i32Mul().i32Add().set(L.end);
    c.whileLtU(L.am, L.end, () => {
      c.get(L.gx).get(L.am).i32Load(0).i32Const(es).i32Mul().i32Add().set(L.addr);
      add(c, L.addr, L.g);
      c.get(L.am).i32Const(4).i32Add().set(L.am);
      c.get(L.g).i32Const(es).i32Add().set(L.g);
    });
    c.get(L.gx).get(L.inPlane).i32Const(es).i32Mul().i32Add().set(L.gx);
    c.get(L.p).i32Const(1).i32Add().set(L.p);
  });
  return { name, params: f.params, results: [], locals: f.locals, body: c };
}

/** Both forwards' parameters (see the file comment). */
const FORWARD_PARAMS = [["src", I32], ["dst", I32], ["am", I32], ["hasAm", I32], ["h", I32], ["w", I32], ["kh", I32], ["kw", I32],
  ["sh", I32], ["sw", I32], ["ph", I32], ["pw", I32], ["oh", I32], ["ow", I32], ["planes", I32]] as const;

/** The window bounds both forwards compute, on their locals of these names. */
interface WindowLocals { oy: number; ox: number; sh: number; sw: number; ph: number; pw: number; kh: number; kw: number; h: number; w: number;
  y0: number; yA: number; yB: number; x0: number; xA: number; len: number; t: number }

/** Pushes max(local a, 0) (signed). */
const max0 = (c: Code, a: number): Code => c.get(a).i32Const(0).get(a).i32Const(0).i32GtS().select();
/** Pushes min(local a, local b) (signed). */
const min = (c: Code, a: number, b: number): Code => c.get(b).get(a).get(a).get(b).i32GtS().select();

/** Output row oy's window rows [yA, yB) (y0 = oy sh - ph, clipped to the image). */
function windowRows(c: Code, L: WindowLocals): void {
  c.get(L.oy).get(L.sh).i32Mul().get(L.ph).i32Sub().set(L.y0);
  max0(c, L.y0).set(L.yA);
  c.get(L.y0).get(L.kh).i32Add().set(L.t);
  min(c, L.t, L.h).set(L.yB);
}

/** Output column ox's window columns: the first, xA (x0 = ox sw - pw, clipped), and their count, len. */
function windowCols(c: Code, L: WindowLocals): void {
  c.get(L.ox).get(L.sw).i32Mul().get(L.pw).i32Sub().set(L.x0);
  max0(c, L.x0).set(L.xA);
  c.get(L.x0).get(L.kw).i32Add().set(L.t);
  min(c, L.t, L.w).get(L.xA).i32Sub().set(L.len);
}

/** Pushes the window's first element (row yA, column xA, as a plane index), or -1 for an empty window: a silent output's argmax. */
function windowFirst(c: Code, L: WindowLocals): Code {
  c.get(L.yA).get(L.w).i32Mul().get(L.xA).i32Add().i32Const(-1);
  return c.get(L.yA).get(L.yB).i32LtS().i32Const(0).get(L.len).i32LtS().i32And().select();
}

function forwardFunc(): FuncDef {
  const f = frame(
    FORWARD_PARAMS,
    [["p", I32], ["oy", I32], ["ox", I32], ["y0", I32], ["yA", I32], ["yB", I32], ["x0", I32], ["xA", I32], ["len", I32], ["off", I32],
      ["mask", I32], ["cross", I32], ["y", I32], ["rp", I32], ["bits", I32], ["hit", I32], ["siw", I32], ["dow", I32], ["sp", I32],
      ["dp", I32], ["ap", I32], ["t", I32]] as const,
  );
  const L = f.idx;
  const c = new Code();
  c.get(L.w).i32Const(31).i32Add().i32Const(5).i32ShrU().set(L.siw);
  c.get(L.ow).i32Const(31).i32Add().i32Const(5).i32ShrU().set(L.dow);
  c.i32Const(0).set(L.p);
  c.whileLtU(L.p, L.planes, () => {
    c.i32Const(0).set(L.oy);
    c.whileLtU(L.oy, L.oh, () => {
      windowRows(c, L);
      // dp / ap: this output row's words and argmax entries
      c.get(L.dst).get(L.p).get(L.oh).i32Mul().get(L.oy).i32Add().get(L.dow).i32Mul().i32Const(2).i32Shl().i32Add().set(L.dp);
      c.get(L.am).get(L.p).get(L.oh).i32Mul().get(L.oy).i32Add().get(L.ow).i32Mul().i32Const(2).i32Shl().i32Add().set(L.ap);
      c.i32Const(0).set(L.ox);
      c.whileLtU(L.ox, L.ow, () => {
        windowCols(c, L);
        c.i32Const(-1).set(L.hit);
        c.i32Const(0).get(L.len).i32LtS().if();
        c.get(L.xA).i32Const(31).i32And().set(L.off);
        c.i32Const(1).get(L.len).i32Shl().i32Const(1).i32Sub().set(L.mask);
        c.get(L.off).get(L.len).i32Add().i32Const(32).i32GtS().set(L.cross);
        // sp = src + ((p h + yA) siw + xA / 32) 4: the first window row's word
        c.get(L.src).get(L.p).get(L.h).i32Mul().get(L.yA).i32Add().get(L.siw).i32Mul().get(L.xA).i32Const(5).i32ShrU().i32Add().i32Const(2).i32Shl().i32Add().set(L.sp);
        c.get(L.yA).set(L.y);
        c.block().loop();
        c.get(L.y).get(L.yB).i32LtS().i32Eqz().brIf(1);
        c.get(L.sp).set(L.rp);
        c.get(L.rp).i32Load(0).get(L.off).i32ShrU().set(L.bits);
        c.get(L.cross).if();
        c.get(L.bits).get(L.rp).i32Load(4).i32Const(32).get(L.off).i32Sub().i32Shl().i32Or().set(L.bits);
        c.end();
        c.get(L.bits).get(L.mask).i32And().set(L.bits);
        c.get(L.bits).if();
        c.get(L.y).get(L.w).i32Mul().get(L.xA).i32Add().get(L.bits).i32Ctz().i32Add().set(L.hit);
        c.br(2); // out of the row loop
        c.end();
        c.get(L.sp).get(L.siw).i32Const(2).i32Shl().i32Add().set(L.sp);
        c.get(L.y).i32Const(1).i32Add().set(L.y);
        c.br(0).end().end();
        c.end();
        // a spike: dst word ox / 32 gets bit ox % 32
        c.i32Const(-1).get(L.hit).i32LtS().if();
        c.get(L.dp).get(L.ox).i32Const(5).i32ShrU().i32Const(2).i32Shl().i32Add().set(L.t);
        c.get(L.t).get(L.t).i32Load(0).i32Const(1).get(L.ox).i32Const(31).i32And().i32Shl().i32Or().i32Store(0);
        c.end();
        // argmax: the hit, else the window's first element (none for an empty window: -1)
        c.get(L.hasAm).if();
        c.get(L.ap).get(L.ox).i32Const(2).i32Shl().i32Add();
        c.get(L.hit);
        windowFirst(c, L);
        c.i32Const(-1).get(L.hit).i32LtS().select();
        c.i32Store(0);
        c.end();
        c.get(L.ox).i32Const(1).i32Add().set(L.ox);
      });
      c.get(L.oy).i32Const(1).i32Add().set(L.oy);
    });
    c.get(L.p).i32Const(1).i32Add().set(L.p);
  });
  return { name: "forward", params: f.params, results: [], locals: f.locals, body: c };
}

/**
 * The twin of oneWordRows (./spike-pool.ts): rows of one word, the window rows ORed, the OR over the kw
 * columns by shifts, the window starts picked out (every bit, every other bit by the mask steps, or one
 * by one): the same operations in the same order (i32 shifts take their count mod 32, as JavaScript's
 * do), so the same words. The argmax without a branch: the window's first element (-1 for an empty
 * window), replaced by each window row's first spike from the last row up, so the first row's stays;
 * the same index as oneWordRows' scan of spiking windows.
 */
function oneWordFunc(): FuncDef {
  const f = frame(
    FORWARD_PARAMS,
    [["p", I32], ["oy", I32], ["y0", I32], ["yA", I32], ["yB", I32], ["y", I32], ["r", I32], ["t", I32], ["j", I32], ["out", I32],
      ["ox", I32], ["x0", I32], ["xA", I32], ["len", I32], ["hit", I32], ["mask", I32], ["bits", I32], ["sp", I32], ["ap", I32],
      ["inMask", I32], ["outMask", I32], ["w0", I32], ["w1", I32], ["w2", I32], ["b0", I32], ["b1", I32], ["b2", I32],
      ["oxLo", I32], ["oxHi", I32], ["kMask", I32]] as const,
  );
  const L = f.idx;
  const c = new Code();
  /** local = (1 << n) - 1, or all ones when n = 32. */
  const lowMask = (n: number, local: number) => {
    c.i32Const(-1).i32Const(1).get(n).i32Shl().i32Const(1).i32Sub().get(n).i32Const(32).i32Eq().select().set(local);
  };
  /** out = (out | (out >>> s)) & m */
  const fold = (s: number, m: number) => c.get(L.out).get(L.out).i32Const(s).i32ShrU().i32Or().i32Const(m).i32And().set(L.out);
  lowMask(L.w, L.inMask);
  lowMask(L.ow, L.outMask);
  // Interior windows (columns ox sw - pw .. ox sw - pw + kw - 1 all inside 0 .. w - 1): ox from
  // oxLo = ceil(pw / sw) to oxHi = floor((w + pw - kw) / sw) + 1, both clipped to 0 .. ow; kMask: kw ones.
  c.get(L.pw).get(L.sw).i32Add().i32Const(1).i32Sub().get(L.sw).i32DivU().set(L.oxLo);
  min(c, L.oxLo, L.ow).set(L.oxLo);
  c.get(L.w).get(L.pw).i32Add().get(L.kw).i32Sub().set(L.t);
  c.i32Const(0).get(L.t).get(L.sw).i32DivS().i32Const(1).i32Add().get(L.t).i32Const(0).i32LtS().select().set(L.oxHi);
  min(c, L.oxHi, L.ow).set(L.oxHi);
  c.get(L.oxLo).get(L.oxHi).get(L.oxLo).get(L.oxHi).i32GtS().select().set(L.oxHi); // max(oxHi, oxLo)
  c.i32Const(1).get(L.kw).i32Shl().i32Const(1).i32Sub().set(L.kMask);
  c.i32Const(0).set(L.p);
  c.whileLtU(L.p, L.planes, () => {
    c.get(L.src).get(L.p).get(L.h).i32Mul().i32Const(2).i32Shl().i32Add().set(L.sp); // the plane's first row word
    c.i32Const(0).set(L.oy);
    c.whileLtU(L.oy, L.oh, () => {
      windowRows(c, L);
      // r: the OR of the window rows
      c.i32Const(0).set(L.r).get(L.yA).set(L.y);
      c.block().loop();
      c.get(L.y).get(L.yB).i32LtS().i32Eqz().brIf(1);
      c.get(L.r).get(L.sp).get(L.y).i32Const(2).i32Shl().i32Add().i32Load(0).i32Or().set(L.r);
      c.get(L.y).i32Const(1).i32Add().set(L.y);
      c.br(0).end().end();
      c.get(L.r).get(L.inMask).i32And().set(L.r);
      // t: bit x set when any of columns x - pw .. x - pw + kw - 1 spikes
      c.i32Const(0).set(L.t).i32Const(0).set(L.j);
      c.whileLtU(L.j, L.kw, () => {
        c.get(L.t);
        c.get(L.r).get(L.pw).get(L.j).i32Sub().i32Shl();
        c.get(L.r).get(L.j).get(L.pw).i32Sub().i32ShrU();
        c.get(L.pw).get(L.j).i32Sub().i32Const(0).i32LtS().i32Eqz().select();
        c.i32Or().set(L.t);
        c.get(L.j).i32Const(1).i32Add().set(L.j);
      });
      // out: the window starts ox sw of t
      c.get(L.sw).i32Const(1).i32Eq().if();
      c.get(L.t).set(L.out);
      c.else().get(L.sw).i32Const(2).i32Eq().if();
      c.get(L.t).i32Const(0x55555555).i32And().set(L.out);
      fold(1, 0x33333333); fold(2, 0x0f0f0f0f); fold(4, 0x00ff00ff); fold(8, 0x0000ffff);
      c.else();
      c.i32Const(0).set(L.out).i32Const(0).set(L.ox);
      c.whileLtU(L.ox, L.ow, () => {
        c.get(L.out).get(L.t).get(L.ox).get(L.sw).i32Mul().i32ShrU().i32Const(1).i32And().get(L.ox).i32Shl().i32Or().set(L.out);
        c.get(L.ox).i32Const(1).i32Add().set(L.ox);
      });
      c.end().end();
      c.get(L.out).get(L.outMask).i32And().set(L.out);
      c.get(L.dst).get(L.p).get(L.oh).i32Mul().get(L.oy).i32Add().i32Const(2).i32Shl().i32Add().get(L.out).i32Store(0);
      c.get(L.hasAm).if();
      c.get(L.am).get(L.p).get(L.oh).i32Mul().get(L.oy).i32Add().get(L.ow).i32Mul().i32Const(2).i32Shl().i32Add().set(L.ap);
      /**
       * This row's outputs from the current ox (a local) up to `to` (a local): hit from the window's rows, `rows`
       * given the last row first (their words and plane indices as locals), or from the loop over them.
       * `interior`: every window lies inside the row (columns ox sw - pw .. + kw - 1), so its first column, its
       * width and mask need no clipping.
       */
      const outputs = (rows: readonly (readonly [number, number])[] | null, to: number, interior = false): void => {
        c.whileLtU(L.ox, to, () => {
          if (interior) {
            c.get(L.ox).get(L.sw).i32Mul().get(L.pw).i32Sub().set(L.xA);
            c.get(L.kMask).set(L.mask);
            // the window's first element, or -1 when it has no rows (yA >= yB)
            c.get(L.yA).get(L.w).i32Mul().get(L.xA).i32Add().i32Const(-1).get(L.yA).get(L.yB).i32LtS().select().set(L.hit);
          } else {
            windowCols(c, L);
            windowFirst(c, L).set(L.hit);
            // (An empty window, len <= 0, has no columns: mask 0.)
            c.i32Const(1).get(L.len).i32Shl().i32Const(1).i32Sub().i32Const(0).i32Const(0).get(L.len).i32LtS().select().set(L.mask);
          }
          // The window rows from the last up: a row with a spike in the window replaces hit with its first
          // one, so the first such row's stays (no branch: which windows spike is a coin toss at these rates).
          const pick = (word: () => void, rowIndex: () => void): void => {
            word(); c.get(L.xA).i32ShrU().get(L.mask).i32And().set(L.bits);
            rowIndex(); c.get(L.xA).i32Add().get(L.bits).i32Ctz().i32Add().get(L.hit).get(L.bits).select().set(L.hit);
          };
          if (rows !== null) {
            for (const [wl, bl] of rows) pick(() => c.get(wl), () => c.get(bl));
          } else {
            c.get(L.yB).set(L.y);
            c.block().loop();
            c.get(L.yA).get(L.y).i32LtS().i32Eqz().brIf(1);
            c.get(L.y).i32Const(1).i32Sub().set(L.y);
            pick(() => c.get(L.sp).get(L.y).i32Const(2).i32Shl().i32Add().i32Load(0), () => c.get(L.y).get(L.w).i32Mul());
            c.br(0).end().end();
          }
          c.get(L.ap).get(L.ox).i32Const(2).i32Shl().i32Add().get(L.hit).i32Store(0);
          c.get(L.ox).i32Const(1).i32Add().set(L.ox);
        });
      };
      // Windows of 1-3 rows (3 x 3 pools, their border rows): the rows' words and plane indices loaded once
      // for the output row, not once an output, and the interior windows without clipping: MNIST b64's 3 x 3 / 2
      // pool of 28 x 28 planes 5.5 -> 4.7 -> 3.6 ns an output (the words hoisted, then the interior).
      const [wv, bv] = [[L.w0, L.w1, L.w2], [L.b0, L.b1, L.b2]];
      c.get(L.yB).get(L.yA).i32Sub().set(L.t);
      c.i32Const(0).set(L.ox);
      c.i32Const(3).get(L.t).i32LtU().if(); // more than 3 rows, or none (t < 0 as unsigned)
      outputs(null, L.ow);
      c.else();
      for (let k = 0; k < 3; k++) {
        // row yA + k; past yB no word is read (it may lie past the plane), and its bits of 0 never pick
        c.i32Const(0).set(wv[k]!);
        c.i32Const(k).get(L.t).i32LtU().if();
        c.get(L.sp).get(L.yA).i32Const(k).i32Add().i32Const(2).i32Shl().i32Add().i32Load(0).set(wv[k]!);
        c.end();
        c.get(L.yA).i32Const(k).i32Add().get(L.w).i32Mul().set(bv[k]!);
      }
      const rows = [[wv[2]!, bv[2]!], [wv[1]!, bv[1]!], [wv[0]!, bv[0]!]] as const;
      // the border windows before oxLo and from oxHi on, the interior ones between
      outputs(rows, L.oxLo);
      outputs(rows, L.oxHi, true);
      outputs(rows, L.ow);
      c.end();
      c.end();
      c.get(L.oy).i32Const(1).i32Add().set(L.oy);
    });
    c.get(L.p).i32Const(1).i32Add().set(L.p);
  });
  return { name: "oneWord", params: f.params, results: [], locals: f.locals, body: c };
}

/** The module's bytes (emitted from TypeScript, deterministic). */
export function spikePoolKernelModule(): Uint8Array {
  return emitModule({
    minPages: 1, shared: true, funcs: [
      gradFunc("grad32", 4, (c, a, g) => c.get(a).get(a).f32Load(0).get(g).f32Load(0).f32Add().f32Store(0)),
      gradFunc("grad64", 8, (c, a, g) => c.get(a).get(a).f64Load(0).get(g).f64Load(0).f64Add().f64Store(0)),
      forwardFunc(),
      oneWordFunc(),
    ],
  });
}

/** This thread's instance, over the heap. */
export const spikePoolKernel = new HeapKernel(spikePoolKernelModule);

/** Runs `planes` planes of the gradient at heap byte offsets; `f64` picks the element type. */
export function maxPoolGradWasmCall(f64: boolean, g: number, argmax: number, gx: number, inPlane: number, outPlane: number, planes: number): void {
  (spikePoolKernel.exports()[f64 ? "grad64" : "grad32"] as (...a: number[]) => void)(g, argmax, gx, inPlane, outPlane, planes);
}

/**
 * Runs a forward on `planes` planes at heap byte offsets (am ignored unless hasAm): `forward`, or with
 * `oneWord` (rows of one word) `oneWord`.
 */
export function maxPoolForwardWasmCall(
  oneWord: boolean, src: number, dst: number, am: number, hasAm: boolean, h: number, w: number, kh: number, kw: number, sh: number, sw: number,
  ph: number, pw: number, oh: number, ow: number, planes: number,
): void {
  (spikePoolKernel.exports()[oneWord ? "oneWord" : "forward"] as (...a: number[]) => void)(src, dst, am, hasAm ? 1 : 0, h, w, kh, kw, sh, sw, ph, pw, oh, ow, planes);
}
