/** Runs a model over images with an energy probe attached and reports per-image energy. */
import { Tensor } from "../tensor/tensor.js";
import type { Classifier } from "../models/classifier.js";
import { passOverBatches } from "../train/batch-pass.js";
import type { Dataset } from "../train/data/dataset.js";
import { EnergyProbe, energyReport, type EnergyReport } from "./energy.js";

/** Eval-mode forward over up to `limit` images of `data`, counting every synaptic layer's input. */
export function measureEnergy(model: Classifier, data: Dataset, limit: number, batchSize = 50): EnergyReport {
  const probe = new EnergyProbe();
  const prev = model.compute.probe;
  model.compute.probe = probe;
  let seen: number;
  try {
    seen = passOverBatches(model, data, batchSize, { limit, keep: [probe] }, (b, seenBefore) => {
      const take = Math.min(b.labels.length, limit - seenBefore);
      model.forward(take === b.labels.length ? b.images : firstImages(b.images, take));
    });
  } finally {
    model.compute.probe = prev;
  }
  // The last batch ran only up to the limit.
  return energyReport(probe, Math.min(seen, limit));
}

/** The first `take` images of a batch [B, ...], or of a frame batch [T, B, ...]. */
function firstImages(x: Tensor, take: number): Tensor {
  if (x.rank === 5) {
    const [T, B] = x.shape as [number, number];
    const per = x.size / (T * B);
    const out = new Float32Array(T * take * per);
    for (let t = 0; t < T; t++) out.set(x.data.subarray(t * B * per, (t * B + take) * per), t * take * per);
    return new Tensor(out, [T, take, ...x.shape.slice(2)]);
  }
  const per = x.size / x.shape[0]!;
  return new Tensor(x.data.slice(0, take * per), [take, ...x.shape.slice(1)]);
}
