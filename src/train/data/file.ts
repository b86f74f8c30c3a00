/**
 * The generic data-set format: one safetensors file holding
 *   images  F32 or U8 (F64, F16, BF16 also read), [N, C, H, W], or event
 *           frames [N, T, C, H, W] (what `bitspike frames` writes)
 *   labels  I64, I32 or U8, [N]
 * and optional string metadata:
 *   num_classes  an integer (default: max label + 1)
 *   mean, std    JSON arrays with one number per channel
 * U8 images are scaled by 1/255; float images are taken as they are. When the
 * metadata gives mean and std, (x - mean[c]) / std[c] follows, for either
 * dtype; without them no normalisation happens (store normalised F32 images,
 * or U8 images plus mean/std).
 */
import { fail, fmtShape } from "../../tensor/errors.js";
import { parseSafetensors, type SafeFile } from "../../io/safetensors.js";
import { readFileChecked } from "../../io/files.js";
import { checkInt, firstNonFinite, parseJson, preview } from "../../io/validate.js";
import { CONFIG_LIMITS } from "../../models/config.js";
import type { Dataset } from "./dataset.js";

const OP = "dataset-file";

function parseChannelList(source: string, key: string, text: string, C: number): number[] {
  const v = parseJson(OP, `${source}: metadata '${key}'`, text);
  if (!Array.isArray(v) || v.length !== C || !v.every((x) => typeof x === "number" && Number.isFinite(x))) {
    fail(OP, `${source}: metadata '${key}' must be a JSON array of ${C} finite numbers (one per channel), got ${preview(text)}`);
  }
  if (key === "std" && v.some((x) => x <= 0)) fail(OP, `${source}: metadata 'std' must be positive, got ${text}`);
  return v as number[];
}

/** A data set from the bytes of a safetensors file; `source` names the file in errors. */
export function datasetFromSafetensors(bytes: Uint8Array, source: string): Dataset {
  return datasetFromParsed(parseSafetensors(bytes, source), source);
}

/** A data set from a parsed safetensors file (see the module comment for the format). */
export function datasetFromParsed({ tensors, metadata }: SafeFile, source: string): Dataset {
  const img = tensors.get("images");
  const lab = tensors.get("labels");
  if (!img) fail(OP, `${source}: no tensor named 'images' (found: ${[...tensors.keys()].join(", ") || "none"})`);
  if (!lab) fail(OP, `${source}: no tensor named 'labels' (found: ${[...tensors.keys()].join(", ") || "none"})`);
  if (img.shape.length !== 4 && img.shape.length !== 5) fail(OP, `${source}: 'images' has shape ${fmtShape(img.shape)}, expected [N, C, H, W] (or frames [N, T, C, H, W])`);
  if (lab.shape.length !== 1) fail(OP, `${source}: 'labels' has shape ${fmtShape(lab.shape)}, expected [N]`);
  const frames = img.shape.length === 5 ? img.shape[1]! : undefined;
  if (frames === 0) fail(OP, `${source}: 'images' has shape ${fmtShape(img.shape)}: no frames`);
  const [N, C, H, W] = [img.shape[0]!, ...img.shape.slice(-3)] as [number, number, number, number];
  const per = (frames ?? 1) * C * H * W;
  if (lab.shape[0] !== N) fail(OP, `${source}: 'images' holds ${N} samples but 'labels' holds ${lab.shape[0]}`);

  const images = new Float32Array(N * per);
  if (img.data instanceof Float32Array || img.data instanceof Float64Array) {
    images.set(img.data);
    // A neuron reads NaN as "no spike": one NaN pixel would train on silently, so refuse it here.
    const bad = firstNonFinite(images);
    if (bad >= 0) fail(OP, `${source}: 'images' holds ${images[bad]} at sample ${Math.floor(bad / per)} (index ${bad}); expected finite pixels`);
  } else if (img.dtype === "U8" && img.data instanceof Uint8Array) {
    for (let i = 0; i < images.length; i++) images[i] = img.data[i]! / 255;
  } else {
    fail(OP, `${source}: 'images' has dtype ${img.dtype}, expected F32 or U8 (or F64, F16, BF16)`);
  }

  const labels = new Int32Array(N);
  const ld = lab.data;
  if ((lab.dtype === "I64" && ld instanceof BigInt64Array) || (lab.dtype === "I32" && ld instanceof Int32Array) || (lab.dtype === "U8" && ld instanceof Uint8Array)) {
    for (let i = 0; i < N; i++) {
      const y = Number(ld[i]!);
      if (!(y >= 0 && y < CONFIG_LIMITS.numClasses)) fail(OP, `${source}: label ${y} of sample ${i} is negative or too large (expected 0..${CONFIG_LIMITS.numClasses - 1})`);
      labels[i] = y;
    }
  } else {
    fail(OP, `${source}: 'labels' has dtype ${lab.dtype}, expected I64, I32 or U8`);
  }

  let numClasses = 0;
  for (let i = 0; i < N; i++) numClasses = Math.max(numClasses, labels[i]! + 1);
  const meta = metadata ?? {};
  if (meta["num_classes"] !== undefined) {
    // Digits only: Number() would also take "1e9", " 7" or "0x10".
    const text = meta["num_classes"];
    const k = checkInt(OP, `${source}: metadata num_classes`, /^[0-9]{1,9}$/.test(text) ? Number(text) : text, { min: 1, max: CONFIG_LIMITS.numClasses });
    for (let i = 0; i < N; i++) {
      if (labels[i]! >= k) fail(OP, `${source}: label ${labels[i]} of sample ${i} is out of range 0..${k - 1} (num_classes ${k})`);
    }
    numClasses = k;
  }
  if (numClasses < 1) fail(OP, `${source}: no samples and no num_classes metadata`);

  const ds: Dataset = { images, labels, shape: [C, H, W], numClasses };
  if (frames !== undefined) ds.frames = frames;
  const hasMean = meta["mean"] !== undefined;
  if (hasMean !== (meta["std"] !== undefined)) fail(OP, `${source}: metadata must give both 'mean' and 'std' or neither`);
  if (hasMean) {
    const mean = parseChannelList(source, "mean", meta["mean"]!, C);
    const std = parseChannelList(source, "std", meta["std"]!, C);
    const plane = H * W;
    for (let n = 0, i = 0; n < N * (frames ?? 1); n++) {
      for (let c = 0; c < C; c++) {
        const m = mean[c]!;
        const s = std[c]!;
        for (let k = 0; k < plane; k++, i++) images[i] = (images[i]! - m) / s;
      }
    }
    ds.mean = mean;
    ds.std = std;
  }
  return ds;
}

/** A data set from a safetensors file on disk (see the module comment for the format). */
export function loadDatasetFile(path: string): Dataset {
  return datasetFromSafetensors(readFileChecked(OP, path), path);
}
