/** A small, strict argument parser for the `bitspike` command: unknown flags are errors. */
import { fail } from "../tensor/errors.js";

export interface FlagSpec {
  /** "string" | "number" | "int" | "boolean" */
  type: "string" | "number" | "int" | "boolean";
  default?: string | number | boolean;
  help: string;
}

export type Flags = Record<string, FlagSpec>;
export type Parsed<F extends Flags> = { [K in keyof F]: F[K]["type"] extends "boolean" ? boolean : F[K]["type"] extends "string" ? string | undefined : number | undefined } & { _: string[] };

/** Parses `--name value`, `--name=value` and boolean `--name`, checking types and names. */
export function parseArgs<F extends Flags>(command: string, argv: readonly string[], flags: F): Parsed<F> {
  const out: Record<string, unknown> = { _: [] as string[] };
  for (const [k, spec] of Object.entries(flags)) out[k] = spec.default ?? (spec.type === "boolean" ? false : undefined);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) {
      (out._ as string[]).push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    const spec = flags[name];
    if (!spec) fail(`bitspike ${command}`, `unknown flag --${name}; known flags: ${Object.keys(flags).map((f) => "--" + f).join(", ")}`);
    if (spec.type === "boolean") {
      out[name] = eq >= 0 ? a.slice(eq + 1) !== "false" : true;
      continue;
    }
    const raw = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (raw === undefined) fail(`bitspike ${command}`, `--${name} needs a value`);
    if (spec.type === "string") out[name] = raw;
    else {
      const v = Number(raw);
      if (!Number.isFinite(v) || (spec.type === "int" && !Number.isInteger(v))) {
        fail(`bitspike ${command}`, `--${name} expects ${spec.type === "int" ? "an integer" : "a number"}, got '${raw}'`);
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
