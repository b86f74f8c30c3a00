#!/usr/bin/env node
// The `bitspike` command. It runs the CLI in this very process (no child process), so signals
// (Ctrl-C, SIGTERM, SIGKILL) reach the training itself and nothing is left running.
//
// - Installed package: runs the compiled JavaScript in dist/ with plain node.
// - A checkout (the TypeScript sources are here; the package does not ship them): runs
//   src/cli/main.ts through tsx (a dev dependency) registered in this process, so edits need no
//   build step; a checkout without tsx (installed with --omit=dev) falls back to a built dist/.
import { existsSync } from "node:fs";

const source = new URL("../src/cli/main.ts", import.meta.url);
const built = new URL("../dist/cli/main.js", import.meta.url);

async function tsxRegister() {
  try {
    return (await import("tsx/esm/api")).register;
  } catch (e) {
    if (e?.code === "ERR_MODULE_NOT_FOUND") return null;
    throw e;
  }
}

const register = existsSync(source) ? await tsxRegister() : null;
if (register) {
  register();
  await import(source.href);
} else if (existsSync(built)) {
  await import(built.href);
} else {
  console.error(
    existsSync(source)
      ? "bitspike: the TypeScript sources need tsx (`npm install`), or build the JavaScript first (`npm run build`)"
      : "bitspike: dist/cli/main.js is missing from this installation; reinstall the package",
  );
  process.exit(1);
}
