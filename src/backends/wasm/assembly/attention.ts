// Causal scaled dot-product attention (Vaswani et al. 2017) over cached keys/values with grouped-query heads
// (Ainslie et al. 2023) and an optional sliding window, f32x4 SIMD over the head dimension.

import { expv } from "./exp";
import { hsum } from "./half";

function dot(a: usize, b: usize, n: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = <usize>i << 2;
    a0 = f32x4.add(a0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
    a1 = f32x4.add(a1, f32x4.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
    a2 = f32x4.add(a2, f32x4.mul(v128.load(a + o, 32), v128.load(b + o, 32)));
    a3 = f32x4.add(a3, f32x4.mul(v128.load(a + o, 48), v128.load(b + o, 48)));
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    a0 = f32x4.add(a0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  for (; i < n; i++) s += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return s;
}

/**
 * out[0..hd) += Σ_j w[j] · v_j[0..hd) for j < n, where v_j = v + j · stride: sixteen columns at a time held in
 * registers across all j (weights that are exactly 0 are skipped).
 */
function weightedSum(out: usize, w: usize, n: i32, v: usize, stride: usize, hd: i32): void {
  let c = 0;
  for (; c + 16 <= hd; c += 16) {
    const oc = out + (<usize>c << 2);
    let a0 = v128.load(oc);
    let a1 = v128.load(oc, 16);
    let a2 = v128.load(oc, 32);
    let a3 = v128.load(oc, 48);
    let vr = v + (<usize>c << 2);
    for (let j = 0; j < n; j++, vr += stride) {
      const wj = load<f32>(w + (<usize>j << 2));
      if (wj == 0) continue;
      const wv = f32x4.splat(wj);
      a0 = f32x4.add(a0, f32x4.mul(wv, v128.load(vr)));
      a1 = f32x4.add(a1, f32x4.mul(wv, v128.load(vr, 16)));
      a2 = f32x4.add(a2, f32x4.mul(wv, v128.load(vr, 32)));
      a3 = f32x4.add(a3, f32x4.mul(wv, v128.load(vr, 48)));
    }
    v128.store(oc, a0);
    v128.store(oc, a1, 16);
    v128.store(oc, a2, 32);
    v128.store(oc, a3, 48);
  }
  for (; c + 4 <= hd; c += 4) {
    const oc = out + (<usize>c << 2);
    let a0 = v128.load(oc);
    let vr = v + (<usize>c << 2);
    for (let j = 0; j < n; j++, vr += stride) {
      const wj = load<f32>(w + (<usize>j << 2));
      if (wj != 0) a0 = f32x4.add(a0, f32x4.mul(f32x4.splat(wj), v128.load(vr)));
    }
    v128.store(oc, a0);
  }
  for (; c < hd; c++) {
    const oc = out + (<usize>c << 2);
    let a: f32 = load<f32>(oc);
    let vr = v + (<usize>c << 2);
    for (let j = 0; j < n; j++, vr += stride) a += load<f32>(w + (<usize>j << 2)) * load<f32>(vr);
    store<f32>(oc, a);
  }
}

/** Keys scored per block of the one-pass softmax: their scores stay in `scores` while values are summed. */
const BLOCK: i32 = 64;
/** Score differences from the running maximum below this weigh exactly 0. */
const CUTOFF: f32 = -60;

/** x[0..n) *= c. */
function scale(x: usize, c: f32, n: i32): void {
  const cv = f32x4.splat(c);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(x + (<usize>i << 2), f32x4.mul(v128.load(x + (<usize>i << 2)), cv));
  for (; i < n; i++) store<f32>(x + (<usize>i << 2), load<f32>(x + (<usize>i << 2)) * c);
}

/**
 * q [T, nHeads, hd], k/v [S, nKvHeads, hd] → out [T, nHeads, hd] for heads [h0, h1). One pass over the keys
 * and values (online softmax, Milakov & Gimelshein 2018): blocks of BLOCK keys are scored, their maximum updates
 * the running maximum (rescaling the partial sums once per block), and their exps (vector exp) weight the values.
 * `scores` holds min(S, BLOCK) floats rounded up to 16.
 */
export function attention(
  q: usize,
  k: usize,
  v: usize,
  out: usize,
  T: i32,
  S: i32,
  nHeads: i32,
  nKvHeads: i32,
  hd: i32,
  queryPos: i32,
  window: i32,
  scl: f32,
  scores: usize,
  h0: i32,
  h1: i32,
): void {
  const group = nHeads / nKvHeads;
  const kvStride = <usize>(nKvHeads * hd) << 2;
  const hb = <usize>hd << 2;
  for (let t = 0; t < T; t++) {
    const pos = queryPos + t;
    const last = min(S - 1, pos);
    const first = window > 0 ? max(0, pos - window + 1) : 0;
    for (let h = h0; h < h1; h++) {
      const qo = q + <usize>(t * nHeads + h) * hb;
      const oo = out + <usize>(t * nHeads + h) * hb;
      const kh = <usize>(h / group) * hb;
      memory.fill(oo, 0, hb);
      let m: f32 = -Infinity;
      let l: f32 = 0;
      for (let j0 = first; j0 <= last; j0 += BLOCK) {
        const n = min(last + 1 - j0, BLOCK);
        let bm: f32 = -Infinity;
        for (let j = 0; j < n; j++) {
          const s = dot(qo, k + <usize>(j0 + j) * kvStride + kh, hd) * scl;
          store<f32>(scores + (<usize>j << 2), s);
          bm = max(bm, s);
        }
        if (bm > m) {
          if (l > 0) {
            // weights below e^-60 are dropped (they are far below one ulp of the sum, and their products with
            // the values would be subnormal floats, which cost a hundred cycles each on x86)
            const c: f32 = m - bm < CUTOFF ? <f32>0 : Mathf.exp(m - bm);
            scale(oo, c, hd);
            l *= c;
          }
          m = bm;
        }
        if (!(m > -Infinity)) continue; // every score -inf or NaN so far: nothing to weigh yet
        for (let j = n; j < ((n + 3) & ~3); j++) store<f32>(scores + (<usize>j << 2), -1e30);
        const mv = f32x4.splat(m);
        let lv = f32x4.splat(0);
        for (let j = 0; j < n; j += 4) {
          const p = scores + (<usize>j << 2);
          const d = f32x4.sub(v128.load(p), mv);
          const e = v128.andnot(expv(d), f32x4.lt(d, f32x4.splat(CUTOFF)));
          v128.store(p, e);
          lv = f32x4.add(lv, e);
        }
        l += hsum(lv);
        weightedSum(oo, scores, n, v + <usize>j0 * kvStride + kh, kvStride, hd);
      }
      scale(oo, l > 0 ? <f32>1 / l : 0, hd);
    }
  }
}
