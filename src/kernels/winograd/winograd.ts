/**
 * The input gradient of a 3x3, stride-1, pad-1 convolution by Winograd's
 * minimal filtering F(4x4, 3x3) (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016): 36 multiplications per 4x4 output
 * tile instead of 144, so the dense work of the backward (gx = the
 * correlation of the padded gy with the flipped, channel-swapped kernel) falls
 * 4x (F(2x2, 3x3), used before, saved 2.25x). The price is a few additions per
 * tile in transforms before and after 36 gemms, and rounding: the transforms
 * weigh values by up to 8 (A^T) and 5 (B^T), so the error bound grows with
 * those weights (tests/kernels/winograd.test.ts derives it).
 *
 *   dX[c][y][x] = sum_o sum_{a,b} F[c][o][a][b] gyPad[o][y + a][x + b],
 *   F[c][o][a][b] = W[o][c][2 - a][2 - b],  gyPad[o][r][s] = gy[o][r - 1][s - 1] (0 outside)
 *
 * For output tile (ty, tx) (rows 4 ty .. 4 ty + 3, columns likewise) and
 * d = gyPad[o][4 ty .. 4 ty + 5][4 tx .. 4 tx + 5]:
 *   U = G F G^T (per c, o), V = B^T d B (per o, tile), M = sum_o U V (36 gemms,
 *   one per element e = 6 xi + nu of the 6x6 transforms), tile = A^T M A,
 * the matrices and the transforms in ./transforms.ts.
 *
 * Float32 only (the caller checks), every operation a float32 operation in the
 * order of ./transforms.ts; the gemms are gemm's float32 family (each M
 * element a float32 sum over o in order). The WASM twins of the three
 * transforms (./wasm.ts) run the same code lane by lane, so both backends give
 * the same bits. Tiles are columns of V and M in row-major order, one image's
 * rounded up to a multiple of 4 by tiles continuing its last tile row (see
 * {@link tileAt}): a lane group of four may span tile rows, so a small image
 * (7x7, 8x8: 2x2 tiles) wastes no gemm columns on padding; tiles reaching past
 * the image are computed on zeros and cropped.
 */
import type { FloatArray } from "../../tensor/tensor.js";
import { heapF32, heapU32, inHeap, Scratch } from "../../tensor/heap.js";
import { unitRange, type UnitRanges } from "../../parallel/claims.js";
import { wasmKernelsEnabled } from "../../wasm/backend.js";
import { gemm } from "../gemm/gemm.js";
import { copyStrided } from "../copy/copy.js";
import type { ConvDims } from "../conv/ranges.js";
import { ALPHA, arrayStage, f32, TILE, transformInput, transformKernel, transformOutput } from "./transforms.js";
import { WINOGRAD_STAGE, winogradInputWasmCall, winogradOutputWasmCall, winogradWeightsWasmCall } from "./wasm.js";

/** Transformed matrices: one gemm each. */
const MATS = ALPHA * ALPHA;

/**
 * True when the input gradient of this convolution takes the Winograd path:
 * float32 data, groups 1, a 3x3 kernel with stride 1, padding 1 and
 * dilation 1 (output size = input size), enough channels for the gemms to pay
 * for the transforms (both at least 16: measured for F(2x2, 3x3), and kept;
 * F(4x4, 3x3) beats the direct path on the bench's 8- and 16-channel shapes
 * too, bench/winograd.bench.ts), and an image big enough to matter (c o h w >= 2^16, about a millisecond a batch
 * below that): tiny convolutions keep the direct path, whose rounding is the
 * plain sum's. A function of the shape only, so the choice (and the bits)
 * never depend on the thread count.
 */
export function winogradFits(d: ConvDims, f32data: boolean): boolean {
  const { g } = d;
  return f32data && d.groups === 1 && g.kh === 3 && g.kw === 3 && g.sh === 1 && g.sw === 1 && g.ph === 1 && g.pw === 1 &&
    g.dh === 1 && g.dw === 1 && g.oh === g.h && g.ow === g.w && d.cIn >= 16 && d.o >= 16 && d.cIn * d.o * g.h * g.w >= 65536;
}

