// out[M, N] = x[M, K] · w[N, K]ᵀ (+ bias) with SIMD on GGML k-quant blocks of 256 values (llama.cpp's block_q4_K
// and block_q6_K, layouts in src/tensor/quant.ts), decoded a block or a row at a time, never a whole tensor.
// Q4_K (144 bytes): f16 d, f16 dmin, 12 bytes of 6-bit scales/mins for 8 sub-blocks of 32, 128 bytes of nibbles
// (bytes 32j..32j+31: low nibbles are sub-block 2j, high nibbles 2j+1); w = d·sc·q − dmin·m.
// Q6_K (210 bytes): 128 bytes of low nibbles, 64 of 2-bit highs, 16 int8 scales (one per 16 values), f16 d;
// w = d·sc·(q − 32). Both split into groups of 32 that line up with the 32-blocks of quantized activations.
// Paths as in linear.ts, chosen by (dtype, M, xq) only: exact (M = 1 dots blocks in place; M > 1 expands a row
// to f32 in rowbuf and reuses it for a chunk of x rows) and quantized activations (xq from quantizeRowsK): each
// group is an integer dot (i32x4.dot_i16x8_s) scaled by d·sc·dx, minus dmin·m·dx·Σxq for Q4_K (M > 1: on a row
// expanded to int16 in rowbuf). Loop bodies stay small: V8 issues all loads of a body first, spilling the rest.
// The relaxed-SIMD module's matvec (M = 1) instead dots int8 activations quantized per 256 (llama.cpp's Q8_K,
// quantizeRowQ8K) with i16x8.relaxed_dot_i8x16_i7x16_s, summing a block's groups as integers times the int6/int8
// scales (Q4_K two rows at a time), and its Q4_K and Q6_K with M > 1 run linear-relaxed.ts's grouped kernels on
// x in Q4_0's layout with one dx a block of 256 (groupedK), a block's groups again summed as integers.

import { DT_Q4_0 } from "./expand";
import { linearQuantR, quantBytesR, quantizeRowsR } from "./linear-relaxed";
import { absMax32, hsumI32, invScale, roundScaled } from "./xquant";
import { hsum, tabHalf } from "./half";
import {
  dot1,
  dot4Store,
  dotDecodedQ,
  dotDecodedQ2Store,
  expandRowF32,
  expandRowI16,
  pair,
  q4kScale,
  q4kScaleBytes,
  q4kScaleBytesM,
  Q4K_A,
  Q4K_B,
  Q4K_C,
  Q4K_HI,
  Q4K_LO,
  u8Quarter,
} from "./kquant-rows";

export const DT_Q4_K: i32 = 4;
export const DT_Q6_K: i32 = 5;

/** x rows per chunk when M > 1: the chunk stays in cache while every weight row passes over it. */
const CHUNK: i32 = 16;

export function kquantRowBytes(dtype: i32, K: i32): usize {
  return <usize>(K >> 8) * (dtype == DT_Q4_K ? 144 : 210);
}

/** Bytes of one quantized activation row: K int16 values, then K / 32 f32 scales dx, then K / 32 sums dx·Σq. */
export function quantRowBytesK(K: i32): usize {
  return (<usize>K << 1) + (<usize>(K >> 5) << 3);
}

/**
 * Whether a k-quant with M > 1 runs the relaxed module's grouped int8 product (linearQuantR), on x quantized by
 * quantizeRowsR for its dtype: Q4_0's layout of q8 blocks of 32 with one dx a block of 256 (Q8_K's rounding),
 * plus the grouped copy; for Q6_K also each half block's Σq. The callers test ASC_FEATURE_RELAXED_SIMD first.
 */
@inline
function groupedK(M: i32): bool {
  return M > 1;
}

/** Bytes quantizeRowsK writes for M rows of K values and weights of `dtype`. */
export function quantBytesK(M: i32, K: i32, dtype: i32): usize {
  const rows = <usize>M * quantRowBytesK(K);
  if (ASC_FEATURE_RELAXED_SIMD) {
    if (groupedK(M)) return max(rows, quantBytesR(M, K, dtype));
  }
  return rows;
}

/**
 * x[M, K] (K a multiple of 32) → M rows at `out` for weights of `dtype`. Baseline module: rows of
 * quantRowBytesK(K), blocks of 32 rounded as quantizeRows does (dx = max|x| / 127, q = round(x / dx) in
 * [-127, 127], held as int16), plus dx·Σq of each block (Q4_K's min term). Relaxed module: quantizeRowsR's layout
 * for the grouped kernels (M > 1, groupedK), else quantizeRowQ8K's for the matvec (dotRowsQ4KQR, dotQ6KQR).
 * Returns 0 when some x is infinite or NaN (the caller then takes the exact path, which propagates them).
 */
