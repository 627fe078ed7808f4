// Gradient of causal scaled dot-product attention (Vaswani et al. 2017) over a batch of sequences, grouped-query
// heads and an optional sliding window. Each head's probabilities are recomputed from q and k (as FlashAttention's
// backward does) and the products run on the packed GEMM: dV += Pᵀ·dO, dP = dO·Vᵀ, dS = P∘(dP − Σ P∘dP),
// dQ += scale·dS·K, dK += scale·dSᵀ·Q.

import { expv } from "./exp";
import { gemm, gemmWorkBytes } from "./gemm";
import { hsum } from "./half";

@inline
function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

/**
 * Row-wise softmax of the causal (and windowed) scores S[T, T] (row stride T) times `scl`, in place: entries
 * outside a row's keys become exactly 0.
 */
function causalSoftmax(S: usize, T: i32, window: i32, scl: f32): void {
  const sv = f32x4.splat(scl);
  for (let t = 0; t < T; t++) {
    const row = at(S, t * T);
    const first = window > 0 ? max(0, t - window + 1) : 0;
    let m: f32 = -Infinity;
    for (let j = first; j <= t; j++) m = max(m, load<f32>(at(row, j)) * scl);
    const mv = f32x4.splat(m);
    let lv = f32x4.splat(0);
    let j = first;
    for (; j + 4 <= t + 1; j += 4) {
      const e = expv(f32x4.sub(f32x4.mul(v128.load(at(row, j)), sv), mv));
      v128.store(at(row, j), e);
      lv = f32x4.add(lv, e);
    }
    let l = hsum(lv);
    for (; j <= t; j++) {
      const e = f32x4.extract_lane(expv(f32x4.splat(load<f32>(at(row, j)) * scl - m)), 0);
      store<f32>(at(row, j), e);
      l += e;
    }
    const inv: f32 = 1 / l;
    for (j = 0; j < first; j++) store<f32>(at(row, j), 0);
    for (j = first; j <= t; j++) store<f32>(at(row, j), load<f32>(at(row, j)) * inv);
    for (j = t + 1; j < T; j++) store<f32>(at(row, j), 0);
  }
}

/**
 * Adds the gradients for units [u0, u1) of B·nKvHeads (sequence b = u / nKvHeads, key/value head u % nKvHeads,
 * with every query head of its group) into dq, dk, dv. q, dout, dq are [B, T, nHeads, hd]; k, v, dk, dv are
 * [B, T, nKvHeads, hd]. Per head, five GEMMs (assembly/gemm.ts) over the full T×T blocks (the masked entries of
 * P and dS are exact zeros): S = Q·Kᵀ, P = softmax(scale·S), dP = dO·Vᵀ, dV += Pᵀ·dO, dS = P∘(dP − rowsum(P∘dP))·
 * scale, dQ += dS·K, dK += dSᵀ·Q. `scratch` holds attentionBackwardScratch(T) bytes.
 */
export function attentionBackward(
  q: usize,
  k: usize,
  v: usize,
  dout: usize,
  dq: usize,
  dk: usize,
  dv: usize,
  T: i32,
  nHeads: i32,
  nKvHeads: i32,
  hd: i32,
  window: i32,
  scl: f32,
  scratch: usize,
  u0: i32,
  u1: i32,
): void {
  const group = nHeads / nKvHeads;
  const P = scratch;
  const dP = at(P, T * T);
  const work = at(dP, T * T);
  const qs = nHeads * hd;
  const ks = nKvHeads * hd;
  for (let u = u0; u < u1; u++) {
    const b = u / nKvHeads;
    const kvh = u % nKvHeads;
    const ko = b * T * ks + kvh * hd;
    const kb = at(k, ko);
    const vb = at(v, ko);
    const dkb = at(dk, ko);
    const dvb = at(dv, ko);
    for (let h = kvh * group; h < (kvh + 1) * group; h++) {
      const qo = b * T * qs + h * hd;
      const qb = at(q, qo);
      const gb = at(dout, qo);
      const dqb = at(dq, qo);
      gemm(qb, qs, 1, kb, 1, ks, P, T, T, T, hd, 0, 0, work, 0, T); // S = Q·Kᵀ
      causalSoftmax(P, T, window, scl);
      gemm(gb, qs, 1, vb, 1, ks, dP, T, T, T, hd, 0, 0, work, 0, T); // dP = dO·Vᵀ
      gemm(P, 1, T, gb, qs, 1, dvb, ks, T, hd, T, 1, 0, work, 0, T); // dV += Pᵀ·dO
      for (let t = 0; t < T; t++) {
        const pr = at(P, t * T);
        const dr = at(dP, t * T);
        let sv = f32x4.splat(0);
        let j = 0;
        for (; j + 4 <= T; j += 4) sv = f32x4.add(sv, f32x4.mul(v128.load(at(pr, j)), v128.load(at(dr, j))));
        let dot = hsum(sv);
        for (; j < T; j++) dot += load<f32>(at(pr, j)) * load<f32>(at(dr, j));
        const dv4 = f32x4.splat(dot);
        const s4 = f32x4.splat(scl);
        for (j = 0; j + 4 <= T; j += 4)
          v128.store(at(dr, j), f32x4.mul(f32x4.mul(v128.load(at(pr, j)), f32x4.sub(v128.load(at(dr, j)), dv4)), s4));
        for (; j < T; j++) store<f32>(at(dr, j), load<f32>(at(pr, j)) * (load<f32>(at(dr, j)) - dot) * scl);
      }
      gemm(dP, T, 1, kb, ks, 1, dqb, qs, T, hd, T, 1, 0, work, 0, T); // dQ += dS·K
      gemm(dP, 1, T, qb, qs, 1, dkb, ks, T, hd, T, 1, 0, work, 0, T); // dK += dSᵀ·Q
    }
  }
}

/** Bytes of scratch one attentionBackward call needs for sequences of T. */
export function attentionBackwardScratch(T: i32): i32 {
  return ((2 * T * T) << 2) + gemmWorkBytes();
}

/**
 * The matching forward for training, over the same units: per head S = Q·Kᵀ, P = softmax(scale·S) under the
 * causal (and window) mask, out = P·V, written (not added). Same scratch as attentionBackward.
 */
export function attentionForward(
  q: usize,
  k: usize,
  v: usize,
  out: usize,
  T: i32,
  nHeads: i32,
  nKvHeads: i32,
  hd: i32,
  window: i32,
  scl: f32,
  scratch: usize,
  u0: i32,
  u1: i32,
): void {
  const group = nHeads / nKvHeads;
  const P = scratch;
  const work = at(P, 2 * T * T);
  const qs = nHeads * hd;
  const ks = nKvHeads * hd;
  for (let u = u0; u < u1; u++) {
    const b = u / nKvHeads;
    const kvh = u % nKvHeads;
    const kb = at(k, b * T * ks + kvh * hd);
    const vb = at(v, b * T * ks + kvh * hd);
    for (let h = kvh * group; h < (kvh + 1) * group; h++) {
      const qo = b * T * qs + h * hd;
      gemm(at(q, qo), qs, 1, kb, 1, ks, P, T, T, T, hd, 0, 0, work, 0, T); // S = Q·Kᵀ
      causalSoftmax(P, T, window, scl);
      gemm(P, T, 1, vb, ks, 1, at(out, qo), qs, T, hd, T, 0, 0, work, 0, T); // out = P·V
    }
  }
}
