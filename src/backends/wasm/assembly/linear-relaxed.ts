// Q8_0 (M = 1) and Q4_0 linear on quantized activations with relaxed SIMD (compiled into the relaxed module only,
// chosen by relaxedPath in linear.ts): i16x8.relaxed_dot_i8x16_i7x16_s (x86: one pmaddubsw) multiplies signed
// bytes by bytes in [0, 127], where every implementation gives the same exact pair sums.
// Q8_0: the signed weight bytes against x⁺ = max(q, 0) and x⁻ = max(−q, 0) of the activations; per pair
// (w·x⁺) − (w·x⁻) = w·q, exact in int16 (|w·q| pair sums ≤ 2·128·127). Q4_0: the signed activations against
// the unsigned nibbles (0..15), minus 8·Σq. The integer sums are exact and scaled and added in the order the
// baseline module uses (linear.ts), so both modules give the same bits, however threads split the product.

import { tabHalf } from "./half";
import { fourSums, pairAcc, pairScales, tailScales, tailSums, twoBlocks32 } from "./pair-scales";
import { absMax32, hsumI32, invScale, roundScaled } from "./xquant";

const DT_Q8_0: i32 = 2;
const DT_Q4_0: i32 = 3;

/** Bytes of one quantized block of 32 for Q8_0 weights: x⁺ (32 bytes) then x⁻ (32), element i at byte i. */
const QBLOCK8: usize = 64;
/** For Q4_0 weights: the 32 signed q. */
const QBLOCK4: usize = 32;

@inline
function qblock(dtype: i32): usize {
  return dtype == DT_Q8_0 ? QBLOCK8 : QBLOCK4;
}

/** Bytes of one (group, block) of the grouped copy (Q4_0, M > 1): four rows × 32, then 16 of scales, 16 of sums. */
const GROUP_BLOCK: usize = 4 * QBLOCK4 + 32;

/** x rows per chunk when M > 1: the chunk stays in cache while every weight row passes over it. */
const CHUNK: i32 = 16;

/**
 * Bytes of one pair of quantized blocks k, k + 1 (k even): their two blocks, then d_x(k), d_x(k + 1) (f32), then
 * (Q4_0) 8·Σq(k), 8·Σq(k + 1) (i32). A row is its pairs, the last one half used when K / 32 is odd; one pointer
 * then reaches all a pair's data at constant offsets.
 */
@inline
function pairBytes(dtype: i32): usize {
  return 2 * qblock(dtype) + (dtype == DT_Q8_0 ? 8 : 16);
}

/** Offsets in a Q4_0 pair of its two d_x and its two 8·Σq, and in a Q8_0 pair of its two d_x. */
const PAIR4_SCALES: usize = 2 * QBLOCK4;
const PAIR4_SUMS: usize = PAIR4_SCALES + 8;
const PAIR8_SCALES: usize = 2 * QBLOCK8;

/** Bytes of one quantized activation row: (K / 32 + 1) / 2 pairs of blocks. */
function quantRowBytesR(K: i32, dtype: i32): usize {
  return <usize>((K >> 5) + 1 >> 1) * pairBytes(dtype);
}

/** Offset in a quantized row of block b's q. */
@inline
function blockAt(b: i32, dtype: i32): usize {
  return <usize>(b >> 1) * pairBytes(dtype) + <usize>(b & 1) * qblock(dtype);
}

/** Offset in a quantized row of block b's d_x (its 8·Σq, Q4_0, lies 8 bytes on). */
@inline
function scaleAt(b: i32, dtype: i32): usize {
  return <usize>(b >> 1) * pairBytes(dtype) + 2 * qblock(dtype) + (<usize>(b & 1) << 2);
}

/** As quantBytes (linear.ts): the M rows, then (M > 1) every group of four rows block by block. */
export function quantBytesR(M: i32, K: i32, dtype: i32): usize {
  const rows = <usize>M * quantRowBytesR(K, dtype);
  return M > 1 ? rows + <usize>((M + 3) >> 2) * <usize>(K >> 5) * GROUP_BLOCK : rows;
}