export function quantizeRowsK(x: usize, M: i32, K: i32, out: usize, dtype: i32): i32 {
  if (ASC_FEATURE_RELAXED_SIMD) return groupedK(M) ? quantizeRowsR(x, M, K, out, dtype) : quantizeRowQ8K(x, K, out);
  let finite = true;
  const nb = K >> 5;
  const rb = quantRowBytesK(K);
  for (let m = 0; m < M; m++) {
    const q = out + <usize>m * rb;
    const ds = q + (<usize>K << 1);
    const ss = ds + (<usize>nb << 2);
    let xb = x + <usize>m * (<usize>K << 2);
    for (let b = 0; b < nb; b++, xb += 128) {
      const amax = absMax32(xb);
      finite = finite && amax < Infinity; // false for +inf and NaN
      const d: f32 = amax / 127;
      const id = invScale(d);
      const qb = q + (<usize>b << 6);
      let sum = i16x8.splat(0); // four values of at most 127 per lane
      for (let j = 0; j < 4; j++) {
        const o = <usize>j << 5;
        const v = i16x8.narrow_i32x4_s(roundScaled(v128.load(xb + o), id), roundScaled(v128.load(xb + o, 16), id));
        v128.store(qb + (<usize>j << 4), v);
        sum = i16x8.add(sum, v);
      }
      const total = hsumI32(i32x4.extadd_pairwise_i16x8_s(sum));
      store<f32>(ds + (<usize>b << 2), d);
      store<f32>(ss + (<usize>b << 2), d * <f32>total);
    }
  }
  return finite ? 1 : 0;
}

/**
 * Relaxed module, M = 1: x[K] → K int8 values in blocks of 256 with one scale each (llama.cpp's
 * Q8_K: dx = max|x| / 127 over the 256, q = round(x / dx) in [-127, 127]), then a 64-byte record a block at K +
 * 64b: the sums of its sixteen 16s (int16, |Σ| ≤ 2032: Q6_K's −32 offset), of its eight 32s (int16 at 32: Q4_K's
 * mins) and dx (f32 at 48). One scale a block lets the kernels sum a block's groups as integers. Returns 0 on an
 * infinite or NaN x.
 */
function quantizeRowQ8K(x: usize, K: i32, out: usize): i32 {
  let finite = true;
  const nb = K >> 8;
  for (let b = 0; b < nb; b++) {
    const xb = x + (<usize>b << 10);
    const rec = out + <usize>K + (<usize>b << 6);
    let amax: f32 = 0;
    for (let s = 0; s < 8; s++) amax = max(amax, absMax32(xb + (<usize>s << 7)));
    finite = finite && amax < Infinity; // false for +inf and NaN
    const d: f32 = amax / 127;
    const id = invScale(d);
    for (let s = 0; s < 8; s++) {
      const o = xb + (<usize>s << 7);
      const v0 = i16x8.narrow_i32x4_s(roundScaled(v128.load(o), id), roundScaled(v128.load(o, 16), id));
      const v1 = i16x8.narrow_i32x4_s(roundScaled(v128.load(o, 32), id), roundScaled(v128.load(o, 48), id));
      const v2 = i16x8.narrow_i32x4_s(roundScaled(v128.load(o, 64), id), roundScaled(v128.load(o, 80), id));
      const v3 = i16x8.narrow_i32x4_s(roundScaled(v128.load(o, 96), id), roundScaled(v128.load(o, 112), id));
      const qv = out + (<usize>b << 8) + (<usize>s << 5);
      v128.store(qv, i8x16.narrow_i16x8_s(v0, v1));
      v128.store(qv, i8x16.narrow_i16x8_s(v2, v3), 16);
      const s0 = hsumI32(i32x4.extadd_pairwise_i16x8_s(i16x8.add(v0, v1)));
      const s1 = hsumI32(i32x4.extadd_pairwise_i16x8_s(i16x8.add(v2, v3)));
      store<i16>(rec + (<usize>s << 2), <i16>s0);
      store<i16>(rec + (<usize>s << 2), <i16>s1, 2);
      store<i16>(rec + (<usize>s << 1), <i16>(s0 + s1), 32);
    }
    store<f32>(rec, d, 48);
  }
  return finite ? 1 : 0;
}

/** 32 unsigned bytes (a: values 0..15, b: 16..31) · 32 int16 activations, as an i32x4 of partial sums. */
@inline
function idot32(a: v128, b: v128, xq: usize): v128 {
  const a0 = i16x8.extend_low_i8x16_u(a);
  const a1 = i16x8.extend_high_i8x16_u(a);
  const b0 = i16x8.extend_low_i8x16_u(b);
  const b1 = i16x8.extend_high_i8x16_u(b);
  const s0 = i32x4.add(i32x4.dot_i16x8_s(a0, v128.load(xq)), i32x4.dot_i16x8_s(a1, v128.load(xq, 16)));
  const s1 = i32x4.add(i32x4.dot_i16x8_s(b0, v128.load(xq, 32)), i32x4.dot_i16x8_s(b1, v128.load(xq, 48)));
  return i32x4.add(s0, s1);
}

