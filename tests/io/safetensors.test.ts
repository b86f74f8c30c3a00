import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BitspikeError } from "../../src/tensor/errors.js";
import { halfToFloat, parseSafetensors, serializeSafetensors, type SafeData, type SafeInput } from "../../src/io/safetensors.js";
import { readSafetensorsFile, writeSafetensorsFile } from "../../src/io/safetensors-file.js";

const enc = new TextEncoder();

/** Builds a file by hand: length field, header text (unpadded), data bytes. */
function build(headerText: string, data: readonly number[] | Uint8Array = []): Uint8Array {
  const h = enc.encode(headerText);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function headerOf(bytes: Uint8Array): { json: Record<string, unknown>; dataStart: number } {
  const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  return { json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), dataStart: 8 + n };
}

function rebuild(json: unknown, bytes: Uint8Array, dataStart: number): Uint8Array {
  return build(JSON.stringify(json), bytes.subarray(dataStart));
}

function expectBitspikeError(f: () => unknown, pattern?: RegExp): void {
  let err: unknown = null;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(BitspikeError);
  if (pattern) expect((err as Error).message).toMatch(pattern);
}

const arbShape = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 3 });
const arbShapePos = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 3 });
const arbName = fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom("block.0.attn.q_linear.weight", "__proto__", "é", "a b"))
  .filter((s) => s !== "__metadata__");

function arbEntry(shapeArb: fc.Arbitrary<number[]>): fc.Arbitrary<SafeInput & { dtype: string }> {
  return fc.tuple(fc.constantFrom("F32", "F64", "I64", "U8", "I32"), shapeArb, fc.integer()).map(([dtype, shape, seed]) => {
    const n = shape.reduce((p, s) => p * s, 1);
    let x = seed >>> 0;
    const next = (): number => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
    let data: SafeData;
    if (dtype === "F32") data = Float32Array.from({ length: n }, () => (next() / 2 ** 32 - 0.5) * 1e3);
    else if (dtype === "F64") data = Float64Array.from({ length: n }, () => (next() / 2 ** 32 - 0.5) * 1e-3 + next());
    else if (dtype === "I64") data = BigInt64Array.from({ length: n }, () => (BigInt(next()) << 32n | BigInt(next())) - (1n << 63n));
    else if (dtype === "U8") data = Uint8Array.from({ length: n }, () => next() & 255);
    else data = Int32Array.from({ length: n }, () => next() | 0);
    return { dtype, shape, data };
  });
}

const arbEntries = (shapeArb: fc.Arbitrary<number[]>, minLength = 0) =>
  fc.uniqueArray(fc.tuple(arbName, arbEntry(shapeArb)), { minLength, maxLength: 6, selector: ([k]) => k }).map((l) => new Map(l));
const arbMeta = fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 })), { nil: undefined });

describe("safetensors round trip", () => {
  it("random entries of every writable dtype come back identical, header 8-aligned, keys sorted", () => {
    fc.assert(
      fc.property(arbEntries(arbShape), arbMeta, (entries, meta) => {
        const bytes = serializeSafetensors(entries, meta);
        const { json, dataStart } = headerOf(bytes);
        expect(dataStart % 8).toBe(0);
        // Data is laid out in UTF-8 key order, contiguously.
        const sortedKeys = Object.keys(json).filter((k) => k !== "__metadata__").sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        let pos = 0;
        for (const k of sortedKeys) {
          const [b, e] = (json[k] as { data_offsets: [number, number] }).data_offsets;
          expect(b).toBe(pos);
          pos = e;
        }
        const back = parseSafetensors(bytes);
        expect(back.metadata).toEqual(meta ?? {});
        expect([...back.tensors.keys()].sort()).toEqual([...entries.keys()].sort());
        for (const [k, e] of entries) {
          const r = back.tensors.get(k)!;
          expect(r.dtype).toBe(e.dtype);
          expect(r.shape).toEqual(e.shape);
          expect(r.data.constructor).toBe(e.data.constructor);
          expect(Array.from(r.data as ArrayLike<number>)).toEqual(Array.from(e.data as ArrayLike<number>));
        }
      }),
      { numRuns: 150 },
    );
  });

  it("accepts Tensor-style dtype names and infers a missing dtype", () => {
    const bytes = serializeSafetensors({
      a: { dtype: "float32", shape: [2], data: new Float32Array([1, 2]) },
      b: { shape: [], data: new BigInt64Array([7n]) },
    });
    const f = parseSafetensors(bytes);
    expect(f.tensors.get("a")!.dtype).toBe("F32");
    expect(f.tensors.get("b")).toEqual({ dtype: "I64", shape: [], data: new BigInt64Array([7n]) });
  });

  it("refuses bad inputs to the writer", () => {
    expectBitspikeError(() => serializeSafetensors({ a: { dtype: "F16", shape: [1], data: new Float32Array(1) } }), /serializeSafetensors.*"a".*F16/);
    expectBitspikeError(() => serializeSafetensors({ a: { dtype: "F64", shape: [1], data: new Float32Array(1) } }), /F64 does not match its Float32Array/);
    expectBitspikeError(() => serializeSafetensors({ a: { shape: [2, 2], data: new Float32Array(3) } }), /needs 4 elements but data has 3/);
    expectBitspikeError(() => serializeSafetensors({ a: { shape: [-1], data: new Float32Array(0) } }), /non-negative/);
    expectBitspikeError(() => serializeSafetensors({ a: { shape: [1], data: [1] as unknown as Float32Array } }), /data must be/);
    expectBitspikeError(() => serializeSafetensors(new Map([["__metadata__", { shape: [0], data: new Uint8Array(0) }]])), /reserved/);
    expectBitspikeError(() => serializeSafetensors({}, { a: 1 as unknown as string }), /metadata\["a"\] must be a string/);
  });
});

