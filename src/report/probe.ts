/**
 * What one sample does inside a model, seen through the layer probe
 * (models/compute.ts): the spikes entering each synaptic layer, per time step
 * (a spike raster), and the first attention head's Q Kᵀ map. Browser-safe: the
 * report and the demo page both use it.
 */
import { Spikes } from "../tensor/spikes.js";
import { Tensor } from "../tensor/tensor.js";
import { noGrad } from "../autograd/tape.js";
import { stepScope } from "../tensor/retain.js";
import type { LayerEvent, LayerProbe } from "../models/compute.js";
import type { Spikformer } from "../models/spikformer.js";
import type { RasterBand } from "./charts.js";

/** Bit `f` of spikes in row-major element order. */
function bitAt(s: Spikes, f: number): number {
  const row = Math.floor(f / s.cols);
  const col = f - row * s.cols;
  return (s.words[row * s.wordsPerRow + (col >>> 5)]! >>> (col & 31)) & 1;
}

/** The attention map of one head: counts of coincident Q, K bits, `size` x `size`. */
export interface AttentionMap {
  layer: string;
  size: number;
  /** A[i * size + j] = |q_i AND k_j|, the integer Q Kᵀ of SSA before V and the scale. */
  values: Float64Array;
}

/**
 * Records, for a forward pass of a single image, every spike tensor entering a
 * layer (up to `maxNeurons` neurons each, evenly picked) and the Q Kᵀ map of
 * head 0 at time step 0 of the first attention layer.
 */
export class SampleProbe implements LayerProbe {
  readonly bands: RasterBand[] = [];
  attention: AttentionMap | null = null;

  constructor(private readonly T: number, private readonly maxNeurons = 256) {}

  private band(name: string, s: Spikes): void {
    if (this.bands.some((b) => b.name === name)) return;
    const per = s.size / this.T;
    const k = Math.min(this.maxNeurons, per);
    const bits = new Uint8Array(this.T * k);
    for (let t = 0; t < this.T; t++) for (let i = 0; i < k; i++) bits[t * k + i] = bitAt(s, t * per + Math.floor((i * per) / k));
    this.bands.push({ name, steps: this.T, neurons: k, bits });
  }

  onLayer(e: LayerEvent): void {
    if (e.kind === "attention") {
      const q = e.q as Spikes, k = e.k as Spikes;
      for (const [tag, s] of [["q", q], ["k", k], ["v", e.v]] as const) if (s instanceof Spikes) this.band(`${e.name} ${tag}`, s);
      if (this.attention !== null) return;
      // [T, B, heads, N, d] with B = 1: head 0 at t = 0 is the first N rows.
      const n = q.shape[q.rank - 2]!;
      const d = q.cols;
      const values = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        let c = 0;
        for (let x = 0; x < d; x++) c += bitAt(q, i * d + x) & bitAt(k, j * d + x);
        values[i * n + j] = c;
      }
      this.attention = { layer: e.name, size: n, values };
      return;
    }
    if (e.kind !== "dense" && e.input instanceof Spikes) this.band(e.name, e.input);
  }
}

/**
 * Runs `model` in eval mode on one image [1, C, H, W] with a {@link SampleProbe}
 * (and `also`, e.g. an energy probe, seeing the same layers); returns the probe and the logits.
 */
export function probeSample(model: Spikformer, image: Tensor, maxNeurons = 256, also?: LayerProbe): { probe: SampleProbe; logits: Float32Array } {
  const probe = new SampleProbe(model.config.T, maxNeurons);
  const prev = model.compute.probe;
  const wasTraining = model.training;
  model.compute.probe = also ? { onLayer: (e) => { probe.onLayer(e); also.onLayer(e); } } : probe;
  model.eval();
  try {
    const logits = noGrad(() => stepScope(() => Float32Array.from(model.forward(image).data), model));
    return { probe, logits };
  } finally {
    model.compute.probe = prev;
    model.train(wasTraining);
  }
}
