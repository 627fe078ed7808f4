// Reference matrix products: x[M, K] · w[N, K]ᵀ with w in any stored dtype, computed on the stored
// rows directly (quantized blocks are never expanded to a whole f32 matrix).

import { DTYPES } from "../../tensor/dtype.js";
import { dotRow, dequantizeRow } from "../../tensor/quant.js";
import type { Tensor } from "../../tensor/tensor.js";

function dotF32(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[ao + i]! * b[bo + i]!;
    s1 += a[ao + i + 1]! * b[bo + i + 1]!;
    s2 += a[ao + i + 2]! * b[bo + i + 2]!;
    s3 += a[ao + i + 3]! * b[bo + i + 3]!;
  }
  for (; i < n; i++) s0 += a[ao + i]! * b[bo + i]!;
  return s0 + s1 + (s2 + s3);
}

export function linear(
  x: Float32Array,
  M: number,
  K: number,
  w: Tensor,
  bias: Float32Array | null,
  out: Float32Array,
): void {
  if (w.ndim !== 2 || w.shape[1] !== K)
    throw new Error(`linear: weight [${w.shape}] does not take ${K} inputs`);
  const N = w.shape[0]!;
  if (x.length < M * K || out.length < M * N) throw new Error("linear: buffers too small");
  if (w.dtype === "f32") {
    const wd = w.contiguous().f32();
    for (let n = 0; n < N; n++) {
      const b = bias ? bias[n]! : 0;
      for (let m = 0; m < M; m++) out[m * N + n] = dotF32(x, m * K, wd, n * K, K) + b;
    }
    return;
  }
  const bytes = w.data as Uint8Array;
  const info = DTYPES[w.dtype];
  const rowBytes = (K / info.blockSize) * info.blockBytes;
  if (M >= 8) {
    // Expand one weight row at a time and reuse it across all M inputs.
    const row = new Float32Array(K);
    for (let n = 0; n < N; n++) {
      dequantizeRow(w.dtype, bytes, n * rowBytes, row, 0, K);
      const b = bias ? bias[n]! : 0;
      for (let m = 0; m < M; m++) out[m * N + n] = dotF32(x, m * K, row, 0, K) + b;
    }
    return;
  }
  for (let n = 0; n < N; n++) {
    const b = bias ? bias[n]! : 0;
    for (let m = 0; m < M; m++) out[m * N + n] = dotRow(w.dtype, bytes, n * rowBytes, x, m * K, K) + b;
  }
}

export function embedding(w: Tensor, ids: ArrayLike<number>, out: Float32Array): void {
  if (w.ndim !== 2) throw new Error(`embedding: weight must be 2-D, got [${w.shape}]`);
  const [V, D] = w.shape as [number, number];
  const info = DTYPES[w.dtype];
  const rowBytes = (D / info.blockSize) * info.blockBytes;
  const wd = w.dtype === "f32" ? w.contiguous().f32() : null;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= V)
      throw new Error(`token id ${id} outside vocabulary of ${V}`);
    if (wd) {
      out.set(wd.subarray(id * D, id * D + D), i * D);
    } else {
      dequantizeRow(w.dtype, w.data as Uint8Array, id * rowBytes, out, i * D, D);
    }
  }
}
