// Regression and latent losses with PyTorch's semantics: mean squared error, binary cross-entropy on logits
// (stable form max(x,0) − x·y + log(1 + e^−|x|)), and the Gaussian KL divergence of a VAE posterior
// KL(N(μ, e^logvar) ‖ N(0, 1)) = −½ Σ (1 + logvar − μ² − e^logvar) (Kingma & Welling 2014).

import { registerGradient, track } from "../../tensor/grad.js";
import { Tensor } from "../../tensor/tensor.js";
import type { Reduction } from "./cross-entropy.js";

function pair(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== "f32" || b.dtype !== "f32") throw new Error(`${op}: expected f32 tensors`);
  if (a.size !== b.size || a.ndim !== b.ndim || a.shape.some((d, i) => d !== b.shape[i]))
    throw new Error(`${op}: shapes [${a.shape}] and [${b.shape}] differ`);
}

function scaled(g: Tensor, values: Float64Array | Float32Array, shape: readonly number[], c: number): Tensor {
  const s = g.f32()[0]! * c;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i]! * s;
  return Tensor.fromArray(out, shape);
}

/** Mean (or sum) of (pred − target)². */
export function mseLoss(pred: Tensor, target: Tensor, reduction: Reduction = "mean"): Tensor {
  pair("mseLoss", pred, target);
  const [p, t] = [pred.f32(), target.f32()];
  let s = 0;
  for (let i = 0; i < p.length; i++) s += (p[i]! - t[i]!) ** 2;
  const factor = reduction === "sum" ? 1 : 1 / p.length;
  return track(Tensor.fromArray([s * factor], [1]), "mseLoss", [pred, target], factor);
}

registerGradient("mseLoss", (grad, [pred, target], _out, saved) => {
  const [p, t] = [pred!.f32(), target!.f32()];
  const d = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) d[i] = 2 * (p[i]! - t[i]!);
  const c = saved as number;
  return [
    pred!.requiresGrad ? scaled(grad, d, pred!.shape, c) : null,
    target!.requiresGrad ? scaled(grad, d, target!.shape, -c) : null,
  ];
});

/** Mean (or sum) binary cross-entropy of logits against targets in [0, 1]. */
export function bceWithLogits(logits: Tensor, target: Tensor, reduction: Reduction = "mean"): Tensor {
  pair("bceWithLogits", logits, target);
  const [x, y] = [logits.f32(), target.f32()];
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    s += Math.max(v, 0) - v * y[i]! + Math.log1p(Math.exp(-Math.abs(v)));
  }
  const factor = reduction === "sum" ? 1 : 1 / x.length;
  return track(Tensor.fromArray([s * factor], [1]), "bceWithLogits", [logits, target], factor);
}

registerGradient("bceWithLogits", (grad, [logits, target], _out, saved) => {
  const [x, y] = [logits!.f32(), target!.f32()];
  const c = saved as number;
  let dx: Tensor | null = null;
  if (logits!.requiresGrad) {
    const d = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      const sig = v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
      d[i] = sig - y[i]!;
    }
    dx = scaled(grad, d, logits!.shape, c);
  }
  const dy = target!.requiresGrad ? scaled(grad, x, target!.shape, -c) : null;
  return [dx, dy];
});

export type KLReduction = "sum" | "mean" | "batchmean";

/**
 * KL(N(mu, exp(logvar)) ‖ N(0, 1)) summed over all elements ("sum"), divided by the element count ("mean"), or
 * by the batch size mu.shape[0] ("batchmean": a sum over latent dimensions, averaged over the batch).
 */
export function gaussianKL(mu: Tensor, logvar: Tensor, reduction: KLReduction = "batchmean"): Tensor {
  pair("gaussianKL", mu, logvar);
  const [m, lv] = [mu.f32(), logvar.f32()];
  let s = 0;
  for (let i = 0; i < m.length; i++) s += -0.5 * (1 + lv[i]! - m[i]! * m[i]! - Math.exp(lv[i]!));
  const factor = reduction === "sum" ? 1 : reduction === "mean" ? 1 / m.length : 1 / (mu.shape[0] ?? 1);
  return track(Tensor.fromArray([s * factor], [1]), "gaussianKL", [mu, logvar], factor);
}

registerGradient("gaussianKL", (grad, [mu, logvar], _out, saved) => {
  const [m, lv] = [mu!.f32(), logvar!.f32()];
  const c = saved as number;
  const dlv = new Float64Array(lv.length);
  for (let i = 0; i < lv.length; i++) dlv[i] = 0.5 * (Math.exp(lv[i]!) - 1);
  return [
    mu!.requiresGrad ? scaled(grad, m, mu!.shape, c) : null,
    logvar!.requiresGrad ? scaled(grad, dlv, logvar!.shape, c) : null,
  ];
});
