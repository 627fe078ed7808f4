// out[M, N] = x[M, K] · w[N, K]ᵀ (+ bias) with SIMD, w stored as f32, f16, Q8_0 or Q4_0 (GGML blocks:
// Q8_0 = f16 scale + 32 int8; Q4_0 = f16 scale + 16 bytes, low nibbles elements 0..15, high 16..31, minus 8).
// Each call computes the block [m0, m1) x [n0, n1) of the output, so threads can share one product; which path
// a row takes depends only on (dtype, M, xq), never on the block, so every split gives the same numbers.
// Exact paths: M = 1 dots each stored row directly; M > 1 expands one weight row at a time (f32 rows are used
// in place) and reuses it for a chunk of x rows, four rows per pass. Quantized-activation path (xq != 0, Q8_0
// or Q4_0 weights): x was quantized by quantizeRows into int8 blocks of 32 with an f32 scale (held as i16), and
// each block dot is an integer dot (i32x4.dot_i16x8_s) scaled once by d_w · d_x (as GGML's q8_0 · q8_0 dot).

import { halfToF32, halfToF32x4, hsum } from "./half";
import { DT_Q4_K, linearK } from "./kquant";

export const DT_F32: i32 = 0;
export const DT_F16: i32 = 1;
export const DT_Q8_0: i32 = 2;
export const DT_Q4_0: i32 = 3;

/** x rows per chunk when M > 1: the chunk stays in cache while every weight row passes over it. */
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

function dotF16(x: usize, w: usize, K: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= K; i += 8) {
    const h = v128.load(w + (<usize>i << 1));
    const xo = x + (<usize>i << 2);
    a0 = f32x4.add(a0, f32x4.mul(halfToF32x4(i32x4.extend_low_i16x8_u(h)), v128.load(xo)));
    a1 = f32x4.add(a1, f32x4.mul(halfToF32x4(i32x4.extend_high_i16x8_u(h)), v128.load(xo, 16)));
  }
  let s = hsum(f32x4.add(a0, a1));
  for (; i < K; i++) s += halfToF32(load<u16>(w + (<usize>i << 1))) * load<f32>(x + (<usize>i << 2));
  return s;
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
    acc = f32x4.add(acc, f32x4.mul(s, f32x4.splat(halfToF32(load<u16>(w)))));
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
    acc = f32x4.add(acc, f32x4.mul(s, f32x4.splat(halfToF32(load<u16>(w)))));
  }
  return hsum(acc);
}

/** Sixteen signed bytes times d → out[0..16). */
@inline
function storeI8x16(q: v128, d: v128, out: usize): void {
  const lo = i16x8.extend_low_i8x16_s(q);
  const hi = i16x8.extend_high_i8x16_s(q);
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), d));
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), d), 16);
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), d), 32);
  v128.store(out, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), d), 48);
}

/** One stored row → K f32 values at `out`. */
function expandRow(dtype: i32, w: usize, K: i32, out: usize): void {
  if (dtype == DT_F16) {
    let i = 0;
    for (; i + 8 <= K; i += 8) {
      const h = v128.load(w + (<usize>i << 1));
      v128.store(out + (<usize>i << 2), halfToF32x4(i32x4.extend_low_i16x8_u(h)));
      v128.store(out + (<usize>i << 2), halfToF32x4(i32x4.extend_high_i16x8_u(h)), 16);
    }
    for (; i < K; i++) store<f32>(out + (<usize>i << 2), halfToF32(load<u16>(w + (<usize>i << 1))));
    return;
  }
  const nb = K >> 5;
  if (dtype == DT_Q8_0) {
    for (let b = 0; b < nb; b++, w += 34, out += 128) {
      const d = f32x4.splat(halfToF32(load<u16>(w)));
      storeI8x16(v128.load(w, 2), d, out);
      storeI8x16(v128.load(w, 18), d, out + 64);
    }
    return;
  }
  for (let b = 0; b < nb; b++, w += 18, out += 128) {
    const d = f32x4.splat(halfToF32(load<u16>(w)));
    const q = v128.load(w, 2);
    storeI8x16(i8x16.sub(v128.and(q, i8x16.splat(0x0f)), i8x16.splat(8)), d, out);
    storeI8x16(i8x16.sub(i8x16.shr_u(q, 4), i8x16.splat(8)), d, out + 64);
  }
}

function rowBytes(dtype: i32, K: i32): usize {
  if (dtype == DT_F32) return <usize>K << 2;
  if (dtype == DT_F16) return <usize>K << 1;
  return <usize>(K >> 5) * (dtype == DT_Q8_0 ? 34 : 18);
}

