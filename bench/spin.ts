/**
 * How long the pool's idle threads should spin (`setPoolSpin`, `--spin`): bench/knobs.ts with --knob spin on
 * training steps. Run it on an idle machine and beside another busy process (e.g. a one-thread training run)
 * to see the difference the spin makes there.
 *
 *   npx tsx bench/spin.ts [--config cifar-b8|mnist-b64] [--threads 2] [--pairs 8] [--spins 0.2,20]
 */
function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
process.argv.push("--knob", "spin", "--arms", flag("spins", "0.2,20"), "--rounds", flag("pairs", "8"), "--phase", "train");
await import("./knobs.js");