/** Q4_K nibbles of 64 values at q (sub-blocks 2j, 2j+1) · their activations: the two group sums, paired. */
@inline
function q4kPairQ(q: usize, xq: usize): v128 {
  const q0 = v128.load(q);
  const q1 = v128.load(q, 16);
  const m = i8x16.splat(0x0f);
  const lo = idot32(v128.and(q0, m), v128.and(q1, m), xq);
  const hi = idot32(v128.and(i16x8.shr_u(q0, 4), m), v128.and(i16x8.shr_u(q1, 4), m), xq + 64);
  return pair(lo, hi, true);
}

/** Swizzle picking unsigned bytes 2j, 2j+1, 2j, 2j+1 into i32 lanes (after adding 2j to every byte). */
const PAIR_BYTES: v128 = i8x16(
  0, -128, -128, -128, 1, -128, -128, -128,
  0, -128, -128, -128, 1, -128, -128, -128,
);

/** Scales 2j, 2j+1 of a q4kScaleBytes vector as f32 [s2j, s2j+1, s2j, s2j+1] (the lanes of a pair()). */
@inline
function pairScales(sm: v128, j: i32): v128 {
  return f32x4.convert_i32x4_s(i8x16.swizzle(sm, i8x16.add(PAIR_BYTES, i8x16.splat(<i8>(j << 1)))));
}

/** One Q4_K row · one quantized activation row: Σ_groups dx·(d·sc·Σq·xq − dmin·m·Σxq). */
function dotQ4KQ(w: usize, xq: usize, K: i32): f32 {
  const nb = K >> 8;
  let ds = xq + (<usize>K << 1);
  let ss = ds + (<usize>(K >> 5) << 2);
  let acc = f32x4.splat(0);
  for (let b = 0; b < nb; b++, w += 144, ds += 32, ss += 32) {
    const sm = q4kScaleBytes(w);
    const ma = f32x4.mul(u8Quarter(sm, 2), v128.load(ss));
    const mins = f32x4.add(ma, f32x4.mul(u8Quarter(sm, 3), v128.load(ss, 16)));
    let s = f32x4.splat(0);
    for (let j = 0; j < 4; j++, xq += 128) {
      const f = f32x4.mul(pairScales(sm, j), v128.load64_splat(ds + (<usize>j << 3)));
      s = f32x4.add(s, f32x4.mul(f32x4.convert_i32x4_s(q4kPairQ(w + 16 + (<usize>j << 5), xq)), f));
    }
    acc = f32x4.add(acc, f32x4.sub(f32x4.mul(s, q4kScale(w, false)), f32x4.mul(mins, q4kScale(w, true))));
  }
  return hsum(acc);
}

/**
 * Two Q4_K rows, wa and wa + d (d = 0: one row, stored twice into the same place) · x from quantizeRowQ8K
 * (relaxed module), sharing the loads of x: Σ_blocks d·dx·Σ sc·Σq·xq − dmin·dx·Σ m·Σxq, the inner sums integers.
 * The nibbles are the [0, 127] operand of the relaxed int8 dot, one per 16 weights; each pass of 64 values adds
 * its two groups' int16 pair sums as [2j, 2j, 2j+1, 2j+1, ...] (q4kPassR) and multiplies them by the scales in that
 * order (one pmaddwd; the scales as int16 lanes swizzled by PASS_SC). The mins meet x's sums of 32 in one more.
 * Constant vectors and each row's int16 scales go through f (0..191): V8 materialises a constant vector at each
 * use in the loop (up to five instructions) and would keep the scales in registers it lacks (spills); a load
 * is one instruction. Each row's arithmetic does not depend on its partner (the same bits however rows are
 * paired). The rows should lie far apart (as for dotRowsQ4 in linear-relaxed.ts).
 */
