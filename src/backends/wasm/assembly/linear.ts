// out[M, N] = x[M, K] · w[N, K]ᵀ (+ bias) with SIMD, w stored as f32, f16, Q8_0 or Q4_0 (GGML blocks:
// Q8_0 = f16 scale + 32 int8; Q4_0 = f16 scale + 16 bytes, low nibbles elements 0..15, high 16..31, minus 8).
// Each call computes the block [m0, m1) x [n0, n1) of the output, so threads can share one product; which path
// a row takes depends only on (dtype, M, xq), never on the block, so every split gives the same numbers.
// Exact paths: M = 1 dots each stored row directly; M > 1 goes to the register tiles of linear-f32.ts (f32 rows
// in place, other rows expanded four at a time into rowbuf), every output summed in the same order whatever M.
// Prompts (dtype flagged DT_GEMM by the host, which decides by M) go to linear-gemm.ts instead.
// Quantized-activation path (xq != 0, Q8_0 or Q4_0 weights): x was quantized by quantizeRows into int8 blocks
// of 32 with an f32 scale (held as i16), and each block dot is an integer dot (i32x4.dot_i16x8_s) scaled once
// by d_w · d_x (as GGML's q8_0 · q8_0 dot).
// The relaxed-SIMD module replaces that path (and the activation layout) by linear-relaxed.ts where it pays:
// Q4_0, and Q8_0 with M = 1 (relaxedPath); Q8_0 with M > 1 keeps the int16 dots (fewer multiplies per weight),
// on register tiles of two weight rows × eight x rows (pairTile) over a pair-transposed copy of x.

import { DT_BF16, DT_F16, DT_F16_FINITE, DT_F32, DT_GEMM, DT_Q4_0, DT_Q8_0, expandRow, halfScalar, isHalf, rowBytes } from "./expand";
import { bf16ToF32x4, finiteHalfToF32x4, halfToF32x4, hsum, tabHalf } from "./half";
import { DT_Q4_K, DT_Q6_K, linearK } from "./kquant";
import { fourSums, pairAcc, pairScales, tailScales, tailSums, twoBlocks32 } from "./pair-scales";
import { linearF32, ROWS_W } from "./linear-f32";
import { linearGemm } from "./linear-gemm";
import { linearQuantR, quantBytesR, quantizeRowsR } from "./linear-relaxed";
import { absMax32, hsumI32, invScale, roundScaled } from "./xquant";

/** Four 16-bit weights (low halves of the lanes) of a 16-bit dtype → f32x4. */
@inline
function halfLanes(dtype: i32, h: v128): v128 {
  if (dtype == DT_BF16) return bf16ToF32x4(h);
  if (dtype == DT_F16_FINITE) return finiteHalfToF32x4(h);
  return halfToF32x4(h);
}

/** x rows per chunk on the quantized-activation path: the chunk stays in cache while every weight row passes. */
const CHUNK: i32 = 16;

function dotF32(x: usize, w: usize, K: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let i = 0;
  for (; i + 16 <= K; i += 16) {
    const xo = x + (<usize>i << 2);
    const wo = w + (<usize>i << 2);
    a0 = f32x4.add(a0, f32x4.mul(v128.load(xo), v128.load(wo)));
    a1 = f32x4.add(a1, f32x4.mul(v128.load(xo, 16), v128.load(wo, 16)));
    a2 = f32x4.add(a2, f32x4.mul(v128.load(xo, 32), v128.load(wo, 32)));
    a3 = f32x4.add(a3, f32x4.mul(v128.load(xo, 48), v128.load(wo, 48)));
  }
  for (; i + 4 <= K; i += 4) {
    a0 = f32x4.add(a0, f32x4.mul(v128.load(x + (<usize>i << 2)), v128.load(w + (<usize>i << 2))));
  }
  let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  for (; i < K; i++) s += load<f32>(x + (<usize>i << 2)) * load<f32>(w + (<usize>i << 2));
  return s;
}

