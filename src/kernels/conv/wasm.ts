/**
 * The WebAssembly SIMD twin of col2im (src/kernels/conv/conv.ts), the scatter of
 * a convolution's column gradient back onto the input: for each channel,
 * kernel offset (ki, kj) and output row o in order, the row's valid entries
 * are added onto their input positions. Each addition is a float32 add (JS's
 * `dx[i] += v` on a Float32Array), in the same order per input element, so
 * the twin is bit-identical; with column stride 1 the positions of a row are
 * contiguous and go four at a time (f32x4.add), else one at a time.
 *
 *   col2im(cols, dx, ranges, cn, plane, w, kh, kw, oh, ow, sh, sw)
 *
 * cols: float32 [cn][kh kw][oh ow]; dx: float32 [cn][plane]; ranges: i32
 * [kh][2] valid output rows then [kw][2] valid output columns per kernel
 * offset (computed by the caller), followed by i32 rowShift[kh] then
 * colShift[kw]: the input position of (o, q) at offset (ki, kj) is
 * o sh w + rowShift[ki] + q sw + colShift[kj], with rowShift[ki] =
 * (ki dh - ph) w and colShift[kj] = kj dw - pw. Offsets in bytes into
 * the heap: cols and dx where they are, the table in the kernel's scratch.
 */
import { Code, emitModule, frame, I32, V128, type FuncDef } from "../../wasm/emit.js";
import { HeapKernel } from "../../wasm/runtime.js";

function col2imFunc(): FuncDef {
  const f = frame(
    [["cols", I32], ["dx", I32], ["ranges", I32], ["cn", I32], ["plane", I32], ["w", I32], ["kh", I32], ["kw", I32],
      ["oh", I32], ["ow", I32], ["sh", I32], ["sw", I32]] as const,
    [["c", I32], ["ki", I32], ["kj", I32], ["o", I32], ["q", I32], ["r", I32], ["xc", I32], ["shifts", I32],
      ["lo0", I32], ["hi0", I32], ["lo1", I32], ["hi1", I32], ["src", I32], ["dst", I32], ["end", I32], ["end4", I32], ["v", V128]] as const,
  );
  const L = f.idx;
  const c = new Code();
  const inc = (x: number, by: number) => c.get(x).i32Const(by).i32Add().set(x);
  c.get(L.ranges).get(L.kh).get(L.kw).i32Add().i32Const(3).i32Shl().i32Add().set(L.shifts);
  c.get(L.cols).set(L.r).get(L.dx).set(L.xc).i32Const(0).set(L.c);
  c.whileLtU(L.c, L.cn, () => {
    c.i32Const(0).set(L.ki);
    c.whileLtU(L.ki, L.kh, () => {
      c.get(L.ranges).get(L.ki).i32Const(3).i32Shl().i32Add().i32Load(0).set(L.lo0);
      c.get(L.ranges).get(L.ki).i32Const(3).i32Shl().i32Add().i32Load(4).set(L.hi0);
      c.i32Const(0).set(L.kj);
      c.whileLtU(L.kj, L.kw, () => {
        c.get(L.ranges).get(L.kh).get(L.kj).i32Add().i32Const(3).i32Shl().i32Add().i32Load(0).set(L.lo1);
        c.get(L.ranges).get(L.kh).get(L.kj).i32Add().i32Const(3).i32Shl().i32Add().i32Load(4).set(L.hi1);
        c.get(L.lo0).set(L.o);
        c.whileLtU(L.o, L.hi0, () => {
          // src = r + 4 (o ow + lo1); dst = xc + 4 (o sh w + rowShift[ki] + lo1 sw + colShift[kj])
          c.get(L.r).get(L.o).get(L.ow).i32Mul().get(L.lo1).i32Add().i32Const(2).i32Shl().i32Add().set(L.src);
          c.get(L.xc);
          c.get(L.o).get(L.sh).i32Mul().get(L.w).i32Mul();
          c.get(L.shifts).get(L.ki).i32Const(2).i32Shl().i32Add().i32Load(0).i32Add();
          c.get(L.lo1).get(L.sw).i32Mul().i32Add();
          c.get(L.shifts).get(L.kh).get(L.kj).i32Add().i32Const(2).i32Shl().i32Add().i32Load(0).i32Add();
          c.i32Const(2).i32Shl().i32Add().set(L.dst);
          c.get(L.src).get(L.hi1).get(L.lo1).i32Sub().i32Const(2).i32Shl().i32Add().set(L.end);
          c.get(L.sw).i32Const(1).i32Eq().if();
          {
            // Contiguous: four at a time, then one at a time.
            c.get(L.end).get(L.src).i32Sub().i32Const(-16).i32And().get(L.src).i32Add().set(L.end4);
            c.whileLtU(L.src, L.end4, () => {
              c.get(L.dst).get(L.dst).v128Load(0).get(L.src).v128Load(0).f32x4Add().v128Store(0);
              inc(L.src, 16);
              inc(L.dst, 16);
            });
            c.whileLtU(L.src, L.end, () => {
              c.get(L.dst).get(L.dst).f32Load(0).get(L.src).f32Load(0).f32Add().f32Store(0);
              inc(L.src, 4);
              inc(L.dst, 4);
            });
          }
          c.else();
          c.whileLtU(L.src, L.end, () => {
            c.get(L.dst).get(L.dst).f32Load(0).get(L.src).f32Load(0).f32Add().f32Store(0);
            inc(L.src, 4);
            c.get(L.dst).get(L.sw).i32Const(2).i32Shl().i32Add().set(L.dst);
          });
          c.end();
          inc(L.o, 1);
        });
        c.get(L.r).get(L.oh).get(L.ow).i32Mul().i32Const(2).i32Shl().i32Add().set(L.r);
        inc(L.kj, 1);
      });
      inc(L.ki, 1);
    });
    c.get(L.xc).get(L.plane).i32Const(2).i32Shl().i32Add().set(L.xc);
    inc(L.c, 1);
  });
  return { name: "col2im", params: f.params, results: [], locals: f.locals, body: c };
}

/** The conv kernel module's bytes (emitted from TypeScript, deterministic). */
export function convKernelModule(): Uint8Array {
  return emitModule({ minPages: 1, shared: true, funcs: [col2imFunc()] });
}

/** This thread's instance, over the heap; its scratch holds the range table and the stagings of foreign arrays. */
export const convKernel = new HeapKernel(convKernelModule);
let runs = 0;

/** Runs col2im (byte offsets into the heap and counts, as the header says). */
export function col2imWasmCall(
  cols: number, dx: number, ranges: number, cn: number, plane: number, w: number, kh: number, kw: number,
  oh: number, ow: number, sh: number, sw: number,
): void {
  runs++;
  (convKernel.exports().col2im as (...a: number[]) => void)(cols, dx, ranges, cn, plane, w, kh, kw, oh, ow, sh, sw);
}

/** How many times this thread has run the WASM col2im (lets tests see which backend ran). */
export function convWasmRuns(): number {
  return runs;
}