/** Four x rows (stride K floats) · one f32 row → out[0], out[N], out[2N], out[3N] (+ b). */
function dot4Store(x: usize, K: i32, w: usize, b: f32, out: usize, N: i32): void {
  const xs = <usize>K << 2;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= K; i += 4) {
    const o = <usize>i << 2;
    const wv = v128.load(w + o);
    a0 = f32x4.add(a0, f32x4.mul(v128.load(x + o), wv));
    a1 = f32x4.add(a1, f32x4.mul(v128.load(x + xs + o), wv));
    a2 = f32x4.add(a2, f32x4.mul(v128.load(x + 2 * xs + o), wv));
    a3 = f32x4.add(a3, f32x4.mul(v128.load(x + 3 * xs + o), wv));
  }
  let s0 = hsum(a0);
  let s1 = hsum(a1);
  let s2 = hsum(a2);
  let s3 = hsum(a3);
  for (; i < K; i++) {
    const o = <usize>i << 2;
    const wi = load<f32>(w + o);
    s0 += load<f32>(x + o) * wi;
    s1 += load<f32>(x + xs + o) * wi;
    s2 += load<f32>(x + 2 * xs + o) * wi;
    s3 += load<f32>(x + 3 * xs + o) * wi;
  }
  const os = <usize>N << 2;
  store<f32>(out, s0 + b);
  store<f32>(out + os, s1 + b);
  store<f32>(out + 2 * os, s2 + b);
  store<f32>(out + 3 * os, s3 + b);
}

/** One x row · one f32 row + b, summed in exactly the order of one lane of dot4Store. */
function dot1(x: usize, K: i32, w: usize, b: f32): f32 {
  let a0 = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= K; i += 4) {
    const o = <usize>i << 2;
    a0 = f32x4.add(a0, f32x4.mul(v128.load(x + o), v128.load(w + o)));
  }
  let s0 = hsum(a0);
  for (; i < K; i++) s0 += load<f32>(x + (<usize>i << 2)) * load<f32>(w + (<usize>i << 2));
  return s0 + b;
}

/** Bytes of one quantized activation row: K int16 values, then K / 32 f32 scales. */
export function quantRowBytes(K: i32): usize {
  return (<usize>K << 1) + (<usize>(K >> 5) << 2);
}

/**
 * x[M, K] (K a multiple of 32) → M rows at `out` of quantRowBytes(K): each block of 32 gets d = max|x| / 127
 * and q = round(x / d) in [-127, 127] (as GGML's q8_0), stored widened to int16 so the dots need no extends.
 * Returns 0 when some x is infinite or NaN (the caller then takes the exact path, which propagates them).
 */
export function quantizeRows(x: usize, M: i32, K: i32, out: usize): i32 {
  let finite = true;
  const nb = K >> 5;
  const rb = quantRowBytes(K);
  for (let m = 0; m < M; m++) {
    const q = out + <usize>m * rb;
    const ds = q + (<usize>K << 1);
    let xb = x + <usize>m * (<usize>K << 2);
    for (let b = 0; b < nb; b++, xb += 128) {
      let mx = f32x4.splat(0);
      for (let j = 0; j < 8; j++) mx = f32x4.max(mx, f32x4.abs(v128.load(xb + (<usize>j << 4))));
      const amax = max(
        max(f32x4.extract_lane(mx, 0), f32x4.extract_lane(mx, 1)),
        max(f32x4.extract_lane(mx, 2), f32x4.extract_lane(mx, 3)),
      );
      finite = finite && amax < Infinity; // false for +inf and NaN
      const d: f32 = amax / 127;
      const id = f32x4.splat(d > 0 ? <f32>1 / d : 0);
      const qb = q + (<usize>b << 6);
      for (let j = 0; j < 4; j++) {
        const o = <usize>j << 5;
        const i0 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(xb + o), id)));
        const i1 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(xb + o, 16), id)));
        v128.store(qb + (<usize>j << 4), i16x8.narrow_i32x4_s(i0, i1));
      }
      store<f32>(ds + (<usize>b << 2), d);
    }
  }
  return finite ? 1 : 0;
}

/** Integer dot of 16 int8 weights with 16 int16 activations at `xq`, added to acc (i32x4). */
@inline
function idot16(acc: v128, q: v128, xq: usize): v128 {
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(q), v128.load(xq)));
  return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(q), v128.load(xq, 16)));
}

/** Weight block b of a Q8_0 or Q4_0 row as its low and high 16 signed values, plus its scale. */
@inline
function blockLo(dtype: i32, wb: usize): v128 {
  if (dtype == DT_Q8_0) return v128.load(wb, 2);
  return i8x16.sub(v128.and(v128.load(wb, 2), i8x16.splat(0x0f)), i8x16.splat(8));
}

@inline
function blockHi(dtype: i32, wb: usize): v128 {
  if (dtype == DT_Q8_0) return v128.load(wb, 18);
  return i8x16.sub(i8x16.shr_u(v128.load(wb, 2), 4), i8x16.splat(8));
}

/** One Q8_0/Q4_0 weight row · one quantized activation row (integer block dots, f32 across blocks). */
function dotQuantQ(dtype: i32, w: usize, xq: usize, nb: i32, K: i32): f32 {
  const bs: usize = dtype == DT_Q8_0 ? 34 : 18;
  const ds = xq + (<usize>K << 1);
  let acc = f32x4.splat(0);
  for (let b = 0; b < nb; b++, w += bs) {
    const xb = xq + (<usize>b << 6);
    let s = idot16(i32x4.splat(0), blockLo(dtype, w), xb);
    s = idot16(s, blockHi(dtype, w), xb + 32);
    const d = halfToF32(load<u16>(w)) * load<f32>(ds + (<usize>b << 2));
    acc = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), f32x4.splat(d)));
  }
  return hsum(acc);
}

