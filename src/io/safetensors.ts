/**
 * The safetensors format (huggingface/safetensors), pure: bytes in, bytes out.
 *
 * Layout: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON mapping
 * each tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets
 * relative to the byte buffer that follows the header) plus an optional
 * `__metadata__` string -> string map, then the byte buffer. Reading is strict:
 * every malformed file raises a BitspikeError naming the file and the fault,
 * and nothing is ever read outside the given bytes.
 */
import { fail, oneLine } from "../tensor/errors.js";
import { checkJsonDepth, preview } from "./validate.js";

/** The dtypes this module reads. F16 and BF16 are widened to float32 on read. */
export type SafeDType = "F32" | "F64" | "F16" | "BF16" | "I64" | "U8" | "I32";
/** The dtypes this module writes. */
export type WritableSafeDType = "F32" | "F64" | "I64" | "U8" | "I32";
export type SafeData = Float32Array | Float64Array | BigInt64Array | Uint8Array | Int32Array;

/** One tensor read from a file. `dtype` is the dtype stored in the file (F16 data comes back as a Float32Array). */
export interface SafeEntry {
  dtype: SafeDType;
  shape: number[];
  data: SafeData;
}

/**
 * One tensor to write. `dtype` may be omitted (it is then inferred from the
 * array type) and may also be spelled `float32`, `float64`, `int64`, `uint8`,
 * `int32`, so a bitspike `Tensor` or `Int64Buffer` can be passed as it is.
 */
export interface SafeInput {
  dtype?: string;
  shape: readonly number[];
  data: SafeData;
}

/** A parsed file. */
export interface SafeFile {
  tensors: Map<string, SafeEntry>;
  metadata: Record<string, string>;
}

/** Bytes per element of each readable dtype. */
const ITEM_SIZE: Record<SafeDType, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, U8: 1, I32: 4 };
/** The reference implementation refuses headers above 100 MB; so do we (it also bounds the JSON parse). */
export const MAX_HEADER_BYTES = 100_000_000;

const ALIASES: Record<string, WritableSafeDType> = {
  F32: "F32", F64: "F64", I64: "I64", U8: "U8", I32: "I32",
  float32: "F32", float64: "F64", int64: "I64", uint8: "U8", int32: "I32",
};

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The op named in errors: the file when known. */
function opName(source: string): string {
  return source === "safetensors" ? source : `safetensors(${source})`;
}

/**
 * Parses a safetensors file. `source` (a path, usually) names the file in
 * errors. The returned arrays are fresh copies, independent of `bytes`.
 */
