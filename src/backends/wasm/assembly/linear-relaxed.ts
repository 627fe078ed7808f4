// Q8_0 (M = 1) and Q4_0 linear on quantized activations with relaxed SIMD (compiled into the relaxed module only,
// chosen by relaxedPath in linear.ts): i16x8.relaxed_dot_i8x16_i7x16_s (x86: one pmaddubsw) multiplies signed
// bytes by bytes in [0, 127], where every implementation gives the same exact pair sums.
// Q8_0: the weight bytes with their sign flipped (w XOR s, s = 0xFF where q < 0: ~w = −w − 1) against |q|; per
// block Σ (w XOR s)·|q| = Σ w·q − Σ_{q<0} |q|, exact in int16 pair sums (≤ 2·128·127), so w·q is that plus the
// block's c = Σ_{q<0} |q|, stored with it. Q4_0: the signed activations against the unsigned nibbles (0..15),
// minus 8·Σq. The integer sums are exact and scaled and added in the order the baseline module uses (linear.ts),
// so both modules give the same bits, however threads split the product. Q4_K/Q6_K prompts (M > 1) run the Q4_0
// grouped kernel's shape on x with one dx a block of 256 (llama.cpp's Q8_K rounding), their own sums.

import { f16Table, tabHalf } from "./half";
import { fourSums, pairAcc, pairScales, tailScales, tailSums, twoBlocks32 } from "./pair-scales";
import { absMax32, hsumI32, invScale, roundScaled } from "./xquant";
import { q4kScaleBytes } from "./kquant-rows";

const DT_Q8_0: i32 = 2;
const DT_Q4_0: i32 = 3;
const DT_Q4_K: i32 = 4;
const DT_Q6_K: i32 = 5;

/**
 * Bytes of one quantized block of 32 for Q8_0 weights: |q| (32 bytes), then s (32: 0xFF where q < 0, else 0),
 * element i at byte i, then d_x (f32) and c = Σ_{q<0} |q| (i32). A row is its blocks one after another.
 */
const BLOCK8: usize = 72;
/** Offsets in a Q8_0 block of its sign bytes, d_x and c. */
const BLOCK8_SIGNS: usize = 32;
const BLOCK8_SCALE: usize = 64;
const BLOCK8_SUM: usize = 68;
/** For Q4_0 weights: the 32 signed q. */
const QBLOCK4: usize = 32;

/** Bytes of one (group, block) of the grouped copy (Q4_0, M > 1): four rows × 32, then 16 of scales, 16 of sums. */
const GROUP_BLOCK: usize = 4 * QBLOCK4 + 32;

/**
 * x rows per chunk when M > 1: the chunk stays in cache while every weight row passes over it (a 32-token prompt
 * then reads each weight row once: 1.1B Q4_K prefill on two threads 36–39 → 43–46 tok/s against 16).
 */
const CHUNK: i32 = 32;

/**
 * Bytes of one pair of quantized Q4_0 blocks k, k + 1 (k even): their two blocks, then d_x(k), d_x(k + 1) (f32),
 * then 8·Σq(k), 8·Σq(k + 1) (i32). A Q4_0 row is its pairs, the last one half used when K / 32 is odd; one
 * pointer then reaches all a pair's data at constant offsets.
 */
const PAIR4: usize = 2 * QBLOCK4 + 16;

/** Offsets in a Q4_0 pair of its two d_x and its two 8·Σq. */
const PAIR4_SCALES: usize = 2 * QBLOCK4;
const PAIR4_SUMS: usize = PAIR4_SCALES + 8;

/** Bytes of one quantized activation row: K / 32 Q8_0 blocks, or (K / 32 + 1) / 2 pairs of Q4_0 blocks. */
function quantRowBytesR(K: i32, dtype: i32): usize {
  return dtype == DT_Q8_0 ? <usize>(K >> 5) * BLOCK8 : <usize>((K >> 5) + 1 >> 1) * PAIR4;
}

/** Offset in a quantized row of block b's q (Q8_0: its |q|). */
@inline
function blockAt(b: i32, dtype: i32): usize {
  return dtype == DT_Q8_0 ? <usize>b * BLOCK8 : <usize>(b >> 1) * PAIR4 + <usize>(b & 1) * QBLOCK4;
}

/** Offset in a quantized row of block b's d_x (its c, Q8_0, lies 4 bytes on; its 8·Σq, Q4_0, 8 bytes on). */
@inline
function scaleAt(b: i32, dtype: i32): usize {
  return dtype == DT_Q8_0 ? <usize>b * BLOCK8 + BLOCK8_SCALE : <usize>(b >> 1) * PAIR4 + PAIR4_SCALES + (<usize>(b & 1) << 2);
}

