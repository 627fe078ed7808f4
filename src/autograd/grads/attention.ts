// Gradient of causal scaled dot-product attention (Vaswani et al. 2017) with grouped-query heads and an optional
// sliding window. Probabilities are recomputed row by row from q and k (as FlashAttention's backward does)
// rather than saved: dV += Pᵀ·dO, dP = dO·Vᵀ, dS = P∘(dP − Σ P∘dP), dQ = scale·dS·K, dK += scale·dSᵀ·Q.

import type { AttentionParams } from "../../tensor/backend.js";
import { registerGradient } from "../../tensor/grad.js";
import { Tensor } from "../../tensor/tensor.js";

/**
 * Adds the gradients of attention(q, k, v) for output gradient dout into dq, dk, dv (same layouts as the inputs).
 * `mask` (dropout on the probabilities, [T, nHeads, S] of 0 or 1/(1−p)) multiplies P where given.
 */
export function attentionBackward(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dout: Float32Array,
  p: AttentionParams,
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
  mask: Float32Array | null = null,
): void {
  const { T, S, nHeads, nKvHeads, headDim: hd, queryPos, window, scale } = p;
  const group = nHeads / nKvHeads;
  const kvStride = nKvHeads * hd;
  const P = new Float64Array(S);
  const dP = new Float64Array(S);
  for (let t = 0; t < T; t++) {
    const pos = queryPos + t;
    const last = Math.min(S - 1, pos);
    const first = window > 0 ? Math.max(0, pos - window + 1) : 0;
    for (let h = 0; h < nHeads; h++) {
      const qo = (t * nHeads + h) * hd;
      const kh = Math.floor(h / group) * hd;
      let max = -Infinity;
      for (let j = first; j <= last; j++) {
        const ko = j * kvStride + kh;
        let s = 0;
        for (let d = 0; d < hd; d++) s += q[qo + d]! * k[ko + d]!;
        P[j] = s * scale;
        if (P[j]! > max) max = P[j]!;
      }
      let sum = 0;
      for (let j = first; j <= last; j++) {
        P[j] = Math.exp(P[j]! - max);
        sum += P[j]!;
      }
      let dot = 0;
      const mo = (t * nHeads + h) * S;
      for (let j = first; j <= last; j++) {
        P[j]! /= sum;
        const m = mask ? mask[mo + j]! : 1;
        const vo = j * kvStride + kh;
        let s = 0;
        for (let d = 0; d < hd; d++) {
          s += dout[qo + d]! * v[vo + d]!;
          dv[vo + d]! += P[j]! * m * dout[qo + d]!;
        }
        dP[j] = s * m;
        dot += P[j]! * dP[j]!;
      }
      for (let j = first; j <= last; j++) {
        const ds = P[j]! * (dP[j]! - dot) * scale;
        const ko = j * kvStride + kh;
        for (let d = 0; d < hd; d++) {
          dq[qo + d]! += ds * k[ko + d]!;
          dk[ko + d]! += ds * q[qo + d]!;
        }
      }
    }
  }
}

registerGradient("attention", (grad, [q, k, v], _out, saved) => {
  const dq = new Float32Array(q!.size);
  const dk = new Float32Array(k!.size);
  const dv = new Float32Array(v!.size);
  attentionBackward(q!.f32(), k!.f32(), v!.f32(), grad.f32(), saved as AttentionParams, dq, dk, dv);
  return [Tensor.fromArray(dq, q!.shape), Tensor.fromArray(dk, k!.shape), Tensor.fromArray(dv, v!.shape)];
});