export function parseSafetensors(bytes: Uint8Array, source = "safetensors"): SafeFile {
  const op = opName(source);
  const bad = (msg: string): never => fail(op, msg);
  if (!(bytes instanceof Uint8Array)) bad(`expected the file's bytes as a Uint8Array, got ${typeof bytes}`);
  if (bytes.length < 8) bad(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const headerLen = hi * 4294967296 + lo;
  if (hi !== 0 || headerLen > MAX_HEADER_BYTES) bad(`header length ${headerLen} is absurd (limit ${MAX_HEADER_BYTES} bytes)`);
  if (headerLen > bytes.length - 8) bad(`header length ${headerLen} is larger than the ${bytes.length - 8} bytes after the length field`);
  if (headerLen < 2) bad(`header length ${headerLen} is too small for a JSON object`);

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    return bad("header is not valid UTF-8");
  }
  if (text[0] !== "{") bad(`header must start with '{', got ${JSON.stringify(text.slice(0, 16))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return bad(`header is not valid JSON (${oneLine((e as Error).message)})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) bad("header is not a JSON object");
  // Before any message quotes a value: a deep value would overflow the stack of JSON.stringify.
  checkJsonDepth(op, "header", header);

  const dataStart = 8 + headerLen;
  const bufferLen = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const infos: { name: string; dtype: SafeDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (raw === null || typeof raw !== "object" || Array.isArray(raw)) bad("__metadata__ must be an object of strings");
      const pairs: [string, string][] = [];
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") bad(`__metadata__[${preview(k, 80)}] must be a string, got ${preview(v)}`);
        pairs.push([k, v as string]);
      }
      metadata = Object.fromEntries(pairs);
      continue;
    }
    const where = `tensor ${preview(name, 80)}`;
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) bad(`${where}: entry must be an object {dtype, shape, data_offsets}`);
    const info = raw as Record<string, unknown>;
    for (const k of Object.keys(info)) {
      if (k !== "dtype" && k !== "shape" && k !== "data_offsets") bad(`${where}: unknown field ${preview(k, 80)}`);
    }
    const dtype = info.dtype;
    if (typeof dtype !== "string" || !Object.hasOwn(ITEM_SIZE, dtype)) {
      bad(`${where}: unknown or unsupported dtype ${preview(dtype)} (readable: ${Object.keys(ITEM_SIZE).join(", ")})`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      bad(`${where}: shape must be a list of non-negative integers, got ${Array.isArray(shape) && shape.length <= 8 ? `[${shape.map((d) => preview(d)).join(", ")}]` : preview(shape)}`);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      bad(`${where}: data_offsets must be [begin, end] non-negative integers, got ${Array.isArray(offs) && offs.length <= 8 ? `[${offs.map((d) => preview(d)).join(", ")}]` : preview(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (end < begin) bad(`${where}: data_offsets [${begin}, ${end}] end before begin`);
    if (end > bufferLen) bad(`${where}: data_offsets [${begin}, ${end}] run past the ${bufferLen}-byte data buffer`);
    let count = 1;
    for (const d of shape as number[]) count *= d;
    const itemSize = ITEM_SIZE[dtype as SafeDType];
    if (!Number.isSafeInteger(count * itemSize) || count * itemSize !== end - begin) {
      bad(`${where}: shape ${JSON.stringify(shape)} of ${dtype} needs ${count * itemSize} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    infos.push({ name, dtype: dtype as SafeDType, shape: [...(shape as number[])], begin, end });
  }

  // The buffer must be tiled exactly: no gaps, no overlaps, nothing left over.
  const sorted = [...infos].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const t of sorted) {
    if (t.begin < pos) bad(`tensor ${preview(t.name, 80)}: data_offsets [${t.begin}, ${t.end}] overlap another tensor's bytes (which end at ${pos})`);
    if (t.begin > pos) bad(`tensor ${preview(t.name, 80)}: data_offsets [${t.begin}, ${t.end}] leave a gap of unused bytes [${pos}, ${t.begin})`);
    pos = t.end;
  }
  if (pos !== bufferLen) bad(`tensors cover ${pos} bytes of the ${bufferLen}-byte data buffer; the rest is unaccounted for`);

  const tensors = new Map<string, SafeEntry>();
  for (const t of infos) {
    tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data: decode(bytes, dataStart + t.begin, t.end - t.begin, t.dtype) });
  }
  return { tensors, metadata };
}

/** Copies `len` bytes at `off` into a fresh array of the dtype (little-endian in the file). */
function decode(bytes: Uint8Array, off: number, len: number, dtype: SafeDType): SafeData {
  const src = bytes.subarray(off, off + len);
  switch (dtype) {
    case "U8":
      return src.slice();
    case "F16": {
      const n = len / 2;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(src[2 * i]! | (src[2 * i + 1]! << 8));
      return out;
    }
    case "BF16": {
      // bfloat16 is the top half of a float32.
      const n = len / 2;
      const out = new Float32Array(n);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = ((src[2 * i]! | (src[2 * i + 1]! << 8)) << 16) >>> 0;
      return out;
    }
    default: {
      // Copy into a fresh (aligned) buffer, then view it; swap bytes on a big-endian host.
      const buf = new Uint8Array(len);
      buf.set(src);
      const size = ITEM_SIZE[dtype];
      if (!LITTLE_ENDIAN) swapBytes(buf, size);
      if (dtype === "F32") return new Float32Array(buf.buffer, 0, len / size);
      if (dtype === "F64") return new Float64Array(buf.buffer, 0, len / size);
      if (dtype === "I64") return new BigInt64Array(buf.buffer, 0, len / size);
      return new Int32Array(buf.buffer, 0, len / size);
    }
  }
}

function swapBytes(buf: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < buf.length; i += size) buf.subarray(i, i + size).reverse();
}

