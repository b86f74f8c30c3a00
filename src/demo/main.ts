/// <reference lib="dom" />
/**
 * The demo page's script (main thread): starts the engine worker, shows the
 * live training curves and speed, turns a mouse drawing into a 28x28 digit and
 * shows its prediction, spike raster and firing rates, and moves weights files
 * in and out. `window.bitspikeDemo` lets a test drive the same actions.
 */
import { barChart, lineChart, spikeRaster } from "../report/charts.js";
import { toSvg } from "../report/scene.js";
import type { FromEngine, ToEngine } from "./protocol.js";

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const engine = new Worker(new URL("./engine.js", import.meta.url), { type: "module", name: "bitspike engine" });
const send = (m: ToEngine, transfer: Transferable[] = []): void => engine.postMessage(m, transfer);

const steps: { step: number; loss: number; accuracy: number; imagesPerSecond: number }[] = [];
const tests: { step: number; accuracy: number }[] = [];
const waiters = new Map<string, { resolve: (m: FromEngine) => void; reject: (e: Error) => void }[]>();
/** Resolves with the next message of a type; rejects when the engine reports an error first. */
function next<T extends FromEngine["type"]>(type: T): Promise<Extract<FromEngine, { type: T }>> {
  return new Promise((resolve, reject) => waiters.set(type, [...(waiters.get(type) ?? []), { resolve: resolve as (m: FromEngine) => void, reject }]));
}

const threads = Number(new URLSearchParams(location.search).get("threads") ?? navigator.hardwareConcurrency ?? 1);
const iso = $("isolation");
if (crossOriginIsolated) {
  iso.className = "ok";
  iso.textContent = `Cross-origin isolated: the engine runs in a worker with a pool of ${Math.max(1, threads) - 1} more worker(s) over one shared WebAssembly memory.`;
} else {
  iso.className = "warn";
  iso.textContent = "This page is not cross-origin isolated (it was served without the Cross-Origin-Opener-Policy / Cross-Origin-Embedder-Policy headers), so shared memory and the worker pool are off: bitspike runs on one thread. Serve it with `npx bitspike serve` for all cores.";
}

function drawCurves(): void {
  const x = steps.map((s) => s.step);
  const smooth = (a: number[]): number[] => a.map((_, i) => { const w = a.slice(Math.max(0, i - 9), i + 1); return w.reduce((p, v) => p + v, 0) / w.length; });
  const loss = lineChart([{ name: "loss", x, y: steps.map((s) => s.loss), colour: "#9ecae1" }, { name: "loss (mean of 10)", x, y: smooth(steps.map((s) => s.loss)) }],
    { name: "loss", title: "Training loss", xLabel: "step", yLabel: "loss", width: 360, height: 220 });
  const acc = lineChart([
    { name: "batch acc. (mean of 10)", x, y: smooth(steps.map((s) => s.accuracy)) },
    { name: "test acc. (500 digits)", x: tests.map((t) => t.step), y: tests.map((t) => t.accuracy), dots: true },
  ], { name: "accuracy", title: "Accuracy", xLabel: "step", yLabel: "accuracy", width: 360, height: 220, yInclude: [0, 1] });
  $("curves").innerHTML = toSvg(loss) + toSvg(acc);
}

