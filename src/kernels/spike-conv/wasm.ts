/**
 * The WebAssembly twin of the spike conv forward's bucket fill (fillBuckets in
 * ./spike-conv.ts, by output position) for stride 1 and dilation 1, every
 * Spikformer stem conv: for each set bit (c, y, x) of one image, in (c, y, x)
 * order, and each tap (ki, kj) that lands inside the output, in order, bucket
 * pos = (y + ph - ki) OW + (x + pw - kj) gets the weight-row offset
 * ((c kh + ki) kw + kj) O. The same pairs in the same order as the JS loop, so
 * the buckets (and the sums over them) are identical; the JS loop's per-bit
 * work was a tenth of a MNIST training step.
 *
 *   fillByOutput(s, wpr, c, h, kh, kw, ph, pw, oh, ow, o, cap, cnt, idx)
 *
 * s: byte offset of the image's words [c, h, wpr]; cnt: byte offset of
 * oh ow int32 bucket lengths (zeroed here); idx: byte offset of oh ow cap
 * int32 entries, bucket pos at idx + 4 pos cap.
 */
import { Code, emitModule, frame, I32 } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";

/** The bucket-fill module's bytes (emitted from TypeScript, deterministic). */
export function spikeConvBucketModule(): Uint8Array {
  const f = frame(
    [["s", I32], ["wpr", I32], ["c", I32], ["h", I32], ["kh", I32], ["kw", I32], ["ph", I32], ["pw", I32],
      ["oh", I32], ["ow", I32], ["o", I32], ["cap", I32], ["cnt", I32], ["idx", I32]] as const,
    [["ci", I32], ["y", I32], ["q", I32], ["wp", I32], ["bits", I32], ["ty", I32], ["tx", I32], ["kiLo", I32], ["kiHi", I32],
      ["kjLo", I32], ["kjHi", I32], ["ki", I32], ["kj", I32], ["rowPos", I32], ["pRowO", I32], ["pos", I32], ["cp", I32], ["n", I32]] as const,
  );
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
  // Every bucket starts empty.
  c.get(L.cnt).i32Const(0).get(L.oh).get(L.ow).i32Mul().i32Const(2).i32Shl().memoryFill();
  c.get(L.s).set(L.wp);
  c.i32Const(0).set(L.ci);
  c.whileLtU(L.ci, L.c, () => {
    c.i32Const(0).set(L.y);
    c.whileLtU(L.y, L.h, () => {
      // The taps of this input row that land in the output: ki in [max(0, ty - oh + 1), min(kh - 1, ty)].
      c.get(L.y).get(L.ph).i32Add().set(L.ty);
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
        maxZero(() => c.get(L.tx).get(L.ow).i32Sub().i32Const(1).i32Add(), L.kjLo);
        c.get(L.tx).set(L.kjHi);
        minBelow(L.kw, L.kjHi);
        c.get(L.kiLo).set(L.ki);
        c.block().loop(); // ki = kiLo .. kiHi
        c.get(L.kiHi).get(L.ki).i32LtS().brIf(1);
        c.get(L.ty).get(L.ki).i32Sub().get(L.ow).i32Mul().get(L.tx).i32Add().set(L.rowPos);
        c.get(L.ci).get(L.kh).i32Mul().get(L.ki).i32Add().get(L.kw).i32Mul().get(L.o).i32Mul().set(L.pRowO);
        c.get(L.kjLo).set(L.kj);
        c.block().loop(); // kj = kjLo .. kjHi
        c.get(L.kjHi).get(L.kj).i32LtS().brIf(1);
        c.get(L.rowPos).get(L.kj).i32Sub().set(L.pos);
        c.get(L.cnt).get(L.pos).i32Const(2).i32Shl().i32Add().tee(L.cp).i32Load(0).set(L.n);
        c.get(L.cp).get(L.n).i32Const(1).i32Add().i32Store(0);
        c.get(L.idx).get(L.pos).get(L.cap).i32Mul().get(L.n).i32Add().i32Const(2).i32Shl().i32Add();
        c.get(L.pRowO).get(L.kj).get(L.o).i32Mul().i32Add().i32Store(0);
        inc(L.kj);
        c.br(0).end().end();
        inc(L.ki);
        c.br(0).end().end();
        c.br(0).end().end();
        c.get(L.wp).i32Const(4).i32Add().set(L.wp);
        inc(L.q);
      });
      inc(L.y);
    });
    inc(L.ci);
  });
  return emitModule({ minPages: 1, shared: true, funcs: [{ name: "fillByOutput", params: f.params, results: [], locals: f.locals, body: c }] });
}

const kernel = new HeapKernel(spikeConvBucketModule);

/** Runs fillByOutput (byte offsets in the heap; see the file comment). */
export function fillByOutputWasm(
  s: number, wpr: number, c: number, h: number, kh: number, kw: number, ph: number, pw: number,
  oh: number, ow: number, o: number, cap: number, cnt: number, idx: number,
): void {
  (kernel.exports().fillByOutput as (...a: number[]) => void)(s, wpr, c, h, kh, kw, ph, pw, oh, ow, o, cap, cnt, idx);
}
