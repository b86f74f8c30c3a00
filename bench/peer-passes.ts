/**
 * bitspike against the PyTorch peer pass by pass (`npm run bench:peers -- --passes N`). bench:peers' rounds
 * each run one framework for a minute, then the other: on this shared VM, whose speed swings by 1.5x within
 * minutes, a round's ratio then carries the host's drift between the two halves (CIFAR b8 inference read 0.38x
 * to 0.79x round by round in one run). Here both stay warm in their own processes, bitspike's in this one and
 * PyTorch's in bench/torch-passes.py, and take turns a pass at a time (each turn an untimed pass, then a timed
 * one, as bench/paired.ts's alternations; who goes first turned each round), so the two passes of a round meet
 * the same few seconds of the host. The ratio is the median of the rounds' own ratios, with the central 95% of it
 * over the rounds resampled (pairedInterval). Each framework blocks while the other runs: bitspike's worker
 * sleeps after its spin, PyTorch waits on its stdin with OMP_WAIT_POLICY=PASSIVE threads.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { fmtInterval, medianOf, pairedInterval, pairedMedian, warmTimedPass } from "./paired.js";

/** A pass of one framework: inference or a train step, as bench/e2e.ts and the peer's bench.py define them. */
export type PassPhase = "infer" | "train";

/** How long a peer may take to start (build its models) or to answer one request before it is given up on. */
export const PEER_START_MS = 10 * 60_000;
export const PEER_PASS_MS = 5 * 60_000;

/**
 * A child process that answers requests a line at a time on stdout. Every wait has a deadline, and a child
 * that exits, fails to start or stays silent past it rejects with what it is, its exit status and its
 * stderr's last lines: never a hang.
 */
export class LinePeer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: string[] = [];
  private buffered = "";
  private stderr = "";
  private ended: string | null = null;
  private wake: (() => void) | null = null;

  constructor(readonly what: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.setEncoding("utf8");
    this.child.stderr.setEncoding("utf8");
    this.child.stdout.on("data", (s: string) => {
      this.buffered += s;
      const parts = this.buffered.split("\n");
      this.buffered = parts.pop()!;
      this.lines.push(...parts);
      this.wake?.();
    });
    this.child.stderr.on("data", (s: string) => void (this.stderr = (this.stderr + s).slice(-4000)));
    this.child.on("error", (e) => this.end(`could not start (${e.message})`));
    this.child.on("close", (code, signal) => this.end(signal ? `was killed by ${signal}` : `exited with status ${code}`));
    this.child.stdin.on("error", () => {}); // a closed pipe shows as the exit above
  }

  private end(why: string): void {
    this.ended ??= why;
    this.wake?.();
  }

  /** The next line the child prints, within `timeoutMs`. */
  async next(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.ended !== null) throw this.failure(this.ended);
      const left = deadline - Date.now();
      if (left <= 0) throw this.failure(`gave no answer within ${(timeoutMs / 1000).toFixed(1)} s`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.wake = () => { clearTimeout(t); res(); };
      });
      this.wake = null;
    }
    return this.lines.shift()!;
  }

  /** Sends one line. */
  send(line: string): void {
    if (this.ended !== null) throw this.failure(this.ended);
    this.child.stdin.write(line + "\n");
  }

  /** Asks it to quit (the line `quit`) and waits for the exit, killing it after `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    if (this.ended === null) {
      this.child.stdin.end("quit\n");
      const t = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
      while (this.ended === null) await new Promise<void>((res) => (this.wake = res));
      clearTimeout(t);
    }
  }

  private failure(why: string): Error {
    const tail = this.stderr.trim().split("\n").slice(-5).join("\n  ");
    return new Error(`${this.what} ${why}${tail ? `; its stderr ends:\n  ${tail}` : ""}`);
  }
}

/** The PyTorch side: bench/torch-passes.py serving the peer's workloads. */
export class TorchPasses {
  private constructor(private readonly peer: LinePeer, readonly params: ReadonlyMap<string, number>) {}