engine.onmessage = (e: MessageEvent<FromEngine>) => {
  const m = e.data;
  if (m.type === "error") {
    for (const w of [...waiters.values()].flat()) w.reject(new Error(m.message));
    waiters.clear();
  }
  for (const w of waiters.get(m.type) ?? []) w.resolve(m);
  waiters.delete(m.type);
  switch (m.type) {
    case "ready":
      $("stats").textContent = `${m.model}, ${m.parameters.toLocaleString("en-US")} parameters; ${m.trainSize} training digits, ${m.testSize} test digits; ${m.threads} thread(s)` + (m.why ? `\n(one thread: ${m.why})` : "");
      for (const id of ["train", "save", "load", "fingerprint"]) ($(id) as HTMLButtonElement).disabled = false;
      break;
    case "step":
      steps.push(m);
      $("stats").textContent = `step ${m.step}  loss ${m.loss.toFixed(4)}  batch acc. ${(100 * m.accuracy).toFixed(1)}%  ${m.imagesPerSecond.toFixed(0)} images/s  lr ${m.lr.toExponential(2)}  ${m.threads} thread(s)`;
      drawCurves();
      break;
    case "trained":
      tests.push({ step: steps.length ? steps[steps.length - 1]!.step : 0, accuracy: m.testAccuracy });
      $("stats").textContent += `\ntest accuracy ${(100 * m.testAccuracy).toFixed(1)}% on ${m.testSamples} held-out digits`;
      ($("train") as HTMLButtonElement).disabled = false;
      ($("stop") as HTMLButtonElement).disabled = true;
      drawCurves();
      break;
    case "prediction": {
      $("prediction").textContent = String(m.predicted);
      $("probabilities").innerHTML = toSvg(barChart(m.probabilities.map((_, i) => String(i)), [{ name: "p", values: m.probabilities }], { name: "probabilities", title: "Class probabilities", valueLabel: "probability", width: 300 }));
      $("raster").innerHTML = toSvg(spikeRaster(m.bands, { name: "raster", title: `Spikes entering each layer for your digit (predicted ${m.predicted})`, width: 700 }));
      $("rates").innerHTML = toSvg(barChart(m.rates.map((r) => r.name), [{ name: "firing rate", values: m.rates.map((r) => r.rate) }], { name: "rates", title: "Input firing rate per layer", valueLabel: "fraction of inputs that spike", width: 440 }));
      break;
    }
    case "weights": {
      const url = URL.createObjectURL(new Blob([m.bytes as BlobPart], { type: "application/octet-stream" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = "bitspike-demo.safetensors";
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      $("weights").textContent = `downloaded bitspike-demo.safetensors (${(m.bytes.length / 1024).toFixed(0)} KiB)`;
      break;
    }
    case "loaded":
      $("weights").textContent = `loaded ${m.name} (${m.model}); draw a digit to try it`;
      break;
    case "fingerprint":
      $("fp").textContent = `fingerprint ${m.value} (${m.threads} thread(s), ${m.workerParts} parts run by pool workers)`;
      break;
    case "error":
      $("stats").textContent += `\nerror: ${m.message}`;
      ($("train") as HTMLButtonElement).disabled = false;
      break;
  }
};
engine.onerror = (e) => { $("stats").textContent = `the engine failed to start: ${e.message}`; };
send({ type: "init", threads });

function train(n: number): Promise<Extract<FromEngine, { type: "trained" }>> {
  ($("train") as HTMLButtonElement).disabled = true;
  ($("stop") as HTMLButtonElement).disabled = false;
  const done = next("trained");
  send({ type: "train", steps: n, batch: Number(($("batch") as HTMLInputElement).value) || 32 });
  return done;
}
$("train").onclick = () => void train(Number(($("steps") as HTMLInputElement).value) || 1);
$("stop").onclick = () => send({ type: "stop" });
$("save").onclick = () => send({ type: "save" });
$("fingerprint").onclick = () => send({ type: "fingerprint" });
($("load") as HTMLInputElement).onchange = async (e) => {
  const f = (e.target as HTMLInputElement).files?.[0];
  if (f) send({ type: "load", bytes: new Uint8Array(await f.arrayBuffer()), name: f.name });
};

// Drawing: white strokes on black, as MNIST digits are.
const pad = $("pad") as HTMLCanvasElement;
const ctx = pad.getContext("2d")!;
const clear = (): void => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, pad.width, pad.height); };
clear();
let drawing = false;
let last: [number, number] | null = null;
const at = (e: PointerEvent): [number, number] => { const r = pad.getBoundingClientRect(); return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height]; };
pad.onpointerdown = (e) => { drawing = true; last = at(e); pad.setPointerCapture(e.pointerId); };
pad.onpointermove = (e) => {
  if (!drawing || !last) return;
  const p = at(e);
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = 22;
  ctx.lineCap = "round";
  ctx.beginPath();
  ctx.moveTo(last[0], last[1]);
  ctx.lineTo(p[0], p[1]);
  ctx.stroke();
  last = p;
};
pad.onpointerup = () => { drawing = false; last = null; classify(); };
$("clear").onclick = () => { clear(); $("prediction").textContent = "-"; };

/** The drawing as an MNIST-like digit: its bounding box scaled into 20x20, centred in 28x28, intensities 0..1. */
function digitPixels(): Float32Array | null {
  const img = ctx.getImageData(0, 0, pad.width, pad.height).data;
  let x0 = pad.width, y0 = pad.height, x1 = -1, y1 = -1;
  for (let y = 0; y < pad.height; y++) for (let x = 0; x < pad.width; x++) if (img[(y * pad.width + x) * 4]! > 40) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  if (x1 < 0) return null;
  const side = Math.max(x1 - x0, y1 - y0) + 1;
  const small = document.createElement("canvas");
  small.width = small.height = 28;
  const s = small.getContext("2d")!;
  s.fillStyle = "#000";
  s.fillRect(0, 0, 28, 28);
  s.imageSmoothingQuality = "high";
  const w = (20 * (x1 - x0 + 1)) / side, h = (20 * (y1 - y0 + 1)) / side;
  s.drawImage(pad, x0, y0, x1 - x0 + 1, y1 - y0 + 1, 14 - w / 2, 14 - h / 2, w, h);
  const d = s.getImageData(0, 0, 28, 28).data;
  return Float32Array.from({ length: 784 }, (_, i) => d[i * 4]! / 255);
}

function classify(): Promise<Extract<FromEngine, { type: "prediction" }>> | null {
  const px = digitPixels();
  if (!px) return null;
  const p = next("prediction");
  send({ type: "predict", pixels: px });
  return p;
}

declare global {
  interface Window {
    bitspikeDemo: {
      ready: Promise<Extract<FromEngine, { type: "ready" }>>;
      steps: typeof steps;
      train(n: number): Promise<Extract<FromEngine, { type: "trained" }>>;
      classify(): Promise<Extract<FromEngine, { type: "prediction" }>> | null;
      fingerprint(): Promise<Extract<FromEngine, { type: "fingerprint" }>>;
      saveBytes(): Promise<Uint8Array>;
      load(bytes: Uint8Array, name: string): Promise<Extract<FromEngine, { type: "loaded" }>>;
    };
  }
}
window.bitspikeDemo = {
  ready: next("ready"),
  steps,
  train,
  classify,
  fingerprint: () => { const p = next("fingerprint"); send({ type: "fingerprint" }); return p; },
  saveBytes: () => new Promise((r) => { const p = next("weights"); send({ type: "save" }); void p.then((m) => r(m.bytes)); }),
  load: (bytes, name) => { const p = next("loaded"); send({ type: "load", bytes, name }); return p; },
};