@inline
function dotHalf(dtype: i32, x: usize, w: usize, K: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let i = 0;
  for (; i + 16 <= K; i += 16) {
    const h = v128.load(w + (<usize>i << 1));
    const g = v128.load(w + (<usize>i << 1), 16);
    const xo = x + (<usize>i << 2);
    a0 = f32x4.add(a0, f32x4.mul(halfLanes(dtype, i32x4.extend_low_i16x8_u(h)), v128.load(xo)));
    a1 = f32x4.add(a1, f32x4.mul(halfLanes(dtype, i32x4.extend_high_i16x8_u(h)), v128.load(xo, 16)));
    a2 = f32x4.add(a2, f32x4.mul(halfLanes(dtype, i32x4.extend_low_i16x8_u(g)), v128.load(xo, 32)));
    a3 = f32x4.add(a3, f32x4.mul(halfLanes(dtype, i32x4.extend_high_i16x8_u(g)), v128.load(xo, 48)));
  }
  for (; i + 8 <= K; i += 8) {
    const h = v128.load(w + (<usize>i << 1));
    const xo = x + (<usize>i << 2);
    a0 = f32x4.add(a0, f32x4.mul(halfLanes(dtype, i32x4.extend_low_i16x8_u(h)), v128.load(xo)));
    a1 = f32x4.add(a1, f32x4.mul(halfLanes(dtype, i32x4.extend_high_i16x8_u(h)), v128.load(xo, 16)));
  }
  let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  for (; i < K; i++) s += halfScalar(dtype, load<u16>(w + (<usize>i << 1))) * load<f32>(x + (<usize>i << 2));
  return s;
}

function dotF16(x: usize, w: usize, K: i32): f32 {
  return dotHalf(DT_F16, x, w, K);
}

function dotF16Finite(x: usize, w: usize, K: i32): f32 {
  return dotHalf(DT_F16_FINITE, x, w, K);
}

function dotBF16(x: usize, w: usize, K: i32): f32 {
  return dotHalf(DT_BF16, x, w, K);
}

/** Sixteen signed bytes · x[0..16) as an f32x4 of partial sums. */
@inline
function dotI8x16(q: v128, x: usize): v128 {
  const lo = i16x8.extend_low_i8x16_s(q);
  const hi = i16x8.extend_high_i8x16_s(q);
  const p0 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), v128.load(x));
  const p1 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), v128.load(x, 16));
  const p2 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), v128.load(x, 32));
  const p3 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), v128.load(x, 48));
  return f32x4.add(f32x4.add(p0, p1), f32x4.add(p2, p3));
}

function dotQ8_0(x: usize, w: usize, nb: i32): f32 {
  let acc = f32x4.splat(0);
  for (let b = 0; b < nb; b++, w += 34, x += 128) {
    const s = f32x4.add(dotI8x16(v128.load(w, 2), x), dotI8x16(v128.load(w, 18), x + 64));
    acc = f32x4.add(acc, f32x4.mul(s, f32x4.splat(tabHalf(load<u16>(w)))));
  }
  return hsum(acc);
}

function dotQ4_0(x: usize, w: usize, nb: i32): f32 {
  let acc = f32x4.splat(0);
  for (let b = 0; b < nb; b++, w += 18, x += 128) {
    const q = v128.load(w, 2);
    const lo = i8x16.sub(v128.and(q, i8x16.splat(0x0f)), i8x16.splat(8));
    const hi = i8x16.sub(i8x16.shr_u(q, 4), i8x16.splat(8));
    const s = f32x4.add(dotI8x16(lo, x), dotI8x16(hi, x + 64));
    acc = f32x4.add(acc, f32x4.mul(s, f32x4.splat(tabHalf(load<u16>(w)))));
  }
  return hsum(acc);
}

/**
 * Whether the quantized-activation product of (dtype, M) runs linear-relaxed.ts, in the relaxed module (callers
 * test ASC_FEATURE_RELAXED_SIMD first, in their own `if`, so that the baseline module never compiles that code).
 */
@inline
function relaxedPath(dtype: i32, M: i32): bool {
  return dtype == DT_Q4_0 || M == 1;
}

/**
 * Bytes of one quantized activation row: K int16 values, then K / 32 f32 scales, then K / 32 i32 values 8·Σq
 * (Q4_0 dots use unsigned nibbles and subtract 8·Σq). Within each block of 32 the values are stored
 * de-interleaved, [0, 2, .., 14 | 1, 3, .., 15 | 16, 18, .., 30 | 17, .., 31], the order in which both a Q8_0
 * block (even and odd bytes) and a Q4_0 block (low and high nibbles of even and odd bytes) unpack into int16
 * lanes without widening shuffles.
 */