describe("safetensors reading", () => {
  it("golden: a file built by hand per the spec", () => {
    // b: F32 [2] = [1.5, -2]; a: I64 [] = 5; metadata format=pt. Offsets deliberately not in key order.
    const data = [
      0x05, 0, 0, 0, 0, 0, 0, 0, // a = 5 (i64 LE)
      0x00, 0x00, 0xc0, 0x3f, // 1.5f
      0x00, 0x00, 0x00, 0xc0, // -2f
    ];
    const header = '{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}';
    const f = parseSafetensors(build(header, data));
    expect(f.metadata).toEqual({ format: "pt" });
    expect(f.tensors.get("a")).toEqual({ dtype: "I64", shape: [], data: new BigInt64Array([5n]) });
    expect(f.tensors.get("b")).toEqual({ dtype: "F32", shape: [2], data: new Float32Array([1.5, -2]) });
  });

  it("golden: our writer produces exactly the reference layout", () => {
    const bytes = serializeSafetensors({ x: { dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3]) } }, { format: "pt" });
    const header = '{"__metadata__":{"format":"pt"},"x":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}';
    const padded = header + " ".repeat((8 - (header.length % 8)) % 8);
    expect(Array.from(bytes)).toEqual(Array.from(build(padded, [1, 2, 3])));
  });

  it("F16 against known bit patterns", () => {
    const bits = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x8000, 0x7c00, 0xfc00, 0x3555, 0x0000];
    const want = [1, -2, 65504, 2 ** -24, 2 ** -14, -0, Infinity, -Infinity, 0.333251953125, 0];
    const data = bits.flatMap((b) => [b & 255, b >> 8]);
    const f = parseSafetensors(build(`{"h":{"dtype":"F16","shape":[${bits.length}],"data_offsets":[0,${data.length}]}}`, data));
    const got = f.tensors.get("h")!;
    expect(got.dtype).toBe("F16");
    expect(got.data).toBeInstanceOf(Float32Array);
    expect(Array.from(got.data as Float32Array)).toEqual(want);
    expect(Object.is(got.data[5], -0)).toBe(true);
    expect(Number.isNaN(halfToFloat(0x7e00))).toBe(true);
  });

  it("BF16 against known bit patterns", () => {
    const bits = [0x3f80, 0xc000, 0x4049, 0x0001, 0x7f80, 0xff80, 0x8000, 0x3e80];
    const want = [1, -2, 3.140625, 2 ** -133 * 1, Infinity, -Infinity, -0, 0.25];
    const data = bits.flatMap((b) => [b & 255, b >> 8]);
    const f = parseSafetensors(build(`{"h":{"dtype":"BF16","shape":[2,4],"data_offsets":[0,${data.length}]}}`, data));
    const got = f.tensors.get("h")!;
    expect(got.shape).toEqual([2, 4]);
    expect(Array.from(got.data as Float32Array)).toEqual(want);
  });

  it("reads from a subarray at an odd offset (unaligned F64 data)", () => {
    const inner = build('{"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}} ', new Uint8Array(new Float64Array([Math.PI]).buffer));
    const outer = new Uint8Array(inner.length + 3);
    outer.set(inner, 3);
    expect(parseSafetensors(outer.subarray(3)).tensors.get("d")!.data).toEqual(new Float64Array([Math.PI]));
  });

  it("empty file with only a header is valid", () => {
    expect(parseSafetensors(build("{}")).tensors.size).toBe(0);
  });
});