/** As quantBytes (linear.ts): the M rows, then (M > 1) every group of four rows block by block. */
export function quantBytesR(M: i32, K: i32, dtype: i32): usize {
  const rows = <usize>M * quantRowBytesR(K, dtype);
  if (M == 1) return rows;
  const groups = <usize>((M + 3) >> 2) * <usize>(K >> 5);
  return rows + groups * (GROUP_BLOCK + (dtype == DT_Q6_K ? HALF_SUMS : 0));
}

/**
 * Bytes of one (group, block) of the half sums that Q6_K's grouped copy adds after the groups: Σq of the first
 * and of the last 16 values of the block, for each of the four rows (i32), as two vectors.
 */
const HALF_SUMS: usize = 32;

/**
 * As quantizeRows (linear.ts), into the int8 layout for `dtype` (Q4_K/Q6_K: Q4_0's, with one dx a block of 256
 * stored with each of its blocks of 32, and Σq rather than 8·Σq); returns 0 when some x is infinite or NaN.
 */
export function quantizeRowsR(x: usize, M: i32, K: i32, out: usize, dtype: i32): i32 {
  let finite = true;
  const kq = dtype == DT_Q4_K || dtype == DT_Q6_K; // one dx a block of 256 (K a multiple of 256)
  const nb = K >> 5;
  const rb = quantRowBytesR(K, dtype);
  for (let m = 0; m < M; m++) {
    const q = out + <usize>m * rb;
    let xb = x + <usize>m * (<usize>K << 2);
    let d: f32 = 0;
    let id = f32x4.splat(0);
    for (let b = 0; b < nb; b++, xb += 128) {
      if (!kq || (b & 7) == 0) {
        let amax = absMax32(xb);
        if (kq) for (let j = 1; j < 8; j++) amax = max(amax, absMax32(xb + (<usize>j << 7)));
        finite = finite && amax < Infinity; // false for +inf and NaN
        d = amax / 127;
        id = invScale(d);
      }
      const qb = q + blockAt(b, dtype);
      let sum = i32x4.splat(0);
      let mag = i32x4.splat(0);
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
          // |q| ≤ 127 (x / d rounds into [-127, 127]) and its sign mask
          mag = i32x4.add(mag, i32x4.add(i32x4.add(i32x4.abs(i0), i32x4.abs(i1)), i32x4.add(i32x4.abs(i2), i32x4.abs(i3))));
          v128.store(s, i8x16.abs(v));
          v128.store(s, i8x16.lt_s(v, i8x16.splat(0)), BLOCK8_SIGNS);
        } else v128.store(s, v);
      }
      store<f32>(q + scaleAt(b, dtype), d);
      // Q8_0: c = Σ_{q<0} |q| = (Σ|q| − Σq) / 2; Q4_0: 8·Σq; Q4_K: Σq (Q6_K: unused)
      if (dtype == DT_Q8_0) store<i32>(q + scaleAt(b, dtype) + 4, (hsumI32(mag) - hsumI32(sum)) >> 1);
      else store<i32>(q + scaleAt(b, dtype) + 8, kq ? hsumI32(sum) : 8 * hsumI32(sum));
    }
  }
  if (M > 1 && dtype != DT_Q8_0) {
    const t = out + <usize>M * rb;
    const halves = t + <usize>((M + 3) >> 2) * <usize>nb * GROUP_BLOCK; // Q6_K: the half sums
    const q6k = dtype == DT_Q6_K;
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
          if (q6k) {
            const h = halves + (<usize>g * <usize>nb + <usize>b) * HALF_SUMS + (<usize>r << 2);
            store<i32>(h, hsumI32(i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v128.load(src)))));
            store<i32>(h, hsumI32(i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v128.load(src, 16)))), 16);
          }
        }
      }
    }
  }
  return finite ? 1 : 0;
}

/**
 * 32 nibbles (lo = elements 0..15, hi = 16..31, each 0..15) · the q of the block at xb, as int16 partial sums of
 * four products each (|lane| ≤ 4·15·127).
 */
@inline
function q4Dot16(lo: v128, hi: v128, xb: usize): v128 {
  return i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xb), lo), i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xb, 16), hi));
}

/**
 * Four q4Dot16 results → [Σs0, Σs1, Σs2, Σs3] (i32): lanes added in int16 up to 16 products (|lane| ≤ 30480),
 * then one widening pair sum, instead of widening each row (one multiply where there were four).
 */
