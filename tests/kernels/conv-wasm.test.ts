import { placed } from "../helpers/placed.js";
import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import { col2im, col2imJs, col2imWasm } from "../../src/kernels/conv/conv.js";
import { Rng } from "../../src/tensor/random.js";
import { setKernelBackend, wasmSimdAvailable } from "../../src/wasm/backend.js";
import { convKernelModule, convWasmRuns } from "../../src/kernels/conv/wasm.js";
import { wasmApi } from "../../src/wasm/runtime.js";
import { expectSameBits } from "../helpers/arrays.js";
import { heapStats } from "../../src/tensor/heap.js";

const simd = wasmSimdAvailable();

afterEach(() => {
  setKernelBackend("auto");
});

describe.skipIf(!simd)(`WASM SIMD col2im${simd ? "" : " (skipped: WebAssembly SIMD is unavailable in this runtime)"}`, () => {
  it("the module validates", () => {
    expect(wasmApi()!.validate(convKernelModule())).toBe(true);
  });

  it("equals the JS twin bit for bit: kernels, strides, padding, dilation, channel ranges, offsets, accumulating into dx, heap and foreign arrays", () => {
    fc.assert(fc.property(
      fc.record({
        c: fc.integer({ min: 1, max: 5 }), h: fc.integer({ min: 1, max: 12 }), w: fc.integer({ min: 1, max: 23 }),
        kh: fc.integer({ min: 1, max: 4 }), kw: fc.integer({ min: 1, max: 4 }), sh: fc.integer({ min: 1, max: 3 }), sw: fc.integer({ min: 1, max: 3 }),
        ph: fc.integer({ min: 0, max: 2 }), pw: fc.integer({ min: 0, max: 2 }), dh: fc.integer({ min: 1, max: 2 }), dw: fc.integer({ min: 1, max: 2 }),
        c0: fc.nat(), colsOff: fc.nat({ max: 5 }), xOff: fc.nat({ max: 5 }), seed: fc.integer(),
        colsInHeap: fc.boolean(), dxInHeap: fc.boolean(),
      }),
      (o) => {
        const oh = Math.floor((o.h + 2 * o.ph - o.dh * (o.kh - 1) - 1) / o.sh) + 1;
        const ow = Math.floor((o.w + 2 * o.pw - o.dw * (o.kw - 1) - 1) / o.sw) + 1;
        if (oh < 1 || ow < 1) return;
        const g = { h: o.h, w: o.w, kh: o.kh, kw: o.kw, sh: o.sh, sw: o.sw, ph: o.ph, pw: o.pw, dh: o.dh, dw: o.dw, oh, ow };
        const c0 = o.c0 % o.c, cn = o.c - c0;
        const rng = new Rng(o.seed);
        const cols = new Float32Array(o.colsOff + cn * o.kh * o.kw * oh * ow).map(() => (rng.uniform() - 0.5) * 2 ** (rng.int(16) - 8));
        const dx0 = new Float32Array(o.xOff + o.c * o.h * o.w + 3).map(() => rng.uniform() - 0.5); // nonzero: col2im adds onto dx
        const js = dx0.slice(), wasm = placed(dx0, o.dxInHeap);
        col2imJs(cols, o.colsOff, c0, cn, g, js, o.xOff);
        col2imWasm(placed(cols, o.colsInHeap), o.colsOff, c0, cn, g, wasm, o.xOff);
        expectSameBits(wasm, js, "dx"); // also: the channels before c0 and the slack after are untouched
      },
    ), { numRuns: 300 });
  });

  it("on heap arrays it runs in place: no staged bytes; foreign arrays are staged and counted", () => {
    const g = { h: 9, w: 11, kh: 3, kw: 2, sh: 2, sw: 1, ph: 1, pw: 0, dh: 1, dw: 1, oh: 5, ow: 10 };
    const cols = new Float32Array(3 * 6 * 50).map((_, i) => i % 5), dx = new Float32Array(4 * 99);
    const staged = (heap: boolean): number => {
      const before = heapStats().stagedBytes;
      col2imWasm(placed(cols, heap), 0, 1, 3, g, placed(dx, heap), 0);
      return heapStats().stagedBytes - before;
    };
    expect(staged(true)).toBe(0);
    expect(staged(false)).toBe((cols.length + 2 * 3 * 99) * 4); // cols in, the touched channels of dx in and out
  });

  it("col2im takes the WASM twin for float32 data that is not tiny, following the backend", () => {
    const g = { h: 8, w: 8, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, oh: 8, ow: 8 };
    const cols = new Float32Array(4 * 9 * 64).fill(0.5);
    const runs = (backend: "js" | "wasm", dx: Float32Array | Float64Array): number => {
      setKernelBackend(backend);
      const before = convWasmRuns();
      col2im(cols, 0, 0, 4, g, dx, 0);
      return convWasmRuns() - before;
    };
    expect(runs("wasm", new Float32Array(256))).toBe(1);
    expect(runs("js", new Float32Array(256))).toBe(0);
    expect(runs("wasm", new Float64Array(256))).toBe(0);
  });
});
