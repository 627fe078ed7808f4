// Gradient clipping by global norm (Pascanu et al. 2013; PyTorch clip_grad_norm_): when the L2 norm of all
// gradients together exceeds maxNorm, every gradient is scaled by maxNorm / (norm + 1e-6).

import { kernels } from "../../tensor/backend.js";
import type { Tensor } from "../../tensor/tensor.js";

/** Clips in place and returns the total norm before clipping. */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  const grads = [...params].flatMap((p) => (p.grad ? [p.grad.f32()] : []));
  const { sumSquares, scaleInPlace } = kernels();
  let ss = 0;
  for (const g of grads) {
    if (sumSquares) ss += sumSquares(g);
    else for (let i = 0; i < g.length; i++) ss += g[i]! * g[i]!;
  }
  const norm = Math.sqrt(ss);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1)
    for (const g of grads) {
      if (scaleInPlace) scaleInPlace(g, coef);
      else for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
    }
  return norm;
}

/** Multiplies every gradient by c (e.g. 1/steps after accumulating micro-batches with unscaled losses). */
export function scaleGrads(params: Iterable<Tensor>, c: number): void {
  for (const p of params) {
    const g = p.grad?.f32();
    if (g) for (let i = 0; i < g.length; i++) g[i] = g[i]! * c;
  }
}
