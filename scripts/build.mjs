// `npm run build` (also run by `npm pack` / `npm publish` through prepack): compiles src/ to ESM
// JavaScript with .d.ts types and source maps (sources inlined) in dist/, from a clean dist/.
// tsc is TypeScript's own compiler (the dev dependency); nothing else is needed.
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });
const tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc");
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit", cwd: root });
// What the package's entries and the thread pool load (the pool starts dist/parallel/worker.js).
const missing = ["index.js", "index.d.ts", "browser.js", "browser.d.ts", "cli/main.js", "parallel/worker.js"].filter((f) => !existsSync(join(dist, f)));
if (missing.length) {
  console.error(`build: dist/ lacks ${missing.join(", ")}`);
  process.exit(1);
}
