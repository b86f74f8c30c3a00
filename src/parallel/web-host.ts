/**
 * The browser's {@link ThreadHost}: pool workers are module Web Workers
 * (web-worker.ts) over the same shared WebAssembly.Memory, signalled through
 * the same Atomics control blocks as Node's. Shared memory needs a
 * cross-origin isolated page (COOP same-origin, COEP require-corp), and a
 * caller that may block in Atomics.wait: run the engine in a worker of its own,
 * not on a page's main thread.
 */
import type { ThreadHost } from "./host.js";
import type { WorkerInit } from "./protocol.js";

interface WebWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  addEventListener(type: "error" | "message" | "messageerror", f: (e: { message?: string; data?: unknown }) => void): void;
}

interface WebScope {
  Worker?: new (url: URL, options: { type: "module"; name?: string }) => WebWorker;
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
}

/** Why a browser cannot run pool workers here, or null when it can. */
export function webThreadsUnavailable(): string | null {
  const g = globalThis as WebScope;
  if (g.crossOriginIsolated !== true) return "the page is not cross-origin isolated (it needs the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)";
  if (typeof g.Worker !== "function") return "this context cannot start Web Workers";
  if (typeof SharedArrayBuffer !== "function") return "SharedArrayBuffer is missing";
  return null;
}

/**
 * A host starting module Web Workers; `cores` defaults to
 * navigator.hardwareConcurrency. Throws (naming what is missing) where
 * workers over shared memory cannot run: see {@link webThreadsUnavailable}.
 */
export function webThreadHost(cores?: number): ThreadHost {
  const why = webThreadsUnavailable();
  if (why !== null) throw new Error(`webThreadHost: ${why}`);
  const g = globalThis as WebScope;
  const n = cores ?? Math.max(1, g.navigator?.hardwareConcurrency ?? 1);
  const entry = new URL("./web-worker.js", import.meta.url);
  return {
    cores: () => n,
    start(init: WorkerInit, failed, exited) {
      const w = new g.Worker!(entry, { type: "module", name: `bitspike pool worker ${init.index}` });
      let done = false;
      const fail = (message: string): void => {
        if (done) return;
        done = true;
        failed(message);
      };
      w.addEventListener("error", (e) => fail(e.message ?? "the worker script failed to load"));
      w.addEventListener("messageerror", () => fail("the worker could not receive its start message"));
      // The worker reports a failure while loading its task modules as a message (a rejected promise is no error event).
      w.addEventListener("message", (e) => {
        const d = e.data as { failed?: string } | null;
        if (d && typeof d.failed === "string") fail(d.failed);
      });
      w.postMessage(init);
      return {
        terminate: async () => {
          w.terminate();
          if (!done) {
            done = true;
            exited();
          }
        },
      };
    },
  };
}
