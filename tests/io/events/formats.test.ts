/**
 * The event-file readers against test-only writers: round trips on random
 * events (lengths 0, 1, many; timestamps past the formats' 2^23 / 2^31 / 2^32
 * wraps), and bad files refused with the file and byte offset named.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseAtisBin, serializeAtisBin, ATIS_OVERFLOW_Y } from "../../../src/io/events/atis.js";
import { parseAedat2Cifar, parseAedat3, parseGestureLabels, sliceWindows } from "../../../src/io/events/aedat.js";
import { parseEventsNpz, parseNpy, parseZip } from "../../../src/io/events/npz.js";
import { SENSORS, sortByTime, type Events } from "../../../src/io/events/events.js";
import { arbEvents, gestureLabelsCsv, serializeAedat2Cifar, serializeAedat3, serializeEventsNpz, serializeNpy, serializeZip } from "../../helpers/event-writers.js";
import { expectBitspikeError } from "../../helpers/errors.js";

const RUNS = { numRuns: 60, seed: 16 };

function expectSame(a: Events, b: Events): void {
  expect(Array.from(a.t)).toEqual(Array.from(b.t));
  expect(Array.from(a.x)).toEqual(Array.from(b.x));
  expect(Array.from(a.y)).toEqual(Array.from(b.y));
  expect(Array.from(a.p)).toEqual(Array.from(b.p));
}

/** Events with gaps below `maxGap` from a random start (AEDAT 2.0 unwraps its clock by gaps under 2^31). */
function arbGapEvents(width: number, height: number, start: number, maxGap: number): fc.Arbitrary<Events> {
  return arbEvents(width, height, 0, 40).chain((e) =>
    fc.tuple(fc.integer({ min: 0, max: start }), fc.array(fc.integer({ min: 0, max: maxGap }), { minLength: e.t.length, maxLength: e.t.length })).map(([s, gaps]) => {
      let t = s;
      return { ...e, t: Float64Array.from(gaps, (g, i) => (i === 0 ? t : (t += g))) };
    }),
  );
}

describe("ATIS .bin (N-MNIST, N-Caltech101)", () => {
  it("round-trips events, timestamps past 2^23 through overflow markers", () => {
    fc.assert(fc.property(arbEvents(34, 34, 2 ** 25), (e) => expectSame(parseAtisBin(serializeAtisBin(e), "x.bin", SENSORS.nmnist), e)), RUNS);
    fc.assert(fc.property(arbEvents(240, 180, 2 ** 23 - 1), (e) => expectSame(parseAtisBin(serializeAtisBin(e), "x.bin", SENSORS.ncaltech101), e)), RUNS);
  });

  it("decodes the bit layout: x, y, polarity bit 23, 23-bit time; y = 240 adds 2^13", () => {
    const b = Uint8Array.of(3, 7, 0x80 | 0x12, 0x34, 0x56, 4, 9, 0x00, 0x00, 0x05, 0, ATIS_OVERFLOW_Y, 0, 0, 0, 33, 2, 0x00, 0x00, 0x01);
    const e = parseAtisBin(b, "a.bin", SENSORS.nmnist);
    expectSame(e, { t: Float64Array.of(5, 8193, 0x123456), x: Uint16Array.of(4, 33, 3), y: Uint16Array.of(9, 2, 7), p: Uint8Array.of(0, 0, 1) }); // sorted by time
  });

  it("refuses a truncated event and an event off the sensor, naming the byte offset", () => {
    expectBitspikeError(() => parseAtisBin(new Uint8Array(12), "d/a.bin", SENSORS.nmnist), "atis", /d\/a\.bin.*byte offset 10 is truncated/);
    expectBitspikeError(() => parseAtisBin(Uint8Array.of(0, 0, 0, 0, 1, 34, 0, 0, 0, 2), "a.bin", SENSORS.nmnist), "atis", /a\.bin: byte offset 5: event at x 34, y 0 is outside the 34x34 sensor/);
  });
});

