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
  return laneSums(a0, a1, a2, a3);
}

/** [Σ a0, Σ a1, Σ a2, Σ a3], each lane sum as ((l0 + l2) + (l1 + l3)). */
@inline
function laneSums(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const u = f32x4.add(i32x4.shuffle(a0, a1, 0, 4, 1, 5), i32x4.shuffle(a0, a1, 2, 6, 3, 7));
  const w = f32x4.add(i32x4.shuffle(a2, a3, 0, 4, 1, 5), i32x4.shuffle(a2, a3, 2, 6, 3, 7));
  return f32x4.add(i32x4.shuffle(u, w, 0, 1, 4, 5), i32x4.shuffle(u, w, 2, 3, 6, 7));
}

/**
 * Scores of two keys (k0, k0 + ks) for four query heads at once, each key's sum as dot4 forms it (so the same
 * bits): eight multiply-add chains in flight instead of dot4's four, and every key load serves four heads. qt holds the four heads' q interleaved four floats at a time (interleave4), so that
 * one pointer reaches all four. Stores head i's two scores (times scl) at sc + i · ss.
 */
function scores4x2(qt: usize, k0: usize, ks: usize, hd: i32, scl: f32, sc: usize, ss: usize): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0);
  let b1 = f32x4.splat(0);
  let b2 = f32x4.splat(0);
  let b3 = f32x4.splat(0);
  const k1 = k0 + ks;
  for (let o: usize = 0, end = <usize>hd << 2; o < end; o += 16) {
    const ka = v128.load(k0 + o);
    const kb = v128.load(k1 + o);
    const q = qt + (o << 2);
    const v0 = v128.load(q);
    a0 = madd(v0, ka, a0);
    b0 = madd(v0, kb, b0);
    const v1 = v128.load(q, 16);
    a1 = madd(v1, ka, a1);
    b1 = madd(v1, kb, b1);
    const v2 = v128.load(q, 32);
    a2 = madd(v2, ka, a2);
    b2 = madd(v2, kb, b2);
    const v3 = v128.load(q, 48);
    a3 = madd(v3, ka, a3);
    b3 = madd(v3, kb, b3);
  }
  const sa = f32x4.mul(laneSums(a0, a1, a2, a3), f32x4.splat(scl));
  const sb = f32x4.mul(laneSums(b0, b1, b2, b3), f32x4.splat(scl));
  store<f32>(sc, f32x4.extract_lane(sa, 0));
  store<f32>(sc, f32x4.extract_lane(sb, 0), 4);
  store<f32>(sc + ss, f32x4.extract_lane(sa, 1));
  store<f32>(sc + ss, f32x4.extract_lane(sb, 1), 4);
  store<f32>(sc + 2 * ss, f32x4.extract_lane(sa, 2));
  store<f32>(sc + 2 * ss, f32x4.extract_lane(sb, 2), 4);
  store<f32>(sc + 3 * ss, f32x4.extract_lane(sa, 3));
  store<f32>(sc + 3 * ss, f32x4.extract_lane(sb, 3), 4);
}