function quantRowBytes(K: i32): usize {
  return (<usize>K << 1) + (<usize>(K >> 5) << 3);
}

/**
 * Bytes quantizeRows writes for x[M, K]: the M rows, then (M > 1) every group of four rows again, block by
 * block: [group][block] × (four rows' 32 values, their 4 f32 scales, their 4 i32 8·Σq) (rows past M repeat row
 * M - 1), so that the M > 1 kernel reads a group's block from one place and corrects and scales four rows'
 * block sums with one vector each. For Q8_0 the four rows' 32 values are pair-transposed (see pairTile): for
 * each four depths 4c..4c+3, as i32 pairs (x[2p], x[2p+1]) of rows r0..r3, [r0 p0, r1 p1, r2 p0, r3 p1] then
 * [r0 p1, r1 p0, r2 p1, r3 p0] with p0 = 2c, p1 = 2c + 1; for Q4_0 they are the rows' own de-interleaved order.
 */
/** Bytes of one (group, block) of the grouped copy: four rows × 64, then 16 of scales and 16 of sums. */
const GROUP_BLOCK: usize = 288;

export function quantBytes(M: i32, K: i32, dtype: i32): usize {
  if (ASC_FEATURE_RELAXED_SIMD) {
    if (relaxedPath(dtype, M)) return quantBytesR(M, K, dtype);
  }
  const rows = <usize>M * quantRowBytes(K);
  return M > 1 ? rows + <usize>((M + 3) >> 2) * <usize>(K >> 5) * GROUP_BLOCK : rows;
}

/**
 * x[M, K] (K a multiple of 32) → M rows at `out` of quantRowBytes(K): each block of 32 gets d = max|x| / 127
 * and q = round(x / d) in [-127, 127] (as GGML's q8_0), stored widened to int16 so the dots need no extends.
 * Returns 0 when some x is infinite or NaN (the caller then takes the exact path, which propagates them).
 */
export function quantizeRows(x: usize, M: i32, K: i32, out: usize, dtype: i32): i32 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    if (relaxedPath(dtype, M)) return quantizeRowsR(x, M, K, out, dtype);
  }
  let finite = true;
  const nb = K >> 5;
  const rb = quantRowBytes(K);
  for (let m = 0; m < M; m++) {
    const q = out + <usize>m * rb;
    const ds = q + (<usize>K << 1);
    let xb = x + <usize>m * (<usize>K << 2);
    for (let b = 0; b < nb; b++, xb += 128) {
      const amax = absMax32(xb);
      finite = finite && amax < Infinity; // false for +inf and NaN
      const d: f32 = amax / 127;
      const id = invScale(d);
      const qb = q + (<usize>b << 6);
      let sum = i32x4.splat(0);
      for (let j = 0; j < 2; j++) {
        const o = <usize>j << 6; // 16 values: [16j, 16j + 16)
        const i0 = roundScaled(v128.load(xb + o), id);
        const i1 = roundScaled(v128.load(xb + o, 16), id);
        const i2 = roundScaled(v128.load(xb + o, 32), id);
        const i3 = roundScaled(v128.load(xb + o, 48), id);
        sum = i32x4.add(sum, i32x4.add(i32x4.add(i0, i1), i32x4.add(i2, i3)));
        const a = i16x8.narrow_i32x4_s(i0, i1); // values 0..7 of the 16
        const c = i16x8.narrow_i32x4_s(i2, i3); // values 8..15
        v128.store(qb + (<usize>j << 5), i16x8.shuffle(a, c, 0, 2, 4, 6, 8, 10, 12, 14));
        v128.store(qb + (<usize>j << 5), i16x8.shuffle(a, c, 1, 3, 5, 7, 9, 11, 13, 15), 16);
      }
      store<f32>(ds + (<usize>b << 2), d);
      store<i32>(ds + (<usize>nb << 2) + (<usize>b << 2), 8 * hsumI32(sum));
    }
  }
  if (M > 1) {
    const t = out + <usize>M * rb;
    for (let g = 0; g < (M + 3) >> 2; g++) {
      const q0 = out + <usize>min(4 * g, M - 1) * rb;
      const q1 = out + <usize>min(4 * g + 1, M - 1) * rb;
      const q2 = out + <usize>min(4 * g + 2, M - 1) * rb;
      const q3 = out + <usize>min(4 * g + 3, M - 1) * rb;
      let tg = t + <usize>g * <usize>nb * GROUP_BLOCK;
      for (let b = 0; b < nb; b++, tg += GROUP_BLOCK) {
        const o = <usize>b << 6;
        if (dtype == DT_Q8_0) {
          pairQuad(q0 + o, q1 + o, q2 + o, q3 + o, 0, 0, tg); // pairs 0..3
          pairQuad(q0 + o, q1 + o, q2 + o, q3 + o, 0, 8, tg + 64); // pairs 4..7
          pairQuad(q0 + o, q1 + o, q2 + o, q3 + o, 32, 0, tg + 128); // pairs 8..11
          pairQuad(q0 + o, q1 + o, q2 + o, q3 + o, 32, 8, tg + 192); // pairs 12..15
        } else {
          copyBlock(q0 + o, tg);
          copyBlock(q1 + o, tg + 64);
          copyBlock(q2 + o, tg + 128);
          copyBlock(q3 + o, tg + 192);
        }
        const ds = (<usize>K << 1) + (<usize>b << 2);
        const ss = ds + (<usize>nb << 2);
        v128.store(tg, f32x4(load<f32>(q0 + ds), load<f32>(q1 + ds), load<f32>(q2 + ds), load<f32>(q3 + ds)), 256);
        v128.store(tg, i32x4(load<i32>(q0 + ss), load<i32>(q1 + ss), load<i32>(q2 + ss), load<i32>(q3 + ss)), 272);
      }
    }
  }
  return finite ? 1 : 0;
}

