import { setKernelBackend } from "../../src/wasm/backend.js";

/** `fn` on the TypeScript kernels (a fused or WASM path's definition), the backend restored after. */
export function onJsKernels<T>(fn: () => T): T {
  const old = setKernelBackend("js");
  try {
    return fn();
  } finally {
    setKernelBackend(old);
  }
}