describe("AEDAT 3.1 (DVS128 Gesture)", () => {
  it("round-trips polarity events over packets, skipping other packets and invalid slots; timestamps past 2^31", () => {
    fc.assert(fc.property(arbEvents(128, 128, 2 ** 33), fc.integer({ min: 1, max: 7 }), (e, per) => expectSame(parseAedat3(serializeAedat3(e, per), "g.aedat", SENSORS.dvs128), e)), RUNS);
  });

  it("refuses a wrong magic, a truncated packet (header or body) and an event off the sensor", () => {
    const e: Events = { t: Float64Array.of(1, 2), x: Uint16Array.of(1, 2), y: Uint16Array.of(3, 4), p: Uint8Array.of(0, 1) };
    const good = serializeAedat3(e, 5);
    const start = good.length - 28 - 8 - (28 + 4 * 8); // the first packet follows the header
    expectBitspikeError(() => parseAedat3(new TextEncoder().encode("#!AER-DAT2.0\r\n"), "g.aedat", SENSORS.dvs128), "aedat3", /g\.aedat: byte offset 0: .*not an AER-DAT3 file/);
    expectBitspikeError(() => parseAedat3(good.subarray(0, good.length - 3), "g.aedat", SENSORS.dvs128), "aedat3", new RegExp(`byte offset ${good.length - 36}: truncated packet:`));
    expectBitspikeError(() => parseAedat3(good.subarray(0, start + 10), "g.aedat", SENSORS.dvs128), "aedat3", new RegExp(`byte offset ${start}: truncated packet header`));
    const off = serializeAedat3({ ...e, x: Uint16Array.of(1, 128) }, 5);
    expectBitspikeError(() => parseAedat3(off, "g.aedat", SENSORS.dvs128), "aedat3", new RegExp(`byte offset ${start + 28 + 8}: event at x 128`));
  });

  it("slices the labels' windows [start, end) and refuses a window past the recording", () => {
    const e: Events = { t: Float64Array.of(10, 20, 30, 40), x: new Uint16Array(4), y: new Uint16Array(4), p: new Uint8Array(4) };
    const w = parseGestureLabels(gestureLabelsCsv([[3, 10, 30], [11, 30, 41]]), "u_labels.csv");
    expect(w).toEqual([{ label: 2, start: 10, end: 30 }, { label: 10, start: 30, end: 41 }]);
    expect(sliceWindows(e, w, "u_labels.csv", "u.aedat").map((s) => [s.label, Array.from(s.events.t)])).toEqual([[2, [10, 20]], [10, [30, 40]]]);
    const late = parseGestureLabels(gestureLabelsCsv([[1, 10, 20], [2, 50, 60]]), "u_labels.csv");
    expectBitspikeError(() => sliceWindows(e, late, "u_labels.csv", "u.aedat"), "gesture-labels", /u_labels\.csv: window 2 \[50, 60\) lies outside the recording u\.aedat/);
    expectBitspikeError(() => parseGestureLabels("class,startTime_usec,endTime_usec\n12,1,2\n", "l.csv"), "gesture-labels", /l\.csv: line 2 \(byte offset 34\): class 12/);
    expectBitspikeError(() => parseGestureLabels("1,5,5\n", "l.csv"), "gesture-labels", /line 1 .*empty or reversed/);
  });
});

describe("AEDAT 2.0 (CIFAR10-DVS)", () => {
  it("round-trips events through SpikingJelly's axis and polarity transform; the 32-bit clock unwrapped", () => {
    fc.assert(fc.property(arbGapEvents(128, 128, 2 ** 32 - 1, 2 ** 31 - 1), (e) => expectSame(parseAedat2Cifar(serializeAedat2Cifar(e), "c.aedat"), e)), RUNS);
  });

  it("decodes x' = 127 - y, y' = 127 - x, p' = 1 - p from big-endian words", () => {
    const head = new TextEncoder().encode("#!AER-DAT2.0\r\n");
    const b = new Uint8Array(head.length + 8);
    b.set(head);
    new DataView(b.buffer).setUint32(head.length, (5 << 8) | (9 << 1) | 1, false);
    new DataView(b.buffer).setUint32(head.length + 4, 77, false);
    expectSame(parseAedat2Cifar(b, "c.aedat"), { t: Float64Array.of(77), x: Uint16Array.of(122), y: Uint16Array.of(118), p: Uint8Array.of(0) });
  });

  it("refuses a wrong magic and a truncated event", () => {
    const good = serializeAedat2Cifar({ t: Float64Array.of(1), x: Uint16Array.of(1), y: Uint16Array.of(1), p: Uint8Array.of(1) });
    expectBitspikeError(() => parseAedat2Cifar(good.subarray(0, good.length - 3), "c.aedat"), "aedat2", new RegExp(`c\\.aedat: byte offset ${good.length - 8}: truncated event`));
    expectBitspikeError(() => parseAedat2Cifar(new Uint8Array(16), "c.aedat"), "aedat2", /byte offset 0: expected the header line/);
  });
});