/** One quantized row's block of 32 int16 (64 bytes at src) copied to dst. */
@inline
function copyBlock(src: usize, dst: usize): void {
  v128.store(dst, v128.load(src));
  v128.store(dst, v128.load(src, 16), 16);
  v128.store(dst, v128.load(src, 32), 32);
  v128.store(dst, v128.load(src, 48), 48);
}

/** Pairs (x[2p], x[2p + 1]) p = j..j+3 of a de-interleaved block (evens at +h, odds at +h + 16; lanes from l). */
@inline
function pairs4(src: usize, h: usize, l: i32): v128 {
  const e = v128.load(src + h);
  const o = v128.load(src + h, 16);
  return l == 0 ? i16x8.shuffle(e, o, 0, 8, 1, 9, 2, 10, 3, 11) : i16x8.shuffle(e, o, 4, 12, 5, 13, 6, 14, 7, 15);
}

/**
 * Four consecutive pairs of four rows' blocks (a, b, c, d) into the two pair-transposed chunks they make at dst
 * (quantizeRows' grouped copy for Q8_0): [a0 b1 c0 d1] [a1 b0 c1 d0] [a2 b3 c2 d3] [a3 b2 c3 d2].
 */
@inline
function pairQuad(a: usize, b: usize, c: usize, d: usize, h: usize, l: i32, dst: usize): void {
  const A = pairs4(a, h, l);
  const B = pairs4(b, h, l);
  const C = pairs4(c, h, l);
  const D = pairs4(d, h, l);
  const ab = i32x4.shuffle(A, B, 0, 5, 2, 7);
  const cd = i32x4.shuffle(C, D, 0, 5, 2, 7);
  const ba = i32x4.shuffle(A, B, 1, 4, 3, 6);
  const dc = i32x4.shuffle(C, D, 1, 4, 3, 6);
  v128.store(dst, i32x4.shuffle(ab, cd, 0, 1, 4, 5));
  v128.store(dst, i32x4.shuffle(ba, dc, 0, 1, 4, 5), 16);
  v128.store(dst, i32x4.shuffle(ab, cd, 2, 3, 6, 7), 32);
  v128.store(dst, i32x4.shuffle(ba, dc, 2, 3, 6, 7), 48);
}

/** Σ over one block of 32: four int16 weight vectors in the de-interleaved order · the activations at xb. */
@inline
function wdot32(e0: v128, e1: v128, e2: v128, e3: v128, xb: usize): v128 {
  let s = i32x4.dot_i16x8_s(e0, v128.load(xb));
  s = i32x4.add(s, i32x4.dot_i16x8_s(e1, v128.load(xb, 16)));
  s = i32x4.add(s, i32x4.dot_i16x8_s(e2, v128.load(xb, 32)));
  return i32x4.add(s, i32x4.dot_i16x8_s(e3, v128.load(xb, 48)));
}

