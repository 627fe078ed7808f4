// Gradients of LayerNorm (Ba et al. 2016) and RMSNorm (Zhang & Sennrich 2019), row by row in float64,
// recomputing each row's statistics from the saved input (the backend's fused f32 kernels where it has them).

import { kernels } from "../../tensor/backend.js";
import { registerGradient } from "../../tensor/grad.js";
import { Tensor } from "../../tensor/tensor.js";
import { gradBuffer } from "../buffers.js";

registerGradient("layerNorm", (grad, [x, w, b], _out, saved) => {
  const eps = saved as number;
  const D = w!.size;
  const M = x!.size / D;
  const xs = x!.f32();
  const ws = w!.f32();
  const dy = grad.f32();
  const fused = kernels().layernormBackward;
  if (fused && D % 4 === 0) {
    const [dx, dw, db] = [gradBuffer(x!.size), gradBuffer(D), b ? gradBuffer(D) : null];
    fused(xs, M, D, ws, dy, eps, dx, dw, db);
    return [
      new Tensor("f32", x!.shape, dx),
      new Tensor("f32", w!.shape, dw),
      b ? new Tensor("f32", b.shape, db!) : null,
    ];
  }
  const dx = new Float32Array(x!.size);
  const dw = new Float64Array(D);
  const db = new Float64Array(D);
  for (let m = 0; m < M; m++) {
    const o = m * D;
    let mean = 0;
    for (let i = 0; i < D; i++) mean += xs[o + i]!;
    mean /= D;
    let v = 0;
    for (let i = 0; i < D; i++) v += (xs[o + i]! - mean) ** 2;
    const r = 1 / Math.sqrt(v / D + eps);
    // dxhat = dy·w; dx = r·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat))
    let sumG = 0;
    let sumGX = 0;
    for (let i = 0; i < D; i++) {
      const xh = (xs[o + i]! - mean) * r;
      const g = dy[o + i]! * ws[i]!;
      sumG += g;
      sumGX += g * xh;
      dw[i]! += dy[o + i]! * xh;
      db[i]! += dy[o + i]!;
    }
    sumG /= D;
    sumGX /= D;
    for (let i = 0; i < D; i++) {
      const xh = (xs[o + i]! - mean) * r;
      dx[o + i] = r * (dy[o + i]! * ws[i]! - sumG - xh * sumGX);
    }
  }
  return [
    Tensor.fromArray(dx, x!.shape),
    Tensor.fromArray(dw, w!.shape),
    b ? Tensor.fromArray(db, b.shape) : null,
  ];
});

registerGradient("rmsNorm", (grad, [x, w], _out, saved) => {
  const eps = saved as number;
  const D = w!.size;
  const M = x!.size / D;
  const xs = x!.f32();
  const ws = w!.f32();
  const dy = grad.f32();
  const fused = kernels().rmsnormBackward;
  if (fused && D % 4 === 0) {
    const [dx, dw] = [gradBuffer(x!.size), gradBuffer(D)];
    fused(xs, M, D, ws, dy, eps, dx, dw);
    return [new Tensor("f32", x!.shape, dx), new Tensor("f32", w!.shape, dw)];
  }
  const dx = new Float32Array(x!.size);
  const dw = new Float64Array(D);
  for (let m = 0; m < M; m++) {
    const o = m * D;
    let ss = 0;
    for (let i = 0; i < D; i++) ss += xs[o + i]! * xs[o + i]!;
    const r = 1 / Math.sqrt(ss / D + eps);
    // y = x·r·w; dx = r·g − x·r³·mean(g·x) with g = dy·w
    let dot = 0;
    for (let i = 0; i < D; i++) {
      dot += dy[o + i]! * ws[i]! * xs[o + i]!;
      dw[i]! += dy[o + i]! * xs[o + i]! * r;
    }
    const c = (r * r * r * dot) / D;
    for (let i = 0; i < D; i++) dx[o + i] = r * dy[o + i]! * ws[i]! - xs[o + i]! * c;
  }
  return [Tensor.fromArray(dx, x!.shape), Tensor.fromArray(dw, w!.shape)];
});
