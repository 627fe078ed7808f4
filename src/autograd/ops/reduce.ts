// Differentiable reductions and scaling: sum and mean of all elements (→ [1]), and x·c for a constant c.

import { registerGradient, track } from "../../tensor/grad.js";
import { Tensor } from "../../tensor/tensor.js";

function total(x: Tensor): number {
  const xs = x.f32();
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s;
}

export function sum(x: Tensor): Tensor {
  return track(Tensor.fromArray([total(x)], [1]), "sum", [x], 1);
}

export function mean(x: Tensor): Tensor {
  return track(Tensor.fromArray([total(x) / x.size], [1]), "sum", [x], 1 / x.size);
}

registerGradient("sum", (grad, [x], _out, saved) => {
  const g = grad.f32()[0]! * (saved as number);
  return [Tensor.fromArray(new Float32Array(x!.size).fill(g), x!.shape)];
});

export function scale(x: Tensor, c: number): Tensor {
  const xs = x.f32();
  const out = new Float32Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = xs[i]! * c;
  return track(Tensor.fromArray(out, x.shape), "scale", [x], c);
}

registerGradient("scale", (grad, [x], _out, saved) => [scale(grad, saved as number).reshape(x!.shape)]);