/** Four heads' q (at q + i · hb, hd a multiple of 4) → qt, four floats of head 0, then of 1, 2, 3, and so on. */
function interleave4(q: usize, hb: usize, hd: i32, qt: usize): void {
  for (let o: usize = 0, end = <usize>hd << 2; o < end; o += 16) {
    const t = qt + (o << 2);
    v128.store(t, v128.load(q + o));
    v128.store(t, v128.load(q + hb + o), 16);
    v128.store(t, v128.load(q + 2 * hb + o), 32);
    v128.store(t, v128.load(q + 3 * hb + o), 48);
  }
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

/**
 * weightedSum for two heads over the same values (hd a multiple of 16): each value load serves both, and eight
 * multiply-add chains are in flight instead of four. Each head's sums run in weightedSum's order (same bits).
 * skip = false when no weight is exactly 0 (then the tests that skip them are left out: the same bits).
 */
@inline
function sum2(o0: usize, o1: usize, w0: usize, w1: usize, n: i32, v: usize, stride: usize, hd: i32, skip: bool): void {
  for (let c: usize = 0, end = <usize>hd << 2; c < end; c += 64) {
    let a0 = v128.load(o0 + c);
    let a1 = v128.load(o0 + c, 16);
    let a2 = v128.load(o0 + c, 32);
    let a3 = v128.load(o0 + c, 48);
    let b0 = v128.load(o1 + c);
    let b1 = v128.load(o1 + c, 16);
    let b2 = v128.load(o1 + c, 32);
    let b3 = v128.load(o1 + c, 48);
    let vr = v + c;
    for (let j: usize = 0, je = <usize>n << 2; j < je; j += 4, vr += stride) {
      const x = load<f32>(w0 + j);
      const y = load<f32>(w1 + j);
      const v0 = v128.load(vr);
      const v1 = v128.load(vr, 16);
      const v2 = v128.load(vr, 32);
      const v3 = v128.load(vr, 48);
      if (!skip || x != 0) {
        const xv = f32x4.splat(x);
        a0 = madd(xv, v0, a0);
        a1 = madd(xv, v1, a1);
        a2 = madd(xv, v2, a2);
        a3 = madd(xv, v3, a3);
      }
      if (!skip || y != 0) {
        const yv = f32x4.splat(y);
        b0 = madd(yv, v0, b0);
        b1 = madd(yv, v1, b1);
        b2 = madd(yv, v2, b2);
        b3 = madd(yv, v3, b3);
      }
    }
    v128.store(o0 + c, a0);
    v128.store(o0 + c, a1, 16);
    v128.store(o0 + c, a2, 32);
    v128.store(o0 + c, a3, 48);
    v128.store(o1 + c, b0);
    v128.store(o1 + c, b1, 16);
    v128.store(o1 + c, b2, 32);
    v128.store(o1 + c, b3, 48);
  }
}

function weightedSum2(o0: usize, o1: usize, w0: usize, w1: usize, n: i32, v: usize, stride: usize, hd: i32): void {
  sum2(o0, o1, w0, w1, n, v, stride, hd, true);
}

/** weightedSum2 where no weight is exactly 0. */
function weightedSum2All(o0: usize, o1: usize, w0: usize, w1: usize, n: i32, v: usize, stride: usize, hd: i32): void {
  sum2(o0, o1, w0, w1, n, v, stride, hd, false);
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

/** What blockWeights found: nothing to weigh yet, weights some of which are exactly 0, or none 0. */
const NOTHING: i32 = 0;
const SOME_ZERO: i32 = 1;
const NO_ZERO: i32 = 2;

/** Query heads sharing one key/value head that attention() takes through each block of keys together. */
const HEADS: i32 = 4;

/**
 * Bytes of `scores` a thread needs for heads of hd dims: one block of scores per head of a chunk, each head's
 * max and sum, then the chunk's q interleaved.
 */
export function attentionScoreBytes(hd: i32): i32 {
  return HEADS * BLOCK * 4 + 2 * HEADS * 4 + HEADS * hd * 4;
}

/** Scores (times scl) of q at qo against the n keys from kb into sc: four at a time (dot4), then one by one. */
function scoreKeys(qo: usize, kb: usize, kvStride: usize, hd: i32, n: i32, scl: f32, sc: usize): void {
  let j = 0;
  if ((hd & 3) == 0) {
    for (; j + 4 <= n; j += 4)
      v128.store(sc + (<usize>j << 2), f32x4.mul(dot4(qo, kb + <usize>j * kvStride, kvStride, hd), f32x4.splat(scl)));
  }
  for (; j < n; j++) store<f32>(sc + (<usize>j << 2), dot(qo, kb + <usize>j * kvStride, hd) * scl);
}

/** scoreKeys for four heads (q interleaved in qt, scores at sc + i · BLOCK · 4), dot4's keys two by two. */
function scoreKeys4(qo: usize, hb: usize, qt: usize, kb: usize, kvStride: usize, hd: i32, n: i32, scl: f32, sc: usize): void {
  const n4 = n & ~3;
  for (let j = 0; j < n4; j += 2)
    scores4x2(qt, kb + <usize>j * kvStride, kvStride, hd, scl, sc + (<usize>j << 2), <usize>BLOCK << 2);
  for (let i = 0; i < HEADS; i++) {
    const si = sc + <usize>(i * BLOCK) * 4;
    for (let j = n4; j < n; j++) store<f32>(si + (<usize>j << 2), dot(qo + <usize>i * hb, kb + <usize>j * kvStride, hd) * scl);
  }
}

/**
 * One head's block of n scores at sc → their weights: the running maximum and sum at st and st + 4, with the
 * head's partial output at oo rescaled when the block raises the maximum. Returns NOTHING when there is nothing
 * to weigh yet (every score so far -inf or NaN), else SOME_ZERO or NO_ZERO (whether a weight is exactly 0).
 */
function blockWeights(oo: usize, hd: i32, n: i32, sc: usize, st: usize): i32 {
  let m = load<f32>(st);
  let l = load<f32>(st, 4);
  let bm: f32 = -Infinity;
  let j = 0;
  if (n >= 4) {
    let bv = v128.load(sc);
    for (j = 4; j + 4 <= n; j += 4) bv = f32x4.max(bv, v128.load(sc + (<usize>j << 2)));
    bm = max(max(f32x4.extract_lane(bv, 0), f32x4.extract_lane(bv, 1)), max(f32x4.extract_lane(bv, 2), f32x4.extract_lane(bv, 3)));
  }
  for (; j < n; j++) bm = max(bm, load<f32>(sc + (<usize>j << 2)));
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
  if (!(m > -Infinity)) return NOTHING;
  for (let j = n; j < ((n + 3) & ~3); j++) store<f32>(sc + (<usize>j << 2), -1e30);
  const mv = f32x4.splat(m);
  let lv = f32x4.splat(0);
  let zero = i32x4.splat(0);
  const whole = n & ~3;
  for (let j = 0; j < n; j += 4) {
    const p = sc + (<usize>j << 2);
    const d = f32x4.sub(v128.load(p), mv);
    const e = v128.andnot(expv(d), f32x4.lt(d, f32x4.splat(CUTOFF)));
    v128.store(p, e);
    lv = f32x4.add(lv, e);
    if (j < whole) zero = v128.or(zero, f32x4.eq(e, f32x4.splat(0)));
  }
  store<f32>(st, l + hsum(lv), 4);
  let some = v128.any_true(zero);
  for (let j = whole; j < n; j++) some = some || load<f32>(sc + (<usize>j << 2)) == 0;
  return some ? SOME_ZERO : NO_ZERO;
}

/**
 * One block of n keys for the c heads (q at qo + i · hb, output at oo + i · hb) of a chunk: scores (four heads
 * scored together when c is 4, their q interleaved in qt), then each head's weights, then the weighted values,
 * two heads at a time.
 */
function chunkBlock(
  qo: usize,
  oo: usize,
  hb: usize,
  c: i32,
  kb: usize,
  vb: usize,
  kvStride: usize,
  hd: i32,
  n: i32,
  scl: f32,
  scores: usize,
  state: usize,
  qt: usize,
): void {
  if (c == HEADS && (hd & 3) == 0) scoreKeys4(qo, hb, qt, kb, kvStride, hd, n, scl, scores);
  else for (let i = 0; i < c; i++) scoreKeys(qo + <usize>i * hb, kb, kvStride, hd, n, scl, scores + <usize>(i * BLOCK) * 4);
  let pending = -1; // a head whose weights wait for a partner
  let pendingZero = false;
  for (let i = 0; i < c; i++) {
    const sc = scores + <usize>(i * BLOCK) * 4;
    const found = blockWeights(oo + <usize>i * hb, hd, n, sc, state + (<usize>i << 3));
    if (found == NOTHING) continue;
    if ((hd & 15) != 0) weightedSum(oo + <usize>i * hb, sc, n, vb, kvStride, hd);
    else if (pending < 0) {
      pending = i;
      pendingZero = found == SOME_ZERO;
    } else {
      const sp = scores + <usize>(pending * BLOCK) * 4;
      const o0 = oo + <usize>pending * hb;
      const o1 = oo + <usize>i * hb;
      if (pendingZero || found == SOME_ZERO) weightedSum2(o0, o1, sp, sc, n, vb, kvStride, hd);
      else weightedSum2All(o0, o1, sp, sc, n, vb, kvStride, hd);
      pending = -1;
    }
  }
  if (pending >= 0) weightedSum(oo + <usize>pending * hb, scores + <usize>(pending * BLOCK) * 4, n, vb, kvStride, hd);
}

/**
 * q [T, nHeads, hd], k/v [S, nKvHeads, hd] → out [T, nHeads, hd] for heads [h0, h1). One pass over the keys
 * and values (online softmax, Milakov & Gimelshein 2018): blocks of BLOCK keys are scored, their maximum updates
 * the running maximum (rescaling the partial sums once per block), and their exps (vector exp) weight the values.
 * Up to HEADS query heads that share a key/value head go through each block together, so the block's keys and
 * values are read from memory once for them and from cache by the others (each head's arithmetic is the same as
 * alone). `scores` holds attentionScoreBytes(hd).
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
  const qt = state + 2 * HEADS * 4;
  for (let t = 0; t < T; t++) {
    const pos = queryPos + t;
    const last = min(S - 1, pos);
    const first = window > 0 ? max(0, pos - window + 1) : 0;
    for (let hc = h0; hc < h1; ) {
      const g = hc / group;
      const c = min(min(h1, (g + 1) * group) - hc, HEADS);
      const kh = <usize>g * hb;
      const row = <usize>(t * nHeads + hc) * hb;
      if (c == HEADS && (hd & 3) == 0) interleave4(q + row, hb, hd, qt);
      for (let i = 0; i < c; i++) {
        memory.fill(out + row + <usize>i * hb, 0, hb);
        store<f32>(state + (<usize>i << 3), -Infinity);
        store<f32>(state + (<usize>i << 3), 0, 4);
      }
      for (let j0 = first; j0 <= last; j0 += BLOCK) {
        const n = min(last + 1 - j0, BLOCK);
        const kb = k + <usize>j0 * kvStride + kh;
        const vb = v + <usize>j0 * kvStride + kh;
        chunkBlock(q + row, out + row, hb, c, kb, vb, kvStride, hd, n, scl, scores, state, qt);
      }
      for (let i = 0; i < c; i++) {
        const l = load<f32>(state + (<usize>i << 3), 4);
        scale(out + row + <usize>i * hb, l > 0 ? <f32>1 / l : 0, hd);
      }
      hc += c;
    }
  }
}

// Decode attention split by keys (flash-decoding): for one query, the keys are cut into ranges (tasks.ts picks
// them from the key count alone, so results do not depend on the threads); each range's partial softmax state is
// computed apart, block by block with every head of the unit, so that a block's keys and values (contiguous in
// the cache for all key/value heads) stream from memory once and serve all of them from cache; then the ranges
// are merged in order.

/**
 * Bytes of one key range's partial results for nHeads heads of hd dims: each head's running max and sum, then
 * each head's unnormalised output.
 */
export function attentionRangeBytes(nHeads: i32, hd: i32): i32 {
  return nHeads * (8 + hd * 4);
}

/**
 * One query (T = 1) against keys [j0, j1) for heads [h0, h1) into the partial results at part
 * (attentionRangeBytes' layout): blocks of keys in order and, in each block, every chunk of up to HEADS heads
 * that share a key/value head (chunkBlock, as attention() does for one chunk). `scores` holds
 * attentionScoreBytes(hd).
 */
export function attentionKeys(
  q: usize,
  k: usize,
  v: usize,
  nHeads: i32,
  nKvHeads: i32,
  hd: i32,
  scl: f32,
  scores: usize,
  part: usize,
  h0: i32,
  h1: i32,
  j0: i32,
  j1: i32,
): void {
  const group = nHeads / nKvHeads;
  const kvStride = <usize>(nKvHeads * hd) << 2;
  const hb = <usize>hd << 2;
  const qt = scores + <usize>(HEADS * BLOCK) * 4 + 2 * HEADS * 4;
  const acc = part + (<usize>nHeads << 3);
  for (let h = h0; h < h1; h++) {
    memory.fill(acc + <usize>h * hb, 0, hb);
    store<f32>(part + (<usize>h << 3), -Infinity);
    store<f32>(part + (<usize>h << 3), 0, 4);
  }
  const g0 = h0 / group;
  const gb = <usize>((h1 - 1) / group + 1 - g0) * hb; // bytes of a key row the unit reads
  let touched = 0;
  for (let jb = j0; jb < j1; jb += BLOCK) {
    const n = min(j1 - jb, BLOCK);
    const nn = min(j1 - jb - BLOCK, BLOCK);
    if (nn > 0) {
      const o = <usize>(jb + BLOCK) * kvStride + <usize>g0 * hb;
      touched |= touch(k + o, v + o, kvStride, nn, gb);
    }
    for (let hc = h0; hc < h1; ) {
      const g = hc / group;
      const c = min(min(h1, (g + 1) * group) - hc, HEADS);
      const row = <usize>hc * hb;
      if (c == HEADS && (hd & 3) == 0) interleave4(q + row, hb, hd, qt);
      const kb = k + <usize>jb * kvStride + <usize>g * hb;
      const vb = v + <usize>jb * kvStride + <usize>g * hb;
      chunkBlock(q + row, acc + row, hb, c, kb, vb, kvStride, hd, n, scl, scores, part + (<usize>hc << 3), qt);
      hc += c;
    }
  }
  store<i32>(scores, touched); // keeps the reads
}

/** Reads a word of every 64-byte line of n keys' and values' rows (hb bytes each) so that they are on their way. */
function touch(kb: usize, vb: usize, stride: usize, n: i32, hb: usize): i32 {
  let t = 0;
  for (let j = 0; j < n; j++, kb += stride, vb += stride)
    for (let o: usize = 0; o < hb; o += 64) t |= load<i32>(kb + o) | load<i32>(vb + o);
  return t;
}

/** o[0..n) += c · a[0..n). */
function addScaled(o: usize, a: usize, c: f32, n: i32): void {
  const cv = f32x4.splat(c);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = <usize>i << 2;
    v128.store(o + p, f32x4.add(v128.load(o + p), f32x4.mul(v128.load(a + p), cv)));
  }
  for (; i < n; i++) store<f32>(o + (<usize>i << 2), load<f32>(o + (<usize>i << 2)) + load<f32>(a + (<usize>i << 2)) * c);
}

/**
 * Every head of out [nHeads, hd] from the nr key ranges' partial results at parts: each range's sums scaled by
 * e^(its max − the largest), with attention()'s cutoff, added in range order, then divided by the total weight.
 */
function attentionMerge(out: usize, parts: usize, nr: i32, nHeads: i32, hd: i32): void {
  const hb = <usize>hd << 2;
  const rb = <usize>attentionRangeBytes(nHeads, hd);
  for (let h = 0; h < nHeads; h++) {
    const o = out + <usize>h * hb;
    memory.fill(o, 0, hb);
    let mx: f32 = -Infinity;
    for (let r = 0; r < nr; r++) mx = max(mx, load<f32>(parts + <usize>r * rb + (<usize>h << 3)));
    let l: f32 = 0;
    if (mx > -Infinity) {
      for (let r = 0; r < nr; r++) {
        const st = parts + <usize>r * rb + (<usize>h << 3);
        const d = load<f32>(st) - mx;
        if (!(d >= CUTOFF)) continue; // -inf or NaN: nothing weighed; below the cutoff: weighs 0
        const c = Mathf.exp(d);
        l += load<f32>(st, 4) * c;
        addScaled(o, parts + <usize>r * rb + (<usize>nHeads << 3) + <usize>h * hb, c, hd);
      }
    }
    scale(o, l > 0 ? <f32>1 / l : 0, hd);
  }
}

/**
 * Adds the `done` units a thread finished to the counter at `counter` (zeroed before the attention); the thread
 * whose units complete all `total` merges the nr ranges' results into out (attentionMerge).
 */
export function attentionFinish(counter: usize, done: i32, total: i32, out: usize, parts: usize, nr: i32, nHeads: i32, hd: i32): void {
  if (done > 0 && atomic.add<i32>(counter, done) + done == total) attentionMerge(out, parts, nr, nHeads, hd);
}
