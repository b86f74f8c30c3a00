/**
 * A small, strict argument parser for the `bitspike` command: unknown flags,
 * single-dash flags, stray arguments, malformed values and values out of a
 * flag's range are errors naming the flag, never silently ignored or misread.
 */
import { fail } from "../tensor/errors.js";
import { checkInt, checkNumber, type Range } from "../io/validate.js";

export interface FlagSpec extends Range {
  /** "string" | "number" | "int" | "boolean" */
  type: "string" | "number" | "int" | "boolean";
  default?: string | number | boolean;
  /** A string flag's allowed values (any non-empty string when absent). */
  choices?: readonly string[];
  help: string;
}

export type Flags = Record<string, FlagSpec>;
export type Parsed<F extends Flags> = { [K in keyof F]: F[K]["type"] extends "boolean" ? boolean : F[K]["type"] extends "string" ? string | undefined : number | undefined } & { _: string[] };

/** A command-line word as messages quote it: 'word', cut at 40 characters. */
function quote(s: string): string {
  return `'${s.length > 40 ? s.slice(0, 40) + "..." : s}'`;
}

/** Options of {@link parseArgs}. */
export interface ParseOptions {
  /** How many positional arguments the command takes (default 0); more are errors. */
  positionals?: number;
}

/**
 * Parses `--name value`, `--name=value` and boolean `--name` / `--name=true|false`,
 * checking names, types and ranges (a flag's `min`, `max`, `above`).
 */
export function parseArgs<F extends Flags>(command: string, argv: readonly string[], flags: F, opts: ParseOptions = {}): Parsed<F> {
  const op = `bitspike ${command}`;
  const out: Record<string, unknown> = { _: [] as string[] };
  for (const [k, spec] of Object.entries(flags)) out[k] = spec.default ?? (spec.type === "boolean" ? false : undefined);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) {
      // A single dash is a typo of a flag (`-epochs 3`), not an argument to pass on.
      if (a.startsWith("-") && a.length > 1) fail(op, `unknown flag ${quote(a)}: flags start with two dashes (--${a.replace(/^-+/, "").slice(0, 40)})`);
      const positional = out._ as string[];
      if (positional.length >= (opts.positionals ?? 0)) fail(op, `unexpected argument ${quote(a)}${opts.positionals ? "" : ` (${command} takes only --flags)`}`);
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    const spec = Object.hasOwn(flags, name) ? flags[name] : undefined;
    if (!spec) fail(op, `unknown flag --${name.slice(0, 40)}; known flags: ${Object.keys(flags).map((f) => "--" + f).join(", ")}`);
    const flag = `--${name}`;
    if (spec.type === "boolean") {
      const raw = eq >= 0 ? a.slice(eq + 1) : "true";
      if (raw !== "true" && raw !== "false") fail(op, `${flag} takes true or false, got ${quote(raw)}`);
      out[name] = raw === "true";
      continue;
    }
    const raw = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (raw === undefined) fail(op, `${flag} needs a value`);
    if (spec.type === "string") {
      if (raw === "") fail(op, `${flag} needs a non-empty value`);
      if (spec.choices && !spec.choices.includes(raw)) fail(op, `${flag} takes ${spec.choices.join(" or ")}, got ${quote(raw)}`);
      out[name] = raw;
    } else {
      // Number("") and Number(" ") are 0: an empty value must not pass as zero.
      const v = raw.trim() === "" ? NaN : Number(raw);
      if (spec.type === "int") {
        if (!Number.isSafeInteger(v)) fail(op, `${flag} expects an integer, got ${quote(raw)}`);
        checkInt(op, flag, v, spec);
      } else {
        if (!Number.isFinite(v)) fail(op, `${flag} expects a number, got ${quote(raw)}`);
        checkNumber(op, flag, v, spec);
      }
      out[name] = v;
    }
  }
  return out as Parsed<F>;
}

/** Help text for a command's flags. */
export function usage(command: string, summary: string, flags: Flags): string {
  const lines = [`bitspike ${command}: ${summary}`, ""];
  for (const [k, s] of Object.entries(flags)) {
    const def = s.default === undefined ? "" : ` (default ${String(s.default)})`;
    lines.push(`  --${k.padEnd(14)} ${s.help}${def}`);
  }
  return lines.join("\n");
}
