/**
 * numpy's `.npz` (a zip of `.npy` files, stored or deflated, as np.savez and
 * np.savez_compressed write them) parsed with node:zlib, and the event files
 * SpikingJelly and Tonic cache in it: members `t`, `x`, `y`, `p`, 1-D, of any
 * integer, float or bool dtype. Errors name the file, the member and the byte
 * offset.
 */
import { crc32, inflateRawSync } from "node:zlib";
import { fail, oneLine } from "../../tensor/errors.js";
import { allocEvents, checkOnSensor, sortByTime, type Events, type Sensor } from "./events.js";

const OPZ = "npz";

/** One zip member: its name, the file offset of its data, and the bytes uncompressed. */
export interface ZipMember {
  name: string;
  offset: number;
  data: Uint8Array;
}

/** The members of a zip archive (central directory, zip64 sizes, stored or deflate; CRC checked). */
export function parseZip(bytes: Uint8Array, source: string): Map<string, ZipMember> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (at: number, msg: string): never => fail(OPZ, `${source}: byte offset ${at}: ${msg}`);
  // The end-of-central-directory record: 22 bytes plus a comment of up to 65535.
  let eocd = -1;
  for (let o = bytes.length - 22; o >= Math.max(0, bytes.length - 22 - 65535); o--) {
    if (view.getUint32(o, true) === 0x06054b50) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) fail(OPZ, `${source}: not a zip archive (no end-of-central-directory record; a truncated or non-npz file)`);
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdOffset === 0xffffffff || cdSize === 0xffffffff) {
    // zip64: the locator sits just before the end record and points at the zip64 end record.
    const loc = eocd - 20;
    if (loc < 0 || view.getUint32(loc, true) !== 0x07064b50) bad(eocd, "zip64 sizes without a zip64 locator");
    const z = Number(view.getBigUint64(loc + 8, true));
    if (z + 56 > bytes.length || view.getUint32(z, true) !== 0x06064b50) bad(loc, "the zip64 locator points at no zip64 end record");
    count = Number(view.getBigUint64(z + 32, true));
    cdSize = Number(view.getBigUint64(z + 40, true));
    cdOffset = Number(view.getBigUint64(z + 48, true));
  }
  if (cdOffset + cdSize > bytes.length) bad(eocd, `the central directory [${cdOffset}, ${cdOffset + cdSize}) runs past the ${bytes.length}-byte file`);
  const members = new Map<string, ZipMember>();
  let o = cdOffset;
  for (let k = 0; k < count; k++) {
    if (o + 46 > bytes.length || view.getUint32(o, true) !== 0x02014b50) bad(o, `central directory entry ${k} is missing or truncated`);
    const method = view.getUint16(o + 10, true);
    const crc = view.getUint32(o + 16, true);
    let csize = view.getUint32(o + 20, true);
    let usize = view.getUint32(o + 24, true);
    const nameLen = view.getUint16(o + 28, true);
    const extraLen = view.getUint16(o + 30, true);
    const commentLen = view.getUint16(o + 32, true);
    let local = view.getUint32(o + 42, true);
    if (o + 46 + nameLen + extraLen > bytes.length) bad(o, `central directory entry ${k} is truncated`);
    const name = new TextDecoder().decode(bytes.subarray(o + 46, o + 46 + nameLen));
    // The zip64 extra field holds, in this order, whichever of the sizes and offset overflowed.
    for (let e = o + 46 + nameLen; e + 4 <= o + 46 + nameLen + extraLen;) {
      const id = view.getUint16(e, true);
      const len = view.getUint16(e + 2, true);
      if (id === 0x0001) {
        let f = e + 4;
        if (usize === 0xffffffff) { usize = Number(view.getBigUint64(f, true)); f += 8; }
        if (csize === 0xffffffff) { csize = Number(view.getBigUint64(f, true)); f += 8; }
        if (local === 0xffffffff) local = Number(view.getBigUint64(f, true));
      }
      e += 4 + len;
    }
    o += 46 + nameLen + extraLen + commentLen;
    if (local + 30 > bytes.length || view.getUint32(local, true) !== 0x04034b50) bad(local, `member ${JSON.stringify(name)}: no local file header here`);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (start + csize > bytes.length) bad(start, `member ${JSON.stringify(name)}: its ${csize} bytes run past the end of the file (truncated)`);
    const raw = bytes.subarray(start, start + csize);
    let data: Uint8Array;
    if (method === 0) data = raw;
    else if (method === 8) {
      try {
        const out = inflateRawSync(raw, { maxOutputLength: Math.max(1, usize) });
        data = new Uint8Array(out.buffer, out.byteOffset, out.length);
      } catch (e) {
        return bad(start, `member ${JSON.stringify(name)}: cannot inflate (${oneLine((e as Error).message)})`);
      }
    } else return bad(local, `member ${JSON.stringify(name)}: compression method ${method}; only stored (0) and deflate (8) are read`);
    if (data.length !== usize) bad(start, `member ${JSON.stringify(name)}: ${data.length} bytes uncompressed, the directory says ${usize}`);
    if (crc32(data) !== crc) bad(start, `member ${JSON.stringify(name)}: CRC mismatch (corrupt data)`);
    members.set(name, { name, offset: start, data });
  }
  return members;
}

/** A 1-D numeric array from a `.npy` file, widened to float64 (exact for integers below 2^53). */
export interface NpyArray {
  descr: string;
  values: Float64Array;
}

