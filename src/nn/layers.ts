// Basic modules whose property names mirror checkpoint keys: Linear (optional bias), Embedding, RMSNorm, LayerNorm.

import * as ops from "../tensor/ops.js";
import type { Tensor } from "../tensor/tensor.js";
import type { Weights } from "./weights.js";

export class Linear {
  readonly weight: Tensor; // (out, in), any stored dtype
  readonly bias: Tensor | null;

  constructor(vb: Weights, inF: number, outF: number, bias: boolean | "optional" = false) {
    this.weight = vb.get("weight", [outF, inF]);
    this.bias =
      bias === true ? vb.getF32("bias", [outF]) : bias === "optional" ? vb.maybeF32("bias", [outF]) : null;
  }

  forward(x: Tensor): Tensor {
    return ops.linear(x, this.weight, this.bias);
  }
}

export class Embedding {
  readonly weight: Tensor; // (vocab, dim)

  constructor(vb: Weights, n: number, dim: number) {
    this.weight = vb.get("weight", [n, dim]);
  }

  forward(ids: ArrayLike<number>): Tensor {
    return ops.embedding(this.weight, ids);
  }
}

export class RMSNorm {
  readonly weight: Tensor;

  constructor(
    vb: Weights,
    dim: number,
    readonly eps: number,
  ) {
    this.weight = vb.getF32("weight", [dim]);
  }

  forward(x: Tensor): Tensor {
    return ops.rmsNorm(x, this.weight, this.eps);
  }
}

export class LayerNorm {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    vb: Weights,
    dim: number,
    readonly eps: number,
  ) {
    this.weight = vb.getF32("weight", [dim]);
    this.bias = vb.maybeF32("bias", [dim]);
  }

  forward(x: Tensor): Tensor {
    return ops.layerNorm(x, this.weight, this.bias, this.eps);
  }
}
