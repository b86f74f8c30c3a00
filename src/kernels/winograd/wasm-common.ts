/**
 * What the WASM twins of both Winograd variants share: the shuffle lane helper and the loop over
 * channels, tile rows and groups of four tiles of a row (one tile a lane).
 */
import type { Code } from "../../wasm/emit.js";

/** Byte lanes of an i8x16.shuffle taking float32 lanes `f` (0-3 from the first vector, 4-7 from the second). */
export const f32Lanes = (f: readonly number[]): number[] => f.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);

/**
 * The loops both transforms share: channel ch = 0 .. count-1, tile row ty < th, and four tiles tx, tx + 1,
 * tx + 2, tx + 3 of that row at a time (tx < twr); `body` runs once per group of four.
 */
export function eachTileGroup(c: Code, L: Record<string, number>, ch: number, count: number, body: () => void): void {
  c.i32Const(0).set(ch);
  c.whileLtU(ch, count, () => {
    c.i32Const(0).set(L.ty!);
    c.whileLtU(L.ty!, L.th!, () => {
      c.i32Const(0).set(L.tx!);
      c.whileLtU(L.tx!, L.twr!, () => {
        body();
        c.get(L.tx!).i32Const(4).i32Add().set(L.tx!);
      });
      c.get(L.ty!).i32Const(1).i32Add().set(L.ty!);
    });
    c.get(ch).i32Const(1).i32Add().set(ch);
  });
}

/** A heap kernel's two transform calls, counted (tests see which backend ran). */
let runs = 0;
export function countRun(): void {
  runs++;
}

/** How many times this thread has run a Winograd WASM transform, either variant. */
export function winogradWasmRuns(): number {
  return runs;
}
