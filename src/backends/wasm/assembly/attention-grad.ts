// Gradient of causal scaled dot-product attention (Vaswani et al. 2017) over a batch of sequences, grouped-query
// heads and an optional sliding window, f32x4 SIMD over the head dimension. Each query row's probabilities are
// recomputed from q and k (as FlashAttention's backward does): dV += Pᵀ·dO, dP = dO·Vᵀ, dS = P∘(dP − Σ P∘dP),
// dQ += scale·dS·K, dK += scale·dSᵀ·Q.

import { expv } from "./exp";
import { hsum } from "./half";

@inline
function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

/** Σ a[i]·b[i] over n floats, n a multiple of 4. */
@inline
function dot4(a: usize, b: usize, n: i32): f32 {
  let s0 = f32x4.splat(0);
  let s1 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    s0 = f32x4.add(s0, f32x4.mul(v128.load(at(a, i)), v128.load(at(b, i))));
    s1 = f32x4.add(s1, f32x4.mul(v128.load(at(a, i), 16), v128.load(at(b, i), 16)));
  }
  if (i < n) s0 = f32x4.add(s0, f32x4.mul(v128.load(at(a, i)), v128.load(at(b, i))));
  return hsum(f32x4.add(s0, s1));
}

/** y[0..n) += c·x[0..n), n a multiple of 4. */
@inline
function axpy4(y: usize, c: f32, x: usize, n: i32): void {
  const cv = f32x4.splat(c);
  for (let i = 0; i < n; i += 4) v128.store(at(y, i), f32x4.add(v128.load(at(y, i)), f32x4.mul(cv, v128.load(at(x, i)))));
}

/**
 * Adds the gradients for units [u0, u1) of B·nKvHeads (sequence b = u / nKvHeads, key/value head u % nKvHeads,
 * with every query head of its group) into dq, dk, dv. q, dout, dq are [B, T, nHeads, hd]; k, v, dk, dv are
 * [B, T, nKvHeads, hd]; hd is a multiple of 4. `scratch` holds 2·T floats rounded up to 4.
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
  const Tp = (T + 3) & ~3;
  const P = scratch;
  const dP = at(scratch, Tp);
  const qStride = nHeads * hd;
  const kvStride = nKvHeads * hd;
  for (let u = u0; u < u1; u++) {
    const b = u / nKvHeads;
    const kvh = u % nKvHeads;
    const kb = at(k, b * T * kvStride + kvh * hd);
    const vb = at(v, b * T * kvStride + kvh * hd);
    const dkb = at(dk, b * T * kvStride + kvh * hd);
    const dvb = at(dv, b * T * kvStride + kvh * hd);
    for (let h = kvh * group; h < (kvh + 1) * group; h++) {
      for (let t = 0; t < T; t++) {
        const qo = at(q, (b * T + t) * qStride + h * hd);
        const go = at(dout, (b * T + t) * qStride + h * hd);
        const dqo = at(dq, (b * T + t) * qStride + h * hd);
        const first = window > 0 ? max(0, t - window + 1) : 0;
        const n = t + 1 - first;
        let m: f32 = -Infinity;
        for (let j = 0; j < n; j++) {
          const s = dot4(qo, at(kb, (first + j) * kvStride), hd) * scl;
          store<f32>(at(P, j), s);
          m = max(m, s);
        }
        for (let j = n; j < ((n + 3) & ~3); j++) store<f32>(at(P, j), -Infinity);
        const mv = f32x4.splat(m);
        let lv = f32x4.splat(0);
        for (let j = 0; j < n; j += 4) {
          const e = expv(f32x4.sub(v128.load(at(P, j)), mv));
          v128.store(at(P, j), e);
          lv = f32x4.add(lv, e);
        }
        const inv: f32 = 1 / hsum(lv);
        let dot: f32 = 0;
        for (let j = 0; j < n; j++) {
          const pj = load<f32>(at(P, j)) * inv;
          store<f32>(at(P, j), pj);
          const vo = (first + j) * kvStride;
          const dpj = dot4(go, at(vb, vo), hd);
          store<f32>(at(dP, j), dpj);
          dot += pj * dpj;
          axpy4(at(dvb, vo), pj, go, hd);
        }
        for (let j = 0; j < n; j++) {
          const ds = load<f32>(at(P, j)) * (load<f32>(at(dP, j)) - dot) * scl;
          const ko = (first + j) * kvStride;
          axpy4(dqo, ds, at(kb, ko), hd);
          axpy4(at(dkb, ko), ds, qo, hd);
        }
      }
    }
  }
}
