/**
 * The Web Worker entry of a pool worker (web-host.ts): the pool's
 * initialisation arrives as the first message; the loop is the same runWorker
 * as Node's. A failure while loading is posted back (the host turns threads off).
 */
import type { WorkerInit } from "./protocol.js";
import { runWorker } from "./worker-loop.js";

interface WorkerScope {
  onmessage: ((e: { data: WorkerInit }) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;
scope.onmessage = (e) => {
  scope.onmessage = null;
  runWorker(e.data, {
    exit: (code) => {
      scope.close();
      throw new Error(`pool worker ended with code ${code}`);
    },
    // A browser tells a worker nothing before it is terminated; the host marks it exited itself.
    onExit: () => {},
  }).catch((err: unknown) => scope.postMessage({ failed: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }));
};