/** Even bytes of 16 signed bytes, sign-extended into int16 lanes. */
@inline
function evenBytes(q: v128): v128 {
  return i16x8.shr_s(i16x8.shl(q, 8), 8);
}

/** Odd bytes of 16 signed bytes, sign-extended into int16 lanes. */
@inline
function oddBytes(q: v128): v128 {
  return i16x8.shr_s(q, 8);
}

/** A Q8_0 block's integer dot with the activations at xb. */
@inline
function q8Dot(wb: usize, xb: usize): v128 {
  const lo = v128.load(wb, 2);
  const hi = v128.load(wb, 18);
  return wdot32(evenBytes(lo), oddBytes(lo), evenBytes(hi), oddBytes(hi), xb);
}

/** A Q4_0 block's integer dot of its unsigned nibbles (0..15) with the activations; the caller subtracts 8·Σq. */
@inline
function q4Dot(wb: usize, xb: usize): v128 {
  const q = v128.load(wb, 2);
  const m = i16x8.splat(0x000f);
  return wdot32(v128.and(q, m), v128.and(i16x8.shr_u(q, 8), m), v128.and(i16x8.shr_u(q, 4), m), i16x8.shr_u(q, 12), xb);
}

/**
 * One Q4_0 weight row · one quantized activation row (M = 1): integer block dots, f32 across blocks, in the order
 * the relaxed module's dotRowsQ4 uses, so results do not depend on the module or on how threads split the product.
 */
function dotQuantQ4(w: usize, xq: usize, nb: i32, K: i32): f32 {
  const ds = xq + (<usize>K << 1);
  const ss = ds + (<usize>nb << 2);
  let acc = f32x4.splat(0);
  // blocks two at a time, summed as pair-scales.ts says (the relaxed module's dotRowsQ4 does the same)
  let b = 0;
  for (; b + 1 < nb; b += 2, w += 36) {
    const x0 = xq + (<usize>b << 6);
    const h = twoBlocks32(q4Dot(w, x0), q4Dot(w + 18, x0 + 64));
    const s = i32x4.sub(fourSums(h, h), v128.load64_splat(ss + (<usize>b << 2)));
    acc = pairAcc(acc, s, pairScales(w, w, 18, v128.load64_splat(ds + (<usize>b << 2))));
  }
  if (b < nb) {
    const x0 = xq + (<usize>b << 6);
    const s = i32x4.sub(fourSums(twoBlocks32(q4Dot(w, x0), i32x4.splat(0)), i32x4.splat(0)), tailSums(ss + (<usize>b << 2)));
    acc = pairAcc(acc, s, tailScales(w, w, ds + (<usize>b << 2)));
  }
  return f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1);
}

/**
 * One Q8_0 weight row · one quantized activation row (M = 1): each block's exact integer dot, converted, times
 * d_w · d_x, added in block order — the relaxed module's dotRowsQ8x4 per lane, so the same bits.
 */
function dotQuantQ8(w: usize, xq: usize, nb: i32, K: i32): f32 {
  const ds = xq + (<usize>K << 1);
  let acc: f32 = 0;
  for (let b = 0; b < nb; b++, w += 34) {
    const s = <f32>hsumI32(q8Dot(w, xq + (<usize>b << 6)));
    acc += s * (tabHalf(load<u16>(w)) * load<f32>(ds + (<usize>b << 2)));
  }
  return acc;
}

