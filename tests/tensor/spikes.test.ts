import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Spikes } from "../../src/tensor/spikes.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { popcnt32 } from "../../src/tensor/bits.js";

const arbBits = (maxRows = 4, maxCols = 300) =>
  fc.tuple(fc.integer({ min: 1, max: maxRows }), fc.integer({ min: 0, max: maxCols }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer()).map(([rows, cols, density, seed]) => {
    let x = seed >>> 0;
    const vals = Array.from({ length: rows * cols }, () => {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      return (x / 2 ** 32 < density ? 1 : 0) as number;
    });
    return { rows, cols, vals };
  });

describe("Spikes", () => {
  it("popcnt32 matches a bit loop", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (x) => {
      let n = 0;
      for (let i = 0; i < 32; i++) n += (x >>> i) & 1;
      expect(popcnt32(x)).toBe(n);
    }));
  });

  it("pack/unpack round trip and popcount == sum, for every length 0..300", () => {
    for (let cols = 0; cols <= 300; cols++) {
      const vals: number[] = Array.from({ length: 3 * cols }, (_, i) => ((i * 7919 + cols) % 3 === 0 ? 1 : 0));
      const s = Spikes.fromValues(vals, [3, cols]);
      expect(Array.from(s.toFloat().data)).toEqual(vals);
      expect(s.count()).toBe(vals.reduce((a, b) => a + b, 0));
    }
  });

  it("pad bits stay zero and logic ops equal their float counterparts", () => {
    fc.assert(fc.property(arbBits(), arbBits(), ({ rows, cols, vals }, other) => {
      const a = Spikes.fromValues(vals, [rows, cols]);
      const bv = Array.from({ length: rows * cols }, (_, i) => other.vals[i % Math.max(1, other.vals.length)] ?? 0);
      const b = Spikes.fromValues(bv, [rows, cols]);
      const f = (s: Spikes) => Array.from(s.toFloat().data);
      expect(f(a.and(b))).toEqual(vals.map((v, i) => v & bv[i]!));
      expect(f(a.or(b))).toEqual(vals.map((v, i) => v | bv[i]!));
      expect(f(a.xor(b))).toEqual(vals.map((v, i) => v ^ bv[i]!));
      expect(f(a.andNot(b))).toEqual(vals.map((v, i) => v & (1 - bv[i]!)));
      // constructing from the raw words re-validates the pad bits
      expect(() => new Spikes(a.andNot(b).words, [rows, cols])).not.toThrow();
    }));
  });

  it("bit transpose twice is the identity and equals the float transpose", () => {
    fc.assert(fc.property(arbBits(70, 70), fc.integer({ min: 1, max: 3 }), ({ rows, cols, vals }, batch) => {
      const all = Array.from({ length: batch }, () => vals).flat();
      const s = Spikes.fromValues(all, [batch, rows, cols]);
      const t = s.transposeLast2();
      expect(t.shape).toEqual([batch, cols, rows]);
      expect(Array.from(t.transposeLast2().words)).toEqual(Array.from(s.words));
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expect(t.get(batch - 1, c, r)).toBe(vals[r * cols + c]);
    }));
  });

  it("slices leading axes", () => {
    const vals = Array.from({ length: 2 * 3 * 40 }, (_, i) => (i % 5 === 0 ? 1 : 0));
    const s = Spikes.fromValues(vals, [2, 3, 40]);
    const t = s.slice(1, 1, 3);
    expect(t.shape).toEqual([2, 2, 40]);
    for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) for (let c = 0; c < 40; c++) expect(t.get(a, b, c)).toBe(s.get(a, b + 1, c));
    expect(() => s.slice(2, 0, 1)).toThrow(/Spikes.slice/);
    expect(() => s.slice(0, 1, 3)).toThrow(/out of bounds/);
  });

  it("rejects non-binary floats, bad word counts and pad bits", () => {
    expect(() => Spikes.fromFloat(Tensor.from([0, 1, 0.5], [3]))).toThrow(/element 2 is 0.5/);
    expect(() => new Spikes(new Uint32Array(3), [2, 33])).toThrow(/got 3 words/);
    expect(() => new Spikes(new Uint32Array([0xffffffff]), [1, 31])).toThrow(/pad bits/);
  });
});
