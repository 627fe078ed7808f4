// out[M, N] = x[M, K] · w[N, K]ᵀ (+ bias) for prompts (M ≥ linearGemmRows(dtype); the host flags the dtype code
// with DT_GEMM and sizes the work space with linearGemmWorkBytes) on the training GEMM's packed 3×12
// micro-tiles (gemm.ts): a panel of 12 weight rows is taken as B (f32 rows in place; f16, bf16, Q8_0 and Q4_0
// rows expanded to f32 per depth block first, so x stays exact f32, unlike the quantized-activation path), and
// every x row is swept against it with fused multiply-adds where the module has them. Each output is one sum over
// K in order, in blocks of KC, so a row's numbers do not depend on M, on its place, or on how threads split the
// columns. Decoding (M = 1) and short verifications keep linear.ts's paths, whose sums run in another order.

import { DT_BF16, DT_F16, DT_F16_FINITE, DT_F32, expandRow, rowBytes } from "./expand";
import { gemmWorkBytes, KC, MC, NC, NR, packA, packB, sweep } from "./gemm";

/**
 * Rows of x from which the host should take this path for weights stored as `dtype`, 0 for never. Only the relaxed
 * module (fused multiply-adds) and only 16-bit weights gain here (one thread, 768–32000 × 768–2048 products,
 * several runs on this noisy machine): f16 rows 18.5–20.5 GFLOP/s on the register tiles (which expand rows four
 * at a time) against 20–28 on the GEMM at M = 64, and about even at M = 32. f32 rows are about even with the
 * tiles, Q8_0 rows even with their int16 dots (0.88–1.25x across runs), Q4_0 rows slower than their relaxed
 * dots (25–29 against 37–49), and without FMA the GEMM is slower than the tiles (12–15 against 20).
 */
export function linearGemmRows(dtype: i32): i32 {
  if (!ASC_FEATURE_RELAXED_SIMD) return 0;
  return dtype == DT_F16 || dtype == DT_F16_FINITE || dtype == DT_BF16 ? 64 : 0;
}

/** Bytes of work space per thread: the GEMM's packed blocks and spare tile, then NR expanded rows of KC floats. */
export function linearGemmWorkBytes(): i32 {
  return gemmWorkBytes() + ((NR * KC) << 2);
}

/** Packs weight rows [j0, j0+nc) (of n1 in all), depths [k0, k0+kc), as B = wᵀ into NR-column panels at dst. */
function packWeights(dtype: i32, w: usize, rb: usize, n1: i32, j0: i32, nc: i32, k0: i32, kc: i32, dst: usize, rows: usize): void {
  if (dtype == DT_F32) {
    packB(w, 1, <i32>(rb >> 2), n1, j0, nc, k0, kc, dst);
    return;
  }
  const off = rowBytes(dtype, k0);
  for (let jp = 0; jp < nc; jp += NR) {
    const n = min(NR, n1 - j0 - jp);
    for (let r = 0; r < n; r++) expandRow(dtype, w + <usize>(j0 + jp + r) * rb + off, kc, rows + (<usize>(r * kc) << 2));
    packB(rows, 1, kc, n, 0, n, 0, kc, dst + (<usize>(jp * kc) << 2));
  }
}

/**
 * Columns [n0, n1) of out[M, N] (row stride N) for all M rows: x f32 [M, K], w rows of rb bytes stored as `dtype`
 * (row n at w + n·rb), bias[n] when bias != 0; `work` holds linearGemmWorkBytes().
 */
export function linearGemm(
  dtype: i32,
  x: usize,
  M: i32,
  K: i32,
  w: usize,
  rb: usize,
  N: i32,
  bias: usize,
  out: usize,
  work: usize,
  n0: i32,
  n1: i32,
): void {
  const ap = work;
  const bp = ap + (<usize>(MC * KC) << 2);
  const tile = bp + (<usize>(KC * NC) << 2);
  const rows = work + <usize>gemmWorkBytes();
  if (K == 0) {
    for (let m = 0; m < M; m++) memory.fill(out + ((<usize>m * N + n0) << 2), 0, <usize>(n1 - n0) << 2);
  }
  for (let jc = n0; jc < n1; jc += NC) {
    const nc = min(NC, n1 - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      packWeights(dtype, w, rb, n1, jc, nc, pc, kc, bp, rows);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = min(MC, M - ic);
        packA(x, K, 1, M, ic, mc, pc, kc, ap);
        sweep(ap, bp, mc, nc, kc, out + ((<usize>ic * N + jc) << 2), N, pc > 0, tile);
      }
    }
  }
  if (bias) {
    for (let m = 0; m < M; m++) {
      const r = out + (<usize>m * N << 2);
      for (let n = n0; n < n1; n++) {
        const o = r + (<usize>n << 2);
        store<f32>(o, load<f32>(o) + load<f32>(bias + (<usize>n << 2)));
      }
    }
  }
}