/** Horizontal sums of four i32x4 → one i32x4 [Σs0, Σs1, Σs2, Σs3]. */
@inline
function hsum4(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  const u = i32x4.add(i32x4.shuffle(s0, s1, 0, 4, 1, 5), i32x4.shuffle(s0, s1, 2, 6, 3, 7));
  const w = i32x4.add(i32x4.shuffle(s2, s3, 0, 4, 1, 5), i32x4.shuffle(s2, s3, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(u, w, 0, 1, 4, 5), i32x4.shuffle(u, w, 2, 3, 6, 7));
}

/** Stores lanes of v (+ b) to out + r · os for the rows r < n of a group. */
@inline
function storeLanes(v: v128, b: f32, out: usize, os: usize, n: i32): void {
  store<f32>(out, f32x4.extract_lane(v, 0) + b);
  if (n > 1) store<f32>(out + os, f32x4.extract_lane(v, 1) + b);
  if (n > 2) store<f32>(out + 2 * os, f32x4.extract_lane(v, 2) + b);
  if (n > 3) store<f32>(out + 3 * os, f32x4.extract_lane(v, 3) + b);
}

/**
 * One Q4_0 weight row · the quantized activation rows of groups g and g + 1 (8 rows; two = false: group g
 * alone). Each block's nibbles are widened once and dotted with every row; the four rows' integer block sums
 * are reduced into one vector and scaled by d_w · (their transposed d_x). Every row is summed the same way
 * whichever group and call it falls in. Inlined into one copy per value of two, so that it does not branch in
 * the loop.
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
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  for (let k = 0; k < nb; k++, w += 18, g0 += GROUP_BLOCK, g1 += GROUP_BLOCK) {
    const q = v128.load(w, 2);
    const m = i16x8.splat(0x000f);
    const e0 = v128.and(q, m);
    const e1 = v128.and(i16x8.shr_u(q, 8), m);
    const e2 = v128.and(i16x8.shr_u(q, 4), m);
    const e3 = i16x8.shr_u(q, 12);
    const dw = f32x4.splat(tabHalf(load<u16>(w)));
    let s = hsum4(
      wdot32(e0, e1, e2, e3, g0),
      wdot32(e0, e1, e2, e3, g0 + 64),
      wdot32(e0, e1, e2, e3, g0 + 128),
      wdot32(e0, e1, e2, e3, g0 + 192),
    );
    s = i32x4.sub(s, v128.load(g0, 272));
    a0 = f32x4.add(a0, f32x4.mul(f32x4.convert_i32x4_s(s), f32x4.mul(v128.load(g0, 256), dw)));
    if (two) {
      let s4 = hsum4(
        wdot32(e0, e1, e2, e3, g1),
        wdot32(e0, e1, e2, e3, g1 + 64),
        wdot32(e0, e1, e2, e3, g1 + 128),
        wdot32(e0, e1, e2, e3, g1 + 192),
      );
      s4 = i32x4.sub(s4, v128.load(g1, 272));
      a1 = f32x4.add(a1, f32x4.mul(f32x4.convert_i32x4_s(s4), f32x4.mul(v128.load(g1, 256), dw)));
    }
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

/** Depths c..c+3 (c a multiple of 4) of the Q8_0 block at w as int16 [w_c .. w_c+3, w_c .. w_c+3]. */
@inline
function pairWeights(w: usize, c: usize): v128 {
  return i16x8.extend_low_i8x16_s(v128.load32_splat(w + c, 2));
}

/** One pair-transposed chunk of four rows at x dotted with weights E and E's pairs swapped (F): four row sums. */
@inline
function pairDot(E: v128, F: v128, x: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(E, v128.load(x)), i32x4.dot_i16x8_s(F, v128.load(x, 16)));
}

/** acc + (row sums s) · d_x · d_w, lane by lane: the same formula for every row wherever it is computed. */
@inline
function pairScale(acc: v128, s: v128, g: usize, dw: v128): v128 {
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), f32x4.mul(v128.load(g, 256), dw)));
}

/**
 * Q8_0 weight rows wa and wb (two = false: wa alone) · the pair-transposed rows of groups g0 and g1 (g2 = false:
 * g0 alone), stored to out (rows r of the groups at out + r · os, weight rows at out and out + 4): each weight
 * depth quad is broadcast once, and one i16 dot of it with a group's chunk gives four rows' partial sums in four
 * lanes, so that no horizontal sums are needed, and each x chunk is loaded once for both weight rows. A row's
 * block sum is scaled and added exactly as the other paths of M > 1 do, so results do not depend on the tile.
 * Inlined into one copy per (two, g2); the depth loop is kept small, because V8 issues a loop body's loads first
 * and a larger body spills.
 */
