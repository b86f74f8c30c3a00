/**
 * A minimal PNG writer (no dependency: node:zlib deflates the pixel rows):
 * signature, IHDR, one IDAT, IEND, each chunk with its CRC-32. 8-bit gray,
 * RGB or RGBA, filter 0 on every row, no interlace. Plus the MAE
 * reconstruction grid (original | masked | reconstruction per image).
 */
import { writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";
import { fail, fmtShape } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { concatBytes } from "./bytes.js";

const SIGNATURE = Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309, as PNG uses it) of bytes. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

const COLOR_TYPE: Record<number, number> = { 1: 0, 3: 2, 4: 6 };

/**
 * Encodes 8-bit pixels (row-major, interleaved channels: 1 gray, 3 RGB, 4 RGBA)
 * of a width x height image as PNG bytes.
 */
export function encodePng(width: number, height: number, channels: 1 | 3 | 4, pixels: Uint8Array): Uint8Array {
  const op = "encodePng";
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) fail(op, `width and height must be positive integers, got ${width}x${height}`);
  if (COLOR_TYPE[channels] === undefined) fail(op, `channels must be 1, 3 or 4, got ${channels}`);
  if (pixels.length !== width * height * channels) fail(op, `${pixels.length} bytes for a ${width}x${height}x${channels} image (expected ${width * height * channels})`);
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = COLOR_TYPE[channels]!;
  // compression 0, filter 0, interlace 0
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  return concatBytes([SIGNATURE, chunk("IHDR", ihdr), chunk("IDAT", new Uint8Array(deflateSync(raw))), chunk("IEND", new Uint8Array(0))]);
}

/** Writes {@link encodePng} output to a file. */
export function writePng(path: string, width: number, height: number, channels: 1 | 3 | 4, pixels: Uint8Array): void {
  writeFileSync(path, encodePng(width, height, channels, pixels));
}

/** Options of {@link reconstructionGrid}. */
export interface GridOptions {
  /** Per-channel mean and std the images were normalised with (to show real intensities); default 0 and 1. */
  mean?: readonly number[];
  std?: readonly number[];
  /** Gap between tiles in pixels (default 2), white. */
  gap?: number;
  /** Upscaling factor of every pixel (default 4 for images up to 32 pixels, else 1). */
  scale?: number;
}

/**
 * PNG bytes of one row per image: the original, the original with masked
 * pixels gray, and the reconstruction (all [B, C, H, W] normalised images;
 * `pixelMask` has B*H*W entries, 1 = visible). C must be 1 or 3.
 */
export function reconstructionGrid(original: Tensor, reconstruction: Tensor, pixelMask: Uint8Array, opts: GridOptions = {}): Uint8Array {
  const op = "reconstructionGrid";
  const [B, C, H, W] = original.shape as [number, number, number, number];
  if (original.rank !== 4 || (C !== 1 && C !== 3)) fail(op, `original must be [B, 1 or 3, H, W], got ${fmtShape(original.shape)}`);
  if (reconstruction.shape.length !== 4 || reconstruction.shape.some((d, i) => d !== original.shape[i])) {
    fail(op, `reconstruction ${fmtShape(reconstruction.shape)} must match original ${fmtShape(original.shape)}`);
  }
  if (pixelMask.length !== B * H * W) fail(op, `pixelMask has ${pixelMask.length} entries, expected B*H*W = ${B * H * W}`);
  const mean = opts.mean ?? Array(C).fill(0);
  const std = opts.std ?? Array(C).fill(1);
  const gap = opts.gap ?? 2;
  const s = opts.scale ?? (Math.max(H, W) <= 32 ? 4 : 1);
  const tileW = W * s;
  const tileH = H * s;
  const width = 3 * tileW + 4 * gap;
  const height = B * tileH + (B + 1) * gap;
  const px = new Uint8Array(width * height * C).fill(255); // white gaps; masked pixels are mid gray
  const toByte = (v: number, c: number): number => Math.max(0, Math.min(255, Math.round((v * std[c]! + mean[c]!) * 255)));
  for (let b = 0; b < B; b++) {
    for (let col = 0; col < 3; col++) {
      const x0 = gap + col * (tileW + gap);
      const y0 = gap + b * (tileH + gap);
      for (let y = 0; y < tileH; y++) {
        for (let x = 0; x < tileW; x++) {
          const iy = Math.floor(y / s);
          const ix = Math.floor(x / s);
          const visible = pixelMask[(b * H + iy) * W + ix] !== 0;
          for (let c = 0; c < C; c++) {
            const idx = ((b * C + c) * H + iy) * W + ix;
            let byte: number;
            if (col === 0) byte = toByte(original.data[idx]!, c);
            else if (col === 1) byte = visible ? toByte(original.data[idx]!, c) : 128;
            else byte = toByte(reconstruction.data[idx]!, c);
            px[((y0 + y) * width + x0 + x) * C + c] = byte;
          }
        }
      }
    }
  }
  return encodePng(width, height, C as 1 | 3, px);
}