@inline
function hsum4w(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  const u = i16x8.add(i32x4.shuffle(s0, s1, 0, 4, 1, 5), i32x4.shuffle(s0, s1, 2, 6, 3, 7));
  const v = i16x8.add(i32x4.shuffle(s2, s3, 0, 4, 1, 5), i32x4.shuffle(s2, s3, 2, 6, 3, 7));
  return i32x4.extadd_pairwise_i16x8_s(i16x8.add(i64x2.shuffle(u, v, 0, 2), i64x2.shuffle(u, v, 1, 3)));
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
  const PB = PAIR4;
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

/** One Q8_0 weight row's block at w · the quantized x block (|q| lo, hi; signs lo, hi) → i32x4 of partial sums. */
@inline
function q8Row(w: usize, al: v128, ah: v128, sl: v128, sh: v128, ones: v128): v128 {
  const dl = i16x8.relaxed_dot_i8x16_i7x16_s(v128.xor(v128.load(w, 2), sl), al);
  const dh = i16x8.relaxed_dot_i8x16_i7x16_s(v128.xor(v128.load(w, 18), sh), ah);
  return i32x4.add(i32x4.dot_i16x8_s(dl, ones), i32x4.dot_i16x8_s(dh, ones));
}

/**
 * Four Q8_0 weight rows w0..w3 · x (+ b0..b3) into o0..o3, one block of the four at a time: the four rows' exact
 * integer dots (plus c) in the lanes of one vector, converted, scaled by d_w · d_x and added lane by lane, so
 * each row sums its blocks in order (as the baseline module's dotQ8Seq). A block of x (four vectors) serves the
 * four rows; rows and outputs may repeat (a short group). The rows must lie far apart (see linearQuantR): one
 * stream per row, and rows side by side read from memory at about half speed here.
 */
function dotRowsQ8x4(
  w0: usize,
  w1: usize,
  w2: usize,
  w3: usize,
  xq: usize,
  nb: i32,
  b: v128,
  o0: usize,
  o1: usize,
  o2: usize,
  o3: usize,
): void {
  const ones = i16x8.splat(1);
  let acc = f32x4.splat(0);
  const end = xq + <usize>nb * BLOCK8;
  for (let xb = xq; xb < end; xb += BLOCK8, w0 += 34, w1 += 34, w2 += 34, w3 += 34) {
    const al = v128.load(xb);
    const ah = v128.load(xb, 16);
    const sl = v128.load(xb, BLOCK8_SIGNS);
    const sh = v128.load(xb, BLOCK8_SIGNS + 16);
    const s = i32x4.add(
      hsum4(q8Row(w0, al, ah, sl, sh, ones), q8Row(w1, al, ah, sl, sh, ones), q8Row(w2, al, ah, sl, sh, ones), q8Row(w3, al, ah, sl, sh, ones)),
      v128.load32_splat(xb, BLOCK8_SUM),
    );
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), f32x4.mul(fourScales(w0, w1, w2, w3), v128.load32_splat(xb, BLOCK8_SCALE))));
  }
  acc = f32x4.add(acc, b);
  store<f32>(o0, f32x4.extract_lane(acc, 0));
  store<f32>(o1, f32x4.extract_lane(acc, 1));
  store<f32>(o2, f32x4.extract_lane(acc, 2));
  store<f32>(o3, f32x4.extract_lane(acc, 3));
}

/** The f16 scales (first two bytes) of four blocks, as f32x4. */
@inline
function fourScales(w0: usize, w1: usize, w2: usize, w3: usize): v128 {
  const t = f16Table();
  let s = v128.load32_zero(t + (<usize>load<u16>(w0) << 2));
  s = v128.load32_lane(t + (<usize>load<u16>(w1) << 2), s, 1);
  s = v128.load32_lane(t + (<usize>load<u16>(w2) << 2), s, 2);
  return v128.load32_lane(t + (<usize>load<u16>(w3) << 2), s, 3);
}

/** Bias of output n (0 without one). */
@inline
function biasAt(bias: usize, n: i32): f32 {
  return bias ? load<f32>(bias + (<usize>n << 2)) : 0;
}

/**
 * Q8_0 rows [n0, n1) of out (M = 1): spans of 4 · Q8_SPAN rows, row n of a span's first quarter with the rows a
 * quarter, a half and three quarters on; the rows left (fewer than four) as one group with its last row repeated.
 */
