// Whole-tensor dtype conversions: any stored dtype to f32, and f32 to f16 (for export; small tensors at load).

import { dequantizeRow, quantizeRow } from "./quant.js";
import { Tensor } from "./tensor.js";
import { getAllocator } from "./storage.js";

/** The tensor as f32 (itself when it already is). */
export function toF32(t: Tensor): Tensor {
  if (t.dtype === "f32") return t;
  if (t.dtype === "i32") return Tensor.fromArray(t.toArray(), t.shape);
  const out = Tensor.zeros(t.shape);
  dequantizeRow(t.dtype, t.data as Uint8Array, 0, out.f32(), 0, t.size);
  return out;
}

/** The tensor stored as f16 (itself when it already is). */
export function toF16(t: Tensor): Tensor {
  if (t.dtype === "f16") return t;
  const bytes = getAllocator().alloc(t.size * 2);
  quantizeRow("f16", toF32(t).f32(), 0, t.size, bytes, 0);
  return Tensor.fromBytes("f16", t.shape, bytes);
}