/** One weight row · four quantized activation rows (stride rb), each summed exactly as dotQuantQ does. */
function dotQuantQ4Store(dtype: i32, w: usize, xq: usize, rb: usize, nb: i32, K: i32, b: f32, out: usize, N: i32): void {
  const bs: usize = dtype == DT_Q8_0 ? 34 : 18;
  const dso = <usize>K << 1;
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  for (let k = 0; k < nb; k++, w += bs) {
    const lo = blockLo(dtype, w);
    const hi = blockHi(dtype, w);
    const dw = halfToF32(load<u16>(w));
    const xo = <usize>k << 6;
    const dx = dso + (<usize>k << 2);
    let x = xq;
    a0 = f32x4.add(a0, f32x4.mul(f32x4.convert_i32x4_s(idot16(idot16(i32x4.splat(0), lo, x + xo), hi, x + xo + 32)), f32x4.splat(dw * load<f32>(x + dx))));
    x += rb;
    a1 = f32x4.add(a1, f32x4.mul(f32x4.convert_i32x4_s(idot16(idot16(i32x4.splat(0), lo, x + xo), hi, x + xo + 32)), f32x4.splat(dw * load<f32>(x + dx))));
    x += rb;
    a2 = f32x4.add(a2, f32x4.mul(f32x4.convert_i32x4_s(idot16(idot16(i32x4.splat(0), lo, x + xo), hi, x + xo + 32)), f32x4.splat(dw * load<f32>(x + dx))));
    x += rb;
    a3 = f32x4.add(a3, f32x4.mul(f32x4.convert_i32x4_s(idot16(idot16(i32x4.splat(0), lo, x + xo), hi, x + xo + 32)), f32x4.splat(dw * load<f32>(x + dx))));
  }
  const os = <usize>N << 2;
  store<f32>(out, hsum(a0) + b);
  store<f32>(out + os, hsum(a1) + b);
  store<f32>(out + 2 * os, hsum(a2) + b);
  store<f32>(out + 3 * os, hsum(a3) + b);
}

/**
 * Rows [m0, m1) x columns [n0, n1) of out[M, N] (row stride N). `xq` 0 = exact path, else x quantized by
 * quantizeRows (used for Q8_0/Q4_0 weights only, K a multiple of 32); `rowbuf` holds K floats (used only on the
 * exact path when M > 1 and the weights are not f32); `bias` 0 = none.
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
  if (dtype >= DT_Q4_K) {
    linearK(dtype, x, xq, M, K, w, N, bias, out, rowbuf, m0, m1, n0, n1);
    return;
  }
  const rb = rowBytes(dtype, K);
  const os = <usize>N << 2;
  if (xq && (dtype == DT_Q8_0 || dtype == DT_Q4_0)) {
    const qb = quantRowBytes(K);
    const nb = K >> 5;
    for (let c0 = m0; c0 < m1; c0 += CHUNK) {
      const c1 = min(m1, c0 + CHUNK);
      for (let n = n0; n < n1; n++) {
        const wr = w + <usize>n * rb;
        const b: f32 = bias ? load<f32>(bias + (<usize>n << 2)) : 0;
        const on = out + (<usize>n << 2);
        let m = c0;
        for (; m + 4 <= c1; m += 4) dotQuantQ4Store(dtype, wr, xq + <usize>m * qb, qb, nb, K, b, on + <usize>m * os, N);
        for (; m < c1; m++) store<f32>(on + <usize>m * os, dotQuantQ(dtype, wr, xq + <usize>m * qb, nb, K) + b);
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
      else if (dtype == DT_Q8_0) s = dotQ8_0(x, wr, K >> 5);
      else s = dotQ4_0(x, wr, K >> 5);
      if (bias) s += load<f32>(bias + (<usize>n << 2));
      store<f32>(out + (<usize>n << 2), s);
    }
    return;
  }
  const xs = <usize>K << 2;
  for (let c0 = m0; c0 < m1; c0 += CHUNK) {
    const c1 = min(m1, c0 + CHUNK);
    for (let n = n0; n < n1; n++) {
      let wr = w + <usize>n * rb;
      if (dtype != DT_F32) {
        expandRow(dtype, wr, K, rowbuf);
        wr = rowbuf;
      }
      const b: f32 = bias ? load<f32>(bias + (<usize>n << 2)) : 0;
      const on = out + (<usize>n << 2);
      let m = c0;
      for (; m + 4 <= c1; m += 4) dot4Store(x + <usize>m * xs, K, wr, b, on + <usize>m * os, N);
      for (; m < c1; m++) store<f32>(on + <usize>m * os, dot1(x + <usize>m * xs, K, wr, b));
    }
  }
}