/** Tile counts of one image: th tile rows of tw tiles, tp = th tw rounded up to 4 (the image's columns in V and M). */
export interface WinogradTiles {
  th: number;
  tw: number;
  tp: number;
}

/** The tile counts of an h x w image (4x4 tiles, the last row and column of tiles reaching past it where h, w are not multiples of 4). */
export function winogradTiles(h: number, w: number): WinogradTiles {
  const th = Math.ceil(h / TILE), tw = Math.ceil(w / TILE);
  return { th, tw, tp: Math.ceil((th * tw) / 4) * 4 };
}

/**
 * The tile (ty, tx) of column k of an image: row-major, the columns past
 * th tw continuing the last tile row (tx >= tw, up to tw + 2: all cropped).
 */
export function tileAt(t: WinogradTiles, k: number): [number, number] {
  const ty = Math.min(Math.floor(k / t.tw), t.th - 1);
  return [ty, k - ty * t.tw];
}

/**
 * U[e][ci][oi] (matrices [c, o], e = 6 xi + nu, matrix e at value e ms) = (G F G^T)[xi][nu] of the flipped
 * kernel F = W[oi][ci] rotated by 180 degrees (transformKernel), plain TypeScript; w [o, c, 3, 3] from wOff.
 */
export function winogradWeightsJs(w: FloatArray, wOff: number, o: number, c: number, u: FloatArray, ms: number): void {
  const kernel = new Array<number>(9);
  for (let ci = 0; ci < c; ci++) {
    for (let oi = 0; oi < o; oi++) {
      const k = wOff + (oi * c + ci) * 9;
      for (let j = 0; j < 9; j++) kernel[j] = w[k + j]!;
      transformKernel(f32, kernel, (e, x) => (u[e * ms + ci * o + oi] = x));
    }
  }
}

/**
 * The input transform, plain TypeScript: V[e][oi][col0 + k] for one image's
 * gradient gy [o, h, w] at gyOff and every column k < tp (V's rows of n
 * values, matrix e at value e ms).
 */
export function winogradInputJs(
  gy: FloatArray, gyOff: number, o: number, h: number, w: number, t: WinogradTiles, v: FloatArray, n: number, ms: number, col0: number,
): void {
  const stage = arrayStage<number>(), d = new Array<number>(ALPHA);
  for (let oi = 0; oi < o; oi++) {
    for (let k = 0; k < t.tp; k++) {
      const [ty, tx] = tileAt(t, k);
      // Row r of the tile: gy[y][x] at y = 4 ty + r - 1, x = 4 tx + s - 1 (the padding's zeros outside).
      const row = (r: number): number[] => {
        const y = TILE * ty + r - 1;
        for (let s = 0; s < ALPHA; s++) {
          const x = TILE * tx + s - 1;
          d[s] = y >= 0 && y < h && x >= 0 && x < w ? gy[gyOff + (oi * h + y) * w + x]! : 0;
        }
        return d;
      };
      transformInput(f32, row, stage, (e, x) => (v[e * ms + oi * n + col0 + k] = x));
    }
  }
}

/**
 * The output transform, plain TypeScript: the 4x4 tile A^T M A of every tile
 * of one image, from M[e][ci][col0 + k] (rows of n values, matrix e at value
 * e ms), into gx [c, h, w] at gxOff, cropped to h, w.
 */
export function winogradOutputJs(
  m: FloatArray, c: number, n: number, ms: number, col0: number, t: WinogradTiles, h: number, w: number, gx: FloatArray, gxOff: number,
): void {
  const stage = arrayStage<number>();
  for (let ci = 0; ci < c; ci++) {
    for (let k = 0; k < t.th * t.tw; k++) {
      const [ty, tx] = tileAt(t, k);
      transformOutput(f32, (e) => m[e * ms + ci * n + col0 + k]!, stage, (i, j, x) => {
        const y = TILE * ty + i, xx = TILE * tx + j;
        if (y < h && xx < w) gx[gxOff + (ci * h + y) * w + xx] = x;
      });
    }
  }
}

