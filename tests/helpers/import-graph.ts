import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

/** What {@link importGraph} found. */
export interface ImportGraph {
  /** Every module file reached (absolute paths). */
  modules: string[];
  /** Non-relative specifiers (`node:fs`, `os`, a package), each with the file that imports it. */
  external: { specifier: string; from: string }[];
  /** `import(...)` calls whose argument is not a string literal (their target cannot be checked). */
  dynamic: string[];
}

const STATIC = /(?:^|[;\s])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?["']([^"']+)["']/g;
// tsc prints a dynamic import as `import(`, with no space (prose in comments, "import (x)", is not one).
const DYNAMIC = /\bimport\(\s*(["'`]?)([^"'`)]*)\1\s*[,)]/g;

/**
 * The static import graph of a compiled ES module: follows every relative
 * `import` / `export ... from` / `import("...")` from `entry`, and lists what is
 * imported from outside it (node: modules, packages) and dynamic imports it
 * cannot follow. Comments are not stripped, so a commented-out import counts
 * too (stricter, never laxer).
 */
export function importGraph(entry: string): ImportGraph {
  const seen = new Set<string>();
  const external: ImportGraph["external"] = [];
  const dynamic: string[] = [];
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = readFileSync(file, "utf8");
    const specs: string[] = [];
    for (const m of code.matchAll(STATIC)) specs.push(m[1]!);
    for (const m of code.matchAll(DYNAMIC)) {
      if (m[1]) specs.push(m[2]!);
      else dynamic.push(`${file}: import(${m[2]})`);
    }
    for (const s of specs) {
      if (s.startsWith("./") || s.startsWith("../")) visit(resolve(dirname(file), s));
      else external.push({ specifier: s, from: file });
    }
  };
  visit(resolve(entry));
  return { modules: [...seen], external, dynamic };
}
