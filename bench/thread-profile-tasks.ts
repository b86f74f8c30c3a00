/**
 * Pool tasks that start and stop the V8 CPU profiler of each worker thread (bench/thread-cost.ts): the
 * profile of the timed steps only, written to {@link workerProfilePath}. The inspector session of a
 * thread answers synchronously, so the tasks fit the workers' synchronous loop.
 */
import { Session } from "node:inspector";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineTask } from "../src/parallel/registry.js";

let session: Session | null = null;

/** Where worker `j` (its part's index) of run `run` writes its profile. */
export function workerProfilePath(run: number, j: number): string {
  return join(tmpdir(), `bitspike-thread-cost-${run}-${j}.cpuprofile`);
}

/** Args: the sampling interval in microseconds. */
export const OP_PROFILE_START = defineTask("bench.profile.start", import.meta.url, (_raw, a) => {
  session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: a[0]! });
  session.post("Profiler.start");
});

/** Args: the run number and the worker's index (see workerProfilePath). */
export const OP_PROFILE_STOP = defineTask("bench.profile.stop", import.meta.url, (_raw, a) => {
  const s = session;
  if (s === null) throw new Error("bench.profile.stop: no profile was started on this worker");
  let error: Error | null = null;
  s.post("Profiler.stop", (err, r) => {
    if (err) error = err;
    else writeFileSync(workerProfilePath(a[0]!, a[1]!), JSON.stringify(r.profile));
  });
  s.disconnect();
  session = null;
  if (error) throw error;
});
