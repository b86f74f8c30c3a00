/**
 * Test-only writers of the event formats bitspike reads (the ATIS writer is
 * the library's own, since the emulator writes N-MNIST files): AEDAT 3.1 with
 * its labels CSV, CIFAR10-DVS's AEDAT 2.0, and npz / npy. They write what the
 * formats allow and the readers must handle: several packets, packets of other
 * types, invalid slots, spare capacity, deflated and stored zip members.
 */
import { crc32, deflateRawSync } from "node:zlib";
import fc from "fast-check";
import type { Events } from "../../src/io/events/events.js";
import { concatBytes } from "../../src/io/bytes.js";

const concat = concatBytes;

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

/** AEDAT 3.1 header (cAER's lines). */
export const AEDAT3_HEADER = "#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#Start-Time: 2017-01-01 00:00:00 (TZ+0000)\r\n#!END-HEADER\r\n";

/**
 * AEDAT 3.1 bytes of sorted events: packets of at most `perPacket` polarity
 * events (a new packet whenever t / 2^31 changes), each followed by one
 * invalid slot and one spare slot of capacity, with a special-event packet
 * (type 0) between polarity packets.
 */
export function serializeAedat3(e: Events, perPacket = 5): Uint8Array {
  const parts: Uint8Array[] = [ascii(AEDAT3_HEADER)];
  const packet = (type: number, words: number[], overflow: number, number: number, valid: number, capacity: number): Uint8Array => {
    const b = new Uint8Array(28 + capacity * 8);
    const v = new DataView(b.buffer);
    v.setInt16(0, type, true);
    v.setInt16(2, 1, true);
    v.setInt32(4, 8, true);
    v.setInt32(8, 4, true);
    v.setInt32(12, overflow, true);
    v.setInt32(16, capacity, true);
    v.setInt32(20, number, true);
    v.setInt32(24, valid, true);
    words.forEach((w, i) => v.setUint32(28 + 4 * i, w >>> 0, true));
    return b;
  };
  let i = 0;
  const n = e.t.length;
  while (i < n) {
    const overflow = Math.floor(e.t[i]! / 2 ** 31);
    const words: number[] = [];
    let k = 0;
    while (i < n && k < perPacket && Math.floor(e.t[i]! / 2 ** 31) === overflow) {
      words.push((e.x[i]! << 17) | (e.y[i]! << 2) | (e.p[i]! << 1) | 1, e.t[i]! - overflow * 2 ** 31);
      i++;
      k++;
    }
    // An invalid event (valid bit 0) inside eventNumber, then a spare slot beyond it.
    words.push((3 << 17) | (5 << 2), 7);
    parts.push(packet(1, words, overflow, k + 1, k, k + 2));
    parts.push(packet(0, [0x1234, 99], overflow, 1, 1, 1));
  }
  return concat(parts);
}

/** A DVS128 Gesture labels CSV of (class 1..11, start, end) rows. */
export function gestureLabelsCsv(rows: readonly (readonly [number, number, number])[]): string {
  return "class,startTime_usec,endTime_usec\r\n" + rows.map((r) => r.join(",") + "\r\n").join("");
}

/** CIFAR10-DVS AEDAT 2.0 bytes: SpikingJelly's transform undone, timestamps written modulo 2^32. */
export function serializeAedat2Cifar(e: Events): Uint8Array {
  const head = ascii("#!AER-DAT2.0\r\n# This is a raw AE data file - do not edit\r\n# Data format is int32 address, int32 timestamp (8 bytes total)\r\n");
  const body = new Uint8Array(e.t.length * 8);
  const v = new DataView(body.buffer);
  for (let i = 0; i < e.t.length; i++) {
    const x = 127 - e.y[i]!;
    const y = 127 - e.x[i]!;
    const p = 1 - e.p[i]!;
    v.setUint32(8 * i, (y << 8) | (x << 1) | p, false);
    v.setUint32(8 * i + 4, e.t[i]! % 2 ** 32, false);
  }
  return concat([head, body]);
}

