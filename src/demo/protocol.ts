/** The messages between the demo page (main.ts) and its engine worker (engine.ts). */
import type { RasterBand } from "../report/charts.js";

/** Page -> engine. */
export type ToEngine =
  | { type: "init"; threads: number }
  | { type: "train"; steps: number; batch: number }
  | { type: "stop" }
  | { type: "predict"; pixels: Float32Array }
  | { type: "fingerprint" }
  | { type: "save" }
  | { type: "load"; bytes: Uint8Array; name: string };

/** Engine -> page. */
export type FromEngine =
  | { type: "ready"; threads: number; isolated: boolean; why: string | null; trainSize: number; testSize: number; model: string; parameters: number }
  | { type: "step"; step: number; loss: number; accuracy: number; imagesPerSecond: number; lr: number; threads: number }
  | { type: "trained"; steps: number; testAccuracy: number; testSamples: number }
  | { type: "prediction"; probabilities: number[]; predicted: number; bands: RasterBand[]; rates: { name: string; rate: number }[] }
  | { type: "fingerprint"; value: string; threads: number; workerParts: number }
  | { type: "weights"; bytes: Uint8Array }
  | { type: "loaded"; name: string; model: string }
  | { type: "error"; message: string };
