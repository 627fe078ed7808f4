// Batched causal self-attention for training (teacher forcing: every position of a sequence in one pass under
// the causal mask): q [B, T, nHeads, hd], k and v [B, T, nKvHeads, hd] → [B, T, nHeads, hd]. The forward runs
// the active backend's attention kernel per sequence; the gradient is grads/attention.ts's, per sequence.

import { kernels, type AttentionParams } from "../../tensor/backend.js";
import { registerGradient, track } from "../../tensor/grad.js";
import { Tensor } from "../../tensor/tensor.js";
import { attentionBackward } from "../grads/attention.js";

export function causalSelfAttention(q: Tensor, k: Tensor, v: Tensor, scale?: number): Tensor {
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4)
    throw new Error(`causalSelfAttention: expected [B, T, heads, hd] tensors, got [${q.shape}]`);
  const [B, T, nHeads, hd] = q.shape as [number, number, number, number];
  const nKvHeads = k.shape[2]!;
  const same = (t: Tensor) => t.shape[0] === B && t.shape[1] === T && t.shape[3] === hd;
  if (!same(k) || !same(v) || v.shape[2] !== nKvHeads || nHeads % nKvHeads !== 0)
    throw new Error(`causalSelfAttention: q [${q.shape}], k [${k.shape}], v [${v.shape}] disagree`);
  const p: AttentionParams = {
    T,
    S: T,
    nHeads,
    nKvHeads,
    headDim: hd,
    queryPos: 0,
    window: 0,
    scale: scale ?? 1 / Math.sqrt(hd),
  };
  const out = Tensor.zeros(q.shape); // (B, T, nh, hs)
  const [qs, ks, vs, os] = [q.f32(), k.f32(), v.f32(), out.f32()];
  const qn = T * nHeads * hd;
  const kn = T * nKvHeads * hd;
  for (let b = 0; b < B; b++) {
    const kb = ks.subarray(b * kn, (b + 1) * kn);
    const vb = vs.subarray(b * kn, (b + 1) * kn);
    kernels().attention(qs.subarray(b * qn, (b + 1) * qn), kb, vb, p, os.subarray(b * qn, (b + 1) * qn));
  }
  return track(out, "causalSelfAttention", [q, k, v], p);
}

registerGradient("causalSelfAttention", (grad, [q, k, v], _out, saved) => {
  const p = saved as AttentionParams;
  const B = q!.shape[0]!;
  const qn = q!.size / B;
  const kn = k!.size / B;
  const [qs, ks, vs, g] = [q!.f32(), k!.f32(), v!.f32(), grad.f32()];
  const dq = new Float32Array(q!.size);
  const dk = new Float32Array(k!.size);
  const dv = new Float32Array(v!.size);
  for (let b = 0; b < B; b++) {
    const qr = [b * qn, (b + 1) * qn] as const;
    const kr = [b * kn, (b + 1) * kn] as const;
    attentionBackward(
      qs.subarray(...qr),
      ks.subarray(...kr),
      vs.subarray(...kr),
      g.subarray(...qr),
      p,
      dq.subarray(...qr),
      dk.subarray(...kr),
      dv.subarray(...kr),
    );
  }
  return [Tensor.fromArray(dq, q!.shape), Tensor.fromArray(dk, k!.shape), Tensor.fromArray(dv, v!.shape)];
});
