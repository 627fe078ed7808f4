// Causal scaled dot-product attention (Vaswani et al. 2017) over cached keys/values with grouped-query heads
// (Ainslie et al. 2023) and an optional sliding window, f32x4 SIMD over the head dimension.

import { expv } from "./exp";
import { madd } from "./fma";
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
 * Scores of four keys at once: [q·k0, q·k1, q·k2, q·k3] for keys k0 + j · ks (hd a multiple of 4). One q load
 * serves the four keys, and the four sums are reduced together (no horizontal sum per key): about 2x the
 * one-key dot for a decode step's 64 keys of 64 dims.
 */
function dot4(q: usize, k0: usize, ks: usize, hd: i32): v128 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  const k1 = k0 + ks;
  const k2 = k1 + ks;
  const k3 = k2 + ks;
  for (let o: usize = 0, end = <usize>hd << 2; o < end; o += 16) {
    const qv = v128.load(q + o);
    a0 = madd(qv, v128.load(k0 + o), a0);
    a1 = madd(qv, v128.load(k1 + o), a1);
    a2 = madd(qv, v128.load(k2 + o), a2);
    a3 = madd(qv, v128.load(k3 + o), a3);
  }
  const u = f32x4.add(i32x4.shuffle(a0, a1, 0, 4, 1, 5), i32x4.shuffle(a0, a1, 2, 6, 3, 7));
  const w = f32x4.add(i32x4.shuffle(a2, a3, 0, 4, 1, 5), i32x4.shuffle(a2, a3, 2, 6, 3, 7));
  return f32x4.add(i32x4.shuffle(u, w, 0, 1, 4, 5), i32x4.shuffle(u, w, 2, 3, 6, 7));
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
      a0 = madd(wv, v128.load(vr), a0);
      a1 = madd(wv, v128.load(vr, 16), a1);
      a2 = madd(wv, v128.load(vr, 32), a2);
      a3 = madd(wv, v128.load(vr, 48), a3);
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

/** Query heads sharing one key/value head that attention() takes through each block of keys together. */
const HEADS: i32 = 4;

/** Bytes of `scores` a thread needs: one block of scores per head of a chunk, then each head's max and sum. */
export function attentionScoreBytes(): i32 {
  return HEADS * BLOCK * 4 + 2 * HEADS * 4;
}

/**
 * One block of n keys (from j0) for one head: scores of q at qo, the running maximum and sum at st and st + 4
 * rescaled when the block raises the maximum, and the block's weighted values added to oo.
 */
@inline
function headBlock(
  qo: usize,
  oo: usize,
  kb: usize,
  vb: usize,
  kvStride: usize,
  hd: i32,
  n: i32,
  scl: f32,
  sc: usize,
  st: usize,
): void {
  let m = load<f32>(st);
  let l = load<f32>(st, 4);
  let bm: f32 = -Infinity;
  let j = 0;
  if ((hd & 3) == 0) {
    let bv = f32x4.splat(-Infinity);
    for (; j + 4 <= n; j += 4) {
      const s4 = f32x4.mul(dot4(qo, kb + <usize>j * kvStride, kvStride, hd), f32x4.splat(scl));
      v128.store(sc + (<usize>j << 2), s4);
      bv = f32x4.max(bv, s4);
    }
    bm = max(max(f32x4.extract_lane(bv, 0), f32x4.extract_lane(bv, 1)), max(f32x4.extract_lane(bv, 2), f32x4.extract_lane(bv, 3)));
  }
  for (; j < n; j++) {
    const s = dot(qo, kb + <usize>j * kvStride, hd) * scl;
    store<f32>(sc + (<usize>j << 2), s);
    bm = max(bm, s);
  }
  if (bm > m) {
    if (l > 0) {
      // weights below e^-60 are dropped (they are far below one ulp of the sum, and their products with the
      // values would be subnormal floats, which cost a hundred cycles each on x86)
      const c: f32 = m - bm < CUTOFF ? <f32>0 : Mathf.exp(m - bm);
      scale(oo, c, hd);
      l *= c;
    }
    m = bm;
  }
  store<f32>(st, m);
  if (!(m > -Infinity)) return; // every score -inf or NaN so far: nothing to weigh yet
  for (let j = n; j < ((n + 3) & ~3); j++) store<f32>(sc + (<usize>j << 2), -1e30);
  const mv = f32x4.splat(m);
  let lv = f32x4.splat(0);
  for (let j = 0; j < n; j += 4) {
    const p = sc + (<usize>j << 2);
    const d = f32x4.sub(v128.load(p), mv);
    const e = v128.andnot(expv(d), f32x4.lt(d, f32x4.splat(CUTOFF)));
    v128.store(p, e);
    lv = f32x4.add(lv, e);
  }
  store<f32>(st, l + hsum(lv), 4);
  weightedSum(oo, sc, n, vb, kvStride, hd);
}

/**
 * q [T, nHeads, hd], k/v [S, nKvHeads, hd] → out [T, nHeads, hd] for heads [h0, h1). One pass over the keys
 * and values (online softmax, Milakov & Gimelshein 2018): blocks of BLOCK keys are scored, their maximum updates
 * the running maximum (rescaling the partial sums once per block), and their exps (vector exp) weight the values.
 * Up to HEADS query heads that share a key/value head go through each block together, so the block's keys and
 * values are read from memory once for them and from cache by the others (each head's arithmetic is the same as
 * alone). `scores` holds attentionScoreBytes().
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
  const state = scores + <usize>(HEADS * BLOCK) * 4;
  for (let t = 0; t < T; t++) {
    const pos = queryPos + t;
    const last = min(S - 1, pos);
    const first = window > 0 ? max(0, pos - window + 1) : 0;
    for (let hc = h0; hc < h1; ) {
      const g = hc / group;
      const c = min(min(h1, (g + 1) * group) - hc, HEADS);
      const kh = <usize>g * hb;
      const row = <usize>(t * nHeads + hc) * hb;
      for (let i = 0; i < c; i++) {
        memory.fill(out + row + <usize>i * hb, 0, hb);
        store<f32>(state + (<usize>i << 3), -Infinity);
        store<f32>(state + (<usize>i << 3), 0, 4);
      }
      for (let j0 = first; j0 <= last; j0 += BLOCK) {
        const n = min(last + 1 - j0, BLOCK);
        const kb = k + <usize>j0 * kvStride + kh;
        const vb = v + <usize>j0 * kvStride + kh;
        for (let i = 0; i < c; i++) {
          const o = row + <usize>i * hb;
          headBlock(q + o, out + o, kb, vb, kvStride, hd, n, scl, scores + <usize>(i * BLOCK) * 4, state + (<usize>i << 3));
        }
      }
      for (let i = 0; i < c; i++) {
        const l = load<f32>(state + (<usize>i << 3), 4);
        scale(out + row + <usize>i * hb, l > 0 ? <f32>1 / l : 0, hd);
      }
      hc += c;
    }
  }
}
