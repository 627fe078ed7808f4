// Sinusoidal position encodings (Vaswani et al. 2017, section 3.5): PE(pos, 2i) = sin(pos / 10000^(2i/d)),
// PE(pos, 2i+1) = cos(pos / 10000^(2i/d)). Learned positions are an Embedding (see gpt2.ts).

import { Tensor } from "../tensor/tensor.js";

/** Encodings for positions start..start+T-1 as a (T, dim) tensor; dim must be even. */
export function sinusoidalPositions(T: number, dim: number, start = 0, base = 10000): Tensor {
  if (dim % 2 !== 0 || dim <= 0) throw new Error(`sinusoidal positions need an even dimension, got ${dim}`);
  const out = Tensor.zeros([T, dim]); // (T, dim)
  const o = out.f32();
  for (let t = 0; t < T; t++) {
    const pos = start + t;
    for (let i = 0; i < dim / 2; i++) {
      const a = pos / Math.pow(base, (2 * i) / dim);
      o[t * dim + 2 * i] = Math.sin(a);
      o[t * dim + 2 * i + 1] = Math.cos(a);
    }
  }
  return out;
}