function dotRowsQ4KQR(wa: usize, d: usize, xq: usize, K: i32, f: usize, ba: f32, bb: f32, out: usize, os: usize): void {
  const nb = K >> 8;
  let rec = xq + <usize>K;
  v128.store(f, i8x16.splat(0x0f), 144);
  v128.store(f, Q4K_LO, 64);
  v128.store(f, Q4K_HI, 80);
  v128.store(f, Q4K_A, 96);
  v128.store(f, Q4K_B, 112);
  v128.store(f, Q4K_C, 128);
  v128.store(f, PASS_SC0);
  v128.store(f, PASS_SC1, 16);
  v128.store(f, PASS_SC2, 32);
  v128.store(f, PASS_SC3, 48);
  let acc = f32x4.splat(0);
  let bcc = f32x4.splat(0);
  for (let b = 0; b < nb; b++, wa += 144, rec += 64) {
    const wb = wa + d;
    const c0 = v128.load(f, 64);
    const c1 = v128.load(f, 80);
    const c2 = v128.load(f, 96);
    const c3 = v128.load(f, 112);
    const c4 = v128.load(f, 128);
    const sa = q4kScaleBytesM(wa, c0, c1, c2, c3, c4);
    const sb = q4kScaleBytesM(wb, c0, c1, c2, c3, c4);
    v128.store(f, i16x8.extend_low_i8x16_u(sa), 160);
    v128.store(f, i16x8.extend_low_i8x16_u(sb), 176);
    let s = i32x4.splat(0);
    let t = i32x4.splat(0);
    // pointers stepped by the loop (V8 recomputes j-based addresses each pass, about eight instructions)
    let q = wa + 16;
    let pf = f;
    const xend = xq + 256;
    for (let x = xq; x < xend; x += 64, q += 32, pf += 16) {
      const x0 = v128.load(x);
      const x1 = v128.load(x, 16);
      const x2 = v128.load(x, 32);
      const x3 = v128.load(x, 48);
      const p = v128.load(pf);
      const m = v128.load(f, 144);
      s = i32x4.add(s, i32x4.dot_i16x8_s(q4kPassR(q, x0, x1, x2, x3, m), i8x16.relaxed_swizzle(v128.load(f, 160), p)));
      t = i32x4.add(t, i32x4.dot_i16x8_s(q4kPassR(q + d, x0, x1, x2, x3, m), i8x16.relaxed_swizzle(v128.load(f, 176), p)));
    }
    xq += 256;
    const bsv = v128.load(rec, 32);
    const minsA = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(sa), bsv);
    const minsB = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(sb), bsv);
    const dx = load<f32>(rec, 48);
    const da = f32x4.splat(tabHalf(load<u16>(wa)) * dx);
    const ma = f32x4.splat(tabHalf(load<u16>(wa, 2)) * dx);
    const db = f32x4.splat(tabHalf(load<u16>(wb)) * dx);
    const mb = f32x4.splat(tabHalf(load<u16>(wb, 2)) * dx);
    acc = f32x4.add(acc, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(s), da), f32x4.mul(f32x4.convert_i32x4_s(minsA), ma)));
    bcc = f32x4.add(bcc, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_s(t), db), f32x4.mul(f32x4.convert_i32x4_s(minsB), mb)));
  }
  store<f32>(out, hsum(acc) + ba);
  store<f32>(out + os, hsum(bcc) + bb);
}

/**
 * Swizzles of int16 scales s0..s7 (sub-blocks, or a Q6_K half block's 16s) into pass j's order [s2j, s2j, s2j+1,
 * s2j+1] twice: the lanes of q4kPassR's and q6kGroupQR's int16 sums. Every index is below 16, where
 * i8x16.relaxed_swizzle is exact (one pshufb; i8x16.swizzle adds a fix-up of its indices).
 */
const PASS_SC0: v128 = i8x16(0, 1, 0, 1, 2, 3, 2, 3, 0, 1, 0, 1, 2, 3, 2, 3);
const PASS_SC1: v128 = i8x16(4, 5, 4, 5, 6, 7, 6, 7, 4, 5, 4, 5, 6, 7, 6, 7);
const PASS_SC2: v128 = i8x16(8, 9, 8, 9, 10, 11, 10, 11, 8, 9, 8, 9, 10, 11, 10, 11);
const PASS_SC3: v128 = i8x16(12, 13, 12, 13, 14, 15, 14, 15, 12, 13, 12, 13, 14, 15, 14, 15);

/**
 * One pass of dotRowsQ4KQR (64 values of one row at q, x0..x3 its int8 activations): int16 lanes of partial sums
 * of groups [2j, 2j, 2j+1, 2j+1, 2j, 2j, 2j+1, 2j+1] (each the sum of 8 products ≤ 15·127: at most 15240).
 */
@inline
function q4kPassR(q: usize, x0: v128, x1: v128, x2: v128, x3: v128, m: v128): v128 {
  const q0 = v128.load(q);
  const q1 = v128.load(q, 16);
  const dl = i16x8.add(
    i16x8.relaxed_dot_i8x16_i7x16_s(x0, v128.and(q0, m)),
    i16x8.relaxed_dot_i8x16_i7x16_s(x1, v128.and(q1, m)),
  );
  const dh = i16x8.add(
    i16x8.relaxed_dot_i8x16_i7x16_s(x2, v128.and(i16x8.shr_u(q0, 4), m)),
    i16x8.relaxed_dot_i8x16_i7x16_s(x3, v128.and(i16x8.shr_u(q1, 4), m)),
  );
  return i16x8.add(i32x4.shuffle(dl, dh, 0, 4, 1, 5), i32x4.shuffle(dl, dh, 2, 6, 3, 7));
}

/** Rows apart (at most) that dotRowsQ4KQR pairs, within spans of twice as many. */
const Q4K_SPAN: i32 = 64;