describe("safetensors validation: each fault is a BitspikeError naming the source", () => {
  const ok = '{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const eight = new Array(8).fill(0);
  const cases: [string, Uint8Array, RegExp][] = [
    ["short file", new Uint8Array(5), /5 bytes, shorter than the 8-byte/],
    ["header longer than file", (() => { const b = build(ok, eight); new DataView(b.buffer).setUint32(0, 1000, true); return b; })(), /header length 1000 is larger than/],
    ["absurd header length", (() => { const b = build(ok, eight); new DataView(b.buffer).setUint32(4, 1, true); return b; })(), /absurd/],
    ["not JSON", build("{nope}", []), /not valid JSON/],
    ["not an object", build("[1,2]", []), /must start with '\{'/],
    ["null JSON", build("{}", []).map((v, i) => (i >= 8 ? 0x20 : v)), /must start with/],
    ["invalid UTF-8", build('{"\xff":1}'.replace("\xff", "x"), []).map((v, i) => (i === 10 ? 0xff : v)), /UTF-8/],
    ["unknown dtype", build(ok.replace("F32", "F8_E4M3"), eight), /unknown or unsupported dtype "F8_E4M3"/],
    ["negative shape", build(ok.replace("[2]", "[-2]"), eight), /shape must be a list of non-negative integers/],
    ["fractional shape", build(ok.replace("[2]", "[2.5]"), eight), /shape must be/],
    ["shape not a list", build(ok.replace("[2]", '"2"'), eight), /shape must be/],
    ["size mismatch", build(ok.replace("[2]", "[3]"), eight), /needs 12 bytes but data_offsets \[0, 8\] hold 8/],
    ["offsets past buffer", build(ok.replace("[0,8]", "[0,16]"), eight), /run past the 8-byte data buffer/],
    ["offsets reversed", build(ok.replace("[0,8]", "[8,0]"), eight), /end before begin/],
    ["offsets wrong arity", build(ok.replace("[0,8]", "[0]"), eight), /data_offsets must be/],
    ["leftover bytes", build(ok, new Array(12).fill(0)), /cover 8 bytes of the 12-byte/],
    ["gap", build('{"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', eight), /gap/],
    ["overlap", build('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"u":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', eight), /overlap/],
    ["metadata not an object", build('{"__metadata__":[1]}', []), /__metadata__ must be an object/],
    ["metadata value not a string", build('{"__metadata__":{"a":1}}', []), /__metadata__\["a"\] must be a string/],
    ["entry not an object", build('{"t":3}', []), /"t": entry must be an object/],
    ["unknown field", build('{"t":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"x":1}}', []), /unknown field "x"/],
  ];
  for (const [name, bytes, pattern] of cases) {
    it(name, () => {
      expectBitspikeError(() => parseSafetensors(bytes, "m.safetensors"), pattern);
      expectBitspikeError(() => parseSafetensors(bytes, "m.safetensors"), /^safetensors\(m\.safetensors\): /);
    });
  }
});

