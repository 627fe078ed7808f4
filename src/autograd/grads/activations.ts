// Gradients of the element-wise activations (SiLU, GELU exact and tanh, Hendrycks & Gimpel 2016) and of softmax
// (dx = y·(dy − Σ dy·y) per row), add and mul. The activations run the backend's fused kernels where it has them.

import { kernels } from "../../tensor/backend.js";
import { registerGradient } from "../../tensor/grad.js";
import { Tensor } from "../../tensor/tensor.js";
import { gradBuffer } from "../buffers.js";

/** erf, Abramowitz & Stegun 7.1.26 refined by Numerical Recipes' erfc fit (|error| < 1.2e-7). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const c = [
    -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587,
  ];
  let p = 0.17087277;
  p = -0.82215223 + t * p;
  for (let i = c.length - 1; i >= 1; i--) p = c[i]! + t * p;
  const r = t * Math.exp(-z * z + c[0]! + t * p);
  return x >= 0 ? 1 - r : r - 1;
}

function elementwise(x: Tensor, grad: Tensor, dfdx: (v: number) => number): Tensor {
  const xs = x.f32();
  const dy = grad.f32();
  const dx = new Float32Array(xs.length);
  for (let i = 0; i < xs.length; i++) dx[i] = dy[i]! * dfdx(xs[i]!);
  return Tensor.fromArray(dx, x.shape);
}

/** dx through the backend's fused kernel `fused` where it has one, else the scalar loop `dfdx`. */
function activationGrad(
  x: Tensor,
  grad: Tensor,
  fused: ((x: Float32Array, dy: Float32Array, dx: Float32Array) => void) | undefined,
  dfdx: (v: number) => number,
): Tensor {
  if (!fused) return elementwise(x, grad, dfdx);
  const dx = gradBuffer(x.size);
  fused(x.f32(), grad.f32(), dx);
  return new Tensor("f32", x.shape, dx);
}

registerGradient("silu", (grad, [x]) => [
  activationGrad(x!, grad, kernels().siluBackward, (v) => {
    const s = 1 / (1 + Math.exp(-v));
    return s * (1 + v * (1 - s));
  }),
]);

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

registerGradient("gelu", (grad, [x]) => [
  activationGrad(
    x!,
    grad,
    kernels().geluBackward,
    (v) => 0.5 * (1 + erf(v / Math.SQRT2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v),
  ),
]);

const K = Math.sqrt(2 / Math.PI);

registerGradient("geluTanh", (grad, [x]) => [
  activationGrad(x!, grad, kernels().geluTanhBackward, (v) => {
    const u = K * (v + 0.044715 * v * v * v);
    const t = Math.tanh(u);
    return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * K * (1 + 3 * 0.044715 * v * v);
  }),
]);

registerGradient("softmax", (grad, [x], out) => {
  const N = x!.shape[x!.ndim - 1]!;
  const y = out.f32();
  const dy = grad.f32();
  const dx = new Float32Array(y.length);
  for (let o = 0; o < y.length; o += N) {
    let s = 0;
    for (let i = 0; i < N; i++) s += dy[o + i]! * y[o + i]!;
    for (let i = 0; i < N; i++) dx[o + i] = y[o + i]! * (dy[o + i]! - s);
  }
  return [Tensor.fromArray(dx, x!.shape)];
});

registerGradient("add", (grad, [a, b]) => [
  a!.requiresGrad ? grad.reshape(a!.shape) : null,
  b!.requiresGrad ? grad.reshape(b!.shape) : null,
]);

/** g·v element-wise through the backend's mul kernel, into a gradient buffer. */
function times(g: Float32Array, v: Float32Array, shape: readonly number[]): Tensor {
  const out = gradBuffer(g.length);
  kernels().mul(g, v, out);
  return new Tensor("f32", shape, out);
}

registerGradient("mul", (grad, [a, b]) => [
  a!.requiresGrad ? times(grad.f32(), b!.f32(), a!.shape) : null,
  b!.requiresGrad ? times(grad.f32(), a!.f32(), b!.shape) : null,
]);
