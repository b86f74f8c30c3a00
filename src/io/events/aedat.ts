/**
 * AEDAT files of jAER / cAER: DVS128 Gesture's AEDAT 3.1 (with its
 * `_labels.csv` windows) and CIFAR10-DVS's AEDAT 2.0. Both open with text
 * header lines starting with `#`, the first naming the version
 * (`#!AER-DAT3.1`, `#!AER-DAT2.0`).
 */
import { fail } from "../../tensor/errors.js";
import { allocEvents, checkOnSensor, headEvents, lowerBound, sortByTime, type Events, type Sensor } from "./events.js";

/**
 * The byte offset where the binary data starts: after the `#` header lines
 * (and after `#!END-HEADER` when there is one). The first line must start
 * with `magic`.
 */
export function aedatDataStart(op: string, bytes: Uint8Array, source: string, magic: string): number {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, Math.min(bytes.length, magic.length)));
  if (head !== magic) fail(op, `${source}: byte offset 0: expected the header line ${JSON.stringify(magic)}..., got ${JSON.stringify(head)}; not an ${magic.slice(2)} file`);
  let o = 0;
  while (o < bytes.length && bytes[o] === 0x23) {
    const nl = bytes.indexOf(0x0a, o);
    if (nl < 0) fail(op, `${source}: byte offset ${o}: the header line never ends (no newline before the end of the file)`);
    const line = new TextDecoder("latin1").decode(bytes.subarray(o, nl)).trimEnd();
    o = nl + 1;
    if (line === "#!END-HEADER") break;
  }
  return o;
}

// ---- AEDAT 3.1 -------------------------------------------------------------------------------

const OP3 = "aedat3";
const PACKET_HEADER = 28;
const POLARITY_EVENT = 1;
const POLARITY_SIZE = 8;

/**
 * Parses an AEDAT 3.1 file's polarity events (packets of type 1); packets of
 * other types are skipped. Per the format, a packet's first `eventNumber`
 * slots hold events and only those with the valid bit set count;
 * t = timestamp + eventTSOverflow * 2^31. Truncated packets, inconsistent
 * packet headers and events off `sensor` are errors naming the byte offset.
 */
export function parseAedat3(bytes: Uint8Array, source: string, sensor: Sensor): Events {
  let o = aedatDataStart(OP3, bytes, source, "#!AER-DAT3");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // A first pass counts the polarity events so the arrays are allocated once.
  const packets: { at: number; number: number; overflow: number }[] = [];
  let total = 0;
  while (o < bytes.length) {
    const at = o;
    if (bytes.length - o < PACKET_HEADER) fail(OP3, `${source}: byte offset ${o}: truncated packet header (${bytes.length - o} of ${PACKET_HEADER} bytes)`);
    const type = view.getInt16(o, true);
    const size = view.getInt32(o + 4, true);
    const overflow = view.getInt32(o + 12, true);
    const capacity = view.getInt32(o + 16, true);
    const number = view.getInt32(o + 20, true);
    const valid = view.getInt32(o + 24, true);
    const bad = (what: string): never => fail(OP3, `${source}: byte offset ${at}: packet header ${what}`);
    if (size < 1) bad(`has eventSize ${size}, expected at least 1`);
    if (capacity < 0 || number < 0 || valid < 0 || number > capacity || valid > number) bad(`has eventCapacity ${capacity}, eventNumber ${number}, eventValid ${valid}; expected 0 <= valid <= number <= capacity`);
    if (overflow < 0) bad(`has eventTSOverflow ${overflow}, expected >= 0`);
    const body = capacity * size;
    if (body > bytes.length - o - PACKET_HEADER) fail(OP3, `${source}: byte offset ${at}: truncated packet: ${capacity} events of ${size} bytes need ${body} bytes, ${bytes.length - o - PACKET_HEADER} remain`);
    if (type === POLARITY_EVENT) {
      if (size !== POLARITY_SIZE) bad(`of a polarity packet has eventSize ${size}, expected ${POLARITY_SIZE}`);
      packets.push({ at, number, overflow });
      total += number;
    }
    o += PACKET_HEADER + body;
  }
  const e = allocEvents(total);
  const offset = new Float64Array(total);
  let k = 0;
  for (const pk of packets) {
    for (let i = 0; i < pk.number; i++) {
      const q = pk.at + PACKET_HEADER + i * POLARITY_SIZE;
      const data = view.getUint32(q, true);
      if ((data & 1) === 0) continue;
      const ts = view.getUint32(q + 4, true);
      if (ts >= 2 ** 31) fail(OP3, `${source}: byte offset ${q + 4}: timestamp ${ts} is negative as the format's int32`);
      e.x[k] = (data >>> 17) & 0x7fff;
      e.y[k] = (data >>> 2) & 0x7fff;
      e.p[k] = (data >>> 1) & 1;
      e.t[k] = ts + pk.overflow * 2 ** 31;
      offset[k] = q;
      k++;
    }
  }
  const events = headEvents(e, k);
  checkOnSensor(OP3, events, sensor, (i) => `${source}: byte offset ${offset[i]}`);
  return sortByTime(events);
}

