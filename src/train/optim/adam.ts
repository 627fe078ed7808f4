// Adam (Kingma & Ba 2015) with PyTorch's update, bias-corrected moments in float64 arithmetic over f32 storage;
// Adam's weight decay is L2 (added to the gradient), AdamW's is decoupled (Loshchilov & Hutter 2019:
// p ← p·(1 − lr·λ) before the Adam step). AdamW given a plain parameter list decays only tensors with >= 2 dims.
// Where the backend has a fused adamStep kernel (wasm), the update runs there in f32 arithmetic, as PyTorch's does.

import { kernels } from "../../tensor/backend.js";
import type { Tensor } from "../../tensor/tensor.js";
import { decayGroups, Optimizer, type ParamGroup, type Params } from "./optimizer.js";

export interface AdamOptions {
  readonly lr: number;
  readonly betas?: readonly [number, number];
  readonly eps?: number;
  readonly weightDecay?: number;
}

export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  protected readonly decoupled: boolean = false;

  constructor(params: Params, opts: AdamOptions) {
    super(params, opts.lr);
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    for (const b of [this.beta1, this.beta2])
      if (!(b >= 0 && b < 1)) throw new Error(`Adam: betas must be in [0, 1), got ${b}`);
  }

  protected update(p: Tensor, grad: Float32Array, group: ParamGroup): void {
    const wd = group.weightDecay ?? this.weightDecay;
    const [m, v] = this.buffers(p, 2) as [Float32Array, Float32Array];
    const x = p.f32();
    const { beta1: b1, beta2: b2, lr, eps } = this;
    const bc1 = 1 - b1 ** this.stepCount;
    const bc2Sqrt = Math.sqrt(1 - b2 ** this.stepCount);
    const stepSize = lr / bc1;
    const decay = this.decoupled ? 1 - lr * wd : 1;
    const l2 = this.decoupled ? 0 : wd;
    const fused = kernels().adamStep;
    if (fused) return fused(x, grad, m, v, { decay, l2, beta1: b1, beta2: b2, stepSize, bc2Sqrt, eps });
    for (let i = 0; i < x.length; i++) {
      const xi = x[i]! * decay;
      const g = grad[i]! + l2 * xi;
      m[i] = b1 * m[i]! + (1 - b1) * g;
      v[i] = b2 * v[i]! + (1 - b2) * g * g;
      x[i] = xi - (stepSize * m[i]!) / (Math.sqrt(v[i]!) / bc2Sqrt + eps);
    }
  }
}

export class AdamW extends Adam {
  protected override readonly decoupled = true;

  constructor(params: Params, opts: AdamOptions) {
    const wd = opts.weightDecay ?? 0.01;
    const grouped = params.length > 0 && !("params" in params[0]!);
    super(grouped ? decayGroups(params as Tensor[], wd) : params, { ...opts, weightDecay: wd });
  }
}
