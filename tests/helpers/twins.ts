/**
 * One test body for every twin of a kernel family (as larq compute engine
 * tests its reference and optimised kernels): each twin runs the same
 * fast-check cases and must write exactly the reference twin's bits. A
 * family's file under tests/kernels/ calls {@link describeTwins} once with its
 * arbitrary and its twins; threaded twins run on a pool that splits even tiny
 * problems (forced ragged splits), WASM twins where SIMD exists.
 */
import { describe, it } from "vitest";
import fc from "fast-check";
import { wasmSimdAvailable } from "../../src/wasm/backend.js";
import { SKEWED_SPEEDS, useSplittingPool, withSpeeds } from "./pool.js";
import { expectSameBits } from "./arrays.js";

/** A twin: runs one case and returns every array it wrote (whole arrays, so writes outside the range show too). */
export type TwinRun<C> = (c: C) => readonly ArrayLike<number>[];

export interface TwinFamily<C> {
  /** The plain loop that defines the result. */
  reference: TwinRun<C>;
  /** The TypeScript twin. */
  js: TwinRun<C>;
  /** The WebAssembly SIMD twin (skipped where SIMD is missing). */
  wasm?: TwinRun<C>;
  /** The single-thread dispatch (whatever the backend picks). */
  dispatch?: TwinRun<C>;
  /** The threaded twin on `threads` threads (1, 2 and 3 are run). */
  threads?: (c: C, threads: number) => readonly ArrayLike<number>[];
}

/** Runs every twin of `family` on the cases of `arb` against the reference, bit for bit. */
export function describeTwins<C>(family: string, arb: fc.Arbitrary<C>, twins: TwinFamily<C>, numRuns = 100): void {
  const simd = wasmSimdAvailable();
  const check = (name: string, run: TwinRun<C>) => {
    fc.assert(
      fc.property(arb, (c) => {
        const want = twins.reference(c), got = run(c);
        got.forEach((g, i) => expectSameBits(g, want[i]!, `${family} ${name}: output ${i}`));
      }),
      { numRuns, seed: 12 },
    );
  };
  describe(`${family}: every twin writes the reference twin's bits`, () => {
    it("the TypeScript twin", () => check("js", twins.js));
    if (twins.wasm) it.skipIf(!simd)(`the WASM twin${simd ? "" : " (no WebAssembly SIMD here)"}`, () => check("wasm", twins.wasm!));
    if (twins.dispatch) it("the dispatch (the backend's choice)", () => check("dispatch", twins.dispatch!));
    if (twins.threads) {
      describe("the threaded twin, forced to split", () => {
        useSplittingPool(3);
        for (const t of [1, 2, 3]) it(`on ${t} thread${t > 1 ? "s" : ""}`, () => check(`${t} threads`, (c) => twins.threads!(c, t)));
        for (const speeds of SKEWED_SPEEDS.filter((v) => v !== null)) {
          it(`on 2 and 3 threads, cut at thread speeds ${speeds.join(":")}`, () => withSpeeds(speeds, () => {
            for (const t of [2, 3]) check(`${t} threads at speeds ${speeds.join(":")}`, (c) => twins.threads!(c, t));
          }));
        }
      });
    }
  });
}