/** Q4_K rows [n0, n1) (M = 1, int8 x): row n of each span's first half with row n + half, as linearQuantR's Q4_0. */
function linearQ4KRows(xq: usize, K: i32, w: usize, rb: usize, bias: usize, out: usize, f: usize, n0: i32, n1: i32): void {
  for (let s0 = n0; s0 < n1; s0 += 2 * Q4K_SPAN) {
    const half = min(Q4K_SPAN, (n1 - s0) >> 1);
    for (let n = s0; n < s0 + half; n++) {
      const ba: f32 = bias ? load<f32>(bias + (<usize>n << 2)) : 0;
      const bb: f32 = bias ? load<f32>(bias + (<usize>(n + half) << 2)) : 0;
      dotRowsQ4KQR(w + <usize>n * rb, <usize>half * rb, xq, K, f, ba, bb, out + (<usize>n << 2), <usize>half << 2);
    }
    if (s0 + 2 * half < min(n1, s0 + 2 * Q4K_SPAN)) {
      const n = s0 + 2 * half; // the odd row left in a short span, dotted twice into the same place
      const b: f32 = bias ? load<f32>(bias + (<usize>n << 2)) : 0;
      dotRowsQ4KQR(w + <usize>n * rb, 0, xq, K, f, b, b, out + (<usize>n << 2), 0);
    }
  }
}

/** One Q6_K group of 32 (scales sc[0], sc[1] for its two halves) · activations: integer Σ sc·q·xq. */
@inline
function q6kGroupQ(a: v128, b: v128, xq: usize, sc: usize): v128 {
  const sa = i16x8.splat(<i16>load<i8>(sc));
  const sb = i16x8.splat(<i16>load<i8>(sc, 1));
  const a0 = i16x8.mul(i16x8.extend_low_i8x16_s(a), sa);
  const a1 = i16x8.mul(i16x8.extend_high_i8x16_s(a), sa);
  const b0 = i16x8.mul(i16x8.extend_low_i8x16_s(b), sb);
  const b1 = i16x8.mul(i16x8.extend_high_i8x16_s(b), sb);
  const s0 = i32x4.add(i32x4.dot_i16x8_s(a0, v128.load(xq)), i32x4.dot_i16x8_s(a1, v128.load(xq, 16)));
  const s1 = i32x4.add(i32x4.dot_i16x8_s(b0, v128.load(xq, 32)), i32x4.dot_i16x8_s(b1, v128.load(xq, 48)));
  return i32x4.add(s0, s1);
}

/** Q6_K values q − 32 from low nibbles `l` (unmasked) and a byte whose bits 4–5 are the two high bits. */
@inline
function q6(l: v128, h: v128): v128 {
  return i8x16.sub(v128.or(v128.and(l, i8x16.splat(0x0f)), v128.and(h, i8x16.splat(0x30))), i8x16.splat(32));
}

/**
 * Relaxed module: one Q6_K group of 32 (unsigned q in [0, 63]: a values 0..15, b 16..31) · int8 activations at
 * xv, each half times its scale: the two int16 pair-sum vectors (each lane ≤ 2·63·127) are added lane to lane in
 * int16 (≤ 32004) as [A, A, B, B, A, A, B, B] and multiplied by the scales `sc` in that order (one pmaddwd).
 */
@inline
function q6kGroupQR(a: v128, b: v128, xv: usize, sc: v128): v128 {
  const da = i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xv), a);
  const db = i16x8.relaxed_dot_i8x16_i7x16_s(v128.load(xv, 16), b);
  const t = i16x8.add(i32x4.shuffle(da, db, 0, 4, 1, 5), i32x4.shuffle(da, db, 2, 6, 3, 7));
  return i32x4.dot_i16x8_s(t, sc);
}

/** Q6_K values q (0..63) from low nibbles `l` (unmasked) and a byte whose bits 4–5 are the two high bits. */
@inline
function q6u(l: v128, h: v128): v128 {
  return v128.or(v128.and(l, i8x16.splat(0x0f)), v128.and(h, i8x16.splat(0x30)));
}

/**
 * One Q6_K row · x from quantizeRowQ8K (relaxed module): a block's groups summed as integers (one dx a block),
 * Σ sc·q·xq less 32·Σ sc·(Σ of 16 values), times d·dx. Each group's scales come from the half's eight scales as
 * int16 lanes by one swizzle (PASS_SC, through f); the running sum is stored into f after each group, which keeps
 * V8 from issuing the next group's loads early (it spilled about 50 of a pass's 220 instructions).
 */
