/**
 * A chart as a list of drawing shapes (rectangles, polylines, text), written
 * out two ways from the same list: an SVG string for the HTML report and the
 * page, and RGBA pixels for the PNG files (a small rasteriser: filled
 * rectangles, thick lines, the 5x7 bitmap font). No DOM, no dependency: runs
 * in Node and in a browser alike.
 */
import { fail } from "../tensor/errors.js";
import { GLYPH_H, GLYPH_W, glyph } from "./font.js";

/** A colour as #rrggbb. */
export type Colour = string;

export type Shape =
  /** `mark`: the shape shows data (a bar, a cell, a spike, a curve), not an axis, grid line or legend. */
  | { kind: "rect"; x: number; y: number; w: number; h: number; fill: Colour; title?: string; mark?: boolean }
  /** A polyline through points [x0, y0, x1, y1, ...]. */
  | { kind: "line"; points: readonly number[]; stroke: Colour; width: number; mark?: boolean }
  /** Text whose baseline starts at (x, y), centred on it, or ending at it. */
  | { kind: "text"; x: number; y: number; text: string; size: number; fill: Colour; anchor: "start" | "middle" | "end" };

/** A chart: its size in CSS pixels, a title for file names and headings, and what to draw. */
export interface Scene {
  name: string;
  width: number;
  height: number;
  shapes: Shape[];
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
const n = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(2));

/** The scene as an SVG element (inline in HTML, or a file of its own). */
export function toSvg(scene: Scene): string {
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${scene.width}" height="${scene.height}" viewBox="0 0 ${scene.width} ${scene.height}" data-chart="${esc(scene.name)}" font-family="sans-serif">`];
  out.push(`<rect x="0" y="0" width="${scene.width}" height="${scene.height}" fill="#ffffff"/>`);
  for (const s of scene.shapes) {
    if (s.kind === "rect") {
      const t = s.title ? `<title>${esc(s.title)}</title>` : "";
      out.push(`<rect x="${n(s.x)}" y="${n(s.y)}" width="${n(s.w)}" height="${n(s.h)}" fill="${s.fill}"${s.mark ? ' class="mark"' : ""}${t ? `>${t}</rect>` : "/>"}`);
    } else if (s.kind === "line") {
      const pts: string[] = [];
      for (let i = 0; i + 1 < s.points.length; i += 2) pts.push(`${n(s.points[i]!)},${n(s.points[i + 1]!)}`);
      out.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${s.stroke}" stroke-width="${n(s.width)}" stroke-linejoin="round"${s.mark ? ' class="mark"' : ""}/>`);
    } else {
      out.push(`<text x="${n(s.x)}" y="${n(s.y)}" font-size="${n(s.size)}" fill="${s.fill}" text-anchor="${s.anchor}">${esc(s.text)}</text>`);
    }
  }
  out.push("</svg>");
  return out.join("");
}

/** RGBA pixels of a rasterised scene. */
export interface Raster {
  width: number;
  height: number;
  /** width * height * 4 bytes, row-major. */
  pixels: Uint8Array;
}

function rgb(c: Colour): [number, number, number] {
  const m = /^#([0-9a-fA-F]{6})$/.exec(c);
  if (!m) fail("rasterize", `colour must be #rrggbb, got '${c}'`);
  const v = parseInt(m[1]!, 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/**
 * Draws the scene into pixels at `scale` device pixels per CSS pixel (2 by
 * default: sharp enough for a paper). Rectangles cover the pixels whose
 * centres they contain; lines are squares stamped along each segment; text is
 * the bitmap font at an integer zoom near its size.
 */
export function rasterize(scene: Scene, scale = 2): Raster {
  const W = Math.max(1, Math.round(scene.width * scale));
  const H = Math.max(1, Math.round(scene.height * scale));
  const px = new Uint8Array(W * H * 4).fill(255);
  const put = (x: number, y: number, c: [number, number, number]): void => {
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    const o = (y * W + x) * 4;
    px[o] = c[0];
    px[o + 1] = c[1];
    px[o + 2] = c[2];
    px[o + 3] = 255;
  };
  const fillRect = (x0: number, y0: number, x1: number, y1: number, c: [number, number, number]): void => {
    const xa = Math.max(0, Math.round(x0)), xb = Math.min(W, Math.round(x1));
    const ya = Math.max(0, Math.round(y0)), yb = Math.min(H, Math.round(y1));
    for (let y = ya; y < yb; y++) for (let x = xa; x < xb; x++) put(x, y, c);
  };
  for (const s of scene.shapes) {
    if (s.kind === "rect") {
      // At least one device pixel, so a thin bar or a raster dot never vanishes.
      const w = Math.max(s.w * scale, 1), h = Math.max(s.h * scale, 1);
      fillRect(s.x * scale, s.y * scale, s.x * scale + w, s.y * scale + h, rgb(s.fill));
    } else if (s.kind === "line") {
      const c = rgb(s.stroke);
      const r = Math.max(0.5, (s.width * scale) / 2);
      for (let i = 0; i + 3 < s.points.length; i += 2) {
        const x0 = s.points[i]! * scale, y0 = s.points[i + 1]! * scale, x1 = s.points[i + 2]! * scale, y1 = s.points[i + 3]! * scale;
        const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0)));
        for (let k = 0; k <= steps; k++) {
          const x = x0 + ((x1 - x0) * k) / steps, y = y0 + ((y1 - y0) * k) / steps;
          fillRect(x - r, y - r, x + r, y + r, c);
        }
      }
      if (s.points.length === 2) fillRect(s.points[0]! * scale - r, s.points[1]! * scale - r, s.points[0]! * scale + r, s.points[1]! * scale + r, c);
    } else {
      const c = rgb(s.fill);
      const zoom = Math.max(1, Math.round((s.size * scale) / 10));
      const adv = (GLYPH_W + 1) * zoom;
      const width = s.text.length * adv - zoom;
      let x = Math.round(s.x * scale - (s.anchor === "middle" ? width / 2 : s.anchor === "end" ? width : 0));
      const top = Math.round(s.y * scale) - GLYPH_H * zoom;
      for (const ch of s.text) {
        const g = glyph(ch);
        for (let gy = 0; gy < GLYPH_H; gy++) {
          for (let gx = 0; gx < GLYPH_W; gx++) {
            if ((g[gy]! >> (GLYPH_W - 1 - gx)) & 1) fillRect(x + gx * zoom, top + gy * zoom, x + (gx + 1) * zoom, top + (gy + 1) * zoom, c);
          }
        }
        x += adv;
      }
    }
  }
  return { width: W, height: H, pixels: px };
}
