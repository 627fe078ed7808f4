// Inverted dropout (Srivastava et al. 2014): in training, each element is zeroed with probability p and the rest
// scaled by 1/(1−p), from a caller's seeded uniform generator; in evaluation (or p = 0) the input passes unchanged.

import { registerGradient, track } from "../../tensor/grad.js";
import { Tensor } from "../../tensor/tensor.js";

export function dropout(x: Tensor, p: number, training: boolean, random: () => number): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: probability must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const xs = x.f32();
  const keep = 1 / (1 - p);
  const mask = new Float32Array(xs.length);
  const out = new Float32Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    mask[i] = random() < p ? 0 : keep;
    out[i] = xs[i]! * mask[i]!;
  }
  return track(Tensor.fromArray(out, x.shape), "dropout", [x], mask);
}

registerGradient("dropout", (grad, [x], _out, saved) => {
  const mask = saved as Float32Array;
  const g = grad.f32();
  const dx = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) dx[i] = g[i]! * mask[i]!;
  return [Tensor.fromArray(dx, x!.shape)];
});