function dotQ6KQR(w: usize, xq: usize, K: i32, f: usize): f32 {
  const nb = K >> 8;
  let rec = xq + <usize>K;
  v128.store(f, PASS_SC0);
  v128.store(f, PASS_SC1, 16);
  v128.store(f, PASS_SC2, 32);
  v128.store(f, PASS_SC3, 48);
  let acc = f32x4.splat(0);
  for (let b = 0; b < nb; b++, xq += 256, w += 210, rec += 64) {
    const g = q6kHalfR(w + 64, w + 160, w + 200, xq + 128, rec + 16, f, q6kHalfR(w, w + 128, w + 192, xq, rec, f, i32x4.splat(0)));
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(g), f32x4.splat(tabHalf(load<u16>(w, 208)) * load<f32>(rec, 48))));
  }
  return hsum(acc);
}

/**
 * Half a Q6_K block for dotQ6KQR (its low nibbles at ql, high bits at qh, eight int8 scales at sc; xq its 128
 * int8 activations, xs their eight sums of 16) added to g.
 */
@inline
function q6kHalfR(ql: usize, qh: usize, sc: usize, xq: usize, xs: usize, f: usize, g: v128): v128 {
  // the half's eight int8 scales as int16 lanes, kept in f (a load at each use)
  const sv = i16x8.extend_low_i8x16_s(v128.load64_zero(sc));
  v128.store(f, sv, 64);
  // the −32 offset: 32·Σ sc·(Σ of 16 values) over the half's eight 16s
  g = i32x4.sub(g, i32x4.dot_i16x8_s(i16x8.shl(sv, 5), v128.load(xs)));
  g = i32x4.add(g, q6kGroupQR(q6u(v128.load(ql), i16x8.shl(v128.load(qh), 4)), q6u(v128.load(ql, 16), i16x8.shl(v128.load(qh, 16), 4)), xq, i8x16.relaxed_swizzle(v128.load(f, 64), v128.load(f))));
  v128.store(f, g, 80);
  g = i32x4.add(g, q6kGroupQR(q6u(v128.load(ql, 32), i16x8.shl(v128.load(qh), 2)), q6u(v128.load(ql, 48), i16x8.shl(v128.load(qh, 16), 2)), xq + 32, i8x16.relaxed_swizzle(v128.load(f, 64), v128.load(f, 16))));
  v128.store(f, g, 80);
  g = i32x4.add(g, q6kGroupQR(q6u(i16x8.shr_u(v128.load(ql), 4), v128.load(qh)), q6u(i16x8.shr_u(v128.load(ql, 16), 4), v128.load(qh, 16)), xq + 64, i8x16.relaxed_swizzle(v128.load(f, 64), v128.load(f, 32))));
  v128.store(f, g, 80);
  g = i32x4.add(g, q6kGroupQR(
    q6u(i16x8.shr_u(v128.load(ql, 32), 4), i16x8.shr_u(v128.load(qh), 2)),
    q6u(i16x8.shr_u(v128.load(ql, 48), 4), i16x8.shr_u(v128.load(qh, 16), 2)),
    xq + 96,
    i8x16.relaxed_swizzle(v128.load(f, 64), v128.load(f, 48)),
  ));
  v128.store(f, g, 80);
  return g;
}

/** One Q6_K row · one quantized activation row: Σ_groups d·dx·Σ sc·(q − 32)·xq, half a block (4 groups) a pass. */
function dotQ6KQ(w: usize, xq: usize, K: i32): f32 {
  const nh = K >> 7;
  let ds = xq + (<usize>K << 1);
  let acc = f32x4.splat(0);
  let d = f32x4.splat(0);
  for (let h = 0; h < nh; h++, xq += 256, ds += 16) {
    const odd = h & 1;
    if (!odd) d = f32x4.splat(tabHalf(load<u16>(w, 208)));
    const ql = w + (<usize>odd << 6);
    const qh = w + 128 + (<usize>odd << 5);
    const sc = w + 192 + (<usize>odd << 3);
    const l0 = v128.load(ql);
    const l1 = v128.load(ql, 16);
    const h0 = v128.load(qh);
    const h1 = v128.load(qh, 16);
    const g0 = q6kGroupQ(q6(l0, i16x8.shl(h0, 4)), q6(l1, i16x8.shl(h1, 4)), xq, sc);
    const g2 = q6kGroupQ(q6(i16x8.shr_u(l0, 4), h0), q6(i16x8.shr_u(l1, 4), h1), xq + 128, sc + 4);
    const l2 = v128.load(ql, 32);
    const l3 = v128.load(ql, 48);
    const g1 = q6kGroupQ(q6(l2, i16x8.shl(h0, 2)), q6(l3, i16x8.shl(h1, 2)), xq + 64, sc + 2);
    const h2 = i16x8.shr_u(h0, 2);
    const h3 = i16x8.shr_u(h1, 2);
    const g3 = q6kGroupQ(q6(i16x8.shr_u(l2, 4), h2), q6(i16x8.shr_u(l3, 4), h3), xq + 192, sc + 6);
    const g = pair(pair(g0, g2, true), pair(g1, g3, true), true); // [Σg0, Σg1, Σg2, Σg3]
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(g), f32x4.mul(v128.load(ds), d)));
    if (odd) w += 210;
  }
  return hsum(acc);
}