// Per-thread working memory in the heap (the gemms and the WASM transforms use it in place).
const scratch = new Scratch();

/**
 * Columns of one gemm: whole images of tiles, at least about 128. Thinner gemms run below the kernel's rate;
 * wider ones make V and M (36 (o + c) values a column) outgrow the caches between the transforms and the
 * gemms: 128 columns took 0.65-1.1x the time of 256 on the bench's stem and RPE shapes (three alternating
 * runs; 1.0-1.1x only on MNIST's second stem conv), at half the scratch.
 */
function imagesPerChunk(t: WinogradTiles, images: number): number {
  return Math.max(1, Math.min(images, Math.ceil(128 / t.tp)));
}

/** The images one gemm of {@link winogradDataRange} takes at most for d's plane: fewer in a range run slower. */
export function winogradImagesPerGemm(d: ConvDims): number {
  return imagesPerChunk(winogradTiles(d.g.h, d.g.w), d.n);
}

/** Float32 views of consecutive scratch regions of the given lengths, each starting on a 64-byte line. */
function scratchViews(sizes: readonly number[]): Float32Array[] {
  const padded = sizes.map((s) => Math.ceil(s / 16) * 16);
  let at = scratch.take(padded.reduce((a, b) => a + b, 0) * 4) / 4;
  return padded.map((s, i) => {
    const view = heapF32().subarray(at, at + sizes[i]!);
    at += s;
    return view;
  });
}

/** Byte offsets within a plane of row stride `stride` of each column's tile corner (the WASM twins' lane addresses). */
function tileOffsets(t: WinogradTiles, stride: number, out: Uint32Array): void {
  for (let k = 0; k < t.tp; k++) {
    const [ty, tx] = tileAt(t, k);
    out[k] = (TILE * ty * stride + TILE * tx) * 4;
  }
}

/**
 * The input gradient of images i0..i1-1, or of the ranges `images` hands out
 * (a thread's claims; the weights transformed once for all of them), see the
 * file comment (winogradFits must hold): gx [N, cIn, h, w] from gy [N, o, h, w]
 * and w [o, cIn, 3, 3], at their offsets. Every gx element of those images is
 * written. The transforms run as WASM twins where the kernel backend enables
 * them and the arrays are in the heap, else in TypeScript: the same bits (each
 * image's columns are summed alike whatever the images beside them).
 */
export function winogradDataRange(
  d: ConvDims, gy: FloatArray, gyOff: number, w: FloatArray, wOff: number, gx: FloatArray, gxOff: number, i0: number, i1: number,
  tick: () => void, images: UnitRanges = unitRange(i0, i1),
): void {
  let run: ((r0: number, r1: number) => void) | null = null;
  images((r0, r1) => {
    run ??= winogradDataSetup(d, gy, gyOff, w, wOff, gx, gxOff, tick);
    run(r0, r1);
  });
}

/**
 * A thread's set-up of {@link winogradDataRange} (scratch, the transformed weights, lane tables) for
 * gemms of a whole gemm's images, whatever range the thread gets: a static split's ranges move with the
 * threads' speeds (src/parallel/speeds.ts), and scratch sized by them regrew (CIFAR b8 step: asked 25 MB,
 * then 29, taken as 51 by the grow-only region on the calling thread). Returns the loop over one range.
 */