function linearQ8R(xq: usize, nb: i32, w: usize, rb: usize, bias: usize, out: usize, n0: i32, n1: i32): void {
  for (let s0 = n0; s0 < n1; s0 += 4 * Q8_SPAN) {
    const q = min(Q8_SPAN, (n1 - s0) >> 2);
    const qb = <usize>q * rb;
    for (let n = s0; n < s0 + q; n++) {
      const wr = w + <usize>n * rb;
      const o = out + (<usize>n << 2);
      const b = f32x4(biasAt(bias, n), biasAt(bias, n + q), biasAt(bias, n + 2 * q), biasAt(bias, n + 3 * q));
      dotRowsQ8x4(wr, wr + qb, wr + 2 * qb, wr + 3 * qb, xq, nb, b, o, o + (<usize>q << 2), o + (<usize>(2 * q) << 2), o + (<usize>(3 * q) << 2));
    }
    const r0 = s0 + 4 * q;
    const r1 = min(n1, s0 + 4 * Q8_SPAN);
    if (r0 < r1) {
      // one to three rows: r0, then r0 + 1 and r0 + 2 where they exist, else r0 again (the same value stored twice)
      const ra = r0 + 1 < r1 ? r0 + 1 : r0;
      const rc = r0 + 2 < r1 ? r0 + 2 : r0;
      const b = f32x4(biasAt(bias, r0), biasAt(bias, ra), biasAt(bias, rc), biasAt(bias, r0));
      const wa = w + <usize>r0 * rb;
      dotRowsQ8x4(wa, w + <usize>ra * rb, w + <usize>rc * rb, wa, xq, nb, b, out + (<usize>r0 << 2), out + (<usize>ra << 2), out + (<usize>rc << 2), out + (<usize>r0 << 2));
    }
  }
}

/** Rows apart (at most) that dotRowsQ8x4 takes together, within spans of four times as many. */
const Q8_SPAN: i32 = 32;

/** Rows apart that dotRowsQ4 pairs (within spans of twice as many). */
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
function groupBlock(lo: v128, hi: v128, g: usize, dw: v128, acc: v128): v128 {
  let s = hsum4w(q4Dot16(lo, hi, g), q4Dot16(lo, hi, g + QBLOCK4), q4Dot16(lo, hi, g + 2 * QBLOCK4), q4Dot16(lo, hi, g + 3 * QBLOCK4));
  s = i32x4.sub(s, v128.load(g, 4 * QBLOCK4 + 16));
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), f32x4.mul(v128.load(g, 4 * QBLOCK4), dw)));
}

/**
 * One group's four Q6_K group-of-32 sums (unsigned 6-bit values qa: 0..15, qb: 16..31, scales sa, sb splatted
 * as int16): Σ sc·q·xq exact in int32, less 32·(sa·Σ_{first 16} xq + sb·Σ_{last 16} xq) from the half sums at
 * h (the caller scales a block's sums by d·dx).
 */
@inline
function groupBlock6(qa: v128, qb: v128, g: usize, h: usize, sa: v128, sb: v128, c32a: v128, c32b: v128): v128 {
  const s = hsum4(q6Row(qa, qb, g, sa, sb), q6Row(qa, qb, g + QBLOCK4, sa, sb), q6Row(qa, qb, g + 2 * QBLOCK4, sa, sb), q6Row(qa, qb, g + 3 * QBLOCK4, sa, sb));
  return i32x4.sub(s, i32x4.add(i32x4.mul(v128.load(h), c32a), i32x4.mul(v128.load(h, 16), c32b)));
}

/** One x row's Σ sc·q·xq over a Q6_K group of 32 as i32x4 partials (pair sums ≤ 2·127·63, times sc ≤ 128). */
@inline
function q6Row(qa: v128, qb: v128, x: usize, sa: v128, sb: v128): v128 {
  return i32x4.add(
    i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x), qa), sa),
    i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(x, 16), qb), sb),
  );
}

/** Kinds of weight row groupDots takes (compile-time constants). */
const KIND_Q4_0: i32 = 0;
const KIND_Q4_K: i32 = 1;
const KIND_Q6_K: i32 = 2;

/**
 * One weight row · the quantized x rows of `ng` groups of four (1..4, a compile-time constant) at g0, g0 + gs, …,
 * each group of 32 weights unpacked once for all of them; `rows` x rows in all (the last group may be short).
 * Q4_0: blocks of 18 bytes at w. Q4_K: its factors at f (q4kFactors); groups k, k + 1 of 32 are the low and high
 * nibbles of the same 32 bytes. Q6_K: h0 the first x group's half sums (hs apart); group k of a block of 256 is
 * in half k / 4 (ql bytes 64·half + 32·(k & 1)…, qh bytes 128 + 32·half…), low or high nibbles (k & 2), qh bits
 * 2·(k % 4). A store after each x group's work keeps the next group's loads after it (V8 issues a loop body's
 * loads first). Inlined into one copy per (kind, ng).
 */
