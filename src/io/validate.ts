/**
 * Checks on values that come from outside the program: command-line flags,
 * file metadata, sizes read from files. Every check throws a BitspikeError
 * naming the flag or file (`op`), the value it got and what it expected, in
 * one line; nothing here recurses over untrusted data, so no input can blow
 * the stack, and size limits follow from this machine's memory so a bad number
 * is refused before anything is allocated.
 */
import { fail, oneLine } from "../tensor/errors.js";
import { firstNonFinite } from "../kernels/reduce/reduce.js";

/** Deepest JSON nesting a bitspike file may hold (its own files need 3 levels). */
export const MAX_JSON_DEPTH = 64;

/** Most values one tensor may hold: 4 GB of float32, a margin below V8's typed-array limit. */
export const MAX_TENSOR_ELEMENTS = 2 ** 30;

/**
 * Bytes a run may plan to use: the machine's memory, and at most the 4 GiB a
 * wasm32 heap (src/tensor/heap.ts) holds. Sizes derived from flags or files
 * are checked against it before anything is allocated.
 */
export function memoryBudgetBytes(): number {
  // node:os through process.getBuiltinModule: no static import, since models use this file in browsers too.
  const os = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process?.getBuiltinModule?.("node:os") as
    | { totalmem(): number }
    | undefined;
  return Math.min(os ? os.totalmem() : Infinity, 4 * 2 ** 30);
}

/** Bounds of a number; `min` / `max` are inclusive, `above` / `below` exclusive. */
export interface Range {
  min?: number;
  max?: number;
  above?: number;
  below?: number;
  /** Why `max` is what it is, appended to the message (e.g. "the machine has 2 cores"). */
  maxReason?: string;
}

/** `got` for a message: short, never recursing (strings quoted and cut, objects by kind). */
export function preview(v: unknown, limit = 40): string {
  if (typeof v === "string") return JSON.stringify(v.length > limit ? v.slice(0, limit) + "..." : v);
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint" || v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return typeof v === "object" ? "an object" : typeof v;
}

function describeRange(r: Range): string {
  const parts: string[] = [];
  if (r.above !== undefined) parts.push(`> ${r.above}`);
  if (r.min !== undefined) parts.push(`>= ${r.min}`);
  if (r.max !== undefined) parts.push(`<= ${r.max}`);
  if (r.below !== undefined) parts.push(`< ${r.below}`);
  return parts.join(" and ");
}

function checkRange(op: string, what: string, v: number, kind: string, r: Range): number {
  if ((r.above !== undefined && !(v > r.above)) || (r.min !== undefined && !(v >= r.min)) || (r.max !== undefined && !(v <= r.max)) || (r.below !== undefined && !(v < r.below))) {
    fail(op, `${what} must be ${kind} ${describeRange(r)}${r.max !== undefined && r.maxReason ? ` (${r.maxReason})` : ""}, got ${preview(v)}`);
  }
  return v;
}

/** A finite number in the range, else a BitspikeError `op: what must be a number ..., got v`. */
export function checkNumber(op: string, what: string, v: unknown, r: Range = {}): number {
  if (typeof v !== "number" || !Number.isFinite(v)) fail(op, `${what} must be a finite number${describeRange(r) ? " " + describeRange(r) : ""}, got ${preview(v)}`);
  return checkRange(op, what, v, "a number", r);
}

/** A safe integer in the range (see {@link checkNumber}). */
export function checkInt(op: string, what: string, v: unknown, r: Range = {}): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) fail(op, `${what} must be an integer${describeRange(r) ? " " + describeRange(r) : ""}, got ${preview(v)}`);
  return checkRange(op, what, v, "an integer", r);
}

/** A string from a fixed set. */
export function checkOneOf<T extends string>(op: string, what: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) fail(op, `${what} must be one of ${allowed.join(", ")}, got ${preview(v)}`);
  return v as T;
}

/** A plain JSON object (not null, not an array). */
export function checkObject(op: string, what: string, v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) fail(op, `${what} must be a JSON object, got ${preview(v)}`);
  return v as Record<string, unknown>;
}

/** A JSON array. */
export function checkArray(op: string, what: string, v: unknown): unknown[] {
  if (!Array.isArray(v)) fail(op, `${what} must be a JSON array, got ${preview(v)}`);
  return v;
}

/**
 * Depth of nested arrays and objects in a parsed JSON value, counted with an
 * explicit stack (a recursive walk, or JSON.stringify, overflows the stack on
 * a few thousand levels); stops as soon as `limit` is exceeded.
 */
export function jsonDepth(v: unknown, limit = MAX_JSON_DEPTH): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== "object") continue;
    const depth = d + 1;
    if (depth > max) max = depth;
    if (max > limit) return max;
    for (const c of Array.isArray(x) ? x : Object.values(x as object)) if (c !== null && typeof c === "object") stack.push([c, depth]);
  }
  return max;
}

/** Refuses a parsed JSON value nested deeper than {@link MAX_JSON_DEPTH}. */
export function checkJsonDepth(op: string, what: string, v: unknown): void {
  if (jsonDepth(v) > MAX_JSON_DEPTH) fail(op, `${what} nests more than ${MAX_JSON_DEPTH} levels deep; no bitspike file needs that`);
}

/** Parses JSON text from a file, refusing invalid JSON and absurd nesting. */
export function parseJson(op: string, what: string, text: string): unknown {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return fail(op, `${what} is not valid JSON (${oneLine((e as Error).message)})`);
  }
  checkJsonDepth(op, what, v);
  return v;
}

/** Index of the first NaN or infinity in `data`, or -1 (the reduce family's kernel, WASM for float32 heap arrays). */
export { firstNonFinite };

/** Refuses NaN or infinite values, naming `what` (a tensor, a parameter) and the first bad index. */
export function checkFinite(op: string, what: string, data: ArrayLike<number>): void {
  const i = firstNonFinite(data);
  if (i >= 0) fail(op, `${what} holds a non-finite value (${data[i]} at index ${i}); expected finite numbers`);
}

