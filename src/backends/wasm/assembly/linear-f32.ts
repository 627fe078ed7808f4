// out[M, N] = x[M, K] · w[N, K]ᵀ (+ bias) for M > 1 on f32 weight rows: a register-blocked tile of R x rows ×
// C weight rows (accumulators in registers, each loaded vector used R or C times), every output summed in one
// order (one f32x4 over K by fours, hsum, the scalar tail, + b), so any tiling, M or thread split gives the
// same numbers.
// Speed: the 2 × 4 tile is bound by instruction issue, not memory: V8 emits per 64 flops 6 loads, an address
// add per load, 8 mul + 8 add (no FMA in SIMD128) and a loop check, about 20–25 GFLOP/s per core, i.e. at M = 2
// about the 18 GB/s one core streams; larger M is compute-bound. Unrolling K makes Binaryen hoist the next
// step's loads (V8 then spills), and 3 × 3, 3 × 4 and 4 × 3 tiles spill too; relaxed-SIMD FMA gains 15–30%.

import { madd } from "./fma";
import { hsum } from "./half";

/** One output's scalar tail (K % 4 elements from i), then + b, stored at out. */
@inline
function finish(acc: v128, x: usize, w: usize, i: i32, K: i32, b: f32, out: usize): void {
  let s = hsum(acc);
  for (; i < K; i++) s += load<f32>(x + (<usize>i << 2)) * load<f32>(w + (<usize>i << 2));
  store<f32>(out, s + b);
}

/**
 * R x rows (from x, stride xs bytes) × C weight rows (from w, stride ws bytes) → out[r·os + c·4] (+ bias[c]);
 * R ≤ 4, C ≤ 4, R·C ≤ 12 so that accumulators, weights and a temporary fit V8's 16 vector registers.
 */
@inline
function tile(R: i32, C: i32, x: usize, xs: usize, w: usize, ws: usize, K: i32, bias: usize, out: usize, os: usize): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a12 = f32x4.splat(0), a13 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a22 = f32x4.splat(0), a23 = f32x4.splat(0);
  let a30 = f32x4.splat(0), a31 = f32x4.splat(0), a32 = f32x4.splat(0), a33 = f32x4.splat(0);
  const x1 = x + xs;
  const x2 = x + 2 * xs;
  const x3 = x + 3 * xs;
  const w1 = w + ws;
  const w2 = w + 2 * ws;
  const w3 = w + 3 * ws;
  let i = 0;
  for (; i + 4 <= K; i += 4) {
    const o = <usize>i << 2;
    const v0 = v128.load(w + o);
    const v1 = C > 1 ? v128.load(w1 + o) : v0;
    const v2 = C > 2 ? v128.load(w2 + o) : v0;
    const v3 = C > 3 ? v128.load(w3 + o) : v0;
    let u = v128.load(x + o);
    a00 = madd(u, v0, a00);
    if (C > 1) a01 = madd(u, v1, a01);
    if (C > 2) a02 = madd(u, v2, a02);
    if (C > 3) a03 = madd(u, v3, a03);
    if (R > 1) {
      u = v128.load(x1 + o);
      a10 = madd(u, v0, a10);
      if (C > 1) a11 = madd(u, v1, a11);
      if (C > 2) a12 = madd(u, v2, a12);
      if (C > 3) a13 = madd(u, v3, a13);
    }
    if (R > 2) {
      u = v128.load(x2 + o);
      a20 = madd(u, v0, a20);
      if (C > 1) a21 = madd(u, v1, a21);
      if (C > 2) a22 = madd(u, v2, a22);
      if (C > 3) a23 = madd(u, v3, a23);
    }
    if (R > 3) {
      u = v128.load(x3 + o);
      a30 = madd(u, v0, a30);
      if (C > 1) a31 = madd(u, v1, a31);
      if (C > 2) a32 = madd(u, v2, a32);
      if (C > 3) a33 = madd(u, v3, a33);
    }
  }
  const b0: f32 = bias ? load<f32>(bias) : 0;
  const b1: f32 = bias && C > 1 ? load<f32>(bias, 4) : 0;
  const b2: f32 = bias && C > 2 ? load<f32>(bias, 8) : 0;
  const b3: f32 = bias && C > 3 ? load<f32>(bias, 12) : 0;
  finishRow(C, a00, a01, a02, a03, x, w, ws, i, K, b0, b1, b2, b3, out);
  if (R > 1) finishRow(C, a10, a11, a12, a13, x1, w, ws, i, K, b0, b1, b2, b3, out + os);
  if (R > 2) finishRow(C, a20, a21, a22, a23, x2, w, ws, i, K, b0, b1, b2, b3, out + 2 * os);
  if (R > 3) finishRow(C, a30, a31, a32, a33, x3, w, ws, i, K, b0, b1, b2, b3, out + 3 * os);
}

