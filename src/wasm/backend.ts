/**
 * Which implementation the dual kernels run: the plain-TypeScript one ("js"),
 * the WebAssembly SIMD twin ("wasm"), or the twin whenever this runtime
 * supports 128-bit SIMD ("auto", the default). Both give the same bits, so
 * the choice changes speed only.
 *
 * The start-up choice comes from the environment variable
 * `BITSPIKE_KERNELS=js|wasm|auto`, read once when this module loads (in every
 * thread: pool workers inherit the variable). {@link setKernelBackend} changes
 * it later for the calling thread only.
 */
import { BitspikeError } from "../tensor/errors.js";
import { Code, emitModule, V128 } from "./emit.js";
import { wasmApi } from "./runtime.js";

export type KernelBackend = "js" | "wasm" | "auto";

let simd: boolean | null = null;

/**
 * True when WebAssembly with 128-bit SIMD is available: probed once by
 * validating a one-instruction SIMD module (`i32.const 0; i32x4.splat`).
 */
export function wasmSimdAvailable(): boolean {
  if (simd === null) {
    const api = wasmApi();
    const body = new Code().i32Const(0).i32x4Splat();
    try {
      simd = api !== null && api.validate(emitModule({ minPages: 1, funcs: [{ name: "probe", params: [], results: [V128], locals: [], body }] }));
    } catch {
      simd = false;
    }
  }
  return simd;
}

function parse(v: string, from: string): KernelBackend {
  if (v !== "js" && v !== "wasm" && v !== "auto") {
    throw new BitspikeError("kernels", `${from} must be "js", "wasm" or "auto", got ${JSON.stringify(v)}`);
  }
  if (v === "wasm" && !wasmSimdAvailable()) {
    throw new BitspikeError("kernels", `${from} asks for "wasm" but this runtime has no WebAssembly SIMD; use "js" or "auto"`);
  }
  return v;
}

const fromEnv = typeof process !== "undefined" ? process.env.BITSPIKE_KERNELS : undefined;
let backend: KernelBackend = fromEnv === undefined || fromEnv === "" ? "auto" : parse(fromEnv, "BITSPIKE_KERNELS");
let useWasm = backend === "wasm" || (backend === "auto" && wasmSimdAvailable());

/**
 * Selects the kernel implementation for the calling thread and returns the
 * previous setting. "wasm" throws where SIMD is unavailable; "auto" falls back
 * to "js" there.
 */
export function setKernelBackend(b: KernelBackend): KernelBackend {
  const old = backend;
  backend = parse(b, "setKernelBackend");
  useWasm = backend === "wasm" || (backend === "auto" && wasmSimdAvailable());
  return old;
}

/** The current setting ("auto" unless BITSPIKE_KERNELS or setKernelBackend said otherwise). */
export function getKernelBackend(): KernelBackend {
  return backend;
}

/** True when the dual kernels should run their WebAssembly twin (the setting, resolved). */
export function wasmKernelsEnabled(): boolean {
  return useWasm;
}
