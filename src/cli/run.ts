/**
 * The one place where the `bitspike` command meets its errors: every throw,
 * including one while the kernels load (a bad BITSPIKE_KERNELS), becomes one
 * line on stderr and a non-zero exit code. User errors (BitspikeError, a file
 * system refusing a path) never print a stack trace; anything else is a bug,
 * reported on one line too, with its stack only under BITSPIKE_DEBUG=1.
 */
// Only the lowest layer here: what this imports loads before the error handling below.
import { BitspikeError, oneLine } from "../tensor/errors.js";

/** Exit codes: 1 bad input, 2 bad command line (unknown command), 70 internal error (BSD's EX_SOFTWARE). */
export const EXIT = { ok: 0, input: 1, usage: 2, internal: 70 } as const;

/** The one-line message and exit code for a thrown value. */
export function describeError(e: unknown, debug = process.env.BITSPIKE_DEBUG === "1"): { message: string; code: number } {
  if (e instanceof BitspikeError) return { message: `error: ${oneLine(e.message)}`, code: EXIT.input };
  // Node's file-system and OS errors (ENOENT, EACCES, ENOSPC, ...) are about the user's environment, not a bug.
  const sys = e as NodeJS.ErrnoException;
  if (e instanceof Error && typeof sys.code === "string" && /^E[A-Z]+$/.test(sys.code)) return { message: `error: ${oneLine(e.message)}`, code: EXIT.input };
  const what = e instanceof Error ? `${e.name}: ${oneLine(e.message)}` : oneLine(String(e));
  const stack = debug && e instanceof Error && e.stack ? `\n${e.stack}` : "";
  return { message: `error: internal error (${what}); please report it (BITSPIKE_DEBUG=1 prints the stack)${stack}`, code: EXIT.internal };
}

/**
 * Runs `bitspike ARGV...` in this process and returns the exit code; errors
 * go to `stderr` as one line. The commands (and with them the kernels) are
 * imported here, inside the error handling, so a failure while they load is
 * reported like any other.
 */
export async function runCli(argv: readonly string[], stderr: (line: string) => void = (l) => console.error(l)): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    const { COMMANDS } = await import("./commands.js");
    const { usage } = await import("./args.js");
    const help = (): string => ["usage: bitspike COMMAND [flags]", "", ...Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(10)} ${c.summary}`), "", "bitspike help COMMAND prints a command's flags."].join("\n");
    if (cmd === undefined || cmd === "help" || cmd === "--help") {
      const c = rest[0] !== undefined && Object.hasOwn(COMMANDS, rest[0]) ? COMMANDS[rest[0]] : undefined;
      if (rest[0] !== undefined && !c) {
        stderr(`error: bitspike help: unknown command '${rest[0].slice(0, 40)}'; commands: ${Object.keys(COMMANDS).join(", ")}`);
        return EXIT.usage;
      }
      console.log(c ? usage(rest[0]!, c.summary, c.flags) : help());
      return EXIT.ok;
    }
    if (!Object.hasOwn(COMMANDS, cmd)) {
      stderr(`error: bitspike: unknown command '${cmd.slice(0, 40)}'; commands: ${Object.keys(COMMANDS).join(", ")} (bitspike help lists them)`);
      return EXIT.usage;
    }
    const command = COMMANDS[cmd]!;
    if (rest.includes("--help")) console.log(usage(cmd, command.summary, command.flags));
    else command.run(rest);
    return EXIT.ok;
  } catch (e) {
    const { message, code } = describeError(e);
    stderr(message);
    return code;
  }
}
