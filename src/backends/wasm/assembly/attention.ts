// Causal scaled dot-product attention (Vaswani et al. 2017) over cached keys/values with grouped-query heads
// (Ainslie et al. 2023) and an optional sliding window, f32x4 SIMD over the head dimension.

import { hsum } from "./half";

function dot(a: usize, b: usize, n: i32): f32 {
  let acc = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    acc = f32x4.add(acc, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  let s = hsum(acc);
  for (; i < n; i++) s += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return s;
}

/** out += w · v over n floats. */
function axpy(out: usize, w: f32, v: usize, n: i32): void {
  const wv = f32x4.splat(w);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(out + o), f32x4.mul(wv, v128.load(v + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(out + o) + w * load<f32>(v + o));
  }
}

/** q [T, nHeads, hd], k/v [S, nKvHeads, hd] → out [T, nHeads, hd] for heads [h0, h1); `scores` holds S floats. */
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
  scale: f32,
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
      let mx: f32 = -Infinity;
      for (let j = first; j <= last; j++) {
        const s = dot(qo, k + <usize>j * kvStride + kh, hd) * scale;
        store<f32>(scores + (<usize>j << 2), s);
        mx = max(mx, s);
      }
      let sum: f32 = 0;
      for (let j = first; j <= last; j++) {
        const p = scores + (<usize>j << 2);
        const e = Mathf.exp(load<f32>(p) - mx);
        store<f32>(p, e);
        sum += e;
      }
      memory.fill(oo, 0, hb);
      const inv: f32 = sum > 0 ? <f32>1 / sum : 0;
      for (let j = first; j <= last; j++) {
        axpy(oo, load<f32>(scores + (<usize>j << 2)) * inv, v + <usize>j * kvStride + kh, hd);
      }
    }
  }
}
