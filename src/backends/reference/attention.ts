// Reference causal scaled dot-product attention (Vaswani et al. 2017) over a KV cache, with grouped-query
// heads (Ainslie et al. 2023) and an optional sliding window (Mistral); one stable softmax per row.

import type { AttentionParams } from "../../tensor/backend.js";

export function rope(
  x: Float32Array,
  T: number,
  nHeads: number,
  headDim: number,
  positions: ArrayLike<number>,
  invFreq: Float32Array,
): void {
  const half = invFreq.length; // rotary dims / 2
  for (let t = 0; t < T; t++) {
    const pos = positions[t]!;
    for (let i = 0; i < half; i++) {
      const a = pos * invFreq[i]!;
      const c = Math.cos(a);
      const s = Math.sin(a);
      for (let h = 0; h < nHeads; h++) {
        const o = (t * nHeads + h) * headDim;
        const x0 = x[o + i]!;
        const x1 = x[o + i + half]!;
        x[o + i] = x0 * c - x1 * s;
        x[o + i + half] = x0 * s + x1 * c;
      }
    }
  }
}

export function attention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  p: AttentionParams,
  out: Float32Array,
): void {
  const { T, S, nHeads, nKvHeads, headDim: hd, queryPos, window, scale } = p;
  if (nHeads % nKvHeads !== 0)
    throw new Error(`attention: ${nHeads} heads not divisible by ${nKvHeads} kv heads`);
  const group = nHeads / nKvHeads;
  const scores = new Float32Array(S);
  const kvStride = nKvHeads * hd;
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
        s *= scale;
        scores[j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = first; j <= last; j++) {
        const e = Math.exp(scores[j]! - max);
        scores[j] = e;
        sum += e;
      }
      const oo = qo;
      out.fill(0, oo, oo + hd);
      const inv = sum > 0 ? 1 / sum : 0;
      for (let j = first; j <= last; j++) {
        const w = scores[j]! * inv;
        const vo = j * kvStride + kh;
        for (let d = 0; d < hd; d++) out[oo + d]! += w * v[vo + d]!;
      }
    }
  }
}