/** Sixteen unsigned bytes · x[0..16) as an f32x4 of partial sums. */
@inline
function fdot16(q: v128, x: usize): v128 {
  const lo = i16x8.extend_low_i8x16_u(q);
  const hi = i16x8.extend_high_i8x16_u(q);
  const p0 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), v128.load(x));
  const p1 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), v128.load(x, 16));
  const p2 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), v128.load(x, 32));
  const p3 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), v128.load(x, 48));
  return f32x4.add(f32x4.add(p0, p1), f32x4.add(p2, p3));
}

/** Σ x[0..32) as an f32x4 of partial sums. */
@inline
function fsum32(x: usize): v128 {
  const a = f32x4.add(f32x4.add(v128.load(x), v128.load(x, 16)), f32x4.add(v128.load(x, 32), v128.load(x, 48)));
  const b = f32x4.add(f32x4.add(v128.load(x, 64), v128.load(x, 80)), f32x4.add(v128.load(x, 96), v128.load(x, 112)));
  return f32x4.add(a, b);
}

/** Q4_K nibbles of 64 values at q (sub-blocks 2j, 2j+1) · f32 x: their two sums of q·x, paired. */
@inline
function q4kPairF(q: usize, x: usize): v128 {
  const q0 = v128.load(q);
  const q1 = v128.load(q, 16);
  const m = i8x16.splat(0x0f);
  const s0 = f32x4.add(fdot16(v128.and(q0, m), x), fdot16(v128.and(q1, m), x + 64));
  const s1 = f32x4.add(fdot16(v128.and(i16x8.shr_u(q0, 4), m), x + 128), fdot16(v128.and(i16x8.shr_u(q1, 4), m), x + 192));
  return pair(s0, s1, false);
}

/** Σ x[32b .. 32b + 32) for each block b of K → `out` (K / 32 floats). */
function blockSums(x: usize, K: i32, out: usize): void {
  for (let b = 0; b < K >> 5; b++) store<f32>(out + (<usize>b << 2), hsum(fsum32(x + (<usize>b << 7))));
}

/** One Q4_K row · f32 x (exact path): Σ_sub-blocks d·sc·Σq·x − dmin·m·Σx, with Σx from blockSums at xs. */
function dotQ4K(w: usize, x: usize, xs: usize, K: i32): f32 {
  const nb = K >> 8;
  let acc = f32x4.splat(0);
  for (let b = 0; b < nb; b++, w += 144, xs += 32) {
    const sm = q4kScaleBytes(w);
    const ma = f32x4.mul(u8Quarter(sm, 2), v128.load(xs));
    const mins = f32x4.add(ma, f32x4.mul(u8Quarter(sm, 3), v128.load(xs, 16)));
    let s = f32x4.splat(0);
    for (let j = 0; j < 4; j++, x += 256) {
      s = f32x4.add(s, f32x4.mul(q4kPairF(w + 16 + (<usize>j << 5), x), pairScales(sm, j)));
    }
    acc = f32x4.add(acc, f32x4.sub(f32x4.mul(s, q4kScale(w, false)), f32x4.mul(mins, q4kScale(w, true))));
  }
  return hsum(acc);
}

/** Sixteen int16 values · x[0..8) and x[8..16) as an f32x4 of partial sums. */
@inline
function fdot16i(a: v128, b: v128, x: usize): v128 {
  const p0 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(a)), v128.load(x));
  const p1 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(a)), v128.load(x, 16));
  const p2 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(b)), v128.load(x, 32));
  const p3 = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(b)), v128.load(x, 48));
  return f32x4.add(f32x4.add(p0, p1), f32x4.add(p2, p3));
}

/** One Q6_K group of 32 (scales at sc) · f32 x: Σ sc·(q − 32)·x as an f32x4 of partial sums. */
@inline
function q6kGroupF(a: v128, b: v128, x: usize, sc: usize): v128 {
  const sa = i16x8.splat(<i16>load<i8>(sc));
  const sb = i16x8.splat(<i16>load<i8>(sc, 1));
  const sa0 = fdot16i(i16x8.mul(i16x8.extend_low_i8x16_s(a), sa), i16x8.mul(i16x8.extend_high_i8x16_s(a), sa), x);
  const b0 = i16x8.mul(i16x8.extend_low_i8x16_s(b), sb);
  const sb0 = fdot16i(b0, i16x8.mul(i16x8.extend_high_i8x16_s(b), sb), x + 64);
  return f32x4.add(sa0, sb0);
}

