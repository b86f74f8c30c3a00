/** Arrays in either placement a kernel must handle alike: in the heap (used in place) or foreign (staged). */
import { blockOf, heapArray, holdBlock } from "../../src/tensor/heap.js";
import { allocFloat } from "../../src/tensor/tensor.js";
import { Spikes } from "../../src/tensor/spikes.js";

type Placeable = Float32Array | Float64Array | Uint32Array | Int32Array;

/** A copy of `a` in the heap (`heap` true) or an ordinary foreign copy, same element type and values. */
export function placed<T extends Placeable>(a: T, heap: boolean): T {
  let out: Placeable;
  if (!heap) out = new (a.constructor as new (n: number) => Placeable)(a.length);
  else if (a instanceof Float32Array || a instanceof Float64Array) out = allocFloat(a instanceof Float64Array ? "float64" : "float32", a.length);
  else if (a instanceof Uint32Array) out = Spikes.allocWords(a.length);
  else {
    const u = heapArray(Uint32Array, a.length);
    out = new Int32Array(u.buffer, u.byteOffset, a.length);
    holdBlock(out, blockOf(u)!);
  }
  out.set(a as ArrayLike<number>);
  return out as T;
}
