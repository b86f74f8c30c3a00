/**
 * Progress display for training: a one-line bar redrawn in place on a
 * terminal, or a plain line every few seconds when output goes to a file or CI.
 */
import type { EpochInfo, StepInfo } from "../train/trainer.js";

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return "--:--";
  const m = Math.floor(s / 60);
  const r = Math.floor(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m` : `${m}:${String(r).padStart(2, "0")}`;
}

/** Renders step and epoch reports to a stream. */
export class Progress {
  private readonly tty: boolean;
  private lastPlain = 0;
  private readonly start = performance.now();
  private startIteration = -1;
  private emaLoss = NaN;
  private emaAcc = NaN;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout, private readonly plainEverySeconds = 10) {
    this.tty = Boolean(out.isTTY);
  }

  step(s: StepInfo): void {
    if (this.startIteration < 0) this.startIteration = s.iteration - 1;
    const a = 0.1;
    this.emaLoss = Number.isNaN(this.emaLoss) ? s.loss : (1 - a) * this.emaLoss + a * s.loss;
    this.emaAcc = Number.isNaN(this.emaAcc) ? s.accuracy : (1 - a) * this.emaAcc + a * s.accuracy;
    const elapsed = (performance.now() - this.start) / 1000;
    const done = s.iteration - this.startIteration;
    const eta = (elapsed / done) * (s.totalIterations - s.iteration);
    const width = 24;
    const filled = Math.round((width * s.step) / s.stepsPerEpoch);
    const line = `epoch ${s.epoch + 1} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${s.step}/${s.stepsPerEpoch}` +
      `  loss ${this.emaLoss.toFixed(4)}  acc ${(100 * this.emaAcc).toFixed(1)}%  ${s.imagesPerSecond.toFixed(0)} img/s  lr ${s.lr.toExponential(2)}  ETA ${fmtTime(eta)}`;
    if (this.tty) {
      this.out.write(`\r${line}\x1b[K`);
    } else if (elapsed - this.lastPlain >= this.plainEverySeconds || s.step === s.stepsPerEpoch) {
      this.lastPlain = elapsed;
      this.out.write(line + "\n");
    }
  }

  epoch(e: EpochInfo): void {
    if (this.tty) this.out.write("\r\x1b[K");
    this.out.write(
      `epoch ${e.epoch + 1}/${e.epochs}: train loss ${e.trainLoss.toFixed(4)} acc ${(100 * e.trainAccuracy).toFixed(2)}%` +
        ` | test loss ${e.test.loss.toFixed(4)} acc ${(100 * e.test.accuracy).toFixed(2)}% | ${e.seconds.toFixed(1)} s\n`,
    );
  }
}