  /** Starts the server for `configs` and waits until every one is built (its "ready CONFIG PARAMS" line). */
  static async start(peer: LinePeer, configs: readonly string[]): Promise<TorchPasses> {
    const params = new Map<string, number>();
    try {
      for (const name of configs) {
        const line = await peer.next(PEER_START_MS);
        const m = /^ready (\S+) (\d+)$/.exec(line);
        if (!m || m[1] !== name) throw new Error(`${peer.what} should have said 'ready ${name} PARAMS', said '${line}'`);
        params.set(name, Number(m[2]));
      }
    } catch (e) {
      await peer.close();
      throw e;
    }
    return new TorchPasses(peer, params);
  }

  /** One untimed pass, then a timed one: its milliseconds, as the peer's process timed it. */
  async pass(name: string, phase: PassPhase): Promise<number> {
    this.peer.send(`${name} ${phase}`);
    const line = await this.peer.next(PEER_PASS_MS);
    const ms = Number(line);
    if (line.trim() === "" || !Number.isFinite(ms) || ms <= 0) throw new Error(`${this.peer.what} answered '${line}' to '${name} ${phase}', not a time in ms`);
    return ms;
  }

  close(): Promise<void> {
    return this.peer.close();
  }
}

/** One workload as bitspike runs it: its model (kept across a pass's step scope) and its two passes. */
export interface PassWorkload { name: string; model: unknown; infer: () => void; train: () => void }

/** One workload and phase read pass by pass: each side's timed passes (ms, round order) and their paired ratio. */
export interface PassPairing {
  name: string;
  phase: PassPhase;
  ours: number[];
  theirs: number[];
  /** Median of the rounds' own ratios, bitspike / PyTorch, and its central 95% over the rounds resampled. */
  ratio: number;
  interval: [number, number];
}

/**
 * `rounds` rounds per workload and phase after `warmup` unrecorded ones: each round one turn of each side (an
 * untimed pass, then a timed one), bitspike first in even rounds, PyTorch first in odd ones.
 */
export async function pairPasses(
  workloads: readonly PassWorkload[], phases: readonly PassPhase[], torch: Pick<TorchPasses, "pass">, rounds: number, warmup: number,
  log: (line: string) => void = () => {},
): Promise<PassPairing[]> {
  if (!(Number.isInteger(rounds) && rounds >= 1)) throw new Error(`pairPasses: rounds must be an integer >= 1, got ${rounds}`);
  if (!(Number.isInteger(warmup) && warmup >= 0)) throw new Error(`pairPasses: warmup must be an integer >= 0, got ${warmup}`);
  const out: PassPairing[] = [];
  for (const w of workloads) {
    for (const phase of phases) {
      const run = phase === "infer" ? w.infer : w.train;
      const ourTurn = (): number => warmTimedPass(run, w.model);
      const ours: number[] = [], theirs: number[] = [];
      for (let r = -warmup; r < rounds; r++) {
        let a: number, b: number;
        if ((r & 1) === 0) {
          a = ourTurn();
          b = await torch.pass(w.name, phase);
        } else {
          b = await torch.pass(w.name, phase);
          a = ourTurn();
        }
        if (r < 0) continue;
        ours.push(a);
        theirs.push(b);
        log(`${w.name} ${phase} round ${r + 1}/${rounds}: bitspike ${a.toFixed(0)} ms, PyTorch ${b.toFixed(0)} ms, ${(a / b).toFixed(2)}x`);
      }
      out.push({ name: w.name, phase, ours, theirs, ratio: pairedMedian(ours, theirs), interval: pairedInterval(ours, theirs) });
    }
  }
  return out;
}

/** The pairings as a markdown table: medians, and the paired ratio with its interval. */
export function formatPassPairs(rows: readonly PassPairing[]): string {
  const lines = [
    "| workload | phase | bitspike ms | PyTorch ms | bitspike / PyTorch, pass by pass (95% of resamples) | rounds |",
    "|---|---|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    const phase = r.phase === "infer" ? "inference" : "train step";
    lines.push(`| ${r.name} | ${phase} | ${medianOf(r.ours).toFixed(0)} | ${medianOf(r.theirs).toFixed(0)} | ${r.ratio.toFixed(2)}x (${fmtInterval(r.interval, 2)}) | ${r.ours.length} |`);
  }
  return lines.join("\n");
}
