/**
 * The one error type of bitspike. It names the op (or file) that refused the
 * input, what it got and what it expected, so a user never has to read a
 * kernel to learn what went wrong.
 */
export class BitspikeError extends Error {
  /** The op, layer or file that raised the error, e.g. `matmul` or `safetensors`. */
  readonly op: string;
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = "BitspikeError";
    this.op = op;
  }
}

/** Throws a {@link BitspikeError}; typed `never` so callers can use it in expressions. */
export function fail(op: string, message: string): never {
  throw new BitspikeError(op, message);
}

/** Formats a shape the way errors print it: `[2, 3, 4]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** A message on one line (errors from the platform sometimes span several). */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}