describe("safetensors corruption fuzzing", () => {
  /** Either a clean parse with consistent sizes, or a BitspikeError; anything else fails the test. */
  function parseOrBitspikeError(bytes: Uint8Array): boolean {
    try {
      const f = parseSafetensors(bytes);
      for (const e of f.tensors.values()) expect(e.data.length).toBe(e.shape.reduce((p, s) => p * s, 1));
      return true;
    } catch (e) {
      if (!(e instanceof BitspikeError)) throw e;
      return false;
    }
  }
  const validFile = fc.tuple(arbEntries(arbShapePos, 1), arbMeta).map(([e, m]) => serializeSafetensors(e, m));

  it("truncation at any point is an error", () => {
    fc.assert(fc.property(validFile, fc.nat(), (bytes, cut) => {
      expect(parseOrBitspikeError(bytes.subarray(0, cut % bytes.length))).toBe(false);
    }), { numRuns: 200 });
  });

  it("a wrong header length is an error", () => {
    fc.assert(fc.property(validFile, fc.oneof(fc.nat(), fc.nat({ max: 4096 })), fc.oneof(fc.constant(0), fc.nat()), (bytes, lo, hi) => {
      const b = bytes.slice();
      const v = new DataView(b.buffer);
      fc.pre(lo !== v.getUint32(0, true) || hi !== 0);
      v.setUint32(0, lo >>> 0, true);
      v.setUint32(4, hi >>> 0, true);
      expect(parseOrBitspikeError(b)).toBe(false);
    }), { numRuns: 200 });
  });

  it("random byte flips in the header or data never crash", () => {
    fc.assert(fc.property(validFile, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), (bytes, flips) => {
      const b = bytes.slice();
      for (const [i, x] of flips) b[i % b.length] ^= x;
      parseOrBitspikeError(b);
    }), { numRuns: 300 });
  });

  it("flipped header bytes (inside the JSON) never crash", () => {
    fc.assert(fc.property(validFile, fc.nat(), fc.integer({ min: 1, max: 255 }), (bytes, i, x) => {
      const n = new DataView(bytes.buffer).getUint32(0, true);
      const b = bytes.slice();
      b[8 + (i % n)] ^= x;
      parseOrBitspikeError(b);
    }), { numRuns: 300 });
  });

  it("mutated offsets, shapes and dtypes are errors", () => {
    const mutation = fc.tuple(fc.constantFrom("begin", "end", "shape", "addDim", "dropDim", "dtype", "badDtype"), fc.nat(), fc.integer({ min: 1, max: 5 }));
    fc.assert(fc.property(validFile, mutation, (bytes, [kind, which, delta]) => {
      const { json, dataStart } = headerOf(bytes);
      const keys = Object.keys(json).filter((k) => k !== "__metadata__");
      const e = json[keys[which % keys.length]!] as { dtype: string; shape: number[]; data_offsets: [number, number] };
      const size: Record<string, number> = { F32: 4, F64: 8, I64: 8, U8: 1, I32: 4, F16: 2, BF16: 2 };
      // Every mutation below changes the byte size or the offsets (all dims are >= 1), so none is benign.
      if (kind === "begin") e.data_offsets[0] += delta;
      else if (kind === "end") e.data_offsets[1] += delta;
      else if (kind === "shape") {
        if (e.shape.length === 0) e.shape = [delta + 1];
        else e.shape[which % e.shape.length]! += delta;
      } else if (kind === "addDim") e.shape.push(delta + 1);
      else if (kind === "dropDim") {
        fc.pre(e.shape.some((d) => d > 1));
        const big = Math.max(...e.shape);
        e.shape = e.shape.filter((d) => d !== big);
      } else if (kind === "dtype") e.dtype = Object.keys(size).find((d) => size[d] !== size[e.dtype])!;
      else e.dtype = ["F8_E5M2", "float32", "", "BOOL"][which % 4]!;
      expect(parseOrBitspikeError(rebuild(json, bytes, dataStart))).toBe(false);
    }), { numRuns: 300 });
  });
});

describe("safetensors files", () => {
  it("writes atomically (no temp file left) and reads back; errors name the path", () => {
    const dir = mkdtempSync(join(tmpdir(), "bitspike-st-"));
    try {
      const p = join(dir, "m.safetensors");
      writeSafetensorsFile(p, { w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } }, { format: "pt" });
      writeSafetensorsFile(p, { w: { dtype: "F32", shape: [3], data: new Float32Array([1, 2, 3]) } }, { format: "pt" });
      expect(readdirSync(dir)).toEqual(["m.safetensors"]);
      const f = readSafetensorsFile(p);
      expect(f.tensors.get("w")!.data).toEqual(new Float32Array([1, 2, 3]));
      expect(f.metadata).toEqual({ format: "pt" });
      writeFileSync(p, readFileSync(p).subarray(0, 20));
      expectBitspikeError(() => readSafetensorsFile(p), /safetensors\(.*m\.safetensors\): header length/);
      expectBitspikeError(() => readSafetensorsFile(join(dir, "missing.safetensors")), /missing\.safetensors.*cannot read/);
      expectBitspikeError(() => writeSafetensorsFile(join(dir, "no/such/dir/x.safetensors"), {}), /cannot write/);
      expect(readdirSync(dir).sort()).toEqual(["m.safetensors"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
