// A lower-precision copy of a model (the draft for self-speculative decoding): every 2-D weight whose rows are
// whole 32-element blocks is re-encoded as Q8_0 or Q4_0 (ggml's reference quantizers); the rest is shared.

import { DTYPES, byteSize } from "../tensor/dtype.js";
import { dequantizeRow, quantizeRow } from "../tensor/quant.js";
import { getAllocator, type Allocator } from "../tensor/storage.js";
import { Tensor } from "../tensor/tensor.js";
import type { CausalLM } from "./model.js";
import { buildModel } from "./registry.js";

export const COPY_QUANTS = ["q8_0", "q4_0"] as const;
export type CopyQuant = (typeof COPY_QUANTS)[number];

export function isCopyQuant(s: string): s is CopyQuant {
  return (COPY_QUANTS as readonly string[]).includes(s);
}

/** t [rows, cols] stored as `dtype`, quantized one row at a time into `allocator`'s memory. */
export function quantizeMatrix(t: Tensor, dtype: CopyQuant, allocator: Allocator = getAllocator()): Tensor {
  const [rows, cols] = t.shape as [number, number];
  const src = t.dtype === "f32" ? t.contiguous() : t;
  const inBytes = byteSize(src.dtype, [cols]);
  const outBytes = byteSize(dtype, [cols]);
  const bytes = allocator.alloc(rows * outBytes);
  const row = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    if (src.dtype === "f32") {
      const f = src.data as Float32Array;
      row.set(f.subarray(src.offset + r * cols, src.offset + (r + 1) * cols));
    } else {
      dequantizeRow(src.dtype, src.data as Uint8Array, r * inBytes, row, 0, cols);
    }
    quantizeRow(dtype, row, 0, cols, bytes, r * outBytes);
  }
  return Tensor.fromBytes(dtype, [rows, cols], bytes); // (rows, cols)
}

/** Whether quantizedCopy re-encodes this weight. */
function quantizable(t: Tensor, dtype: CopyQuant): boolean {
  return (
    t.ndim === 2 && t.dtype !== dtype && t.dtype !== "i32" && t.shape[1]! % DTYPES[dtype].blockSize === 0
  );
}

/**
 * A new model of the same architecture and config whose 2-D weights are `dtype` (norms, biases and matrices
 * whose row length is not a multiple of 32 are shared with `model`). Pass the backend's allocator (the wasm
 * arena) so that its kernels read the new weights in place.
 */
export function quantizedCopy(
  model: CausalLM,
  dtype: CopyQuant,
  opts: { allocator?: Allocator } = {},
): CausalLM {
  if (!isCopyQuant(dtype))
    throw new Error(`quantized copy: dtype must be one of ${COPY_QUANTS.join(", ")}, got ${String(dtype)}`);
  const weights = new Map<string, Tensor>();
  const done = new Map<Tensor, Tensor>(); // tied weights stay tied
  for (const [name, t] of model.weights) {
    if (!quantizable(t, dtype)) {
      weights.set(name, t);
      continue;
    }
    let q = done.get(t);
    if (!q) {
      q = quantizeMatrix(t, dtype, opts.allocator);
      done.set(t, q);
    }
    weights.set(name, q);
  }
  return buildModel(model.config, weights);
}