@inline
function pairTile(
  wa: usize,
  wb: usize,
  g0: usize,
  g1: usize,
  nb: i32,
  two: bool,
  g2: bool,
  ba: f32,
  bb: f32,
  out: usize,
  os: usize,
  n0: i32,
  n1: i32,
): void {
  let a00 = f32x4.splat(0);
  let a01 = f32x4.splat(0);
  let a10 = f32x4.splat(0);
  let a11 = f32x4.splat(0);
  for (let k = 0; k < nb; k++, wa += 34, wb += 34, g0 += GROUP_BLOCK, g1 += GROUP_BLOCK) {
    let s00 = i32x4.splat(0);
    let s01 = i32x4.splat(0);
    let s10 = i32x4.splat(0);
    let s11 = i32x4.splat(0);
    for (let c: usize = 0; c < 32; c += 4) {
      const Ea = pairWeights(wa, c);
      const Fa = i32x4.shuffle(Ea, Ea, 1, 0, 3, 2);
      const x0 = g0 + (c << 3);
      const x1 = g1 + (c << 3);
      s00 = i32x4.add(s00, pairDot(Ea, Fa, x0));
      if (g2) s01 = i32x4.add(s01, pairDot(Ea, Fa, x1));
      if (two) {
        const Eb = pairWeights(wb, c);
        const Fb = i32x4.shuffle(Eb, Eb, 1, 0, 3, 2);
        s10 = i32x4.add(s10, pairDot(Eb, Fb, x0));
        if (g2) s11 = i32x4.add(s11, pairDot(Eb, Fb, x1));
      }
    }
    const dwa = f32x4.splat(tabHalf(load<u16>(wa)));
    a00 = pairScale(a00, s00, g0, dwa);
    if (g2) a01 = pairScale(a01, s01, g1, dwa);
    if (two) {
      const dwb = f32x4.splat(tabHalf(load<u16>(wb)));
      a10 = pairScale(a10, s10, g0, dwb);
      if (g2) a11 = pairScale(a11, s11, g1, dwb);
    }
  }
  storeLanes(a00, ba, out, os, n0);
  if (g2) storeLanes(a01, ba, out + 4 * os, os, n1);
  if (two) {
    storeLanes(a10, bb, out + 4, os, n0);
    if (g2) storeLanes(a11, bb, out + 4 + 4 * os, os, n1);
  }
}

function pairTile2x8(wa: usize, g0: usize, g1: usize, nb: i32, ba: f32, bb: f32, out: usize, os: usize, n0: i32, n1: i32): void {
  pairTile(wa, wa + <usize>nb * 34, g0, g1, nb, true, true, ba, bb, out, os, n0, n1);
}

function pairTile2x4(wa: usize, g0: usize, nb: i32, ba: f32, bb: f32, out: usize, os: usize, n0: i32): void {
  pairTile(wa, wa + <usize>nb * 34, g0, g0, nb, true, false, ba, bb, out, os, n0, 0);
}

function pairTile1x8(wa: usize, g0: usize, g1: usize, nb: i32, ba: f32, out: usize, os: usize, n0: i32, n1: i32): void {
  pairTile(wa, wa, g0, g1, nb, false, true, ba, 0, out, os, n0, n1);
}

function pairTile1x4(wa: usize, g0: usize, nb: i32, ba: f32, out: usize, os: usize, n0: i32): void {
  pairTile(wa, wa, g0, g0, nb, false, false, ba, 0, out, os, n0, 0);
}

/** Q8_0 rows [c0, c1) (c0 a multiple of 4) × columns [n0, n1) on the pair tiles, two weight rows at a time. */
function pairTiles(w: usize, rb: usize, grouped: usize, gs: usize, nb: i32, N: i32, bias: usize, out: usize, c0: i32, c1: i32, n0: i32, n1: i32): void {
  const os = <usize>N << 2;
  for (let n = n0; n < n1; n += 2) {
    const wr = w + <usize>n * rb;
    const ba: f32 = bias ? load<f32>(bias + (<usize>n << 2)) : 0;
    const two = n + 1 < n1;
    const bb: f32 = bias && two ? load<f32>(bias + (<usize>(n + 1) << 2)) : 0;
    for (let m = c0; m < c1; m += 8) {
      const g0 = grouped + <usize>(m >> 2) * gs;
      const o = out + ((<usize>m * N + n) << 2);
      const r0 = min(4, c1 - m);
      if (m + 4 < c1) {
        const r1 = min(4, c1 - m - 4);
        if (two) pairTile2x8(wr, g0, g0 + gs, nb, ba, bb, o, os, r0, r1);
        else pairTile1x8(wr, g0, g0 + gs, nb, ba, o, os, r0, r1);
      } else if (two) pairTile2x4(wr, g0, nb, ba, bb, o, os, r0);
      else pairTile1x4(wr, g0, nb, ba, o, os, r0);
    }
  }
}

