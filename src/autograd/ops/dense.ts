// A fully connected layer on f32 weights for training, y = x·Wᵀ (+ b), computed by the backend's dense matmul
// kernel (the GEMM that the backward products use too) rather than the inference linear kernel; its gradient is
// linear's (grads/linear.ts).

import { kernels } from "../../tensor/backend.js";
import { track } from "../../tensor/grad.js";
import { activationAllocator } from "../../tensor/storage.js";
import { Tensor } from "../../tensor/tensor.js";

/** x [..., K], w [N, K] f32, b [N] → [..., N]. */
export function dense(x: Tensor, w: Tensor, b: Tensor | null = null): Tensor {
  const K = x.shape[x.ndim - 1]!;
  if (w.ndim !== 2 || w.shape[1] !== K) throw new Error(`dense: input [${x.shape}] vs weight [${w.shape}]`);
  if (x.dtype !== "f32" || w.dtype !== "f32" || (b && b.dtype !== "f32"))
    throw new Error("dense: needs f32 input, weight and bias");
  const N = w.shape[0]!;
  if (b && b.size !== N) throw new Error(`dense: bias [${b.shape}] vs ${N} outputs`);
  const M = x.size / K;
  const out = Tensor.zeros([...x.shape.slice(0, -1), N], "f32", activationAllocator()); // (..., N)
  const p = { M, N, K, transA: false, transB: true, accumulate: false };
  kernels().matmul(x.f32(), w.f32(), b ? b.f32() : null, p, out.f32());
  return track(out, "linear", [x, w, b]);
}
