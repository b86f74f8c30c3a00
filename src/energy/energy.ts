/**
 * Energy the way the Spikformer papers estimate it (REFERENCE.md section 6),
 * but with synaptic operations counted exactly from the spike bits that enter
 * each layer instead of firing rate x T x FLOPs:
 *
 *   E = 4.6 pJ x MACs (layers fed by real values) + 0.9 pJ x SOPs (layers fed by spikes)
 *
 * A spike entering a layer costs one accumulate per output it reaches (its
 * fan-out). The residual stream holds small integers (sums of spikes): a
 * value c counts as c spikes. Real-valued inputs (the image entering the first
 * conv) cost one multiply-accumulate per weight use, counted once when a
 * static image is convolved once for all T steps, as bitspike computes it.
 * Layers a model reports as real-valued work ("dense" events: Spikeformer's
 * softmax attention, its Linear layers fed by LayerNorm or attention outputs)
 * cost their multiply-accumulates.
 */
import { Spikes } from "../tensor/spikes.js";
import { popcnt32 } from "../tensor/bits.js";
import type { Activation, LayerEvent, LayerProbe } from "../models/compute.js";

export const E_MAC_PJ = 4.6;
export const E_AC_PJ = 0.9;

/** Totals of one layer over everything the probe saw. */
export interface LayerEnergy {
  name: string;
  kind: "linear" | "conv2d" | "attention";
  /** "spikes" (AC) or "real" (MAC). */
  input: "spikes" | "real";
  /** Elements that entered the layer. */
  inputElements: number;
  /** Spikes that entered (for counts: the sum of the counts). */
  inputSpikes: number;
  /** Exact synaptic operations (accumulates) from the spike bits. */
  sops: number;
  /** Multiply-accumulates for real-valued inputs. */
  macs: number;
  /** Dense operations of the layer (what a float implementation does): MACs. */
  denseOps: number;
}

function spikeSum(x: Activation): { n: number; spikes: number; integral: boolean } {
  if (x instanceof Spikes) return { n: x.size, spikes: x.count(), integral: true };
  let s = 0;
  let integral = true;
  for (let i = 0; i < x.data.length; i++) {
    const v = x.data[i]!;
    if (v < 0 || !Number.isInteger(v)) integral = false;
    s += v;
  }
  return { n: x.data.length, spikes: s, integral };
}

/** Per input position along one axis: how many output positions it feeds through a kernel. */
function fanAlongAxis(size: number, k: number, stride: number, pad: number, out: number): Float64Array {
  const f = new Float64Array(size);
  for (let o = 0; o < out; o++) for (let t = 0; t < k; t++) {
    const i = o * stride - pad + t;
    if (i >= 0 && i < size) f[i]! += 1;
  }
  return f;
}

/** Exact SOPs of a conv on spikes or counts: each input value times the outputs it reaches. */
function convSops(x: Activation, weightShape: readonly number[], stride: number, pad: number, outShape: readonly number[]): number {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O, , kh, kw] = weightShape as [number, number, number, number];
  const fy = fanAlongAxis(H, kh, stride, pad, outShape[2]!);
  const fx = fanAlongAxis(W, kw, stride, pad, outShape[3]!);
  let s = 0;
  if (x instanceof Spikes) {
    const wpr = x.wordsPerRow;
    for (let r = 0; r < N * C * H; r++) {
      const y = r % H;
      for (let w = 0; w < wpr; w++) {
        let bits = x.words[r * wpr + w]!;
        while (bits !== 0) {
          const col = (w << 5) + (31 - Math.clz32(bits & -bits));
          bits &= bits - 1;
          s += fy[y]! * fx[col]!;
        }
      }
    }
  } else {
    for (let r = 0; r < N * C * H; r++) {
      const y = r % H;
      for (let c = 0; c < W; c++) s += x.data[r * W + c]! * fy[y]! * fx[c]!;
    }
  }
  return s * O;
}

/** Column (channel) counts of spikes [..., N, d], summed over the leading axes, per matrix. */
function attentionSops(q: Spikes, k: Spikes, v: Spikes): number {
  // Q Kᵀ: additions = coincident bits = Σ_{i,j} |q_i & k_j| ; then (Q Kᵀ) V: each spike v[j, c]
  // is added A_ij times, Σ_j (Σ_i A_ij) |v_j|, with Σ_i A_ij = Σ_c colQ[c] k[j, c].
  const n = q.shape[q.rank - 2]!;
  const d = q.cols;
  const mats = q.rows / n;
  const wpr = q.wordsPerRow;
  let total = 0;
  const colQ = new Float64Array(d);
  for (let m = 0; m < mats; m++) {
    colQ.fill(0);
    for (let i = 0; i < n; i++) for (let c = 0; c < d; c++) colQ[c]! += (q.words[(m * n + i) * wpr + (c >>> 5)]! >>> (c & 31)) & 1;
    for (let j = 0; j < n; j++) {
      let colSum = 0;
      let vj = 0;
      for (let w = 0; w < wpr; w++) vj += popcnt32(v.words[(m * n + j) * wpr + w]!);
      for (let c = 0; c < d; c++) if ((k.words[(m * n + j) * wpr + (c >>> 5)]! >>> (c & 31)) & 1) colSum += colQ[c]!;
      total += colSum + colSum * vj;
    }
  }
  return total;
}