@inline
function groupDots(kind: i32, w: usize, f: usize, g0: usize, gs: usize, h0: usize, hs: usize, nb: i32, ng: i32, b: f32, out: usize, os: usize, rows: i32): void {
  const m = i8x16.splat(0x0f);
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let i0 = i32x4.splat(0); // k-quants: this block of 256's integer sums (x has one dx a block)
  let i1 = i32x4.splat(0);
  let i2 = i32x4.splat(0);
  let i3 = i32x4.splat(0);
  // Q4_K takes groups k, k + 1 (the low and high nibbles of the same 32 bytes) a pass, with constant shifts
  const step = kind == KIND_Q4_K ? 2 : 1;
  for (let k = 0; k < nb; k += step, g0 += <usize>step * GROUP_BLOCK) {
    if (kind == KIND_Q4_K) {
      const qs = w + <usize>(k >> 3) * 144 + 16 + (<usize>((k & 7) >> 1) << 5);
      const fk = f + (<usize>k << 5);
      const t = f + (<usize>nb << 6); // scratch past the factors (rowbuf holds K·4 bytes)
      i0 = q4kGroups(v128.and(v128.load(qs), m), v128.and(v128.load(qs, 16), m), g0, gs, v128.load(fk), ng, t, i0, i1, i2, i3);
      if (ng > 1) i1 = v128.load(t, 16);
      if (ng > 2) i2 = v128.load(t, 32);
      if (ng > 3) i3 = v128.load(t, 48);
      const g1 = g0 + GROUP_BLOCK;
      const hl = v128.and(i16x8.shr_u(v128.load(qs), 4), m);
      const hh = v128.and(i16x8.shr_u(v128.load(qs, 16), 4), m);
      i0 = q4kGroups(hl, hh, g1, gs, v128.load(fk, 32), ng, t, i0, i1, i2, i3);
      if (ng > 1) i1 = v128.load(t, 16);
      if (ng > 2) i2 = v128.load(t, 32);
      if (ng > 3) i3 = v128.load(t, 48);
      if ((k & 7) == 6) {
        const fb = f + (<usize>nb << 5) + (<usize>(k >> 3) << 3);
        const d = f32x4.splat(load<f32>(fb));
        const dm = f32x4.splat(load<f32>(fb, 4));
        const fl = fk + 32;
        a0 = blockEndK(a0, i0, g1, fl, d, dm);
        i0 = i32x4.splat(0);
        if (ng > 1) {
          a1 = blockEndK(a1, i1, g1 + gs, fl, d, dm);
          i1 = i32x4.splat(0);
        }
        if (ng > 2) {
          a2 = blockEndK(a2, i2, g1 + 2 * gs, fl, d, dm);
          i2 = i32x4.splat(0);
        }
        if (ng > 3) {
          a3 = blockEndK(a3, i3, g1 + 3 * gs, fl, d, dm);
          i3 = i32x4.splat(0);
        }
      }
    } else if (kind == KIND_Q6_K) {
      const blk = w + <usize>(k >> 3) * 210;
      const half = (k >> 2) & 1;
      const gi = k & 3;
      const ql = blk + (<usize>half << 6) + (<usize>(gi & 1) << 5);
      const qh = blk + 128 + (<usize>half << 5);
      const ls = (gi >> 1) << 2;
      const h = gi < 2 ? i16x8.shl(v128.load(qh), 4 - 2 * gi) : i16x8.shr_u(v128.load(qh), 2 * gi - 4);
      const hh = gi < 2 ? i16x8.shl(v128.load(qh, 16), 4 - 2 * gi) : i16x8.shr_u(v128.load(qh, 16), 2 * gi - 4);
      const m2 = i8x16.splat(0x30);
      const qa = v128.or(v128.and(i16x8.shr_u(v128.load(ql), ls), m), v128.and(h, m2));
      const qb = v128.or(v128.and(i16x8.shr_u(v128.load(ql, 16), ls), m), v128.and(hh, m2));
      const sc = blk + 192 + (<usize>half << 3) + (<usize>gi << 1);
      const sa = <i32>load<i8>(sc);
      const sb = <i32>load<i8>(sc, 1);
      const va = i16x8.splat(<i16>sa);
      const vb = i16x8.splat(<i16>sb);
      const ca = i32x4.splat(32 * sa);
      const cb = i32x4.splat(32 * sb);
      i0 = i32x4.add(i0, groupBlock6(qa, qb, g0, h0, va, vb, ca, cb));
      if (ng > 1) {
        store<i32>(out, i32x4.extract_lane(i0, 0));
        i1 = i32x4.add(i1, groupBlock6(qa, qb, g0 + gs, h0 + hs, va, vb, ca, cb));
      }
      if (ng > 2) {
        store<i32>(out, i32x4.extract_lane(i1, 0));
        i2 = i32x4.add(i2, groupBlock6(qa, qb, g0 + 2 * gs, h0 + 2 * hs, va, vb, ca, cb));
      }
      if (ng > 3) {
        store<i32>(out, i32x4.extract_lane(i2, 0));
        i3 = i32x4.add(i3, groupBlock6(qa, qb, g0 + 3 * gs, h0 + 3 * hs, va, vb, ca, cb));
      }
      if ((k & 7) == 7) {
        const d = f32x4.splat(tabHalf(load<u16>(blk, 208)));
        a0 = blockEnd6(a0, i0, g0, d);
        i0 = i32x4.splat(0);
        if (ng > 1) {
          a1 = blockEnd6(a1, i1, g0 + gs, d);
          i1 = i32x4.splat(0);
        }
        if (ng > 2) {
          a2 = blockEnd6(a2, i2, g0 + 2 * gs, d);
          i2 = i32x4.splat(0);
        }
        if (ng > 3) {
          a3 = blockEnd6(a3, i3, g0 + 3 * gs, d);
          i3 = i32x4.splat(0);
        }
      }
      h0 += HALF_SUMS;
    } else {
      const q = v128.load(w, 2);
      const lo = v128.and(q, m);
      const hi = v128.and(i16x8.shr_u(q, 4), m);
      const dw = f32x4.splat(tabHalf(load<u16>(w)));
      a0 = groupBlock(lo, hi, g0, dw, a0);
      if (ng > 1) {
        store<f32>(out, f32x4.extract_lane(a0, 0));
        a1 = groupBlock(lo, hi, g0 + gs, dw, a1);
      }
      if (ng > 2) {
        store<f32>(out, f32x4.extract_lane(a1, 0));
        a2 = groupBlock(lo, hi, g0 + 2 * gs, dw, a2);
      }
      if (ng > 3) {
        store<f32>(out, f32x4.extract_lane(a2, 0));
        a3 = groupBlock(lo, hi, g0 + 3 * gs, dw, a3);
      }
      w += 18;
    }
  }
  storeLanes(a0, b, out, os, min(4, rows));
  if (ng > 1) storeLanes(a1, b, out + 4 * os, os, min(4, rows - 4));
  if (ng > 2) storeLanes(a2, b, out + 8 * os, os, min(4, rows - 8));
  if (ng > 3) storeLanes(a3, b, out + 12 * os, os, rows - 12);
}

