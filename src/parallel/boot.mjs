// Worker bootstrap: when the pool runs from TypeScript sources, register the
// tsx loader in this thread first (on Node 20 tsx's --import hook registers in
// the main thread only), then load the worker entry.
import { workerData } from "node:worker_threads";

if (workerData.tsx) {
  const { register } = await import("tsx/esm/api");
  register();
}
await import(workerData.entry);
