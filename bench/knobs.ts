/**
 * A tuning knob's settings compared on one e2e workload, alternating pass by pass in one process so the
 * machine's drift hits every setting alike (bench/paired.ts). Prints each setting's median and its paired
 * median ratio to the first setting, with that ratio's spread over resampled rounds (pairedInterval).
 * Every knob leaves the bits alone (only the time changes).
 *
 *   npx tsx bench/knobs.ts --knob spin|panel-tiles|panel-thresholds|min-work|threads|speeds|beside --arms A,B,... \
 *     [--config cifar-b8|mnist-b64] [--phase train|infer] [--threads 2] [--rounds 8]
 *
 * Knobs and their arms: spin (ms, setPoolSpin); panel-tiles (blockRows:tileRows, setPanelTiles);
 * panel-thresholds (rows:weights, setPanelThresholds); min-work (multiply-adds a thread, setMinWorkPerThread);
 * threads (1: every op on the calling thread, the pool's worker idle, as a one-thread run splits nothing; the
 * --threads count: the pool's splits), the two-thread speed-up read pass by pass in one process, where
 * bench/e2e.ts --threads 1,2 times each thread count in its own process, minutes apart on a drifting host;
 * speeds (the static splits' shares: `learned`, the pool's default, or a worker's speed over the calling
 * thread's, fixed: 1 cuts evenly, setThreadSpeeds); beside (1: weight gradients whole on a worker beside the input
 * gradients' claims, the default; 0: each split on its own, setPoolBeside).
 * spin, min-work, threads, speeds and beside act on the whole pool; the panel knobs on the calling thread's kernels only (the workers
 * keep their defaults: run with --threads 1 to compare a panel knob alone).
 */
import { poolReady, setMinWorkPerThread, setPoolBeside, setPoolSpin, setThreads, shutdownPool } from "../src/parallel/pool.js";
import { setThreadSpeeds } from "../src/parallel/speeds.js";
import { setPanelThresholds, setPanelTiles } from "../src/kernels/spike-sum/wasm.js";
import { stepScope } from "../src/tensor/retain.js";
import { workloadSteps } from "./e2e.js";
import { alternatePasses, fmtInterval, medianOf, pairedInterval, pairedMedian, setSplits } from "./paired.js";

const KNOBS: Record<string, { parse: (arm: string) => number[]; set: (v: number[]) => void }> = {
  "spin": { parse: (s) => [Number(s)], set: ([ms]) => void setPoolSpin(ms!) },
  "panel-tiles": { parse: (s) => s.split(":").map(Number), set: ([b, t]) => void setPanelTiles(b!, t!) },
  "panel-thresholds": { parse: (s) => s.split(":").map(Number), set: ([r, w]) => void setPanelThresholds(r!, w!) },
  "min-work": { parse: (s) => [Number(s)], set: ([m]) => void setMinWorkPerThread(m!) },
  "threads": { parse: (s) => [Number(s)], set: ([n]) => setSplits(n !== 1) },
  "beside": { parse: (s) => [Number(s)], set: ([v]) => void setPoolBeside(v !== 0) },
  "speeds": { parse: (s) => [s === "learned" ? 0 : Number(s)], set: ([v]) => setThreadSpeeds(v === 0 ? null : [1, v!]) },
};

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const knobName = flag("knob", "spin");
const knob = KNOBS[knobName];
if (knob === undefined) throw new Error(`bench/knobs.ts: --knob takes ${Object.keys(KNOBS).join(", ")}; got ${knobName}`);
const armText = flag("arms", "").split(",").filter((s) => s !== "");
if (armText.length < 2) throw new Error(`bench/knobs.ts: --arms needs two settings or more, comma-separated; got '${flag("arms", "")}'`);
const arms = armText.map((s) => {
  const v = knob.parse(s);
  if (v.some((x) => !Number.isFinite(x))) throw new Error(`bench/knobs.ts: arm '${s}' of --knob ${knobName} is not a number (or number:number)`);
  return v;
});
const name = flag("config", "cifar-b8"), phase = flag("phase", "train");
const threads = Number(flag("threads", "2")), rounds = Number(flag("rounds", "8"));
if (phase !== "train" && phase !== "infer") throw new Error(`bench/knobs.ts: --phase takes train or infer, got ${phase}`);
if (knobName === "threads" && arms.some(([n]) => n !== 1 && n !== threads)) {
  throw new Error(`bench/knobs.ts: --knob threads takes arms 1 and the --threads count (${threads}); got ${armText.join(",")}`);
}
if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`bench/knobs.ts: --rounds takes an integer >= 1, got ${rounds}`);

setThreads(threads);
await poolReady();
const s = workloadSteps(name);
const pass = phase === "train" ? s.train : s.infer;
for (let i = 0; i < 2; i++) stepScope(pass, s.model);
const times = alternatePasses(pass, s.model, arms.map((arm) => () => knob.set(arm)), rounds);
knob.set(arms[0]!);
await shutdownPool();
console.log(`${name} ${phase}, ${threads} thread(s), ${rounds} rounds, --knob ${knobName}`);
armText.forEach((text, j) => {
  const ratio = pairedMedian(times[j]!, times[0]!);
  console.log(`${text}: ${medianOf(times[j]!).toFixed(1)} ms (min ${Math.min(...times[j]!).toFixed(1)}), ${ratio.toFixed(3)}x ${armText[0]} (paired median; 95% of resamples ${fmtInterval(pairedInterval(times[j]!, times[0]!), 3)})`);
  if (knobName === "threads" && j > 0) {
    const speedUp = pairedMedian(times[0]!, times[j]!);
    console.log(`  speed-up of ${text} thread(s) over ${armText[0]}: ${speedUp.toFixed(2)}x (paired median; 95% of resamples ${fmtInterval(pairedInterval(times[0]!, times[j]!), 2)})`);
  }
});