function winogradDataSetup(
  d: ConvDims, gy: FloatArray, gyOff: number, w: FloatArray, wOff: number, gx: FloatArray, gxOff: number, tick: () => void,
): (i0: number, i1: number) => void {
  const { cIn: c, o, g } = d;
  const { h, w: wd } = g;
  const t = winogradTiles(h, wd);
  const nc = imagesPerChunk(t, d.n); // winogradImagesPerGemm(d), from the tiles at hand
  const nMax = nc * t.tp;
  const wasm = wasmKernelsEnabled() && inHeap(gy) && inHeap(gx);
  // Whole tiles and no lanes past them (32x32, 16x16, 8x8 planes): the output transform writes gx in place, else
  // into a plane of uncropped tiles copied out cropped (the copies' self time of a one-thread CIFAR b8 step:
  // 29.8 -> 25.8 ms).
  const inPlace = wasm && h % TILE === 0 && wd % TILE === 0 && t.th * t.tw === t.tp;
  // The WASM twins' planes: the padded gradient (a zero border; rows and columns enough for the tiles past the
  // image, whose lanes read 8 columns from their corner) and the uncropped output tiles.
  const hp = TILE * t.th + 2, wp = TILE * t.tw + 16, hq = TILE * t.th, wq = inPlace ? wd : TILE * t.tw + 12;
  // Scratch (floats): U [36 c o], V [36 o n], M [36 c n], the padded gradient planes, the output tiles of one
  // image, the two lane-address tables and the WASM tile transforms' stage. Matrix strides of U, V and M padded
  // by 16 values: a multiple of 4 KiB would put the 36 stores (or loads) of one lane group in one L1 set (and
  // the WASM kernel transform writes up to 3 values past a matrix).
  const msU = c * o + 16, msV = o * nMax + 16, msM = c * nMax + 16;
  const [u, v, m, pad, out, offs, stage] = scratchViews([
    MATS * msU, MATS * msV, MATS * msM, wasm ? o * hp * wp : 0, wasm && !inPlace ? c * hq * wq : 0, wasm ? 2 * t.tp : 0, wasm ? WINOGRAD_STAGE : 0,
  ]) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  if (wasmKernelsEnabled() && inHeap(w)) winogradWeightsWasmCall(w.byteOffset + 4 * wOff, o, c, u.byteOffset, msU);
  else winogradWeightsJs(w, wOff, o, c, u, msU);
  const inOffs = offs.byteOffset, outOffs = inOffs + 4 * t.tp;
  if (wasm) {
    pad.fill(0); // the border; the copies below write only the interior
    tileOffsets(t, wp, heapU32().subarray(inOffs / 4, inOffs / 4 + t.tp));
    tileOffsets(t, wq, heapU32().subarray(outOffs / 4, outOffs / 4 + t.tp));
  }
  const plane = h * wd;
  return (i0, i1) => {
    for (let i = i0; i < i1; i += nc) {
      const k = Math.min(nc, i1 - i);
      const n = k * t.tp; // this chunk's columns (the row stride of V and M)
      for (let j = 0; j < k; j++) {
        const col0 = j * t.tp;
        const src = gyOff + (i + j) * o * plane;
        if (wasm) {
          copyStrided(gy, src, [plane, wd, 1], pad, wp + 1, [hp * wp, wp, 1], [o, h, wd]);
          winogradInputWasmCall(pad.byteOffset, o, hp * wp, wp, inOffs, t.tp, v.byteOffset, n, msV, col0, stage.byteOffset);
        } else {
          winogradInputJs(gy, src, o, h, wd, t, v, n, msV, col0);
        }
      }
      for (let e = 0; e < MATS; e++) gemm(u, e * msU, false, v, e * msV, false, m, e * msM, c, n, o, false);
      for (let j = 0; j < k; j++) {
        const col0 = j * t.tp;
        const dst = gxOff + (i + j) * c * plane;
        if (wasm) {
          if (inPlace) {
            winogradOutputWasmCall(m.byteOffset, c, n, msM, col0, outOffs, t.tp, gx.byteOffset + 4 * dst, plane, wd, stage.byteOffset);
          } else {
            winogradOutputWasmCall(m.byteOffset, c, n, msM, col0, outOffs, t.tp, out.byteOffset, hq * wq, wq, stage.byteOffset);
            copyStrided(out, 0, [hq * wq, wq, 1], gx, dst, [plane, wd, 1], [c, h, wd]);
          }
        } else {
          winogradOutputJs(m, c, n, msM, col0, t, h, wd, gx, dst);
        }
        tick();
      }
    }
  };
}
