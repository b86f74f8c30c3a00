/**
 * bitspike against its peers on the same workloads, in one run:
 *
 *   - bitspike: bench/e2e.ts (inference and a train step per workload);
 *   - PyTorch: ../shared/peers/torch_ref/bench.py run by /usr/bin/python3 (Debian's
 *     python3-torch), with the tuned environment of its run_bench.sh (OpenBLAS,
 *     OMP_WAIT_POLICY=PASSIVE, ...) when run_bench.sh has unpacked OpenBLAS into
 *     torch_ref/.openblas, else as installed (reference BLAS: much slower Linear layers);
 *     and, when a virtual environment is named (--torch-venv DIR or BITSPIKE_TORCH_VENV),
 *     the same bench.py under DIR/bin/python as installed there (pip's PyTorch 2.x CPU
 *     build: MKL, oneDNN). Ratios are taken against the faster PyTorch of the run, as
 *     issue 13's targets are;
 *   - TensorFlow.js wasm: ../shared/peers/tfjs/bench.js, inference only (its training
 *     step does not fit the 4 GiB wasm heap at these batches), when its node_modules exist.
 *
 * A peer that cannot run is reported as skipped with the reason, never silently; in that
 * case the table also shows the peer's recorded numbers from ../shared/peers/results-*.md,
 * marked as recorded (another run, other load on the machine), for orientation.
 *
 *   npm run bench:peers -- [--configs cifar-b8,mnist-b64] [--iters 5] [--warmup 5]
 *                          [--threads 2] [--torch-venv DIR] [--rounds 1] [--passes N] [--json]
 *
 * `--rounds N` runs bitspike and PyTorch N times, alternating (bitspike, PyTorch, bitspike, ...): on a
 * shared VM whose speed swings by 1.5x within minutes, a ratio of two runs minutes apart says more about
 * the machine than about the code. Each cell then shows the median of the rounds' medians, and the
 * ratio is the median of the rounds' own ratios (each against that round's PyTorch), listed beneath.
 * `--passes N` then also pairs them pass by pass (bench/peer-passes.ts): both frameworks warm in their own
 * processes, taking turns a pass at a time for N rounds, so each ratio meets the host's drift on both sides.
 *
 * The same warm-up / timed iteration counts go to every peer. PyTorch runs with 2 threads
 * (bench.py's default), tfjs-wasm with 1 (it cannot use more in Node).
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { poolReady, setThreads, shutdownPool } from "../src/parallel/pool.js";
import {
  fmtTiming, formatResults, medianOf, mergeResults, mergeTimings, parseArgs, runAll, takeCount, takeFlag, takeRounds, WORKLOADS, workloadSteps, type E2EArgs,
  type E2EResult,
} from "./e2e.js";
import { fmtInterval, medianInterval } from "./paired.js";
import { formatPassPairs, LinePeer, pairPasses, TorchPasses, type PassPairing } from "./peer-passes.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** The peers' checkout, ../shared/peers beside the repo. */
export const peersDir = resolve(repo, "../shared/peers");
export const torchDir = join(peersDir, "torch_ref");
const tfjsDir = join(peersDir, "tfjs");
/** Debian's python3, which python3-torch installs into. */
export const PY = "/usr/bin/python3";
/** Where run_bench.sh unpacks its OpenBLAS (when ../shared is writable). */
const SHARED_OPENBLAS_ROOT = join(torchDir, ".openblas");
/** Where the benches unpack it themselves: the checkout's runs/ (../shared may be mounted read-only). */
const LOCAL_OPENBLAS_ROOT = join(repo, "runs/peers/openblas");
const blasDir = (root: string): string => join(root, "usr/lib/x86_64-linux-gnu/openblas-pthread");
/** The unpacked tuned OpenBLAS's library folder (run_bench.sh's first, else the benches' own), or null. */
function openblasDir(): string | null {
  for (const root of [SHARED_OPENBLAS_ROOT, LOCAL_OPENBLAS_ROOT]) if (existsSync(join(blasDir(root), "libblas.so.3"))) return blasDir(root);
  return null;
}