/** The end of a Q6_K block of 256 for one group of x rows (g at its last group of 32): acc + dx·d·Σ. */
@inline
function blockEnd6(acc: v128, isum: v128, g: usize, d: v128): v128 {
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(v128.load(g, 4 * QBLOCK4), d)));
}

// one copy per (kind, x groups): 16, 8 and 4 x rows
function groupDots6x16(w: usize, g0: usize, gs: usize, h0: usize, hs: usize, nb: i32, b: f32, out: usize, os: usize, rows: i32): void {
  groupDots(KIND_Q6_K, w, 0, g0, gs, h0, hs, nb, 4, b, out, os, rows);
}

function groupDots6x8(w: usize, g0: usize, gs: usize, h0: usize, hs: usize, nb: i32, b: f32, out: usize, os: usize, rows: i32): void {
  groupDots(KIND_Q6_K, w, 0, g0, gs, h0, hs, nb, 2, b, out, os, rows);
}

function groupDots6x4(w: usize, g0: usize, gs: usize, h0: usize, hs: usize, nb: i32, b: f32, out: usize, os: usize, rows: i32): void {
  groupDots(KIND_Q6_K, w, 0, g0, gs, h0, hs, nb, 1, b, out, os, rows);
}

function groupDotsQ4x16(w: usize, g0: usize, gs: usize, nb: i32, b: f32, out: usize, os: usize, rows: i32): void {
  groupDots(KIND_Q4_0, w, 0, g0, gs, 0, 0, nb, 4, b, out, os, rows);
}

function groupDotsQ4x8(w: usize, g0: usize, gs: usize, nb: i32, b: f32, out: usize, os: usize, rows: i32): void {
  groupDots(KIND_Q4_0, w, 0, g0, gs, 0, 0, nb, 2, b, out, os, rows);
}

function groupDotsQ4x4(w: usize, g0: usize, gs: usize, nb: i32, b: f32, out: usize, os: usize, rows: i32): void {
  groupDots(KIND_Q4_0, w, 0, g0, gs, 0, 0, nb, 1, b, out, os, rows);
}

function groupDotsK16(w: usize, f: usize, g0: usize, gs: usize, nb: i32, b: f32, out: usize, os: usize, rows: i32): void {
  groupDots(KIND_Q4_K, w, f, g0, gs, 0, 0, nb, 4, b, out, os, rows);
}

function groupDotsK8(w: usize, f: usize, g0: usize, gs: usize, nb: i32, b: f32, out: usize, os: usize, rows: i32): void {
  groupDots(KIND_Q4_K, w, f, g0, gs, 0, 0, nb, 2, b, out, os, rows);
}