/** As quantizeRows (linear.ts), into the int8 layout for `dtype`; returns 0 when some x is infinite or NaN. */
export function quantizeRowsR(x: usize, M: i32, K: i32, out: usize, dtype: i32): i32 {
  let finite = true;
  const nb = K >> 5;
  const rb = quantRowBytesR(K, dtype);
  for (let m = 0; m < M; m++) {
    const q = out + <usize>m * rb;
    let xb = x + <usize>m * (<usize>K << 2);
    for (let b = 0; b < nb; b++, xb += 128) {
      const amax = absMax32(xb);
      finite = finite && amax < Infinity; // false for +inf and NaN
      const d: f32 = amax / 127;
      const id = invScale(d);
      const qb = q + blockAt(b, dtype);
      let sum = i32x4.splat(0);
      for (let j = 0; j < 2; j++) {
        const o = <usize>j << 6; // 16 values: [16j, 16j + 16)
        const i0 = roundScaled(v128.load(xb + o), id);
        const i1 = roundScaled(v128.load(xb + o, 16), id);
        const i2 = roundScaled(v128.load(xb + o, 32), id);
        const i3 = roundScaled(v128.load(xb + o, 48), id);
        sum = i32x4.add(sum, i32x4.add(i32x4.add(i0, i1), i32x4.add(i2, i3)));
        const v = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(i0, i1), i16x8.narrow_i32x4_s(i2, i3));
        const s = qb + (<usize>j << 4);
        if (dtype == DT_Q8_0) {
          v128.store(s, i8x16.max_s(v, i8x16.splat(0)));
          v128.store(s, i8x16.max_s(i8x16.neg(v), i8x16.splat(0)), 32);
        } else v128.store(s, v);
      }
      store<f32>(q + scaleAt(b, dtype), d);
      if (dtype == DT_Q4_0) store<i32>(q + scaleAt(b, dtype) + 8, 8 * hsumI32(sum)); // Q8_0 pairs have no sums
    }
  }
  if (M > 1 && dtype == DT_Q4_0) {
    const t = out + <usize>M * rb;
    for (let g = 0; g < (M + 3) >> 2; g++) {
      for (let r = 0; r < 4; r++) {
        const q = out + <usize>min(4 * g + r, M - 1) * rb;
        let tg = t + <usize>g * <usize>nb * GROUP_BLOCK;
        for (let b = 0; b < nb; b++, tg += GROUP_BLOCK) {
          const src = q + blockAt(b, dtype);
          const sc = q + scaleAt(b, dtype);
          v128.store(tg + <usize>r * QBLOCK4, v128.load(src));
          v128.store(tg + <usize>r * QBLOCK4, v128.load(src, 16), 16);
          store<f32>(tg + 4 * QBLOCK4 + (<usize>r << 2), load<f32>(sc));
          store<i32>(tg + 4 * QBLOCK4 + 16 + (<usize>r << 2), load<i32>(sc, 8));
        }
      }
    }
  }
  return finite ? 1 : 0;
}

/** Σ of 32 weight bytes (lo, hi) · the q of the quantized block (x⁺, x⁻) at xb, as an i32x4 of partial sums. */
@inline
function q8Dot(lo: v128, hi: v128, xb: usize, ones: v128): v128 {
  const dl = i16x8.sub(
    i16x8.relaxed_dot_i8x16_i7x16_s(lo, v128.load(xb)),
    i16x8.relaxed_dot_i8x16_i7x16_s(lo, v128.load(xb, 32)),
  );
  const dh = i16x8.sub(
    i16x8.relaxed_dot_i8x16_i7x16_s(hi, v128.load(xb, 16)),
    i16x8.relaxed_dot_i8x16_i7x16_s(hi, v128.load(xb, 48)),
  );
  return i32x4.add(i32x4.dot_i16x8_s(dl, ones), i32x4.dot_i16x8_s(dh, ones));
}

/** Σ of 32 nibbles (lo = elements 0..15, hi = 16..31, each 0..15) · the q of the block at xb (i32x4 partials). */
@inline
function q4Dot(lo: v128, hi: v128, xb: usize, ones: v128): v128 {
  const d = i16x8.add(
    i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xb), lo),
    i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xb, 16), hi),
  );
  return i32x4.dot_i16x8_s(d, ones);
}

