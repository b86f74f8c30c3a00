/**
 * The timing of bench/conv-norm-fire.ts and bench/linear-norm-fire.ts: a fused op against the ops it
 * replaces, alternating in one process (each call under noGrad in its own stepScope, two warm-up calls
 * each), so the machine's drift hits both alike.
 */
import { noGrad } from "../src/autograd/tape.js";
import { stepScope } from "../src/tensor/retain.js";

const median = (a: readonly number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1]!;

/** "fused F, two ops O, fused / two ops Rx (paired median)": medians of `rounds` calls each, ms, and of their ratios. */
export function fusedAgainstOps(fused: () => unknown, twoOps: () => unknown, rounds: number): string {
  const time = (f: () => unknown): number => {
    const t0 = performance.now();
    stepScope(() => noGrad(f));
    return performance.now() - t0;
  };
  for (let i = 0; i < 2; i++) { time(fused); time(twoOps); }
  const tf: number[] = [], tt: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) { tf.push(time(fused)); tt.push(time(twoOps)); } else { tt.push(time(twoOps)); tf.push(time(fused)); }
  }
  const ratio = median(tf.map((v, i) => v / tt[i]!));
  return `fused ${median(tf).toFixed(1)}, two ops ${median(tt).toFixed(1)}, fused / two ops ${ratio.toFixed(2)}x (paired median)`;
}
