import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";

/**
 * The house rule: each folder of src/ is a floor, and no file imports from a
 * floor above its own (README "Architecture"). Parsed from the import
 * statements of every source file.
 */
const FLOORS = ["tensor", "wasm", "parallel", "kernels", "autograd", "ops", "nn", "io", "models", "train", "energy", "report", "demo", "cli"];
const SRC = resolve(__dirname, "../../src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mjs)$/.test(f) ? [p] : [];
  });
}

const floorOf = (file: string): string => relative(SRC, file).split("/")[0]!;

describe("floors", () => {
  it("no source file imports from a floor above its own", () => {
    const bad: string[] = [];
    for (const f of files(SRC)) {
      const own = floorOf(f);
      if (!FLOORS.includes(own)) continue; // src/index.ts, the public entry, sits above them all
      for (const m of readFileSync(f, "utf8").matchAll(/^\s*(?:import|export)[^"']*?from\s+["'](\.[^"']+)["']/gm)) {
        const target = floorOf(resolve(dirname(f), m[1]!));
        if (FLOORS.indexOf(target) > FLOORS.indexOf(own)) bad.push(`${relative(SRC, f)} -> ${m[1]} (${own} imports ${target})`);
      }
    }
    expect(bad).toEqual([]);
  });
});