/** IEEE 754 binary16 bits to a number (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function writableDtype(name: string, e: SafeInput): WritableSafeDType {
  const op = "serializeSafetensors";
  const d = e.data;
  const inferred: WritableSafeDType | null =
    d instanceof Float32Array ? "F32" : d instanceof Float64Array ? "F64" : d instanceof BigInt64Array ? "I64"
      : d instanceof Uint8Array ? "U8" : d instanceof Int32Array ? "I32" : null;
  if (inferred === null) fail(op, `tensor ${JSON.stringify(name)}: data must be a Float32Array, Float64Array, BigInt64Array, Uint8Array or Int32Array`);
  if (e.dtype === undefined) return inferred;
  const want = Object.hasOwn(ALIASES, e.dtype) ? ALIASES[e.dtype]! : null;
  if (want === null) fail(op, `tensor ${JSON.stringify(name)}: cannot write dtype ${JSON.stringify(e.dtype)} (writable: F32, F64, I64, U8, I32)`);
  if (want !== inferred) fail(op, `tensor ${JSON.stringify(name)}: dtype ${e.dtype} does not match its ${d.constructor.name} data`);
  return want;
}

/** Byte-wise UTF-8 order, the order of the reference implementation's sorted keys. */
function utf8Compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * Serializes tensors to safetensors bytes: keys sorted (UTF-8 byte order),
 * data laid out in that order, header padded with spaces so the data buffer
 * starts 8-byte aligned (as the reference writer does). `metadata`, when
 * given, becomes `__metadata__`.
 */
export function serializeSafetensors(
  entries: Map<string, SafeInput> | Record<string, SafeInput>,
  metadata?: Record<string, string>,
): Uint8Array {
  const op = "serializeSafetensors";
  const enc = new TextEncoder();
  const list = entries instanceof Map ? [...entries.entries()] : Object.entries(entries);
  const items = list.map(([name, e]) => {
    if (name === "__metadata__") fail(op, `"__metadata__" is reserved and cannot name a tensor`);
    if (e === null || typeof e !== "object") fail(op, `tensor ${JSON.stringify(name)}: expected {dtype, shape, data}`);
    const dtype = writableDtype(name, e);
    const shape = [...e.shape];
    if (!shape.every((s) => Number.isSafeInteger(s) && s >= 0)) fail(op, `tensor ${JSON.stringify(name)}: shape ${JSON.stringify(shape)} must be non-negative integers`);
    const count = shape.reduce((p, s) => p * s, 1);
    if (count !== e.data.length) fail(op, `tensor ${JSON.stringify(name)}: shape ${JSON.stringify(shape)} needs ${count} elements but data has ${e.data.length}`);
    return { name, key: enc.encode(name), dtype, shape, data: e.data };
  });
  items.sort((a, b) => utf8Compare(a.key, b.key));

  // The header text is built by hand: a JS object would put integer-like keys ("0", "10") first.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const meta: string[] = [];
    for (const k of Object.keys(metadata).sort((a, b) => utf8Compare(enc.encode(a), enc.encode(b)))) {
      const v = metadata[k];
      if (typeof v !== "string") fail(op, `metadata[${JSON.stringify(k)}] must be a string, got ${typeof v}`);
      meta.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
    }
    parts.push(`"__metadata__":{${meta.join(",")}}`);
  }
  let pos = 0;
  for (const it of items) {
    const len = it.data.byteLength;
    parts.push(`${JSON.stringify(it.name)}:${JSON.stringify({ dtype: it.dtype, shape: it.shape, data_offsets: [pos, pos + len] })}`);
    pos += len;
  }
  const json = enc.encode(`{${parts.join(",")}}`);
  const pad = (8 - (json.length % 8)) % 8;
  const headerLen = json.length + pad;
  const out = new Uint8Array(8 + headerLen + pos);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLen % 4294967296, true);
  view.setUint32(4, Math.floor(headerLen / 4294967296), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let off = 8 + headerLen;
  for (const it of items) {
    const src = new Uint8Array(it.data.buffer, it.data.byteOffset, it.data.byteLength);
    out.set(src, off);
    if (!LITTLE_ENDIAN) swapBytes(out.subarray(off, off + src.length), it.data.BYTES_PER_ELEMENT);
    off += src.length;
  }
  return out;
}
