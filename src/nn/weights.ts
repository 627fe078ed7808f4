// Path-scoped weight lookups (candle's VarBuilder `vb.pp("q_proj")`): modules ask for the checkpoint names
// they mirror, with shape checks, so a missing or misshapen tensor is reported by its full name.

import { toF32 } from "../tensor/convert.js";
import type { Tensor } from "../tensor/tensor.js";

export class Weights {
  constructor(
    private readonly tensors: ReadonlyMap<string, Tensor>,
    readonly prefix = "",
  ) {}

  pp(name: string | number): Weights {
    return new Weights(this.tensors, this.prefix ? `${this.prefix}.${name}` : String(name));
  }

  private full(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  has(name: string): boolean {
    return this.tensors.has(this.full(name));
  }

  /** The stored tensor (any dtype), shape-checked. */
  get(name: string, shape?: readonly number[]): Tensor {
    const key = this.full(name);
    const t = this.tensors.get(key);
    if (!t) throw new Error(`missing weight "${key}"`);
    if (shape && (t.ndim !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      throw new Error(`weight "${key}" has shape [${t.shape}], expected [${shape}]`);
    }
    return t;
  }

  /** The tensor as f32 (small parameters such as norms and biases are expanded once). */
  getF32(name: string, shape?: readonly number[]): Tensor {
    return toF32(this.get(name, shape));
  }

  /** `get` when present, else null. */
  maybe(name: string, shape?: readonly number[]): Tensor | null {
    return this.has(name) ? this.get(name, shape) : null;
  }

  maybeF32(name: string, shape?: readonly number[]): Tensor | null {
    return this.has(name) ? this.getF32(name, shape) : null;
  }
}
