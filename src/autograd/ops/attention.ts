// Batched causal self-attention for training (teacher forcing: every position of a sequence in one pass under
// the causal mask): q [B, T, nHeads, hd], k and v [B, T, nKvHeads, hd] → [B, T, nHeads, hd]. Without dropout the
// forward runs the backend's batched causalAttention kernel where it has one, else its attention kernel per
// sequence; with attention dropout (on the probabilities,
// as GPT-2's attn_pdrop) it runs plain loops that keep the mask. The gradient is the backend's fused
// attentionBackward kernel where it has one (no attention dropout), else grads/attention.ts's.

import { kernels, type AttentionParams } from "../../tensor/backend.js";
import { registerGradient, track } from "../../tensor/grad.js";
import { activationAllocator } from "../../tensor/storage.js";
import { Tensor } from "../../tensor/tensor.js";
import { gradBuffer } from "../buffers.js";
import { attentionBackward } from "../grads/attention.js";

export interface AttentionDropout {
  /** Probability of zeroing an attention weight (the rest are scaled by 1/(1−p)). */
  readonly p: number;
  readonly random: () => number;
}

/** Causal attention with dropout on the probabilities, one sequence; fills mask [T, nHeads, T]. */
function attendWithDropout(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  p: AttentionParams,
  drop: AttentionDropout,
  mask: Float32Array,
  out: Float32Array,
): void {
  const { T, nHeads, nKvHeads, headDim: hd, scale } = p;
  const group = nHeads / nKvHeads;
  const kvStride = nKvHeads * hd;
  const keep = 1 / (1 - drop.p);
  const P = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) {
      const qo = (t * nHeads + h) * hd;
      const kh = Math.floor(h / group) * hd;
      let max = -Infinity;
      for (let j = 0; j <= t; j++) {
        let s = 0;
        for (let d = 0; d < hd; d++) s += q[qo + d]! * k[j * kvStride + kh + d]!;
        P[j] = s * scale;
        if (P[j]! > max) max = P[j]!;
      }
      let sum = 0;
      for (let j = 0; j <= t; j++) sum += P[j] = Math.exp(P[j]! - max);
      const mo = (t * nHeads + h) * T;
      for (let j = 0; j <= t; j++) {
        const m = (mask[mo + j] = drop.random() < drop.p ? 0 : keep);
        const w = (P[j]! / sum) * m;
        for (let d = 0; d < hd; d++) out[qo + d]! += w * v[j * kvStride + kh + d]!;
      }
    }
  }
}

interface Saved {
  readonly p: AttentionParams;
  readonly mask: Float32Array | null;
}

export function causalSelfAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: { scale?: number; dropout?: AttentionDropout } = {},
): Tensor {
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4)
    throw new Error(`causalSelfAttention: expected [B, T, heads, hd] tensors, got [${q.shape}]`);
  const [B, T, nHeads, hd] = q.shape as [number, number, number, number];
  const nKvHeads = k.shape[2]!;
  const same = (t: Tensor) => t.shape[0] === B && t.shape[1] === T && t.shape[3] === hd;
  if (!same(k) || !same(v) || v.shape[2] !== nKvHeads || nHeads % nKvHeads !== 0)
    throw new Error(`causalSelfAttention: q [${q.shape}], k [${k.shape}], v [${v.shape}] disagree`);
  const drop = opts.dropout && opts.dropout.p > 0 ? opts.dropout : null;
  if (drop && !(drop.p < 1)) throw new Error(`causalSelfAttention: dropout must be in [0, 1), got ${drop.p}`);
  const p: AttentionParams = {
    T,
    S: T,
    nHeads,
    nKvHeads,
    headDim: hd,
    queryPos: 0,
    window: 0,
    scale: opts.scale ?? 1 / Math.sqrt(hd),
  };
  const out = Tensor.zeros(q.shape, "f32", activationAllocator()); // (B, T, nh, hs)
  const [qs, ks, vs, os] = [q.f32(), k.f32(), v.f32(), out.f32()];
  const qn = T * nHeads * hd;
  const kn = T * nKvHeads * hd;
  const mn = T * nHeads * T;
  const mask = drop ? new Float32Array(B * mn) : null;
  const batched = kernels().causalAttention;
  if (!drop && batched) {
    batched(qs, ks, vs, B, p, os);
    return track(out, "causalSelfAttention", [q, k, v], { p, mask } satisfies Saved);
  }
  for (let b = 0; b < B; b++) {
    const [qb, kb, vb, ob] = [
      qs.subarray(b * qn, (b + 1) * qn),
      ks.subarray(b * kn, (b + 1) * kn),
      vs.subarray(b * kn, (b + 1) * kn),
      os.subarray(b * qn, (b + 1) * qn),
    ];
    if (drop) attendWithDropout(qb, kb, vb, p, drop, mask!.subarray(b * mn, (b + 1) * mn), ob);
    else kernels().attention(qb, kb, vb, p, ob);
  }
  const saved: Saved = { p, mask };
  return track(out, "causalSelfAttention", [q, k, v], saved);
}

registerGradient("causalSelfAttention", (grad, [q, k, v], _out, saved) => {
  const { p, mask } = saved as Saved;
  const B = q!.shape[0]!;
  const qn = q!.size / B;
  const kn = k!.size / B;
  const mn = p.T * p.nHeads * p.S;
  const [qs, ks, vs, g] = [q!.f32(), k!.f32(), v!.f32(), grad.f32()];
  const dq = gradBuffer(q!.size);
  const dk = gradBuffer(k!.size);
  const dv = gradBuffer(v!.size);
  const fused = kernels().attentionBackward;
  if (fused && !mask) {
    fused(qs, ks, vs, g, B, p, dq, dk, dv);
    return [wrap(dq, q!.shape), wrap(dk, k!.shape), wrap(dv, v!.shape)];
  }
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
      mask ? mask.subarray(b * mn, (b + 1) * mn) : null,
    );
  }
  return [wrap(dq, q!.shape), wrap(dk, k!.shape), wrap(dv, v!.shape)];
});

const wrap = (a: Float32Array, shape: readonly number[]): Tensor => new Tensor("f32", shape, a);
