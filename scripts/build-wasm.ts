/**
 * `npm run build:wasm`: writes every WebAssembly module bitspike emits to
 * dist/wasm/ for inspection (e.g. `wasm-objdump -d dist/wasm/gemm.wasm`),
 * checking each with WebAssembly.validate. Nothing reads these files: the
 * kernels emit the same bytes from TypeScript in-process at first use, so
 * there is no build artifact to ship or to go stale.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { convKernelModule } from "../src/kernels/conv/wasm.js";
import { gemmKernelModule } from "../src/kernels/gemm/wasm.js";
import { neuronKernelModule } from "../src/kernels/neuron/wasm.js";
import { normKernelModule } from "../src/kernels/norm/wasm.js";
import { spikeGemmModule } from "../src/kernels/popcount/wasm.js";
import { spikeSumModule } from "../src/kernels/spike-sum/wasm.js";
import { wasmApi } from "../src/wasm/runtime.js";

const modules: Record<string, () => Uint8Array> = {
  "gemm.wasm": gemmKernelModule,
  "spike-gemm.wasm": spikeGemmModule,
  "spike-sum.wasm": spikeSumModule,
  "neuron.wasm": neuronKernelModule,
  "norm.wasm": normKernelModule,
  "conv.wasm": convKernelModule,
};

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "wasm");
mkdirSync(out, { recursive: true });
const api = wasmApi();
let failed = 0;
for (const [file, emit] of Object.entries(modules)) {
  const bytes = emit();
  const path = join(out, file);
  writeFileSync(path, bytes);
  const valid = api === null ? "not checked (no WebAssembly in this runtime)" : api.validate(bytes) ? "valid" : "INVALID";
  if (valid === "INVALID") failed++;
  console.log(`${path}: ${bytes.length} bytes, ${valid}`);
}
if (failed > 0) process.exit(1);
