/** The demo page's HTML (served by `bitspike serve`): layout and style; main.ts brings it to life. */

/** The page; `isolationHeaders` says whether the server sent COOP / COEP (the page checks crossOriginIsolated itself). */
export function demoPageHtml(o: { isolationHeaders: boolean }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bitspike: a spiking transformer training in your browser</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>
body{font-family:system-ui,sans-serif;margin:20px auto;max-width:1150px;padding:0 16px;color:#222}
h1{font-size:22px;margin-bottom:4px}h2{font-size:16px;margin:0 0 8px}.sub{color:#555;margin-top:0}
#isolation{padding:6px 10px;border-radius:4px;font-size:14px}#isolation.ok{background:#e6f4ea}#isolation.warn{background:#fdecea}
.row{display:flex;flex-wrap:wrap;gap:16px;margin-top:14px}.panel{border:1px solid #ddd;border-radius:6px;padding:12px}
button{font-size:14px;padding:5px 12px;margin-right:6px}#stats{font-family:ui-monospace,monospace;font-size:13px;margin:8px 0;white-space:pre}
canvas#pad{background:#000;border-radius:4px;cursor:crosshair;touch-action:none}#prediction{font-size:40px;font-weight:bold;min-width:1.5em;display:inline-block}
svg{max-width:100%;height:auto}.muted{color:#777;font-size:12px}
</style></head><body>
<h1>bitspike in the browser</h1>
<p class="sub">A Spikformer (spiking transformer: spikes are bits, attention is AND-popcount) training on real MNIST digits in this tab: WebAssembly kernels, Web Workers over one shared memory.</p>
<div id="isolation" data-headers="${o.isolationHeaders ? "sent" : "absent"}">checking cross-origin isolation...</div>
<div class="row">
 <div class="panel" style="flex:1 1 520px">
  <h2>1. Train</h2>
  <div><label>steps <input id="steps" type="number" value="250" min="1" max="100000" style="width:6em"></label>
   <label>batch <input id="batch" type="number" value="32" min="1" max="256" style="width:4em"></label>
   <button id="train" disabled>Train</button><button id="stop" disabled>Stop</button></div>
  <div id="stats">loading the digits...</div>
  <div id="curves"></div>
 </div>
 <div class="panel" style="flex:0 1 330px">
  <h2>2. Draw a digit</h2>
  <canvas id="pad" width="280" height="280"></canvas>
  <div><button id="clear">Clear</button> prediction: <span id="prediction">-</span></div>
  <div id="probabilities"></div>
 </div>
</div>
<div class="row">
 <div class="panel" style="flex:1 1 620px"><h2>3. Its spikes</h2><div id="raster" class="muted">Draw a digit to see the spikes entering each layer.</div></div>
 <div class="panel" style="flex:1 1 400px"><h2>Firing rate per layer</h2><div id="rates" class="muted">-</div></div>
</div>
<div class="row">
 <div class="panel" style="flex:1 1 500px"><h2>Weights</h2>
  <button id="save" disabled>Download weights (.safetensors)</button>
  <label><input id="load" type="file" accept=".safetensors" disabled> load weights</label>
  <div id="weights" class="muted">The same files as <code>bitspike train</code> writes and <code>bitspike predict</code> reads.</div></div>
 <div class="panel" style="flex:1 1 400px"><h2>Same seed, same bits</h2>
  <button id="fingerprint" disabled>Fingerprint a training step</button>
  <div id="fp" class="muted">One step of spikformer-cifar-1-64 (T = 2, 32 digits): loss and an FNV-1a hash of every gradient, as <code>bench/train-step.ts</code> prints in Node.</div></div>
</div>
<script type="module" src="/lib/demo/main.js"></script>
</body></html>
`;
}
