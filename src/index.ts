/**
 * bitspike's public API for Node: everything of the browser-safe entry (`src/browser.ts`) plus
 * what needs Node: safetensors files and data sets on disk, the training loops with their logs and
 * checkpoints, PNG output, Node's worker threads for the pool, and the run report.
 */
export * from "./browser.js";

export { readSafetensorsFile, writeSafetensorsFile, writeFileAtomic } from "./io/safetensors-file.js";
export { loadMnist } from "./train/data/mnist.js";
export { loadCifar10, loadCifar100 } from "./train/data/cifar.js";
export { loadDatasetFile } from "./train/data/file.js";
export { loadData } from "./train/data/spec.js";
export { loadIdx, parseIdx } from "./train/data/idx.js";
export { SENSORS, sortByTime, type Events, type Sensor } from "./io/events/events.js";
export { parseAtisBin, serializeAtisBin } from "./io/events/atis.js";
export { parseAedat3, parseAedat2Cifar, parseGestureLabels, sliceWindows, type LabelWindow } from "./io/events/aedat.js";
export { parseEventsNpz, parseNpy, parseZip } from "./io/events/npz.js";
export { framesByCount, framesByDuration, frameRanges, binariseFrames, type Frames, type SplitBy } from "./train/data/events/frames.js";
export { loadEventData, perClassSplit, type EventDataOptions, type EventKind } from "./train/data/events/datasets.js";
export { emulateSaccades, writeEmulatedNmnist, type EmulatorOptions } from "./train/data/events/emulate.js";
export { train, type TrainOptions } from "./train/trainer.js";
export { saveWeights, loadWeights, saveCheckpoint, loadCheckpoint } from "./train/checkpoint.js";
export { pretrain, finetune } from "./train/pretrain.js";
export { encodePng, writePng } from "./io/png.js";
export { collectReport, readRunLog } from "./report/collect.js";
export { writeReport, reportHtml, reportScenes } from "./report/report.js";