/** One labelled window of a DVS128 Gesture recording: events with start <= t < end. */
export interface LabelWindow {
  /** Class 0..10 (the file's 1..11 minus one, as SpikingJelly). */
  label: number;
  start: number;
  end: number;
}

/**
 * Parses a DVS128 Gesture `_labels.csv` (`class,startTime_usec,endTime_usec`
 * then one row a window); errors name the line and its byte offset.
 */
export function parseGestureLabels(text: string, source: string, numClasses = 11): LabelWindow[] {
  const out: LabelWindow[] = [];
  let byte = 0;
  const lines = text.split("\n");
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!.trim();
    const at = `${source}: line ${li + 1} (byte offset ${byte})`;
    byte += Buffer.byteLength(lines[li]!) + 1;
    if (line === "" || (li === 0 && /^[A-Za-z]/.test(line))) continue;
    const parts = line.split(",").map((s) => s.trim());
    if (parts.length !== 3 || !parts.every((s) => /^[0-9]{1,15}$/.test(s))) fail("gesture-labels", `${at}: expected class,startTime_usec,endTime_usec as integers, got ${JSON.stringify(line.slice(0, 60))}`);
    const [c, start, end] = parts.map(Number) as [number, number, number];
    if (c < 1 || c > numClasses) fail("gesture-labels", `${at}: class ${c} is outside 1..${numClasses}`);
    if (end <= start) fail("gesture-labels", `${at}: the window [${start}, ${end}) is empty or reversed`);
    out.push({ label: c - 1, start, end });
  }
  return out;
}

/**
 * The events of each window (start <= t < end) of one recording, as
 * SpikingJelly slices DVS128 Gesture. A window that does not overlap the
 * recording (it starts after the last event or ends before the first) is an
 * error naming both files: the labels do not belong to these events.
 */
export function sliceWindows(e: Events, windows: readonly LabelWindow[], labelsSource: string, eventsSource: string): { label: number; events: Events }[] {
  const n = e.t.length;
  const first = n ? e.t[0]! : 0;
  const last = n ? e.t[n - 1]! : -1;
  return windows.map((w, i) => {
    if (n === 0 || w.start > last || w.end <= first) {
      fail("gesture-labels", `${labelsSource}: window ${i + 1} [${w.start}, ${w.end}) lies outside the recording ${eventsSource} (events from ${first} to ${last} us)`);
    }
    const lo = lowerBound(e.t, w.start);
    const hi = lowerBound(e.t, w.end);
    return { label: w.label, events: { t: e.t.slice(lo, hi), x: e.x.slice(lo, hi), y: e.y.slice(lo, hi), p: e.p.slice(lo, hi) } };
  });
}

// ---- AEDAT 2.0 (CIFAR10-DVS) -------------------------------------------------------------------

const OP2 = "aedat2";

/**
 * Parses a CIFAR10-DVS AEDAT 2.0 file: big-endian uint32 (address,
 * timestamp) pairs after the header, decoded as SpikingJelly does: x =
 * (addr & 0xFE) >> 1, y = (addr & 0x7F00) >> 8, p = addr & 1, stored as
 * x' = 127 - y, y' = 127 - x, p' = 1 - p. The 32-bit clock's wraps are
 * unwrapped (a step back of more than 2^31 us adds 2^32). A trailing partial
 * pair is an error naming its byte offset.
 */
export function parseAedat2Cifar(bytes: Uint8Array, source: string): Events {
  const start = aedatDataStart(OP2, bytes, source, "#!AER-DAT2");
  const len = bytes.length - start;
  if (len % 8 !== 0) fail(OP2, `${source}: byte offset ${bytes.length - (len % 8)}: truncated event (${len % 8} of 8 bytes)`);
  const n = len / 8;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const e = allocEvents(n);
  let wraps = 0;
  let prev = 0;
  for (let i = 0, o = start; i < n; i++, o += 8) {
    const addr = view.getUint32(o, false);
    const ts = view.getUint32(o + 4, false);
    if (i > 0 && prev - ts > 2 ** 31) wraps++;
    prev = ts;
    const x = (addr & 0xfe) >>> 1;
    const y = (addr & 0x7f00) >>> 8;
    e.x[i] = 127 - y;
    e.y[i] = 127 - x;
    e.p[i] = 1 - (addr & 1);
    e.t[i] = ts + wraps * 2 ** 32;
  }
  checkOnSensor(OP2, e, { width: 128, height: 128 }, (i) => `${source}: byte offset ${start + 8 * i}`);
  return sortByTime(e);
}