/** One Q6_K row · f32 x (exact path): Σ_blocks d·Σ sc·(q − 32)·x, a half block (4 groups) a pass. */
function dotQ6K(w: usize, x: usize, K: i32): f32 {
  const nh = K >> 7;
  let acc = f32x4.splat(0);
  let s = f32x4.splat(0);
  for (let h = 0; h < nh; h++, x += 512) {
    const odd = h & 1;
    const ql = w + (<usize>odd << 6);
    const qh = w + 128 + (<usize>odd << 5);
    const sc = w + 192 + (<usize>odd << 3);
    const l0 = v128.load(ql);
    const l1 = v128.load(ql, 16);
    const h0 = v128.load(qh);
    const h1 = v128.load(qh, 16);
    s = f32x4.add(s, q6kGroupF(q6(l0, i16x8.shl(h0, 4)), q6(l1, i16x8.shl(h1, 4)), x, sc));
    s = f32x4.add(s, q6kGroupF(q6(i16x8.shr_u(l0, 4), h0), q6(i16x8.shr_u(l1, 4), h1), x + 256, sc + 4));
    const l2 = v128.load(ql, 32);
    const l3 = v128.load(ql, 48);
    s = f32x4.add(s, q6kGroupF(q6(l2, i16x8.shl(h0, 2)), q6(l3, i16x8.shl(h1, 2)), x + 128, sc + 2));
    const h2 = i16x8.shr_u(h0, 2);
    const h3 = i16x8.shr_u(h1, 2);
    s = f32x4.add(s, q6kGroupF(q6(i16x8.shr_u(l2, 4), h2), q6(i16x8.shr_u(l3, 4), h3), x + 384, sc + 6));
    if (odd) {
      acc = f32x4.add(acc, f32x4.mul(s, f32x4.splat(tabHalf(load<u16>(w, 208)))));
      s = f32x4.splat(0);
      w += 210;
    }
  }
  return hsum(acc);
}

/**
 * linear.ts's `linear` for dtype DT_Q4_K or DT_Q6_K (K a multiple of 256): rows [m0, m1) x columns [n0, n1) of
 * out[M, N]. `xq` 0 = exact path, else x quantized by quantizeRowsK; `rowbuf` holds K floats (this thread's).
 */
export function linearK(
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
  const rb = kquantRowBytes(dtype, K);
  const os = <usize>N << 2;
  if (M == 1) {
    if (ASC_FEATURE_RELAXED_SIMD) {
      if (xq && dtype == DT_Q4_K) {
        linearQ4KRows(xq, K, w, rb, bias, out, rowbuf, n0, n1);
        return;
      }
    }
    if (!xq && dtype == DT_Q4_K) blockSums(x, K, rowbuf);
    for (let n = n0; n < n1; n++) {
      const wr = w + <usize>n * rb;
      let s: f32;
      if (!xq) s = dtype == DT_Q4_K ? dotQ4K(wr, x, rowbuf, K) : dotQ6K(wr, x, K);
      else {
        s = 0;
        if (ASC_FEATURE_RELAXED_SIMD) s = dotQ6KQR(wr, xq, K, rowbuf); // Q4_K took linearQ4KRows
        else s = dtype == DT_Q4_K ? dotQ4KQ(wr, xq, K) : dotQ6KQ(wr, xq, K);
      }
      if (bias) s += load<f32>(bias + (<usize>n << 2));
      store<f32>(out + (<usize>n << 2), s);
    }
    return;
  }
  if (ASC_FEATURE_RELAXED_SIMD) {
    if (xq && groupedK(M)) {
      linearQuantR(dtype, xq, M, K, w, <usize>rb, N, bias, out, rowbuf, m0, m1, n0, n1);
      return;
    }
  }
  const xs: usize = xq ? quantRowBytesK(K) : <usize>K << 2;
  const xb = xq ? xq : x;
  for (let c0 = m0; c0 < m1; c0 += CHUNK) {
    const c1 = min(m1, c0 + CHUNK);
    for (let n = n0; n < n1; n++) {
      const wr = w + <usize>n * rb;
      const b: f32 = bias ? load<f32>(bias + (<usize>n << 2)) : 0;
      const on = out + (<usize>n << 2);
      let m = c0;
      if (xq) {
        expandRowI16(dtype == DT_Q4_K, wr, K, rowbuf);
        for (; m + 2 <= c1; m += 2) dotDecodedQ2Store(rowbuf, xb + <usize>m * xs, xs, K, b, on + <usize>m * os, N);
        for (; m < c1; m++) store<f32>(on + <usize>m * os, dotDecodedQ(rowbuf, xb + <usize>m * xs, K) + b);
      } else {
        expandRowF32(dtype == DT_Q4_K, wr, K, rowbuf);
        for (; m + 4 <= c1; m += 4) dot4Store(xb + <usize>m * xs, K, rowbuf, b, on + <usize>m * os, N);
        for (; m < c1; m++) store<f32>(on + <usize>m * os, dot1(xb + <usize>m * xs, K, rowbuf, b));
      }
    }
  }
}
