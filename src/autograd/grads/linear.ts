// Gradients of linear (y = x·Wᵀ + b: dX = dY·W, dW = dYᵀ·X, db = Σ rows of dY) and embedding (scatter-add).

import { kernels } from "../../tensor/backend.js";
import { registerGradient } from "../../tensor/grad.js";
import { Tensor } from "../../tensor/tensor.js";
import { matmulNN, matmulTN } from "../matmul.js";

registerGradient("linear", (grad, [x, w, b]) => {
  if (w!.dtype !== "f32") throw new Error(`linear: gradients need an f32 weight, got ${w!.dtype}`);
  const [N, K] = w!.shape as [number, number];
  const M = x!.size / K;
  const dy = grad.f32(); // (M, N)
  const dx = x!.requiresGrad ? new Tensor("f32", x!.shape, matmulNN(dy, w!.f32(), M, N, K)) : null;
  const dw = w!.requiresGrad ? new Tensor("f32", w!.shape, matmulTN(dy, x!.f32(), M, N, K)) : null;
  let db: Tensor | null = null;
  const sumRows = kernels().sumRows;
  if (b && b.requiresGrad && sumRows) {
    const s = new Float32Array(N);
    sumRows(dy, M, N, s);
    db = Tensor.fromArray(s, b.shape);
  } else if (b && b.requiresGrad) {
    const s = new Float64Array(N);
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) s[n]! += dy[m * N + n]!;
    db = Tensor.fromArray(s, b.shape);
  }
  return [dx, dw, db];
});

registerGradient("embedding", (grad, [w], _out, saved) => {
  const ids = saved as ArrayLike<number>;
  if (w!.dtype !== "f32") throw new Error(`embedding: gradients need an f32 table, got ${w!.dtype}`);
  const D = w!.shape[1]!;
  const dw = new Float32Array(w!.size);
  const dy = grad.f32();
  for (let i = 0; i < ids.length; i++) {
    const o = ids[i]! * D;
    for (let d = 0; d < D; d++) dw[o + d]! += dy[i * D + d]!;
  }
  return [Tensor.fromArray(dw, w!.shape)];
});
