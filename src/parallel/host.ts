/**
 * What the pool needs of a platform's threads, so the same pool runs over
 * node:worker_threads here and over Web Workers in a browser: start a worker
 * that runs the pool's worker loop (worker-loop.ts) with an initialisation
 * message, learn when it fails or ends, stop it. {@link nodeThreadHost} is
 * Node's; a browser build installs its own with `setThreadHost`.
 */
import type { WorkerInit } from "./protocol.js";

/** A started worker. */
export interface WorkerHandle {
  terminate(): Promise<unknown>;
}

export interface ThreadHost {
  /** Threads to use by default (the cores). */
  cores(): number;
  /**
   * Starts a worker running the pool's loop with `init`. `failed` reports an
   * error (a load failure, before the worker said it is ready, turns threads
   * off), `exited` the end of the thread. Throws when no worker can start.
   */
  start(init: WorkerInit, failed: (message: string) => void, exited: () => void): WorkerHandle;
}

// node:os and node:worker_threads come from process.getBuiltinModule, not a static import, so the pool
// (and the engine above it) also loads where they do not exist, in a browser.
const builtin = (id: string): unknown => (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process?.getBuiltinModule?.(id);

/** Node's host (node:worker_threads, node:os), or null where they do not exist. */
export function nodeThreadHost(): ThreadHost | null {
  const os = builtin("node:os") as Pick<typeof import("node:os"), "availableParallelism"> | undefined;
  const wt = builtin("node:worker_threads") as typeof import("node:worker_threads") | undefined;
  if (os === undefined || wt === undefined) return null;
  const here = import.meta.url;
  const fromSource = here.endsWith(".ts");
  return {
    cores: () => Math.max(1, os.availableParallelism()),
    start(init, failed, exited) {
      // From TypeScript sources a bootstrap registers tsx in the worker first.
      const entry = new URL(fromSource ? "./worker.ts" : "./worker.js", here).href;
      const w = fromSource
        ? new wt.Worker(new URL("./boot.mjs", here), { workerData: { ...init, entry, tsx: true } })
        : new wt.Worker(new URL(entry), { workerData: init });
      w.on("error", (e) => failed(e.message));
      w.on("exit", exited);
      w.unref(); // idle workers do not keep the process alive
      return { terminate: () => w.terminate() };
    },
  };
}
