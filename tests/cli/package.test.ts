/**
 * bitspike as an npm package, the way a user gets it: build (through `npm pack`'s prepack), pack,
 * install the tarball into an empty project with `npm install --omit=dev`, then use the command, the
 * library from plain JavaScript, the browser entry and the shipped types there.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createRequire } from "node:module";
import { importGraph } from "../helpers/import-graph.js";
import { tinyDataset } from "../helpers/tiny-data.js";
import { serializeSafetensors } from "../../src/io/safetensors.js";
import { readSafetensorsFile } from "../../src/io/safetensors-file.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
// Child npm processes must not see the npm variables of an enclosing `npm test` (its package, its prefix).
const keep = new Set(["npm_config_cache", "npm_config_userconfig", "npm_config_globalconfig", "npm_config_registry"]);
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_") || keep.has(k.toLowerCase())));

function run(cmd: string, args: string[], cwd: string, timeout = 120_000): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", timeout });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} (in ${cwd}) failed: ${r.error?.message ?? r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** The first ```LANG block of the README's "Use it from your project" section. */
function readmeBlock(lang: string): string {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Use it from your project"));
  const m = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(section);
  if (!m) throw new Error(`README: no \`\`\`${lang} block under "Use it from your project"`);
  return m[1]!;
}

interface PackInfo {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string; size: number }[];
}

