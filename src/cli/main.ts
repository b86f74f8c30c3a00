/** Entry point of the `bitspike` command. */
import { BitspikeError } from "../tensor/errors.js";
import { COMMANDS } from "./commands.js";
import { usage } from "./args.js";

function help(): string {
  return ["usage: bitspike COMMAND [flags]", "", ...Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(10)} ${c.summary}`), "", "bitspike help COMMAND prints a command's flags."].join("\n");
}

const [cmd, ...rest] = process.argv.slice(2);
try {
  if (cmd === undefined || cmd === "help" || cmd === "--help") {
    const c = rest[0] && COMMANDS[rest[0]];
    console.log(c ? usage(rest[0]!, c.summary, c.flags) : help());
  } else if (COMMANDS[cmd]) {
    if (rest.includes("--help")) console.log(usage(cmd, COMMANDS[cmd]!.summary, COMMANDS[cmd]!.flags));
    else COMMANDS[cmd]!.run(rest);
  } else {
    console.error(`bitspike: unknown command '${cmd}'\n\n${help()}`);
    process.exit(2);
  }
} catch (e) {
  if (e instanceof BitspikeError) {
    console.error(`error: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
