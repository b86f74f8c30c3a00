/**
 * The Node entry of a pool worker (node:worker_threads): the pool's
 * initialisation arrives as workerData; the loop is the platform's-agnostic
 * runWorker (worker-loop.ts).
 */
import { workerData } from "node:worker_threads";
import type { WorkerInit } from "./protocol.js";
import { runWorker } from "./worker-loop.js";

await runWorker(workerData as WorkerInit, {
  exit: (code) => process.exit(code),
  onExit: (f) => void process.on("exit", f),
});