/** A peer's median (min-max) for one phase, ms. */
export interface PeerTiming { median: number; min: number; max: number }
export interface PeerRow { name: string; params: number; infer: PeerTiming | null; train: PeerTiming | null; inferNote?: string; trainNote?: string }
export interface PeerRun {
  /** torch: Debian's python3-torch; torch-venv: the named virtual environment's (pip's 2.x build). */
  peer: "torch" | "torch-venv" | "tfjs-wasm";
  /** How it ran (environment), or why not. */
  setting: string;
  skipped: string | null;
  rows: PeerRow[];
  /** Recorded numbers from results-*.md, when the live run was skipped or failed. */
  recorded: { source: string; rows: PeerRow[] } | null;
  output: string;
}

const log = (l: string): void => void process.stderr.write(l + "\n");

/** Why a finished child process failed: not started, killed, or its exit status with the last lines it printed. */
export function describeFailure(r: SpawnSyncReturns<string>, what: string): string {
  if (r.error) return `${what} could not be started: ${r.error.message}`;
  if (r.signal) return `${what} was killed by ${r.signal}`;
  const tail = `${r.stderr ?? ""}\n${r.stdout ?? ""}`.trim().split("\n").filter(Boolean).slice(-3).join(" | ");
  return `${what} exited with status ${r.status}${tail ? `: ${tail}` : ""}`;
}

/** Whether the torch peer can run here, and how (see {@link torchPeer}). */
export interface TorchPeer {
  /** Why it cannot run, or null. */
  skipped: string | null;
  /** The interpreter that imports torch: {@link PY}, or a virtual environment's bin/python. */
  python: string;
  /** torch.__version__. */
  version: string;
  /** The environment to run the peer's scripts in. */
  env: NodeJS.ProcessEnv;
  /** run_bench.sh's tuned environment (OpenBLAS unpacked), or torch as installed. */
  tuned: boolean;
  /** The torch version and environment in words, for reports. */
  setting: string;
}

/** The environment variable that names pip's PyTorch virtual environment when --torch-venv does not. */
export const TORCH_VENV_VAR = "BITSPIKE_TORCH_VENV";

/**
 * Checks that `script` exists and that the interpreter imports torch (and every module in
 * `modules`), and gives the environment to run it in. Debian's {@link PY} (venv null) runs in
 * run_bench.sh's tuned environment (its OpenBLAS from torch_ref/.openblas,
 * OMP_WAIT_POLICY=PASSIVE, OPENBLAS_THREAD_TIMEOUT=4, glibc malloc thresholds) when that OpenBLAS
 * has been unpacked (see {@link unpackOpenblas}), else torch as installed (reference BLAS), which
 * the setting says in capitals. A virtual environment's bin/python (pip's build, with its own
 * BLAS) runs as installed there.
 */
export function torchPeer(script: string, modules: readonly string[] = [], venv: string | null = null): TorchPeer {
  const python = venv === null ? PY : join(resolve(venv), "bin", "python");
  const peer: TorchPeer = { skipped: null, python, version: "", env: {}, tuned: false, setting: "" };
  const skip = (why: string): TorchPeer => ({ ...peer, skipped: why });
  if (!existsSync(script)) return skip(`${script} not found (the peers checkout is expected at ../shared/peers beside the repo)`);
  if (!existsSync(python)) {
    return skip(venv === null
      ? `${PY} not found (the torch peer needs Debian's python3 with python3-torch)`
      : `${python} not found: the torch virtual environment (--torch-venv / ${TORCH_VENV_VAR}) must be one made by python3 -m venv, with torch installed in it`);
  }
  const imports = [...modules, "torch"].join(", ");
  const probe = spawnSync(python, ["-c", `import ${imports}; print(torch.__version__)`], { encoding: "utf8" });
  if (probe.status !== 0) {
    const why = (probe.stderr || probe.error?.message || "").trim().split("\n").pop() ?? "";
    return skip(venv === null
      ? `${PY} cannot import ${imports} (${why}); install Debian's python3-torch (apt-get install python3-torch) to run this peer`
      : `${python} cannot import ${imports} (${why}); install it there (${join(resolve(venv), "bin", "pip")} install torch)`);
  }
  peer.version = probe.stdout.trim();
  peer.env = { ...process.env, PYTHONDONTWRITEBYTECODE: "1" };
  if (venv !== null) {
    peer.setting = `torch ${peer.version} from the virtual environment ${resolve(venv)}, as installed there`;
    return peer;
  }
  const blas = openblasDir();
  peer.tuned = blas !== null;
  if (blas !== null) {
    Object.assign(peer.env, {
      OMP_WAIT_POLICY: "PASSIVE",
      OPENBLAS_THREAD_TIMEOUT: "4",
      GLIBC_TUNABLES: "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296",
      LD_LIBRARY_PATH: blas + (process.env.LD_LIBRARY_PATH ? `:${process.env.LD_LIBRARY_PATH}` : ""),
    });
    peer.setting = `torch ${peer.version}, tuned (run_bench.sh environment: OpenBLAS from ${relative(repo, blas)}, OMP_WAIT_POLICY=PASSIVE, OPENBLAS_THREAD_TIMEOUT=4, malloc thresholds)`;
  } else {
    peer.setting = `torch ${peer.version}, AS INSTALLED (reference BLAS: Linear layers ~16x slower than tuned; ` +
      `the tuned OpenBLAS could not be unpacked, see above)`;
  }
  return peer;
}