/**
 * Rows [m0, m1) x columns [n0, n1) of out[M, N] (row stride N). `xq` 0 = exact path, else x quantized by
 * quantizeRows (used for Q8_0/Q4_0 weights only, K a multiple of 32); `rowbuf` holds ROWS_W · K floats (used
 * only on the exact path when M > 1 and the weights are not f32; K floats for Q4_K/Q6_K); `bias` 0 = none.
 */
export function linear(
  dtype: i32,
  x: usize,
  xq: usize,
  M: i32,
  K: i32,
  w: usize,
  N: i32,
  bias: usize,
  out: usize,
  rowbuf: usize,
  m0: i32,
  m1: i32,
  n0: i32,
  n1: i32,
): void {
  if (dtype & DT_GEMM) {
    // all rows, columns [n0, n1): the host splits this path by columns; rowbuf holds linearGemmWorkBytes()
    const dt = dtype & ~DT_GEMM;
    linearGemm(dt, x, M, K, w, rowBytes(dt, K), N, bias, out, rowbuf, n0, n1);
    return;
  }
  if (dtype == DT_Q4_K || dtype == DT_Q6_K) {
    linearK(dtype, x, xq, M, K, w, N, bias, out, rowbuf, m0, m1, n0, n1);
    return;
  }
  const rb = rowBytes(dtype, K);
  const os = <usize>N << 2;
  if (xq && (dtype == DT_Q8_0 || dtype == DT_Q4_0)) {
    if (ASC_FEATURE_RELAXED_SIMD) {
      if (relaxedPath(dtype, M)) {
        linearQuantR(dtype, xq, M, K, w, rb, N, bias, out, 0, m0, m1, n0, n1);
        return;
      }
    }
    const qb = quantRowBytes(K);
    const nb = K >> 5;
    if (M == 1) {
      for (let n = n0; n < n1; n++) {
        const b: f32 = bias ? load<f32>(bias + (<usize>n << 2)) : 0;
        const wr = w + <usize>n * rb;
        store<f32>(out + (<usize>n << 2), (dtype == DT_Q8_0 ? dotQuantQ8(wr, xq, nb, K) : dotQuantQ4(wr, xq, nb, K)) + b);
      }
      return;
    }
    // groups of four rows (m0 is a multiple of 4: tasks.ts splits M in fours), the last one padded
    const grouped = xq + <usize>M * qb;
    const gs = <usize>nb * GROUP_BLOCK;
    for (let c0 = m0; c0 < m1; c0 += CHUNK) {
      const c1 = min(m1, c0 + CHUNK);
      if (dtype == DT_Q8_0) {
        pairTiles(w, rb, grouped, gs, nb, N, bias, out, c0, c1, n0, n1);
        continue;
      }
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
    return;
  }
  if (M == 1) {
    for (let n = n0; n < n1; n++) {
      const wr = w + <usize>n * rb;
      let s: f32;
      if (dtype == DT_F32) s = dotF32(x, wr, K);
      else if (dtype == DT_F16) s = dotF16(x, wr, K);
      else if (dtype == DT_F16_FINITE) s = dotF16Finite(x, wr, K);
      else if (dtype == DT_BF16) s = dotBF16(x, wr, K);
      else if (dtype == DT_Q8_0) s = dotQ8_0(x, wr, K >> 5);
      else s = dotQ4_0(x, wr, K >> 5);
      if (bias) s += load<f32>(bias + (<usize>n << 2));
      store<f32>(out + (<usize>n << 2), s);
    }
    return;
  }
  if (dtype == DT_F32) {
    linearF32(x, K, w + <usize>n0 * rb, rb, N, bias, out, m0, m1, n0, n1);
    return;
  }
  // other stored rows: expand a group of ROWS_W rows to f32 in rowbuf, then the same tiles
  const fs = <usize>K << 2;
  for (let n = n0; n < n1; n += ROWS_W) {
    const cn = min(ROWS_W, n1 - n);
    for (let j = 0; j < cn; j++) expandRow(dtype, w + <usize>(n + j) * rb, K, rowbuf + <usize>j * fs);
    linearF32(x, K, rowbuf, fs, N, bias, out, m0, m1, n, n + cn);
  }
}