/** Horizontal sums of four i32x4 → one i32x4 [Σs0, Σs1, Σs2, Σs3]. */
@inline
function hsum4(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  const u = i32x4.add(i32x4.shuffle(s0, s1, 0, 4, 1, 5), i32x4.shuffle(s0, s1, 2, 6, 3, 7));
  const w = i32x4.add(i32x4.shuffle(s2, s3, 0, 4, 1, 5), i32x4.shuffle(s2, s3, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(u, w, 0, 1, 4, 5), i32x4.shuffle(u, w, 2, 3, 6, 7));
}

/** The i16x8 pair sums of one Q4_0 block's nibbles q with x0 = q[0..16), x1 = q[16..32) of its x block. */
@inline
function q4Pairs(q: v128, x0: v128, x1: v128, m: v128): v128 {
  return i16x8.add(
    i16x8.relaxed_dot_i8x16_i7x16_s(x0, v128.and(q, m)),
    i16x8.relaxed_dot_i8x16_i7x16_s(x1, v128.and(i16x8.shr_u(q, 4), m)),
  );
}

/**
 * Blocks k, k + 1 of one weight row (int16 pair sums d0, d1) → two partial int32 sums of block k, then two of
 * k + 1 (as twoBlocks32): the 64-bit halves of each added in int16 (|lane| ≤ 4·15·127), then pairs in int32.
 */
@inline
function twoBlocks(d0: v128, d1: v128): v128 {
  return i32x4.extadd_pairwise_i16x8_s(i16x8.add(i32x4.shuffle(d0, d1, 0, 1, 4, 5), i32x4.shuffle(d0, d1, 2, 3, 6, 7)));
}

/**
 * Q4_0 weight rows w and w + d · x (+ ba, bb) into out and out + os (d = 0, os = 0: one row), two blocks at a
 * time: the integer dots of both rows go into one vector, converted and scaled as pair-scales.ts says (the
 * baseline module sums the same way). The loop keeps every vector in a register (V8 loads a loop body's vectors
 * first): the pair sums widen through extadd_pairwise (whose constant V8 reads from memory) rather than a dot
 * with a register of ones, which left the accumulator spilled, and x is walked one pointer a pair (pairBytes),
 * which V8 otherwise recomputed from k each pass and kept spilled (82 → 75 instructions a pass in V8's code;
 * one thread, 5632 × 2048 rows from cache, 0.573 → 0.535 ms). The rows lie far apart, as for dotRowsQ8.
 */
function dotRowsQ4(w: usize, d: usize, xq: usize, nb: i32, ba: f32, bb: f32, out: usize, os: usize): void {
  const m = i8x16.splat(0x0f);
  let acc = f32x4.splat(0);
  const PB = pairBytes(DT_Q4_0);
  let xb = xq;
  const end = xq + <usize>(nb >> 1) * PB;
  for (; xb < end; xb += PB, w += 36) {
    const x0 = v128.load(xb);
    const x1 = v128.load(xb, 16);
    const x2 = v128.load(xb, 32);
    const x3 = v128.load(xb, 48);
    const wb = w + d;
    const pa = twoBlocks(q4Pairs(v128.load(w, 2), x0, x1, m), q4Pairs(v128.load(w, 20), x2, x3, m));
    const pb = twoBlocks(q4Pairs(v128.load(wb, 2), x0, x1, m), q4Pairs(v128.load(wb, 20), x2, x3, m));
    const s = i32x4.sub(fourSums(pa, pb), v128.load64_splat(xb, PAIR4_SUMS));
    acc = pairAcc(acc, s, pairScales(w, wb, 18, v128.load64_splat(xb, PAIR4_SCALES)));
  }
  if (nb & 1) {
    const z = i16x8.splat(0);
    const pa = twoBlocks(q4Pairs(v128.load(w, 2), v128.load(xb), v128.load(xb, 16), m), z);
    const pb = twoBlocks(q4Pairs(v128.load(w + d, 2), v128.load(xb), v128.load(xb, 16), m), z);
    const s = i32x4.sub(fourSums(pa, pb), tailSums(xb + PAIR4_SUMS));
    acc = pairAcc(acc, s, tailScales(w, w + d, xb + PAIR4_SCALES));
  }
  store<f32>(out, f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + ba);
  store<f32>(out + os, f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3) + bb);
}

