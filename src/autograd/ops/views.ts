// Differentiable shape ops: reshape (a view), and narrow / transpose as contiguous copies, with their gradients
// (reshape back; scatter into a zero tensor at the slice; transpose back).

import { registerGradient, track } from "../../tensor/grad.js";
import { activationAllocator } from "../../tensor/storage.js";
import { Tensor } from "../../tensor/tensor.js";

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  return track(x.reshape(shape), "reshape", [x]); // a new Tensor object, sharing x's storage when contiguous
}

registerGradient("reshape", (grad, [x]) => [grad.reshape(x!.shape)]);

/** `length` entries of dimension `dim` from `start`, copied to a contiguous tensor. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  dim = dim < 0 ? dim + x.ndim : dim;
  const v = x.narrow(dim, start, length);
  const out = Tensor.zeros(v.shape, "f32", activationAllocator());
  out.f32().set(v.contiguous().f32());
  return track(out, "narrow", [x], { dim, start, length });
}

registerGradient("narrow", (grad, [x], _out, saved) => {
  const { dim, start, length } = saved as { dim: number; start: number; length: number };
  const dx = Tensor.zeros(x!.shape, "f32", activationAllocator());
  const outer = x!.shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const inner = x!.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const n = x!.shape[dim]!;
  const g = grad.f32();
  const d = dx.f32();
  for (let o = 0; o < outer; o++)
    d.set(g.subarray(o * length * inner, (o + 1) * length * inner), (o * n + start) * inner);
  return [dx];
});

/** Dimensions a and b swapped, copied to a contiguous tensor. */
export function transpose(x: Tensor, a: number, b: number): Tensor {
  return track(x.transpose(a, b).contiguous(), "transpose", [x], [a, b]);
}

registerGradient("transpose", (grad, _inputs, _out, saved) => {
  const [a, b] = saved as [number, number];
  return [grad.transpose(a, b).contiguous()];
});