/**
 * Parses a 1-D `.npy` (versions 1-3; bool, signed / unsigned integers of 1-8
 * bytes, float32 / float64, either byte order). `where` names it in errors;
 * `base` is its byte offset in the file, for messages.
 */
export function parseNpy(bytes: Uint8Array, where: string, base = 0): NpyArray {
  const bad = (at: number, msg: string): never => fail(OPZ, `${where}: byte offset ${base + at}: ${msg}`);
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || !magic.every((b, i) => bytes[i] === b)) bad(0, "not a .npy array (no \\x93NUMPY magic)");
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major < 1 || major > 3) bad(6, `.npy version ${major} is not 1, 2 or 3`);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) bad(8, "truncated .npy header");
  const hlen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataAt = 8 + lenBytes + hlen;
  if (dataAt > bytes.length) bad(8, `header length ${hlen} runs past the end`);
  const header = new TextDecoder("latin1").decode(bytes.subarray(8 + lenBytes, dataAt));
  const descr = /'descr'\s*:\s*'([<>|=]?)([biuf])(\d+)'/.exec(header);
  const shape = /'shape'\s*:\s*\(\s*(\d*)\s*,?\s*\)/.exec(header);
  if (!descr) return bad(8 + lenBytes, `unsupported dtype in header ${JSON.stringify(oneLine(header).slice(0, 80))}; expected a plain bool, integer or float dtype`);
  if (!shape) return bad(8 + lenBytes, `shape in header ${JSON.stringify(oneLine(header).slice(0, 80))} is not 1-D`);
  const [, order, kind, sizeText] = descr;
  const size = Number(sizeText);
  const little = order !== ">";
  const n = shape[1] === "" ? 1 : Number(shape[1]);
  const ok = kind === "b" ? size === 1 : kind === "f" ? size === 4 || size === 8 : [1, 2, 4, 8].includes(size);
  if (!ok) bad(8 + lenBytes, `dtype ${kind}${size} is not read (bool, int / uint 1-8 bytes, float 4 or 8)`);
  if (dataAt + n * size !== bytes.length) bad(dataAt, `${n} values of ${size} bytes need ${n * size} bytes, the array holds ${bytes.length - dataAt}`);
  const values = new Float64Array(n);
  for (let i = 0, o = dataAt; i < n; i++, o += size) {
    let v: number;
    if (kind === "f") v = size === 4 ? view.getFloat32(o, little) : view.getFloat64(o, little);
    else if (size === 1) v = kind === "i" ? view.getInt8(o) : view.getUint8(o);
    else if (size === 2) v = kind === "i" ? view.getInt16(o, little) : view.getUint16(o, little);
    else if (size === 4) v = kind === "i" ? view.getInt32(o, little) : view.getUint32(o, little);
    else {
      const b = kind === "i" ? view.getBigInt64(o, little) : view.getBigUint64(o, little);
      if (b > BigInt(Number.MAX_SAFE_INTEGER) || b < -BigInt(Number.MAX_SAFE_INTEGER)) bad(o, `value ${b} is beyond 2^53`);
      v = Number(b);
    }
    values[i] = v;
  }
  return { descr: `${order}${kind}${size}`, values };
}

/**
 * Events from a `.npz` holding `t`, `x`, `y`, `p` (SpikingJelly's `events_np`
 * files, or Tonic's arrays saved with np.savez). Timestamps must be integers
 * >= 0, x / y integers on the sensor, p 0 / 1 (or bool). The events come back
 * sorted by time.
 */
export function parseEventsNpz(bytes: Uint8Array, source: string, sensor: Sensor): Events {
  const members = parseZip(bytes, source);
  const get = (k: string): { values: Float64Array; where: string } => {
    const m = members.get(`${k}.npy`) ?? fail(OPZ, `${source}: member '${k}.npy' is missing (found: ${[...members.keys()].join(", ") || "none"}); event files hold t, x, y and p`);
    const where = `${source}: member '${k}.npy'`;
    return { values: parseNpy(m.data, where, m.offset).values, where };
  };
  const cols = { t: get("t"), x: get("x"), y: get("y"), p: get("p") };
  const n = cols.t.values.length;
  for (const [k, c] of Object.entries(cols)) {
    if (c.values.length !== n) fail(OPZ, `${source}: member '${k}.npy' holds ${c.values.length} values, 't.npy' holds ${n}`);
  }
  const e = allocEvents(n);
  for (let i = 0; i < n; i++) {
    const t = cols.t.values[i]!;
    const x = cols.x.values[i]!;
    const y = cols.y.values[i]!;
    const p = cols.p.values[i]!;
    if (!Number.isInteger(t) || t < 0) fail(OPZ, `${cols.t.where}: element ${i} is ${t}, expected an integer timestamp >= 0`);
    if (!Number.isInteger(x) || x < 0 || x > 65535) fail(OPZ, `${cols.x.where}: element ${i} is ${x}, expected an integer coordinate >= 0`);
    if (!Number.isInteger(y) || y < 0 || y > 65535) fail(OPZ, `${cols.y.where}: element ${i} is ${y}, expected an integer coordinate >= 0`);
    if (p !== 0 && p !== 1) fail(OPZ, `${cols.p.where}: element ${i} is ${p}, expected polarity 0 or 1`);
    e.t[i] = t;
    e.x[i] = x;
    e.y[i] = y;
    e.p[i] = p;
  }
  checkOnSensor(OPZ, e, sensor, (i) => `${source}: event ${i}`);
  return sortByTime(e);
}
