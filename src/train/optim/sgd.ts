// Stochastic gradient descent with PyTorch's update rule: L2 weight decay added to the gradient, momentum buffer
// b ← μ·b + (1−dampening)·g (b = g on the first step), and Nesterov momentum g + μ·b (Sutskever et al. 2013).

import type { Tensor } from "../../tensor/tensor.js";
import { Optimizer, type ParamGroup, type Params } from "./optimizer.js";

export interface SGDOptions {
  readonly lr: number;
  readonly momentum?: number;
  readonly dampening?: number;
  readonly nesterov?: boolean;
  readonly weightDecay?: number;
}

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(params: Params, opts: SGDOptions) {
    super(params, opts.lr);
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.weightDecay = opts.weightDecay ?? 0;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0))
      throw new Error("SGD: Nesterov momentum needs momentum > 0 and no dampening");
  }

  protected update(p: Tensor, grad: Float32Array, group: ParamGroup): void {
    const wd = group.weightDecay ?? this.weightDecay;
    const x = p.f32();
    const mu = this.momentum;
    const first = !this.hasState(p);
    const buf = mu !== 0 ? this.buffers(p, 1)[0]! : null;
    for (let i = 0; i < x.length; i++) {
      let g = grad[i]! + wd * x[i]!;
      if (buf) {
        buf[i] = first ? g : mu * buf[i]! + (1 - this.dampening) * g;
        g = this.nesterov ? g + mu * buf[i]! : buf[i]!;
      }
      x[i] = x[i]! - this.lr * g;
    }
  }

  private hasState(p: Tensor): boolean {
    return this.state.has(p);
  }
}