/**
 * Q8_0 weight rows w and w + d · x (+ ba, bb) into out and out + os (d = 0, os = 0: one row), two blocks at a time
 * as dotRowsQ4, sharing the loads of x. The rows must lie far apart: two neighbouring rows read side by side
 * stream from memory at about half speed here, while rows 64 apart read 7–15% faster than one row at a time (two
 * threads, 140 MB of Q8_0).
 */
function dotRowsQ8(w: usize, d: usize, xq: usize, nb: i32, ba: f32, bb: f32, out: usize, os: usize): void {
  const ones = i16x8.splat(1);
  let acc = f32x4.splat(0);
  const PB = pairBytes(DT_Q8_0);
  let xb = xq;
  const end = xq + <usize>(nb >> 1) * PB;
  for (; xb < end; xb += PB, w += 68) {
    const pa = twoBlocks32(
      q8Dot(v128.load(w, 2), v128.load(w, 18), xb, ones),
      q8Dot(v128.load(w, 36), v128.load(w, 52), xb + QBLOCK8, ones),
    );
    const pb = twoBlocks32(
      q8Dot(v128.load(w + d, 2), v128.load(w + d, 18), xb, ones),
      q8Dot(v128.load(w + d, 36), v128.load(w + d, 52), xb + QBLOCK8, ones),
    );
    acc = pairAcc(acc, fourSums(pa, pb), pairScales(w, w + d, 34, v128.load64_splat(xb, PAIR8_SCALES)));
  }
  if (nb & 1) {
    const z = i32x4.splat(0);
    const pa = twoBlocks32(q8Dot(v128.load(w, 2), v128.load(w, 18), xb, ones), z);
    const pb = twoBlocks32(q8Dot(v128.load(w + d, 2), v128.load(w + d, 18), xb, ones), z);
    acc = pairAcc(acc, fourSums(pa, pb), tailScales(w, w + d, xb + PAIR8_SCALES));
  }
  store<f32>(out, f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + ba);
  store<f32>(out + os, f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3) + bb);
}

/** Rows apart that dotRowsQ8 and dotRowsQ4 pair (within spans of twice as many). */
const PAIR_SPAN: i32 = 64;

/** Stores lanes of v (+ b) to out + r · os for the rows r < n of a group. */
@inline
function storeLanes(v: v128, b: f32, out: usize, os: usize, n: i32): void {
  store<f32>(out, f32x4.extract_lane(v, 0) + b);
  if (n > 1) store<f32>(out + os, f32x4.extract_lane(v, 1) + b);
  if (n > 2) store<f32>(out + 2 * os, f32x4.extract_lane(v, 2) + b);
  if (n > 3) store<f32>(out + 3 * os, f32x4.extract_lane(v, 3) + b);
}

/** One group's four Q4_0 block sums (nibbles lo, hi) less 8·Σq, scaled by d_w · d_x and added to acc. */
@inline
function groupBlock(lo: v128, hi: v128, g: usize, dw: v128, ones: v128, acc: v128): v128 {
  let s = hsum4(
    q4Dot(lo, hi, g, ones),
    q4Dot(lo, hi, g + QBLOCK4, ones),
    q4Dot(lo, hi, g + 2 * QBLOCK4, ones),
    q4Dot(lo, hi, g + 3 * QBLOCK4, ones),
  );
  s = i32x4.sub(s, v128.load(g, 4 * QBLOCK4 + 16));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), f32x4.mul(v128.load(g, 4 * QBLOCK4), dw)));
}

/**
 * One Q4_0 weight row · the quantized x rows of groups g0 and g0 + 1 (two = false: g0 alone), each weight block
 * split into nibbles once for all of them. Inlined into one copy per value of two.
 */
