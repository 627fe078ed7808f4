// A generic gradient checker: random projection r of an op's output, analytic gradients of Σ r·f(x) by backward,
// against central finite differences of the same sum (in float64) per input element, with the actual f32 step.

import { backward } from "../../src/autograd/index.js";
import { noGrad } from "../../src/tensor/grad.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { rng } from "./fixtures.js";

export interface GradcheckResult {
  /** Largest |analytic − numeric| / max(1, |numeric|) over all checked elements. */
  readonly maxError: number;
  readonly checked: number;
}

export function randTensor(shape: readonly number[], seed: number, scale = 1): Tensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = scale * (r() + r() + r() - 1.5) * 2;
  const t = Tensor.fromArray(v, shape);
  t.requiresGrad = true;
  return t;
}

/** Checks d/dx Σ r·f(inputs) for every input that requires grad; throws when an element differs by more than tol. */
export function gradcheck(
  f: (inputs: Tensor[]) => Tensor,
  inputs: Tensor[],
  opts: { h?: number; tol?: number; seed?: number } = {},
): GradcheckResult {
  const h = opts.h ?? 1e-2;
  const tol = opts.tol ?? 2e-3;
  for (const x of inputs) x.grad = null;
  const out = f(inputs);
  const r = rng(opts.seed ?? 99);
  const proj = new Float32Array(out.size);
  for (let i = 0; i < proj.length; i++) proj[i] = r() * 2 - 1;
  const objective = (): number =>
    noGrad(() => {
      const y = f(inputs).f32();
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i]! * proj[i]!;
      return s;
    });
  backward(out, Tensor.fromArray(proj, out.shape));
  let maxError = 0;
  let checked = 0;
  inputs.forEach((x, k) => {
    if (!x.requiresGrad) return;
    if (!x.grad) throw new Error(`gradcheck: input ${k} got no gradient`);
    const an = x.grad.f32();
    const xs = x.f32();
    for (let i = 0; i < xs.length; i++) {
      const v = xs[i]!;
      xs[i] = v + h;
      const hp = xs[i]!;
      const up = objective();
      xs[i] = v - h;
      const hm = xs[i]!;
      const down = objective();
      xs[i] = v;
      const num = (up - down) / (hp - hm);
      const err = Math.abs(an[i]! - num) / Math.max(1, Math.abs(num));
      if (!(err <= tol))
        throw new Error(
          `gradcheck: input ${k} element ${i}: analytic ${an[i]} vs numeric ${num} (error ${err})`,
        );
      maxError = Math.max(maxError, err);
      checked++;
    }
  });
  return { maxError, checked };
}