/**
 * run_bench.sh's OpenBLAS step, for a bench that should time the tuned peer: when neither
 * torch_ref/.openblas (run_bench.sh's) nor runs/peers/openblas holds libblas.so.3, unpacks
 * Debian's libopenblas0-pthread package into runs/peers/openblas with `dpkg-deb -x` (the .deb
 * from the apt cache, else `apt-get download` into a temporary folder; nothing is installed;
 * never into ../shared, which may be read-only). Returns null when the library is there
 * afterwards, else why not (the peer then runs as installed).
 */
export function unpackOpenblas(say: (line: string) => void = log): string | null {
  if (openblasDir() !== null) return null;
  const OPENBLAS_ROOT = LOCAL_OPENBLAS_ROOT, OPENBLAS = blasDir(OPENBLAS_ROOT);
  const cache = "/var/cache/apt/archives";
  const inCache = existsSync(cache) ? readdirSync(cache).find((f) => /^libopenblas0-pthread_.*_amd64\.deb$/.test(f)) : undefined;
  let deb = inCache ? join(cache, inCache) : "";
  let tmp = "";
  try {
    if (!deb) {
      tmp = mkdtempSync(join(tmpdir(), "openblas-"));
      say(`[torch] the tuned OpenBLAS is not unpacked and no libopenblas0-pthread .deb is in ${cache}: apt-get download libopenblas0-pthread`);
      const dl = spawnSync("apt-get", ["download", "libopenblas0-pthread"], { encoding: "utf8", cwd: tmp });
      const got = existsSync(tmp) ? readdirSync(tmp).find((f) => f.endsWith(".deb")) : undefined;
      if (dl.status !== 0 || !got) return describeFailure(dl, "apt-get download libopenblas0-pthread");
      deb = join(tmp, got);
    }
    say(`[torch] unpacking ${deb} into ${OPENBLAS_ROOT} (run_bench.sh's tuned OpenBLAS; dpkg-deb -x, not installed)`);
    mkdirSync(OPENBLAS_ROOT, { recursive: true });
    const x = spawnSync("dpkg-deb", ["-x", deb, OPENBLAS_ROOT], { encoding: "utf8" });
    if (x.status !== 0) return describeFailure(x, `dpkg-deb -x ${deb}`);
    return existsSync(join(OPENBLAS, "libblas.so.3")) ? null : `${deb} unpacked, but ${OPENBLAS}/libblas.so.3 is not there`;
  } catch (e) {
    return `cannot unpack OpenBLAS into ${OPENBLAS_ROOT}: ${(e as Error).message}`;
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

const num = (s: string): number => Number(s.replace(/,/g, ""));

/** torch: `cifar-b8      B=  8 params=9,324,730  fwd     444.0 ms (400.4-475.5)  fwd+bwd    1212.2 ms (1153.1-1295.0)  [12s]` */
export function parseTorch(stdout: string): PeerRow[] {
  const re = /^(\S+)\s+B=\s*\d+\s+params=([\d,]+)\s+fwd\s+([\d.]+) ms \(([\d.]+)-([\d.]+)\)\s+fwd\+bwd\s+([\d.]+) ms \(([\d.]+)-([\d.]+)\)/;
  const rows: PeerRow[] = [];
  for (const line of stdout.split("\n")) {
    const m = re.exec(line.trim());
    if (!m) continue;
    rows.push({
      name: m[1]!, params: num(m[2]!),
      infer: { median: +m[3]!, min: +m[4]!, max: +m[5]! },
      train: { median: +m[6]!, min: +m[7]!, max: +m[8]! },
    });
  }
  return rows;
}

/** tfjs cells: `2613.9 (2479.5-2729.5; 2+5)`, `not run` or `FAILED: message`. */
function parseTfjsCell(cell: string): { t: PeerTiming | null; note?: string } {
  const m = /^([\d.]+) \(([\d.]+)-([\d.]+);/.exec(cell.trim());
  if (m) return { t: { median: +m[1]!, min: +m[2]!, max: +m[3]! } };
  return { t: null, note: cell.trim() };
}

/** tfjs: `cifar-b8     B=  8 params=9,324,730  fwd 2613.9 (2479.5-2729.5; 2+5) ms  fwd+bwd not run ms  leaked=0  [20 s]` */
export function parseTfjs(stdout: string): PeerRow[] {
  const re = /^(\S+)\s+B=\s*\d+\s+params=([\d,]+)\s+fwd (.+?) ms\s+fwd\+bwd (.+?) ms\s+leaked=/;
  const rows: PeerRow[] = [];
  for (const line of stdout.split("\n")) {
    const m = re.exec(line.trim());
    if (!m) continue;
    const f = parseTfjsCell(m[3]!), b = parseTfjsCell(m[4]!);
    rows.push({ name: m[1]!, params: num(m[2]!), infer: f.t, train: b.t, inferNote: f.note, trainNote: b.note });
  }
  return rows;
}

/** The first table of a results-*.md file (the tuned torch run / the wasm inference run). */
function recordedRows(file: string, configs: readonly string[], tfjs: boolean): { source: string; rows: PeerRow[] } | null {
  if (!existsSync(file)) return null;
  const text = readFileSync(file, "utf8");
  const section = text.split(/\n## /)[1];
  if (!section) return null;
  const rows: PeerRow[] = [];
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 8 || !configs.includes(cells[1]!)) continue;
    const cell = (c: string): PeerTiming | null => {
      const m = /^([\d.]+) \(([\d.]+)-([\d.]+)/.exec(c);
      return m ? { median: +m[1]!, min: +m[2]!, max: +m[3]! } : null;
    };
    rows.push({ name: cells[1]!, params: num(cells[4]!), infer: cell(cells[5]!), train: tfjs ? null : cell(cells[6]!) });
  }
  const title = section.split("\n")[0]!.trim();
  const date = /on (\d{4}-\d{2}-\d{2}T[\d:]+Z)/.exec(text)?.[1] ?? "unknown date";
  return rows.length ? { source: `${file.replace(peersDir, "../shared/peers")}, "${title}", ${date}`, rows } : null;
}

/**
 * {@link torchPeer} for `script`, with run_bench.sh's OpenBLAS unpacked first where Debian's build (venv null)
 * would otherwise run as installed.
 */
export function tunedTorchPeer(script: string, venv: string | null): TorchPeer {
  const peer = torchPeer(script, [], venv);
  if (peer.skipped || venv !== null || peer.tuned) return peer;
  const why = unpackOpenblas(log);
  if (why) {
    log(`[torch] could not unpack run_bench.sh's tuned OpenBLAS (${why}); the peer runs with torch as installed`);
    return peer;
  }
  return torchPeer(script);
}

/** bench.py under Debian's python3 (venv null: tuned when the OpenBLAS can be unpacked) or a virtual environment's. */
function runTorch(a: E2EArgs, venv: string | null = null): PeerRun {
  const tag = venv === null ? "torch" : "torch-venv";
  const run: PeerRun = { peer: tag, setting: "", skipped: null, rows: [], recorded: null, output: "" };
  const skip = (why: string): PeerRun => {
    log(`[${tag}] skipped: ${why}`);
    run.skipped = why;
    // The recorded numbers are Debian's build's; a virtual environment's column stays empty.
    if (venv === null) run.recorded = recordedRows(join(peersDir, "results-torch.md"), a.configs, false);
    return run;
  };
  const bench = join(torchDir, "bench.py");
  const peer = tunedTorchPeer(bench, venv);
  if (peer.skipped) return skip(peer.skipped);
  run.setting = `${peer.setting}, 2 threads`;
  const argv = [bench, "--configs", a.configs.join(","), "--no-micro", "--iters", String(a.iters), "--warmup", String(a.warmup)];
  log(`\n[${tag}] ${peer.python} ${argv.map((s) => s.replace(repo + "/", "")).join(" ")}  (${run.setting}; a few minutes)`);
  const r = spawnSync(peer.python, argv, { encoding: "utf8", env: peer.env, cwd: repo, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20, timeout: 60 * 60_000 });
  run.output = (r.stdout ?? "") + (r.stderr ? `\n[stderr]\n${r.stderr}` : "");
  for (const l of (r.stdout ?? "").trim().split("\n")) if (l) log(`[${tag}] ${l}`);
  if (r.status !== 0 || r.error || r.signal) return skip(describeFailure(r, "bench.py"));
  run.rows = parseTorch(r.stdout);
  const missing = a.configs.filter((c) => !run.rows.some((row) => row.name === c));
  if (missing.length) return skip(`bench.py printed no result line for ${missing.join(", ")} (output above)`);
  return run;
}

function runTfjs(a: E2EArgs): PeerRun {
  const run: PeerRun = { peer: "tfjs-wasm", setting: "", skipped: null, rows: [], recorded: null, output: "" };
  const skip = (why: string): PeerRun => {
    log(`[tfjs] skipped: ${why}`);
    run.skipped = why;
    run.recorded = recordedRows(join(peersDir, "results-tfjs.md"), a.configs, true);
    return run;
  };
  const bench = join(tfjsDir, "bench.js");
  if (!existsSync(bench)) return skip(`${bench} not found (the peers checkout is expected at ../shared/peers beside the repo)`);
  if (!existsSync(join(tfjsDir, "node_modules", "@tensorflow", "tfjs-backend-wasm"))) {
    return skip("tfjs not installed (cd ../shared/peers/tfjs && npm install)");
  }
  run.setting = "@tensorflow/tfjs-backend-wasm (XNNPACK, 1 thread in Node), inference only (--skip-bwd)";
  const argv = [bench, "--backends", "wasm", "--configs", a.configs.join(","), "--skip-bwd", "--no-micro", "--iters", String(a.iters), "--warmup", String(a.warmup)];
  log(`\n[tfjs] node ${argv.join(" ")}`);
  const r = spawnSync(process.execPath, argv, { encoding: "utf8", cwd: tfjsDir, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20, timeout: 60 * 60_000 });
  run.output = (r.stdout ?? "") + (r.stderr ? `\n[stderr]\n${r.stderr}` : "");
  for (const l of (r.stdout ?? "").trim().split("\n")) if (l) log(`[tfjs] ${l}`);
  if (r.status !== 0 || r.error || r.signal) return skip(describeFailure(r, "tfjs bench.js"));
  run.rows = parseTfjs(r.stdout);
  const missing = a.configs.filter((c) => !run.rows.some((row) => row.name === c));
  if (missing.length) return skip(`tfjs bench.js printed no result line for ${missing.join(", ")} (output above)`);
  return run;
}

const fmtPeer = (t: PeerTiming | null | undefined): string => (t ? `${t.median.toFixed(t.median >= 100 ? 0 : 1)} (${t.min.toFixed(0)}-${t.max.toFixed(0)})` : "-");
const ratio = (ours: number, theirs: PeerTiming | null | undefined): string => (theirs ? `${(ours / theirs.median).toFixed(2)}x` : "-");

/**
 * The fastest of the PyTorch timings of one cell (a run that did not time it counts as absent): the
 * timing and its index, or null when none timed it. Issue 13's targets hold against the faster build.
 */
export function fastestPeer(timings: readonly (PeerTiming | null | undefined)[]): { t: PeerTiming; index: number } | null {
  let best: { t: PeerTiming; index: number } | null = null;
  timings.forEach((t, index) => {
    if (t && (best === null || t.median < best.t.median)) best = { t, index };
  });
  return best;
}

/** A peer's rows for the table: its own, or the recorded ones when it was skipped; and the column's tag. */
function shownRows(p: PeerRun): { rows: PeerRow[]; tag: string } {
  if (!p.skipped) return { rows: p.rows, tag: "" };
  return { rows: p.recorded?.rows ?? [], tag: p.recorded ? " (recorded)" : " (skipped)" };
}

/** One round: bitspike's results and the PyTorch runs (Debian's, then the venv's when named) right after. */
export interface PeerRound { ours: E2EResult[]; torch: PeerRun[] }

/**
 * Per workload and phase (`name/inference`, `name/train step`), each round's bitspike median over the faster
 * PyTorch median of the same round: the paired ratios. A round where no PyTorch timed the cell adds none.
 */
export function pairedRatios(rounds: readonly PeerRound[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const { ours, torch } of rounds) {
    for (const r of ours) {
      const rows = torch.map((p) => (p.skipped ? undefined : p.rows.find((row) => row.name === r.name)));
      for (const [phase, mine, th] of [["inference", r.infer, rows.map((x) => x?.infer)], ["train step", r.train, rows.map((x) => x?.train)]] as const) {
        const best = fastestPeer(th);
        if (best === null) continue;
        const key = `${r.name}/${phase}`;
        out.set(key, [...(out.get(key) ?? []), mine.median / best.t.median]);
      }
    }
  }
  return out;
}

/**
 * The rounds' results as one run's: each timing merged ({@link mergeTimings}); the rest is the last round's. A
 * PyTorch build skipped in any round is shown as skipped, with that round's reason.
 */
export function mergeRounds(rounds: readonly PeerRound[]): { ours: E2EResult[]; torch: PeerRun[] } {
  const last = rounds[rounds.length - 1]!;
  const ours = mergeResults(rounds.map((x) => x.ours));
  const torch = last.torch.map((p, j) => {
    const runs = rounds.map((x) => x.torch[j]!);
    // A build that was skipped in any round shows as skipped (with that round's reason): no mixed medians.
    const skipped = runs.find((x) => x.skipped);
    if (skipped) return skipped;
    const rows = p.rows.map((row) => {
      const cells = runs.map((x) => x.rows.find((y) => y.name === row.name)!);
      const merge = (pick: (y: PeerRow) => PeerTiming | null): PeerTiming | null => {
        const ts = cells.map(pick);
        return ts.every((t) => t !== null) ? mergeTimings(ts as PeerTiming[]) : null;
      };
      return { ...row, infer: merge((y) => y.infer), train: merge((y) => y.train) };
    });
    return { ...p, rows };
  });
  return { ours, torch };
}

function table(ours: readonly E2EResult[], torchRuns: readonly PeerRun[], tfjs: PeerRun, paired: Map<string, number[]> | null = null): string {
  const torch = torchRuns.map(shownRows);
  const names = torchRuns.map((p) => (p.peer === "torch" ? "torch" : "torch venv"));
  const two = torchRuns.length > 1;
  const f = shownRows(tfjs);
  const lines = [
    `| workload | phase | bitspike threads | bitspike ms | ${torch.map((t, j) => `${names[j]} ms${t.tag}`).join(" | ")} | ` +
      `bitspike / torch${two ? " (the faster)" : ""} | tfjs-wasm ms${f.tag} | bitspike / tfjs-wasm |`,
    `|---|---|---:|---:|${torch.map(() => "---:|").join("")}---:|---:|---:|`,
  ];
  for (const r of ours) {
    const t = torch.map((x) => x.rows.find((row) => row.name === r.name));
    const fr = f.rows.find((x) => x.name === r.name);
    for (const [phase, mine, th, fj, fjNote] of [
      ["inference", r.infer, t.map((x) => x?.infer), fr?.infer, fr?.inferNote],
      ["train step", r.train, t.map((x) => x?.train), fr?.train, tfjs.skipped ? "not run" : fr?.trainNote ?? "not run"],
    ] as const) {
      const best = fastestPeer(th);
      const rs = paired?.get(`${r.name}/${phase}`);
      const vs = rs && rs.length > 0
        ? `${medianOf(rs).toFixed(2)}x (paired)`
        : best ? `${ratio(mine.median, best.t)}${two ? ` (${names[best.index]})` : ""}` : "-";
      const tfCell = fj ? fmtPeer(fj) : fjNote && phase === "train step" ? "not run (4 GiB wasm heap)" : fjNote ?? "-";
      lines.push(`| ${r.name} | ${phase} | ${r.threads} | ${fmtTiming(mine)} | ${th.map(fmtPeer).join(" | ")} | ${vs} | ${tfCell} | ${ratio(mine.median, fj)} |`);
    }
  }
  return lines.join("\n");
}

/** One PyTorch build's pass-by-pass pairing (bench/peer-passes.ts): its rows, or why it could not run. */
export interface PassRun { peer: string; setting: string; skipped: string | null; rows: PassPairing[]; notes: string[] }

/**
 * `--passes N`: bitspike (this process, the largest of `threads`) and each PyTorch build (bench/torch-passes.py in the
 * build's environment) take turns a pass at a time, N rounds per workload and phase after 3 unrecorded ones.
 */
async function runPassPairing(a: E2EArgs, venv: string | null, rounds: number): Promise<PassRun[]> {
  const server = join(repo, "bench/torch-passes.py");
  const runs: PassRun[] = [];
  setThreads(Math.max(...a.threads)); // the largest thread count, as e2e's --paired reads it
  await poolReady();
  const workloads = a.configs.map((name) => ({ name, ...workloadSteps(name) }));
  for (const v of venv === null ? [null] : [null, venv]) {
    const tag = v === null ? "torch" : "torch-venv";
    const peer = tunedTorchPeer(server, v);
    const run: PassRun = { peer: tag, setting: `${peer.setting}, 2 threads`, skipped: peer.skipped, rows: [], notes: [] };
    runs.push(run);
    if (peer.skipped) {
      log(`[${tag}] pass by pass: skipped: ${peer.skipped}`);
      continue;
    }
    log(`\n[${tag}] pass by pass: ${rounds} rounds per workload and phase against ${peer.python} bench/torch-passes.py (${run.setting})`);
    const torch = await TorchPasses.start(new LinePeer(`${tag} (bench/torch-passes.py)`, peer.python, [server, torchDir, ...a.configs], peer.env), a.configs);
    try {
      for (const w of workloads) {
        const expected = WORKLOADS[w.name]?.peerParams ?? null, got = torch.params.get(w.name);
        if (expected !== null && got !== expected) run.notes.push(`${w.name}: bench/torch-passes.py built ${got?.toLocaleString("en-US")} params, not the expected ${expected.toLocaleString("en-US")}`);
      }
      run.rows = await pairPasses(workloads, ["infer", "train"], torch, rounds, 3, (l) => log(`[${tag}] ${l}`));
    } finally {
      await torch.close();
    }
  }
  await shutdownPool();
  return runs;
}

/**
 * Takes `--torch-venv DIR` (or `--torch-venv=DIR`) out of argv; the virtual environment it names, else
 * {@link TORCH_VENV_VAR}'s, else null. A named folder that does not exist is an error (a typo should not
 * cost a whole run).
 */
export function takeTorchVenv(argv: string[], env: NodeJS.ProcessEnv = process.env): string | null {
  const flag = takeFlag(argv, "--torch-venv");
  if (flag === "") throw new Error("--torch-venv needs the folder of a Python virtual environment");
  const venv = flag ?? (env[TORCH_VENV_VAR] || null);
  if (venv !== null && !existsSync(venv)) {
    throw new Error(`the torch virtual environment ${resolve(venv)} (--torch-venv / ${TORCH_VENV_VAR}) does not exist`);
  }
  return venv;
}

async function main(): Promise<void> {
  let args: E2EArgs;
  let venv: string | null;
  let roundCount: number;
  let passRounds: number;
  try {
    const argv = process.argv.slice(2);
    venv = takeTorchVenv(argv);
    roundCount = takeRounds(argv);
    passRounds = takeCount(argv, "--passes", 0);
    args = parseArgs(argv, { threads: [availableParallelism()] });
  } catch (e) {
    console.error(`bench/peers.ts: ${(e as Error).message}`);
    process.exit(2);
  }
  const t0 = Date.now();
  const rounds: PeerRound[] = [];
  for (let k = 1; k <= roundCount; k++) {
    const tag = roundCount > 1 ? ` round ${k} of ${roundCount}:` : "";
    log(`[bitspike]${tag} ${args.configs.join(", ")}: ${args.warmup} warm-up + ${args.iters} timed iterations per phase, threads ${args.threads.join(",")}`);
    let ours: E2EResult[];
    try {
      ours = await runAll(args, (l) => log(`[bitspike] ${l}`));
    } catch (e) {
      console.error(`bench/peers.ts: the bitspike run failed: ${(e as Error).message}`);
      process.exit(1);
    }
    await shutdownPool(); // no idle worker threads while the peers run
    const torch = runTorch(args);
    const torchVenv = venv === null ? null : runTorch(args, venv);
    rounds.push({ ours, torch: torchVenv ? [torch, torchVenv] : [torch] });
  }
  const tfjs = runTfjs(args);
  const { ours, torch: torchRuns } = roundCount > 1 ? mergeRounds(rounds) : rounds[0]!;
  const torchVenv = torchRuns[1] ?? null;
  const paired = roundCount > 1 ? pairedRatios(rounds) : null;
  let passRuns: PassRun[] = [];
  if (passRounds > 0) {
    try {
      passRuns = await runPassPairing(args, venv, passRounds);
    } catch (e) {
      console.error(`bench/peers.ts: the pass-by-pass pairing failed: ${(e as Error).message}`);
      process.exit(1);
    }
  }

  if (args.json) {
    console.log(JSON.stringify({ node: process.version, cores: availableParallelism(), args, rounds: roundCount, bitspike: ours, torch: torchRuns[0], torchVenv, tfjs, perRound: roundCount > 1 ? rounds : undefined, pairedRatios: paired ? Object.fromEntries(paired) : undefined, passes: passRounds > 0 ? passRuns : undefined }, null, 2));
    return;
  }
  const out: string[] = [];
  const timing = roundCount > 1
    ? `${roundCount} rounds, bitspike then PyTorch in each; ${args.warmup} warm-up + ${args.iters} timed iterations per phase a round; ms per iteration, median of the rounds' medians (least min-largest max); ratio: median of the rounds' own ratios`
    : `${args.warmup} warm-up + ${args.iters} timed iterations per phase; ms per iteration, median (min-max)`;
  out.push(`\nbitspike vs peers (node ${process.version}, ${availableParallelism()} cores, ${((Date.now() - t0) / 1000).toFixed(0)} s in all; ${timing}; ratio < 1 = bitspike faster)\n`);
  out.push(table(ours, torchRuns, tfjs, paired));
  out.push("");
  if (paired) {
    for (const [key, rs] of paired) {
      // The spread of their median over resampled rounds (bench/paired.ts): a target inside it is not settled.
      const spread = rs.length > 1 ? ` (their median's 95% of resamples: ${fmtInterval(medianInterval(rs), 2)})` : "";
      out.push(`- ${key}, bitspike / torch (the faster) round by round: ${rs.map((x) => `${x.toFixed(2)}x`).join(", ")}${spread}.`);
    }
  }
  if (!torchVenv) out.push(`- torch venv: none named (--torch-venv DIR or ${TORCH_VENV_VAR}=DIR runs pip's PyTorch 2.x from that virtual environment beside Debian's).`);
  for (const p of [...torchRuns, tfjs]) {
    if (!p.skipped) out.push(`- ${p.peer}: ${p.setting}.`);
    else {
      out.push(`- ${p.peer} skipped: ${p.skipped}.`);
      out.push(p.recorded
        ? `  Its column shows RECORDED numbers instead (not this run; ${p.recorded.source}; that run's own iteration counts).`
        : `  No recorded numbers found either; its column is empty.`);
    }
  }
  out.push("- tfjs-wasm is timed for inference only: its training step runs out of the 4 GiB wasm32 heap at these batches (peers README).");
  out.push("");
  for (const p of passRuns) {
    if (p.skipped) {
      out.push(`Pass by pass against ${p.peer}: skipped (${p.skipped}).\n`);
      continue;
    }
    out.push(`Pass by pass against ${p.peer} (${p.setting}; bench/peer-passes.ts: both warm in their own processes, taking turns a pass at a time, ${passRounds} rounds after 3 unrecorded; ratio: the median of the rounds' own ratios, with its central 95% over the rounds resampled):\n`);
    out.push(formatPassPairs(p.rows));
    for (const n of p.notes) out.push(`- ${n}.`);
    out.push("");
  }
  out.push(roundCount > 1 ? `bitspike details (timings merged over the ${roundCount} rounds; memory and the rest from the last round):\n` : "bitspike details:\n");
  out.push(formatResults(ours));
  for (const p of torchRuns) {
    for (const r of ours) {
      const pp = shownRows(p).rows.find((x) => x.name === r.name)?.params;
      if (pp !== undefined && r.peerParams !== null && pp !== r.peerParams) out.push(`- ${r.name}: the ${p.peer} peer reports ${pp.toLocaleString("en-US")} params, not the expected ${r.peerParams.toLocaleString("en-US")}.`);
    }
  }
  console.log(out.join("\n"));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