@inline
function groupDots(
  w: usize,
  g0: usize,
  g1: usize,
  nb: i32,
  two: bool,
  b: f32,
  out: usize,
  os: usize,
  n0: i32,
  n1: i32,
): void {
  const ones = i16x8.splat(1);
  const m = i8x16.splat(0x0f);
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  for (let k = 0; k < nb; k++, w += 18, g0 += GROUP_BLOCK, g1 += GROUP_BLOCK) {
    const q = v128.load(w, 2);
    const lo = v128.and(q, m);
    const hi = v128.and(i16x8.shr_u(q, 4), m);
    const dw = f32x4.splat(tabHalf(load<u16>(w)));
    a0 = groupBlock(lo, hi, g0, dw, ones, a0);
    if (two) a1 = groupBlock(lo, hi, g1, dw, ones, a1);
  }
  storeLanes(a0, b, out, os, n0);
  if (two) storeLanes(a1, b, out + 4 * os, os, n1);
}

function groupDotsQ4x8(w: usize, g0: usize, g1: usize, nb: i32, b: f32, out: usize, os: usize, n0: i32, n1: i32): void {
  groupDots(w, g0, g1, nb, true, b, out, os, n0, n1);
}

function groupDotsQ4x4(w: usize, g0: usize, nb: i32, b: f32, out: usize, os: usize, n0: i32): void {
  groupDots(w, g0, g0, nb, false, b, out, os, n0, 0);
}

/**
 * Rows [m0, m1) x columns [n0, n1) of out[M, N] for Q8_0 (dtype 2; M = 1 only) or Q4_0 (3) weights of rb bytes
 * a row and x quantized by quantizeRowsR; bias 0 = none. M = 1 dots one weight row at a time, M > 1 (Q4_0) one
 * weight row against eight x rows (two groups; m0 is a multiple of 4).
 */
export function linearQuantR(
  dtype: i32,
  xq: usize,
  M: i32,
  K: i32,
  w: usize,
  rb: usize,
  N: i32,
  bias: usize,
  out: usize,
  m0: i32,
  m1: i32,
  n0: i32,
  n1: i32,
): void {
  const nb = K >> 5;
  const q8 = dtype == DT_Q8_0;
  if (M == 1) {
    // spans of 2·PAIR_SPAN rows (the last one shorter): row n of a span's first half with row n + half
    for (let s0 = n0; s0 < n1; s0 += 2 * PAIR_SPAN) {
      const half = min(PAIR_SPAN, (n1 - s0) >> 1);
      for (let n = s0; n < s0 + half; n++) {
        const ba: f32 = bias ? load<f32>(bias + (<usize>n << 2)) : 0;
        const bb: f32 = bias ? load<f32>(bias + (<usize>(n + half) << 2)) : 0;
        const wr = w + <usize>n * rb;
        const o = out + (<usize>n << 2);
        if (q8) dotRowsQ8(wr, <usize>half * rb, xq, nb, ba, bb, o, <usize>half << 2);
        else dotRowsQ4(wr, <usize>half * rb, xq, nb, ba, bb, o, <usize>half << 2);
      }
      if (s0 + 2 * half < min(n1, s0 + 2 * PAIR_SPAN)) {
        const n = s0 + 2 * half; // the odd row left in a short span, dotted twice into the same place
        const b: f32 = bias ? load<f32>(bias + (<usize>n << 2)) : 0;
        const wr = w + <usize>n * rb;
        if (q8) dotRowsQ8(wr, 0, xq, nb, b, b, out + (<usize>n << 2), 0);
        else dotRowsQ4(wr, 0, xq, nb, b, b, out + (<usize>n << 2), 0);
      }
    }
    return;
  }
  const os = <usize>N << 2;
  const grouped = xq + <usize>M * quantRowBytesR(K, dtype);
  const gs = <usize>nb * GROUP_BLOCK;
  for (let c0 = m0; c0 < m1; c0 += CHUNK) {
    const c1 = min(m1, c0 + CHUNK);
    for (let n = n0; n < n1; n++) {
      const wr = w + <usize>n * rb;
      const b: f32 = bias ? load<f32>(bias + (<usize>n << 2)) : 0;
      for (let m = c0; m < c1; m += 8) {
        const g0 = grouped + <usize>(m >> 2) * gs;
        const o = out + ((<usize>m * N + n) << 2);
        const r0 = min(4, c1 - m);
        if (m + 4 < c1) groupDotsQ4x8(wr, g0, g0 + gs, nb, b, o, os, r0, min(4, c1 - m - 4));
        else groupDotsQ4x4(wr, g0, nb, b, o, os, r0);
      }
    }
  }
}
