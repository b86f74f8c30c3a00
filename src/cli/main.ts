/** Entry point of the `bitspike` command: runs it (see run.ts) and exits with its code. */
import { describeError, runCli } from "./run.js";

// Errors that escape the synchronous run (a worker's late failure) get the same one-line treatment.
const last = (e: unknown): void => {
  const { message, code } = describeError(e);
  console.error(message);
  process.exit(code);
};
process.on("uncaughtException", last);
process.on("unhandledRejection", last);

const code = await runCli(process.argv.slice(2));
// On success let the process end by itself, so buffered stdout is flushed.
if (code !== 0) process.exit(code);