let work = "";
let app = "";
let pack: PackInfo;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "bitspike-package-"));
  pack = (JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work], root).stdout) as PackInfo[])[0]!;
  console.log(`packed ${pack.filename}: ${pack.entryCount} files, ${pack.size} bytes (${pack.unpackedSize} unpacked)`);
  app = join(work, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true, type: "module" }, null, 2));
  run("npm", ["install", "--omit=dev", "--offline", "--no-audit", "--no-fund", join(work, pack.filename)], app);
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the npm package", () => {
  it("the tarball holds package.json, README, the launcher and dist/ (JS, .d.ts, maps): no test, bench, fixture or TypeScript source", () => {
    const paths = pack.files.map((f) => f.path).sort();
    expect(paths.length).toBe(pack.entryCount);
    const odd = paths.filter((p) => !/^(package\.json|README\.md|bin\/bitspike\.js|dist\/.+\.(js|d\.ts|js\.map))$/.test(p));
    expect(odd).toEqual([]);
    expect(paths.filter((p) => /test|fixture|bench|golden|example|(?<!\.d)\.ts$|\.mjs$|\.py$/i.test(p))).toEqual([]);
    for (const p of ["dist/index.js", "dist/index.d.ts", "dist/browser.js", "dist/browser.d.ts", "dist/cli/main.js", "dist/parallel/worker.js", "bin/bitspike.js"]) {
      expect(paths).toContain(p);
    }
    // No runtime dependency: the install brought bitspike alone (and no tsx, no TypeScript).
    const manifest = JSON.parse(readFileSync(join(app, "node_modules", "bitspike", "package.json"), "utf8")) as Record<string, unknown>;
    expect(manifest["dependencies"]).toBeUndefined();
    expect(readdirSync(join(app, "node_modules")).filter((d) => !d.startsWith("."))).toEqual(["bitspike"]);
  });

  it("npx bitspike: params, train --stop-after (writes a checkpoint and weights), predict", () => {
    const npx = (...args: string[]) => run("npx", ["--no-install", "bitspike", ...args], app);
    expect(npx("params", "spikformer-cifar-4-384").stdout.trim()).toBe("9330874");
    const data = tinyDataset(app, 48, 8);
    const trained = npx("train", "--model", "spikformer-cifar-1-16", "--heads", "2", "--T", "1", "--data", `file:${data}`, "--batch", "8",
      "--epochs", "2", "--stop-after", "3", "--threads", "2", "--out", "run");
    expect(trained.stdout).toMatch(/stopped after 3 steps at epoch 1, step 3; continue with --resume/);
    const ckpt = readSafetensorsFile(join(app, "run", "checkpoint.safetensors"));
    expect(JSON.parse(ckpt.metadata["bitspike_checkpoint"]!).position).toEqual({ epoch: 0, batchIndex: 3, iteration: 3 });
    writeFileSync(join(app, "x.safetensors"), serializeSafetensors({ x: { shape: [2, 1, 8, 8], data: new Float32Array(128).fill(0.5) } }));
    npx("predict", "--weights", "run/weights.safetensors", "--input", "x.safetensors", "--output", "y.safetensors");
    expect(readSafetensorsFile(join(app, "y.safetensors")).tensors.get("logits")!.shape).toEqual([2, 3]);
  }, 120_000);

  it("plain JavaScript: a forward pass gives logits [B, classes]; workers start from the installed dist/ and give the same bits", () => {
    writeFileSync(join(app, "forward.mjs"), `
import { Rng, Spikformer, Tensor, noGrad, poolInfo, poolReady, setThreads, spikformerConfig } from "bitspike";
const model = new Spikformer(spikformerConfig("spikformer-cifar-1-16", { imgSize: 8, inChannels: 1, numClasses: 3, numHeads: 2, T: 2, seed: 1 })).eval();
const x = Tensor.uniform([2, 1, 8, 8], new Rng(2), -1, 3);
setThreads(1);
const one = noGrad(() => model.forward(x));
if (JSON.stringify(one.shape) !== "[2,3]") throw new Error("logits shape " + JSON.stringify(one.shape));
setThreads(2);
const usable = await poolReady();
if (usable !== 2) throw new Error("workers did not start: " + JSON.stringify(poolInfo()));
const two = noGrad(() => model.forward(x));
if (!one.data.every((v, i) => Object.is(v, two.data[i]))) throw new Error("2 threads gave other logits");
console.log("logits", JSON.stringify(one.shape));
`);
    expect(run(process.execPath, ["forward.mjs"], app).stdout.trim()).toBe("logits [2,3]");
  }, 60_000);

  it("the README's JavaScript example runs as it is: trains, saves weights, predicts", () => {
    writeFileSync(join(app, "example.mjs"), readmeBlock("js"));
    const out = run(process.execPath, ["example.mjs"], app).stdout;
    expect(out.match(/^step (25|50|75|100): loss \d+\.\d+$/gm)).toHaveLength(4);
    expect(out).toMatch(/^logits \[32, 4\], 32\/32 right$/m);
    expect(existsSync(join(app, "tiny.safetensors"))).toBe(true);
  }, 60_000);

  it("bitspike serve hands out the compiled demo and engine (no node: module in the page's or the workers' graphs) with the isolation headers", () => {
    const installed = join(app, "node_modules", "bitspike", "dist");
    for (const entry of ["demo/main.js", "demo/engine.js", "parallel/web-worker.js"]) expect(importGraph(join(installed, entry)).external, entry).toEqual([]);
    writeFileSync(join(app, "serve.mjs"), `
const { startDemoServer } = await import("./node_modules/bitspike/dist/cli/serve.js");
const s = await startDemoServer({ port: 0, host: "127.0.0.1", isolation: true });
const out = [];
for (const path of ["index.html", "lib/browser.js", "lib/demo/engine.js", "lib/parallel/web-worker.js", "lib/nothing.js"]) {
  const r = await fetch(s.url + path);
  const body = await r.text();
  out.push([path, r.status, r.headers.get("cross-origin-opener-policy"), r.headers.get("cross-origin-embedder-policy"), body.includes("import ") || body.includes("<!doctype html>")].join(" "));
}
await s.close();
console.log(out.join("\\n"));
`);
    expect(run(process.execPath, ["serve.mjs"], app).stdout.trim().split("\n")).toEqual([
      "index.html 200 same-origin require-corp true",
      "lib/browser.js 200 same-origin require-corp true",
      "lib/demo/engine.js 200 same-origin require-corp true",
      "lib/parallel/web-worker.js 200 same-origin require-corp true",
      "lib/nothing.js 404 same-origin require-corp false",
    ]);
  }, 60_000);

  it("the browser entry imports no node: module (its compiled import graph), and runs a forward pass with Node's modules blocked", () => {
    const installed = join(app, "node_modules", "bitspike", "dist");
    const graph = importGraph(join(installed, "browser.js"));
    expect(graph.modules.length).toBeGreaterThan(50);
    expect(graph.external).toEqual([]);
    expect(graph.dynamic).toEqual([]);
    // The node entry, by contrast, does import them (so the walk sees imports).
    expect(importGraph(join(installed, "index.js")).external.map((e) => e.specifier)).toContain("node:fs");

    // Under the "browser" condition `bitspike` is the browser entry; any Node module it asks for fails.
    writeFileSync(join(app, "block-node.mjs"), `
import { builtinModules } from "node:module";
export async function resolve(specifier, context, next) {
  const builtin = specifier.startsWith("node:") || builtinModules.includes(specifier);
  if (builtin && context.parentURL?.includes("/node_modules/bitspike/")) throw new Error("the browser entry loads " + specifier + " from " + context.parentURL);
  return next(specifier, context);
}
`);
    writeFileSync(join(app, "browser.mjs"), `
import { register } from "node:module";
register("./block-node.mjs", import.meta.url);
Object.defineProperty(process, "getBuiltinModule", { value: undefined }); // as in a browser
const m = await import("bitspike");
for (const name of ["loadWeights", "train", "readSafetensorsFile", "collectReport"]) if (name in m) throw new Error(name + " is in the browser entry");
// The pool is there, over Web Workers (none here: it stays at one thread), and so are the report's charts.
for (const name of ["setThreads", "webThreadHost", "lineChart", "weightsBytes"]) if (!(name in m)) throw new Error(name + " is missing from the browser entry");
const model = new m.Spikformer(m.spikformerConfig("spikformer-cifar-1-16", { imgSize: 8, inChannels: 1, numClasses: 3, numHeads: 2, T: 2 })).eval();
const logits = m.noGrad(() => model.forward(m.Tensor.uniform([2, 1, 8, 8], new m.Rng(2))));
const bytes = m.serializeSafetensors(model.stateDict());
model.loadStateDict(m.parseSafetensors(bytes).tensors);
console.log("browser logits", JSON.stringify(logits.shape));
`);
    expect(run(process.execPath, ["--conditions=browser", "browser.mjs"], app).stdout.trim()).toBe("browser logits [2,3]");
  }, 60_000);

  it("the README's TypeScript example and a browser consumer type-check against the shipped .d.ts", () => {
    const nodeTypes = join(root, "node_modules", "@types");
    writeFileSync(join(app, "consumer.ts"), readmeBlock("ts") + `
// The types are real (not any): a wrong option is an error.
// @ts-expect-error numClasses is a number
spikformerConfig("spikformer-cifar-1-16", { numClasses: "ten" });
`);
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify({
      compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2024"], strict: true, noEmit: true, skipLibCheck: false, typeRoots: [nodeTypes], types: ["node"] },
      files: ["consumer.ts"],
    }));
    run(process.execPath, [tsc, "-p", "tsconfig.json"], app);

    // A browser app (a bundler's resolution, the "browser" condition, no Node types) gets the browser entry's types.
    mkdirSync(join(app, "web"));
    writeFileSync(join(app, "web", "main.ts"), `
import { Rng, Spikformer, Tensor, noGrad, spikformerConfig } from "bitspike";
import * as entry from "bitspike/browser";
// @ts-expect-error files on disk are not in the browser entry
import { loadWeights } from "bitspike";
const model = new Spikformer(spikformerConfig("spikformer-cifar-1-16", { imgSize: 8, inChannels: 1, numClasses: 3 }));
const logits: Tensor = noGrad(() => model.eval().forward(Tensor.uniform([1, 1, 8, 8], new Rng(0))));
const same: typeof entry.Tensor = Tensor;
document.title = String(logits.shape) + same.name + String(loadWeights);
`);
    writeFileSync(join(app, "web", "tsconfig.json"), JSON.stringify({
      compilerOptions: { module: "preserve", moduleResolution: "bundler", customConditions: ["browser"], target: "es2022", lib: ["es2024", "dom"], strict: true, noEmit: true, skipLibCheck: false, types: [] },
      files: ["main.ts"],
    }));
    run(process.execPath, [tsc, "-p", "tsconfig.json"], join(app, "web"));
  }, 60_000);

  it("prepack builds: package.json wires the build, the exports and the launcher", () => {
    const require = createRequire(import.meta.url);
    const pkg = require(join(root, "package.json")) as Record<string, any>;
    expect(pkg.scripts.prepack).toBe("npm run build");
    expect(pkg.dependencies).toBeUndefined();
    expect(pkg.bin).toEqual({ bitspike: "./bin/bitspike.js" });
    expect(pkg.exports["."].node).toEqual({ types: "./dist/index.d.ts", default: "./dist/index.js" });
    expect(pkg.exports["."].browser).toEqual({ types: "./dist/browser.d.ts", default: "./dist/browser.js" });
  });
});