/** A probe that accumulates per-layer counts; attach it to `model.compute.probe`. */
export class EnergyProbe implements LayerProbe {
  readonly layers = new Map<string, LayerEnergy>();
  images = 0;

  onLayer(e: LayerEvent): void {
    let row = this.layers.get(e.name);
    if (!row) {
      row = { name: e.name, kind: e.kind === "dense" ? e.layer : e.kind, input: "spikes", inputElements: 0, inputSpikes: 0, sops: 0, macs: 0, denseOps: 0 };
      this.layers.set(e.name, row);
    }
    if (e.kind === "dense") {
      row.kind = e.layer;
      row.input = "real";
      row.inputElements += e.inputElements;
      row.macs += e.macs;
      row.denseOps += e.macs;
      return;
    }
    if (e.kind === "attention") {
      const q = e.q as Spikes;
      const n = q.shape[q.rank - 2]!;
      const d = q.cols;
      const mats = q.rows / n;
      row.inputElements += 3 * q.size;
      row.inputSpikes += q.count() + (e.k as Spikes).count() + (e.v as Spikes).count();
      row.sops += attentionSops(q, e.k as Spikes, e.v as Spikes);
      row.denseOps += mats * 2 * n * n * d;
      return;
    }
    const { n, spikes, integral } = spikeSum(e.input);
    row.inputElements += n;
    let dense: number;
    let fanSops: () => number;
    if (e.kind === "linear") {
      dense = n * e.outFeatures; // every input element meets every output once
      fanSops = () => spikes * e.outFeatures;
    } else {
      const [O, Ci, kh, kw] = e.weightShape as [number, number, number, number];
      const [N, , OH, OW] = e.outShape as [number, number, number, number];
      dense = N * O * OH * OW * Ci * kh * kw;
      fanSops = () => convSops(e.input, e.weightShape, e.stride, e.padding, e.outShape);
    }
    row.denseOps += dense;
    if (integral) {
      row.inputSpikes += spikes;
      row.sops += fanSops();
    } else {
      row.input = "real";
      row.macs += dense;
    }
  }
}

/** One row of the report, with the papers' estimate beside the exact count. */
export interface EnergyRow extends LayerEnergy {
  firingRate: number;
  /** The papers' estimate of the same layer: firing rate x dense operations (= fr x T x FLOPs per step). */
  estimatedSops: number;
  /** Energy per image in mJ from the exact counts. */
  energyMj: number;
  estimatedEnergyMj: number;
}

export interface EnergyReport {
  images: number;
  rows: EnergyRow[];
  totalSops: number;
  totalMacs: number;
  estimatedSops: number;
  /** mJ per image, exact counts. */
  energyMj: number;
  /** mJ per image, the papers' estimate. */
  estimatedEnergyMj: number;
}

/** Turns a probe's counts into per-image energy (exact and estimated). */
export function energyReport(probe: EnergyProbe, images: number): EnergyReport {
  const perImage = (pj: number): number => pj / images / 1e9; // pJ -> mJ
  const rows: EnergyRow[] = [...probe.layers.values()].map((l) => {
    const firingRate = l.inputElements ? l.inputSpikes / l.inputElements : 0;
    const estimatedSops = l.input === "real" ? 0 : firingRate * l.denseOps;
    return {
      ...l,
      firingRate,
      estimatedSops,
      energyMj: perImage(E_MAC_PJ * l.macs + E_AC_PJ * l.sops),
      estimatedEnergyMj: perImage(E_MAC_PJ * l.macs + E_AC_PJ * estimatedSops),
    };
  });
  const sum = (f: (r: EnergyRow) => number): number => rows.reduce((a, r) => a + f(r), 0);
  return {
    images,
    rows,
    totalSops: sum((r) => r.sops),
    totalMacs: sum((r) => r.macs),
    estimatedSops: sum((r) => r.estimatedSops),
    energyMj: sum((r) => r.energyMj),
    estimatedEnergyMj: sum((r) => r.estimatedEnergyMj),
  };
}
