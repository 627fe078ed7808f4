// What every optimizer shares: parameter groups (each with its own weight decay), the learning rate a schedule
// sets before each step, zero_grad, and per-parameter state buffers that checkpoints save and restore.

import type { Tensor } from "../../tensor/tensor.js";

export interface ParamGroup {
  readonly params: readonly Tensor[];
  /** Overrides the optimizer's weight decay for these parameters. */
  readonly weightDecay?: number;
}

/** Parameters as one list, or as groups with their own weight decay. */
export type Params = readonly Tensor[] | readonly ParamGroup[];

export function toGroups(params: Params): ParamGroup[] {
  if (params.length === 0) throw new Error("optimizer: no parameters");
  const groups =
    "params" in params[0]! ? (params as readonly ParamGroup[]) : [{ params: params as Tensor[] }];
  for (const g of groups)
    for (const p of g.params)
      if (p.dtype !== "f32" || !p.isContiguous())
        throw new Error("optimizer: parameters must be contiguous f32");
  return [...groups];
}

/**
 * nanoGPT's convention: weight decay on tensors with at least two dimensions (matrices, embeddings), none on
 * norms, biases and other vectors.
 */
export function decayGroups(params: Iterable<Tensor>, weightDecay: number): ParamGroup[] {
  const all = [...params];
  return [
    { params: all.filter((p) => p.ndim >= 2), weightDecay },
    { params: all.filter((p) => p.ndim < 2), weightDecay: 0 },
  ].filter((g) => g.params.length > 0);
}

export abstract class Optimizer {
  readonly groups: ParamGroup[];
  /** The learning rate of the next step (set it from a schedule before calling step()). */
  lr: number;
  /** Steps taken so far. */
  stepCount = 0;
  protected readonly state = new Map<Tensor, Float32Array[]>();

  constructor(params: Params, lr: number) {
    if (!(lr >= 0)) throw new Error(`optimizer: learning rate must be >= 0, got ${lr}`);
    this.groups = toGroups(params);
    this.lr = lr;
  }

  get params(): Tensor[] {
    return this.groups.flatMap((g) => [...g.params]);
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /** Per-parameter state buffers, created zeroed on first use. */
  protected buffers(p: Tensor, n: number): Float32Array[] {
    let s = this.state.get(p);
    if (!s) {
      s = Array.from({ length: n }, () => new Float32Array(p.size));
      this.state.set(p, s);
    }
    return s;
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    this.stepCount++;
    for (const g of this.groups) {
      for (const p of g.params) if (p.grad) this.update(p, p.grad.f32(), g);
    }
  }

  protected abstract update(p: Tensor, grad: Float32Array, group: ParamGroup): void;

  /** Step count and state buffers in parameter order (for checkpoints). */
  stateDict(): { step: number; lr: number; buffers: (Float32Array[] | null)[] } {
    return {
      step: this.stepCount,
      lr: this.lr,
      buffers: this.params.map((p) => this.state.get(p)?.map((b) => b.slice()) ?? null),
    };
  }

  loadStateDict(s: { step: number; lr: number; buffers: (Float32Array[] | null)[] }): void {
    const ps = this.params;
    if (s.buffers.length !== ps.length) throw new Error("optimizer: state does not match the parameters");
    this.stepCount = s.step;
    this.lr = s.lr;
    this.state.clear();
    ps.forEach((p, i) => {
      const b = s.buffers[i];
      if (!b) return;
      if (b.some((x) => x.length !== p.size)) throw new Error(`optimizer: state ${i} has the wrong size`);
      this.state.set(
        p,
        b.map((x) => x.slice()),
      );
    });
  }
}
