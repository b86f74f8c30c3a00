/**
 * `bitspike serve`: the in-browser demo over node:http. Every response carries
 * the cross-origin isolation headers (COOP same-origin, COEP require-corp)
 * that shared WebAssembly memory and so the Web Worker pool need; the page
 * says when they are missing and runs on one thread. The engine is served as
 * plain ES modules: dist/ in an installed package, the TypeScript sources
 * (each file transformed by esbuild, a dev dependency) in a checkout.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { fail } from "../tensor/errors.js";
import { loadMnist, mnistBytes, MNIST_MEAN, MNIST_STD, mnistSplit } from "../train/data/mnist.js";
import { demoPageHtml } from "../demo/page.js";
import { parseArgs, type Flags } from "./args.js";

export const SERVE_FLAGS = {
  port: { type: "int", default: 8080, min: 0, max: 65535, help: "TCP port (0: any free port)" },
  host: { type: "string", default: "127.0.0.1", help: "address to listen on" },
  "no-isolation": { type: "boolean", help: "leave out the COOP / COEP headers (the page then runs on one thread)" },
} satisfies Flags;

/** The folder the engine's modules are served from (src/ or dist/), and whether they are TypeScript. */
const LIB = new URL("../", import.meta.url);
const FROM_SOURCE = import.meta.url.endsWith(".ts");

/** Digits of the demo's data: the main job's seeded split (8,000 train / 2,000 test). */
export const DEMO_TRAIN = 8000;
export const DEMO_TEST = 2000;

/**
 * The demo's digits as one binary: a little-endian u32 header length, a JSON
 * header (counts, shape, mean, std, classes), then train pixels, test pixels,
 * train labels and test labels as bytes. The page decodes them with the same
 * fromBytes as Node's loader, so both hold the same floats.
 */
export function mnistPayload(): Uint8Array {
  const { pixels, labels } = mnistBytes();
  const { train, test } = mnistSplit(0, DEMO_TRAIN, DEMO_TEST);
  const header = new TextEncoder().encode(JSON.stringify({ train: train.length, test: test.length, shape: [1, 28, 28], mean: MNIST_MEAN, std: MNIST_STD, numClasses: 10 }));
  const n = train.length + test.length;
  const out = new Uint8Array(4 + header.length + n * 785);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  let o = 4 + header.length;
  for (const idx of [train, test]) for (const i of idx) { out.set(pixels.subarray(i * 784, i * 784 + 784), o); o += 784; }
  for (const idx of [train, test]) for (const i of idx) out[o++] = labels[i]!;
  return out;
}

let esbuild: typeof import("esbuild") | null = null;
const transformed = new Map<string, { mtime: number; code: string }>();

/** The browser JavaScript of module `rel` (a path under src/ or dist/ ending in .js), or null when there is none. */
async function moduleCode(rel: string): Promise<string | null> {
  if (!/^[A-Za-z0-9_\-/]+\.js$/.test(rel) || rel.split("/").some((p) => p === "" || p.startsWith("."))) return null;
  const file = fileURLToPath(new URL(FROM_SOURCE ? rel.replace(/\.js$/, ".ts") : rel, LIB));
  let mtime: number;
  try {
    mtime = statSync(file).mtimeMs;
  } catch {
    return null;
  }
  if (!FROM_SOURCE) return readFileSync(file, "utf8");
  const hit = transformed.get(file);
  if (hit && hit.mtime === mtime) return hit.code;
  esbuild ??= await import("esbuild");
  const { code } = await esbuild.transform(readFileSync(file, "utf8"), { loader: "ts", format: "esm", target: "es2022", sourcemap: "inline", sourcefile: file });
  transformed.set(file, { mtime, code });
  return code;
}

/** A running demo server. */
export interface DemoServer {
  url: string;
  close(): Promise<void>;
}

/** Starts the demo server; resolves once it listens. */
export function startDemoServer(opts: { port: number; host: string; isolation: boolean }): Promise<DemoServer> {
  let payload: Uint8Array | null = null;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const headers: Record<string, string> = { "Cache-Control": "no-store", "Cross-Origin-Resource-Policy": "same-origin", "X-Content-Type-Options": "nosniff" };
    if (opts.isolation) Object.assign(headers, { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" });
    const send = (status: number, type: string, body: string | Uint8Array): void => {
      res.writeHead(status, { ...headers, "Content-Type": type, "Content-Length": String(typeof body === "string" ? Buffer.byteLength(body) : body.length) });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain", "only GET and HEAD\n");
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path === "/" || path === "/index.html") return send(200, "text/html; charset=utf-8", demoPageHtml({ isolationHeaders: opts.isolation }));
    if (path === "/data/mnist.bin") {
      payload ??= mnistPayload();
      return send(200, "application/octet-stream", payload);
    }
    if (path.startsWith("/lib/")) {
      const code = await moduleCode(path.slice(5));
      if (code !== null) return send(200, "text/javascript; charset=utf-8", code);
    }
    send(404, "text/plain", `not found: ${path}\n`);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
      res.end(`error: ${(e as Error).message}\n`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject); // EADDRINUSE and the like: an errno error, printed on one line by the CLI
    server.listen(opts.port, opts.host, () => {
      const a = server.address();
      const port = typeof a === "object" && a !== null ? a.port : opts.port;
      resolve({
        url: `http://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${port}/`,
        close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}

export function runServe(argv: string[]): void {
  const a = parseArgs("serve", argv, SERVE_FLAGS);
  // The page trains on the MNIST digits: fail now, with install advice, when the package is missing.
  loadMnist({ trainSize: 1, testSize: 0 });
  if (!FROM_SOURCE && !statSync(fileURLToPath(new URL("browser.js", LIB)), { throwIfNoEntry: false })) fail("bitspike serve", "the compiled engine (dist/browser.js) is missing; run npm run build");
  void startDemoServer({ port: a.port!, host: a.host!, isolation: !a["no-isolation"] }).then((s) => {
    console.log(`bitspike serve: the demo at ${s.url}`);
    console.log(a["no-isolation"]
      ? "without the COOP / COEP headers: the page is not cross-origin isolated and runs on one thread"
      : "with the COOP / COEP headers (cross-origin isolated: shared memory and the Web Worker pool); Ctrl-C stops it");
  });
}