function groupDotsK4(w: usize, f: usize, g0: usize, gs: usize, nb: i32, b: f32, out: usize, os: usize, rows: i32): void {
  groupDots(KIND_Q4_K, w, f, g0, gs, 0, 0, nb, 1, b, out, os, rows);
}

/**
 * Rows [m0, m1) x columns [n0, n1) of out[M, N] for Q8_0 (dtype 2; M = 1 only), Q4_0 (3), Q4_K (4; M > 1 only)
 * or Q6_K (5; M > 1 only) weights of rb bytes a row and x quantized by quantizeRowsR for that dtype (k-quants:
 * Q4_0's layout with one dx a block of 256; Q6_K with the half sums); bias 0 = none. M = 1 dots four Q8_0 weight
 * rows or two Q4_0 rows at a time, M > 1 one weight row against eight x rows (two groups; m0 is a multiple of 4),
 * a Q4_K row's factors decoded into rowbuf (K + K / 32 bytes) first. K-quant groups sum a block's integer dots
 * (times the int scales) and scale them once a block.
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
  rowbuf: usize,
  m0: i32,
  m1: i32,
  n0: i32,
  n1: i32,
): void {
  const nb = K >> 5;
  if (M == 1 && dtype == DT_Q8_0) {
    linearQ8R(xq, nb, w, rb, bias, out, n0, n1);
    return;
  }
  if (M == 1) {
    // spans of 2·PAIR_SPAN rows (the last one shorter): row n of a span's first half with row n + half
    for (let s0 = n0; s0 < n1; s0 += 2 * PAIR_SPAN) {
      const half = min(PAIR_SPAN, (n1 - s0) >> 1);
      for (let n = s0; n < s0 + half; n++) {
        const wr = w + <usize>n * rb;
        const o = out + (<usize>n << 2);
        dotRowsQ4(wr, <usize>half * rb, xq, nb, biasAt(bias, n), biasAt(bias, n + half), o, <usize>half << 2);
      }
      if (s0 + 2 * half < min(n1, s0 + 2 * PAIR_SPAN)) {
        const n = s0 + 2 * half; // the odd row left in a short span, dotted twice into the same place
        const b = biasAt(bias, n);
        dotRowsQ4(w + <usize>n * rb, 0, xq, nb, b, b, out + (<usize>n << 2), 0);
      }
    }
    return;
  }
  const q4k = dtype == DT_Q4_K;
  const q6k = dtype == DT_Q6_K;
  const os = <usize>N << 2;
  const grouped = xq + <usize>M * quantRowBytesR(K, DT_Q4_0);
  const gs = <usize>nb * GROUP_BLOCK;
  const halves = grouped + <usize>((M + 3) >> 2) * gs; // Q6_K's half sums
  const hs = <usize>nb * HALF_SUMS;
  for (let c0 = m0; c0 < m1; c0 += CHUNK) {
    const c1 = min(m1, c0 + CHUNK);
    for (let n = n0; n < n1; n++) {
      const wr = w + <usize>n * rb;
      const b = biasAt(bias, n);
      if (q4k) q4kFactors(wr, K, rowbuf);
      for (let m = c0; m < c1; ) {
        const g0 = grouped + <usize>(m >> 2) * gs;
        const o = out + ((<usize>m * N + n) << 2);
        const h0 = halves + <usize>(m >> 2) * hs;
        const r = c1 - m;
        if (r > 12) {
          // 13..16 rows: four x groups (the last one may be short)
          if (q4k) groupDotsK16(wr, rowbuf, g0, gs, nb, b, o, os, min(16, r));
          else if (q6k) groupDots6x16(wr, g0, gs, h0, hs, nb, b, o, os, min(16, r));
          else groupDotsQ4x16(wr, g0, gs, nb, b, o, os, min(16, r));
          m += 16;
        } else if (r > 4) {
          if (q4k) groupDotsK8(wr, rowbuf, g0, gs, nb, b, o, os, min(8, r));
          else if (q6k) groupDots6x8(wr, g0, gs, h0, hs, nb, b, o, os, min(8, r));
          else groupDotsQ4x8(wr, g0, gs, nb, b, o, os, min(8, r));
          m += 8;
        } else {
          if (q4k) groupDotsK4(wr, rowbuf, g0, gs, nb, b, o, os, r);
          else if (q6k) groupDots6x4(wr, g0, gs, h0, hs, nb, b, o, os, r);
          else groupDotsQ4x4(wr, g0, gs, nb, b, o, os, r);
          m += 4;
        }
      }
    }
  }
}

/**
 * One Q4_K weight row's factors into f (the caller's row buffer, K·4 bytes): for group k of 32, its 6-bit scale
 * as int16 lanes at 32k and its min as int32 lanes at 32k + 16; then each block's d and dmin (f32) at K + 8b.
 */
