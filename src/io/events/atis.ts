/**
 * The ATIS `.bin` files of N-MNIST and N-Caltech101: 5 bytes an event, bits
 * 39-32 x, 31-24 y, bit 23 polarity, bits 22-0 the timestamp in microseconds.
 * The 23-bit clock wraps at 2^23 us (8.4 s); the recordings mark each wrap
 * with an overflow event, y = 240, that adds 2^13 to every later timestamp and
 * is not an event itself (Orchard's Read_Ndataset.m and Tonic do this;
 * SpikingJelly's load_ATIS_bin does not, and would read the marker as an
 * event at y = 240).
 */
import { fail } from "../../tensor/errors.js";
import { allocEvents, checkOnSensor, headEvents, sortByTime, type Events, type Sensor } from "./events.js";

const OP = "atis";
const BYTES = 5;
/** The y of an overflow marker. */
export const ATIS_OVERFLOW_Y = 240;
/** What each overflow marker adds to the timestamps after it. */
export const ATIS_OVERFLOW_STEP = 2 ** 13;
/** One past the largest timestamp 23 bits hold. */
export const ATIS_CLOCK = 2 ** 23;

/**
 * Parses an ATIS `.bin` file; `source` names it in errors. Events off the
 * `sensor` and a size that is not a multiple of 5 bytes are errors naming the
 * byte offset. The events come back sorted by time.
 */
export function parseAtisBin(bytes: Uint8Array, source: string, sensor: Sensor): Events {
  if (bytes.length % BYTES !== 0) {
    fail(OP, `${source}: ${bytes.length} bytes is not a whole number of 5-byte events; the event at byte offset ${bytes.length - (bytes.length % BYTES)} is truncated`);
  }
  const n = bytes.length / BYTES;
  const e = allocEvents(n);
  const offset = new Int32Array(n);
  let base = 0;
  let k = 0;
  for (let i = 0, o = 0; i < n; i++, o += BYTES) {
    const y = bytes[o + 1]!;
    if (y === ATIS_OVERFLOW_Y) {
      base += ATIS_OVERFLOW_STEP;
      continue;
    }
    const b2 = bytes[o + 2]!;
    e.x[k] = bytes[o]!;
    e.y[k] = y;
    e.p[k] = b2 >> 7;
    e.t[k] = base + (((b2 & 0x7f) << 16) | (bytes[o + 3]! << 8) | bytes[o + 4]!);
    offset[k] = o;
    k++;
  }
  const events = headEvents(e, k);
  checkOnSensor(OP, events, sensor, (i) => `${source}: byte offset ${offset[i]}`);
  return sortByTime(events);
}

/**
 * ATIS `.bin` bytes of events sorted by time with integer timestamps >= 0:
 * timestamps past 2^23 are written with overflow markers, as the recordings
 * do. x must be below 256 and y below 256 and not 240 (the marker).
 */
export function serializeAtisBin(e: Events): Uint8Array {
  const n = e.t.length;
  let markers = 0;
  let base = 0;
  const check = (i: number): void => {
    const t = e.t[i]!;
    if (!Number.isSafeInteger(t) || t < 0) fail(OP, `event ${i}: timestamp ${t} must be an integer >= 0`);
    if (i > 0 && t < e.t[i - 1]!) fail(OP, `event ${i}: timestamp ${t} is before the previous one (${e.t[i - 1]}); events must be sorted by time`);
    if (e.x[i]! > 255 || e.y[i]! > 255 || e.y[i] === ATIS_OVERFLOW_Y) fail(OP, `event ${i}: x ${e.x[i]}, y ${e.y[i]} does not fit 8 bits (or is the overflow marker y = 240)`);
    if (e.p[i]! > 1) fail(OP, `event ${i}: polarity ${e.p[i]} must be 0 or 1`);
  };
  for (let i = 0; i < n; i++) {
    check(i);
    while (e.t[i]! - base >= ATIS_CLOCK) {
      base += ATIS_OVERFLOW_STEP;
      markers++;
    }
  }
  const out = new Uint8Array((n + markers) * BYTES);
  base = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    while (e.t[i]! - base >= ATIS_CLOCK) {
      out[o + 1] = ATIS_OVERFLOW_Y;
      o += BYTES;
      base += ATIS_OVERFLOW_STEP;
    }
    const ts = e.t[i]! - base;
    out[o] = e.x[i]!;
    out[o + 1] = e.y[i]!;
    out[o + 2] = (e.p[i]! << 7) | (ts >>> 16);
    out[o + 3] = (ts >>> 8) & 0xff;
    out[o + 4] = ts & 0xff;
    o += BYTES;
  }
  return out;
}