/** A 1-D `.npy` (version 1) of `values` in dtype `descr` (e.g. "<i8", "<u2", "|u1", "|b1", ">f8"). */
export function serializeNpy(values: ArrayLike<number>, descr: string): Uint8Array {
  const size = Number(descr.slice(2));
  const kind = descr[1]!;
  const little = descr[0] !== ">";
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${values.length},), }`;
  header += " ".repeat(63 - ((10 + header.length) % 64)) + "\n";
  const out = new Uint8Array(10 + header.length + values.length * size);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const v = new DataView(out.buffer);
  v.setUint16(8, header.length, true);
  out.set(ascii(header), 10);
  for (let i = 0, o = 10 + header.length; i < values.length; i++, o += size) {
    const x = values[i]!;
    if (kind === "f") size === 4 ? v.setFloat32(o, x, little) : v.setFloat64(o, x, little);
    else if (size === 1) v.setUint8(o, x & 0xff);
    else if (size === 2) v.setUint16(o, x & 0xffff, little);
    else if (size === 4) v.setUint32(o, x >>> 0, little);
    else v.setBigInt64(o, BigInt(x), little);
  }
  return out;
}

/** A zip of `members` (name -> bytes), deflated or stored, as numpy's savez_compressed / savez write. */
export function serializeZip(members: Record<string, Uint8Array>, compress: boolean): Uint8Array {
  const locals: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(members)) {
    const nm = ascii(name);
    const body = compress ? deflateRawSync(data) : data;
    // The local header and the central-directory entry share a run of fields (method, crc, sizes, name length) at `at`.
    const header = (size: number, signature: number, at: number): [Uint8Array, DataView] => {
      const h = new Uint8Array(size + nm.length);
      const v = new DataView(h.buffer);
      v.setUint32(0, signature, true);
      v.setUint16(4, 20, true);
      v.setUint16(at, compress ? 8 : 0, true);
      v.setUint32(at + 6, crc32(data), true);
      v.setUint32(at + 10, body.length, true);
      v.setUint32(at + 14, data.length, true);
      v.setUint16(at + 18, nm.length, true);
      h.set(nm, size);
      return [h, v];
    };
    const [lh] = header(30, 0x04034b50, 8);
    const [ch, cv] = header(46, 0x02014b50, 10);
    cv.setUint16(6, 20, true);
    cv.setUint32(42, offset, true);
    locals.push(lh, body);
    central.push(ch);
    offset += lh.length + body.length;
  }
  const cd = concat(central);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, central.length, true);
  ev.setUint16(10, central.length, true);
  ev.setUint32(12, cd.length, true);
  ev.setUint32(16, offset, true);
  return concat([...locals, cd, end]);
}

/** An event npz as SpikingJelly saves it (t int64, x / y uint16 or int64, p uint8 or bool). */
export function serializeEventsNpz(e: Events, compress = true, dtypes = { t: "<i8", x: "<u2", y: "<u2", p: "|u1" }, omit?: "t" | "x" | "y" | "p"): Uint8Array {
  const members: Record<string, Uint8Array> = {};
  for (const k of ["t", "x", "y", "p"] as const) if (k !== omit) members[`${k}.npy`] = serializeNpy(e[k], dtypes[k]);
  return serializeZip(members, compress);
}

/** Events sorted by time, on a width x height sensor, timestamps in [0, maxT] (ties included). */
export function arbEvents(width: number, height: number, maxT: number, maxLength = 60): fc.Arbitrary<Events> {
  const ev = fc.record({ t: fc.integer({ min: 0, max: maxT }), x: fc.integer({ min: 0, max: width - 1 }), y: fc.integer({ min: 0, max: height - 1 }), p: fc.integer({ min: 0, max: 1 }) });
  return fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 2, max: maxLength })).chain((n) => fc.array(ev, { minLength: n, maxLength: n })).map((list) => {
    list.sort((a, b) => a.t - b.t);
    return {
      t: Float64Array.from(list, (e) => e.t),
      x: Uint16Array.from(list, (e) => e.x),
      y: Uint16Array.from(list, (e) => e.y),
      p: Uint8Array.from(list, (e) => e.p),
    };
  });
}

/** Seeded random events sorted by time: class c puts its events in the c-th band of rows (so a model can learn it). */
export function randomEvents(rng: { int(n: number): number }, n: number, width: number, height: number, band = -1, bands = 1): Events {
  const list = Array.from({ length: n }, () => {
    const rows = band < 0 ? height : Math.max(1, Math.floor(height / bands));
    return { t: rng.int(100_000), x: rng.int(width), y: band < 0 ? rng.int(height) : Math.min(height - 1, band * rows + rng.int(rows)), p: rng.int(2) };
  }).sort((a, b) => a.t - b.t);
  return {
    t: Float64Array.from(list, (e) => e.t),
    x: Uint16Array.from(list, (e) => e.x),
    y: Uint16Array.from(list, (e) => e.y),
    p: Uint8Array.from(list, (e) => e.p),
  };
}