function q4kFactors(w: usize, K: i32, f: usize): void {
  const fb = f + <usize>K;
  for (let b = 0; b < K >> 8; b++, w += 144, f += 256) {
    const sm = q4kScaleBytes(w);
    const sc = i16x8.extend_low_i8x16_u(sm); // s0..s7
    const mn = i16x8.extend_high_i8x16_u(sm); // m0..m7
    for (let j = 0; j < 8; j++) {
      // int16 lane j everywhere: bytes 2j, 2j + 1 (indices below 16, where the relaxed swizzle is exact)
      const lj = i16x8.splat(<i16>(((2 * j + 1) << 8) | (2 * j)));
      v128.store(f + (<usize>j << 5), i8x16.relaxed_swizzle(sc, lj));
      v128.store(f + (<usize>j << 5), i32x4.extend_low_i16x8_u(i8x16.relaxed_swizzle(mn, lj)), 16);
    }
    store<f32>(fb + (<usize>b << 3), tabHalf(load<u16>(w)));
    store<f32>(fb + (<usize>b << 3), tabHalf(load<u16>(w, 2)), 4);
  }
}

/**
 * One Q4_K group of 32 (nibbles lo, hi; scale sc as int16 lanes) against `ng` x groups at g, g + gs, …: returns
 * the first x group's running sum i0 + …, and stores the others' (i1..i3 plus theirs) to t + 16, 32, 48 (the
 * stores also keep each x group's loads after the previous one's work; the caller reloads them).
 */
@inline
function q4kGroups(lo: v128, hi: v128, g: usize, gs: usize, sc: v128, ng: i32, t: usize, i0: v128, i1: v128, i2: v128, i3: v128): v128 {
  i0 = i32x4.add(i0, groupBlockK(lo, hi, g, sc));
  if (ng > 1) {
    v128.store(t, i0);
    v128.store(t, i32x4.add(i1, groupBlockK(lo, hi, g + gs, sc)), 16);
  }
  if (ng > 2) v128.store(t, i32x4.add(i2, groupBlockK(lo, hi, g + 2 * gs, sc)), 32);
  if (ng > 3) v128.store(t, i32x4.add(i3, groupBlockK(lo, hi, g + 3 * gs, sc)), 48);
  return i0;
}

/** One group's four Q4_K group-of-32 integer sums (nibbles lo, hi) times the group's scale (int16 lanes sc). */
@inline
function groupBlockK(lo: v128, hi: v128, g: usize, sc: v128): v128 {
  const s0 = q4Dot16(lo, hi, g);
  const s1 = q4Dot16(lo, hi, g + QBLOCK4);
  const s2 = q4Dot16(lo, hi, g + 2 * QBLOCK4);
  const s3 = q4Dot16(lo, hi, g + 3 * QBLOCK4);
  // hsum4w with the scale in its widening pair sum (|lane| ≤ 30480, times sc ≤ 63: exact)
  const u = i16x8.add(i32x4.shuffle(s0, s1, 0, 4, 1, 5), i32x4.shuffle(s0, s1, 2, 6, 3, 7));
  const v = i16x8.add(i32x4.shuffle(s2, s3, 0, 4, 1, 5), i32x4.shuffle(s2, s3, 2, 6, 3, 7));
  return i32x4.dot_i16x8_s(i16x8.add(i64x2.shuffle(u, v, 0, 2), i64x2.shuffle(u, v, 1, 3)), sc);
}

/**
 * The end of a Q4_K block of 256 for one group of x rows (g at its last group of 32, fk that group's factors):
 * acc + dx·(d·Σ sc·Σq·xq − dmin·Σ m·Σxq), the mins' sums (Σxq of each group, in the grouped copy) in int32.
 */
@inline
function blockEndK(acc: v128, isum: v128, g: usize, fk: usize, d: v128, dm: v128): v128 {
  let mins = i32x4.splat(0);
  let gj = g - 7 * GROUP_BLOCK;
  let fj = fk - 7 * 32;
  for (let j = 0; j < 8; j++, gj += GROUP_BLOCK, fj += 32) mins = i32x4.add(mins, i32x4.mul(v128.load(gj, 4 * QBLOCK4 + 16), v128.load(fj, 16)));
  const dx = v128.load(g, 4 * QBLOCK4);
  const q = f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(dx, d));
  return f32x4.add(acc, f32x4.sub(q, f32x4.mul(f32x4.convert_i32x4_s(mins), f32x4.mul(dx, dm))));
}