/** One x row's C outputs from their accumulators. */
@inline
function finishRow(
  C: i32,
  c0: v128,
  c1: v128,
  c2: v128,
  c3: v128,
  x: usize,
  w: usize,
  ws: usize,
  i: i32,
  K: i32,
  b0: f32,
  b1: f32,
  b2: f32,
  b3: f32,
  out: usize,
): void {
  finish(c0, x, w, i, K, b0, out);
  if (C > 1) finish(c1, x, w + ws, i, K, b1, out + 4);
  if (C > 2) finish(c2, x, w + 2 * ws, i, K, b2, out + 8);
  if (C > 3) finish(c3, x, w + 3 * ws, i, K, b3, out + 12);
}

/** Weight rows per tile (the tile is ROWS_X x rows × ROWS_W weight rows): 8 accumulators, 4 weights, x, temp. */
export const ROWS_W: i32 = 4;
const ROWS_X: i32 = 2;
/** Bytes of x kept hot (L2) while a group of weight rows passes over all of its rows. */
const X_BYTES: i32 = 256 << 10;

/** A tile of R ≤ ROWS_X x rows × C ≤ ROWS_W weight rows: one compiled copy per shape. */
function tileAny(R: i32, C: i32, x: usize, xs: usize, w: usize, ws: usize, K: i32, bias: usize, out: usize, os: usize): void {
  if (R == ROWS_X) {
    if (C == 4) tile(2, 4, x, xs, w, ws, K, bias, out, os);
    else if (C == 3) tile(2, 3, x, xs, w, ws, K, bias, out, os);
    else if (C == 2) tile(2, 2, x, xs, w, ws, K, bias, out, os);
    else tile(2, 1, x, xs, w, ws, K, bias, out, os);
  } else if (C == 4) tile(1, 4, x, xs, w, ws, K, bias, out, os);
  else if (C == 3) tile(1, 3, x, xs, w, ws, K, bias, out, os);
  else if (C == 2) tile(1, 2, x, xs, w, ws, K, bias, out, os);
  else tile(1, 1, x, xs, w, ws, K, bias, out, os);
}

/**
 * Rows [m0, m1) × columns [n0, n1) of out[M, N] (row stride N) from f32 weight rows: row n at w + (n - n0)·ws,
 * bias[n] (bias 0 = none). x rows go in chunks that stay in L2 while each group of weight rows (in L1) passes
 * over the whole chunk, so weights stream from memory once per chunk (once when M·K is small).
 */
export function linearF32(
  x: usize,
  K: i32,
  w: usize,
  ws: usize,
  N: i32,
  bias: usize,
  out: usize,
  m0: i32,
  m1: i32,
  n0: i32,
  n1: i32,
): void {
  const xs = <usize>K << 2;
  const os = <usize>N << 2;
  const chunk = max(ROWS_X, (X_BYTES / (K << 2)) & ~(ROWS_X - 1));
  for (let c0 = m0; c0 < m1; c0 += chunk) {
    const c1 = min(m1, c0 + chunk);
    for (let n = n0; n < n1; n += ROWS_W) {
      const cn = min(ROWS_W, n1 - n);
      const wn = w + <usize>(n - n0) * ws;
      const bn = bias ? bias + (<usize>n << 2) : 0;
      const on = out + (<usize>n << 2);
      for (let m = c0; m < c1; m += ROWS_X) {
        tileAny(min(ROWS_X, c1 - m), cn, x + <usize>m * xs, xs, wn, ws, K, bn, on + <usize>m * os, os);
      }
    }
  }
}