describe("npz (SpikingJelly / Tonic event files)", () => {
  it("round-trips events, deflated or stored, in several dtypes; timestamps past 2^31", () => {
    const dtypes = fc.constantFrom(
      { t: "<i8", x: "<u2", y: "<u2", p: "|u1" },
      { t: "<u4", x: "<i8", y: "<i8", p: "|b1" },
      { t: ">f8", x: "|u1", y: "<i4", p: "<i2" },
    );
    fc.assert(fc.property(arbEvents(128, 128, 2 ** 32 - 1), fc.boolean(), dtypes, (e, z, d) => expectSame(parseEventsNpz(serializeEventsNpz(e, z, d), "e.npz", SENSORS.dvs128), e)), RUNS);
  });

  it("sorts events that are out of time order (stable for ties)", () => {
    const e: Events = { t: Float64Array.of(5, 1, 5, 0), x: Uint16Array.of(0, 1, 2, 3), y: new Uint16Array(4), p: new Uint8Array(4) };
    expectSame(parseEventsNpz(serializeEventsNpz(e), "e.npz", SENSORS.dvs128), sortByTime(e));
    expect(Array.from(sortByTime(e).x)).toEqual([3, 1, 0, 2]);
  });

  it("refuses a missing member, a corrupt or truncated zip, bad values and events off the sensor", () => {
    const e: Events = { t: Float64Array.of(1, 2), x: Uint16Array.of(1, 2), y: Uint16Array.of(3, 4), p: Uint8Array.of(0, 1) };
    expectBitspikeError(() => parseEventsNpz(serializeEventsNpz(e, true, undefined, "p"), "e.npz", SENSORS.dvs128), "npz", /e\.npz: member 'p\.npy' is missing \(found: t\.npy, x\.npy, y\.npy\)/);
    const good = serializeEventsNpz(e, false);
    expectBitspikeError(() => parseEventsNpz(good.subarray(0, good.length - 30), "e.npz", SENSORS.dvs128), "npz", /e\.npz: not a zip archive/);
    const flipped = good.slice();
    flipped[100] = flipped[100]! ^ 0xff; // inside t.npy's header
    expectBitspikeError(() => parseEventsNpz(flipped, "e.npz", SENSORS.dvs128), "npz", /e\.npz: byte offset 35: member "t\.npy": CRC mismatch/);
    expectBitspikeError(() => parseEventsNpz(serializeEventsNpz({ ...e, x: Uint16Array.of(1, 200) }), "e.npz", SENSORS.dvs128), "npz", /e\.npz: event 1: event at x 200/);
    expectBitspikeError(() => parseEventsNpz(serializeEventsNpz({ ...e, p: Uint8Array.of(0, 2) }), "e.npz", SENSORS.dvs128), "npz", /member 'p\.npy': element 1 is 2, expected polarity 0 or 1/);
    expectBitspikeError(() => parseEventsNpz(serializeEventsNpz({ ...e, t: Float64Array.of(1, 2.5) }, true, { t: "<f8", x: "<u2", y: "<u2", p: "|u1" }), "e.npz", SENSORS.dvs128), "npz", /member 't\.npy': element 1 is 2\.5/);
  });

  it("parseNpy refuses a wrong magic, a 2-D shape and a short array, naming the byte offset", () => {
    const npy = serializeNpy([1, 2, 3], "<i4");
    expectBitspikeError(() => parseNpy(npy.subarray(0, npy.length - 2), "a.npy", 100), "npz", /a\.npy: byte offset 228: 3 values of 4 bytes need 12 bytes, the array holds 10/);
    expectBitspikeError(() => parseNpy(new Uint8Array(20), "a.npy"), "npz", /a\.npy: byte offset 0: not a \.npy/);
    const twoD = Uint8Array.from(Buffer.from(Buffer.from(npy).toString("latin1").replace("(3,), ", "(3,1),"), "latin1"));
    expectBitspikeError(() => parseNpy(twoD, "a.npy"), "npz", /is not 1-D/);
    expect(parseZip(serializeZip({ "a.npy": npy }, true), "z.npz").get("a.npy")!.data).toEqual(npy);
  });
});
