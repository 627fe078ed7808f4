// f32 GEMM for training's products (Y = X·Wᵀ, dX = dY·W, dW += dYᵀ·X): C[M, N] (+)= A[M, K]·B[K, N] (+ bias),
// each operand read through row/column strides so that any transpose costs nothing extra. BLIS's scheme: B blocks
// of KC×NC and A blocks of MC×KC are packed into contiguous micro-panels, and a 3×12 register-blocked micro-kernel
// (one broadcast of A against three vectors of B, nine f32x4 accumulators) sweeps them.

import { madd } from "./fma";

/** Micro-tile rows (of A) and columns (of B): 3×12 keeps nine accumulators, three vectors of B and one broadcast
 * of A in registers (V8 on x64 leaves 15 vector registers to wasm); it runs at about the FMA peak here, where 4×8
 * reached two thirds of it and 6×8 spilled. */
export const MR: i32 = 3;
export const NR: i32 = 12;
/** Block sizes: a KC×NC panel of B (288 KiB) stays in L2, an MR×KC sliver of A (3 KiB) in L1. */
export const KC: i32 = 256;
export const NC: i32 = 288;
export const MC: i32 = 48;

/** Bytes of work space one gemm call needs: packed A, packed B and one spare tile. */
export function gemmWorkBytes(): i32 {
  return (MC * KC + KC * NC + MR * NR) << 2;
}

@inline
function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

/** Packs rows [i0, i0+mc) × depths [k0, k0+kc) of A into MR-row panels, [panel][k][MR], zero-padded rows. */
export function packA(a: usize, rsa: i32, csa: i32, M: i32, i0: i32, mc: i32, k0: i32, kc: i32, dst: usize): void {
  for (let ip = 0; ip < mc; ip += MR) {
    const rows = min(MR, M - i0 - ip);
    if (rows == MR && csa == 1) {
      // three rows in order, four depths at a time: each row's four values scattered to stride MR
      const r0 = at(a, (i0 + ip) * rsa + k0);
      const r1 = r0 + (<usize>rsa << 2);
      const r2 = r1 + (<usize>rsa << 2);
      let k = 0;
      for (; k + 4 <= kc; k += 4) {
        const o = <usize>k << 2;
        const x0 = v128.load(r0 + o);
        const x1 = v128.load(r1 + o);
        const x2 = v128.load(r2 + o);
        const d = dst + <usize>k * 12;
        // [k][3]: x0[0] x1[0] x2[0] x0[1] | x1[1] x2[1] x0[2] x1[2] | x2[2] x0[3] x1[3] x2[3]
        v128.store(d, i32x4.shuffle(i32x4.shuffle(x0, x1, 0, 4, 1, 5), x2, 0, 1, 4, 2));
        v128.store(d, i32x4.shuffle(i32x4.shuffle(x1, x2, 1, 5, 2, 6), x0, 0, 1, 6, 2), 16);
        v128.store(d, i32x4.shuffle(i32x4.shuffle(x2, x0, 2, 7, 3, 3), x1, 0, 1, 7, 2), 32);
      }
      for (; k < kc; k++) {
        const o = <usize>k << 2;
        const d = dst + <usize>k * 12;
        store<f32>(d, load<f32>(r0 + o));
        store<f32>(d, load<f32>(r1 + o), 4);
        store<f32>(d, load<f32>(r2 + o), 8);
      }
    } else if (rows == MR && rsa == 1) {
      // A transposed: the MR rows of one depth are adjacent
      for (let k = 0; k < kc; k++) {
        const s = at(a, (k0 + k) * csa + i0 + ip);
        const d = dst + <usize>k * 12;
        store<u64>(d, load<u64>(s));
        store<f32>(d, load<f32>(s, 8), 8);
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const d = dst + <usize>k * 12;
        for (let i = 0; i < MR; i++)
          store<f32>(d + (<usize>i << 2), i < rows ? load<f32>(at(a, (i0 + ip + i) * rsa + (k0 + k) * csa)) : 0);
      }
    }
    dst += <usize>(kc * MR) << 2;
  }
}

/** Packs depths [k0, k0+kc) × columns [j0, j0+nc) of B into NR-column panels, [panel][k][NR], zero-padded. */
export function packB(b: usize, rsb: i32, csb: i32, N: i32, j0: i32, nc: i32, k0: i32, kc: i32, dst: usize): void {
  for (let jp = 0; jp < nc; jp += NR) {
    const cols = min(NR, N - j0 - jp);
    if (cols == NR && csb == 1) {
      for (let k = 0; k < kc; k++) {
        const s = at(b, (k0 + k) * rsb + j0 + jp);
        const d = dst + <usize>k * 48;
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
        v128.store(d, v128.load(s, 32), 32);
      }
    } else if (cols == NR && rsb == 1) {
      // B transposed (W of Y = X·Wᵀ): each column is a contiguous run of depths; four columns × four depths at a time
      const c0 = at(b, (j0 + jp) * csb + k0);
      const cs = <usize>csb << 2;
      let k = 0;
      for (; k + 4 <= kc; k += 4) {
        const d = dst + <usize>k * 48;
        for (let h = 0; h < 3; h++) {
          const p = c0 + <usize>(h * 4) * cs + (<usize>k << 2);
          const x0 = v128.load(p);
          const x1 = v128.load(p + cs);
          const x2 = v128.load(p + 2 * cs);
          const x3 = v128.load(p + 3 * cs);
          const t0 = i32x4.shuffle(x0, x1, 0, 4, 1, 5);
          const t1 = i32x4.shuffle(x2, x3, 0, 4, 1, 5);
          const t2 = i32x4.shuffle(x0, x1, 2, 6, 3, 7);
          const t3 = i32x4.shuffle(x2, x3, 2, 6, 3, 7);
          const e = d + (<usize>h << 4);
          v128.store(e, i64x2.shuffle(t0, t1, 0, 2));
          v128.store(e, i64x2.shuffle(t0, t1, 1, 3), 48);
          v128.store(e, i64x2.shuffle(t2, t3, 0, 2), 96);
          v128.store(e, i64x2.shuffle(t2, t3, 1, 3), 144);
        }
      }
      for (; k < kc; k++) {
        const d = dst + <usize>k * 48;
        for (let j = 0; j < NR; j++) store<f32>(d + (<usize>j << 2), load<f32>(c0 + <usize>j * cs + (<usize>k << 2)));
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const d = dst + <usize>k * 48;
        for (let j = 0; j < NR; j++)
          store<f32>(d + (<usize>j << 2), j < cols ? load<f32>(at(b, (k0 + k) * rsb + (j0 + jp + j) * csb)) : 0);
      }
    }
    dst += <usize>(kc * NR) << 2;
  }
}

/**
 * One MR×(4·nv) tile (nv = 1..3 vectors of the packed 12-wide B panel; a constant in every caller, so the unused
 * accumulators fold away): c (ldc floats per row) = or += Σ_k ap[k]·bp[k] over kc depths.
 */
@inline
function micro(kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, add: bool, nv: i32): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c02 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c12 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c22 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp, 0);
    const b1 = nv > 1 ? v128.load(bp, 16) : b0;
    const b2 = nv > 2 ? v128.load(bp, 32) : b0;
    let a = v128.load32_splat(ap, 0);
    c00 = madd(a, b0, c00);
    if (nv > 1) c01 = madd(a, b1, c01);
    if (nv > 2) c02 = madd(a, b2, c02);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10);
    if (nv > 1) c11 = madd(a, b1, c11);
    if (nv > 2) c12 = madd(a, b2, c12);
    a = v128.load32_splat(ap, 8);
    c20 = madd(a, b0, c20);
    if (nv > 1) c21 = madd(a, b1, c21);
    if (nv > 2) c22 = madd(a, b2, c22);
    ap += 12;
    bp += 48;
  }
  const ld = <usize>ldc << 2;
  if (add) {
    c00 = f32x4.add(c00, v128.load(c));
    if (nv > 1) c01 = f32x4.add(c01, v128.load(c, 16));
    if (nv > 2) c02 = f32x4.add(c02, v128.load(c, 32));
    c10 = f32x4.add(c10, v128.load(c + ld));
    if (nv > 1) c11 = f32x4.add(c11, v128.load(c + ld, 16));
    if (nv > 2) c12 = f32x4.add(c12, v128.load(c + ld, 32));
    c20 = f32x4.add(c20, v128.load(c + 2 * ld));
    if (nv > 1) c21 = f32x4.add(c21, v128.load(c + 2 * ld, 16));
    if (nv > 2) c22 = f32x4.add(c22, v128.load(c + 2 * ld, 32));
  }
  v128.store(c, c00);
  if (nv > 1) v128.store(c, c01, 16);
  if (nv > 2) v128.store(c, c02, 32);
  v128.store(c + ld, c10);
  if (nv > 1) v128.store(c + ld, c11, 16);
  if (nv > 2) v128.store(c + ld, c12, 32);
  v128.store(c + 2 * ld, c20);
  if (nv > 1) v128.store(c + 2 * ld, c21, 16);
  if (nv > 2) v128.store(c + 2 * ld, c22, 32);
}

function micro3(kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, add: bool): void {
  micro(kc, ap, bp, c, ldc, add, 3);
}

function micro2(kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, add: bool): void {
  micro(kc, ap, bp, c, ldc, add, 2);
}

function micro1(kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, add: bool): void {
  micro(kc, ap, bp, c, ldc, add, 1);
}

/**
 * The micro-tiles of one packed block: C[0, mc) × [0, nc) at c (row stride ldc) = (add: +=) packed A (mc rows ×
 * kc) · packed B (kc × nc); edge tiles go through `tile` (MR·NR floats).
 */
export function sweep(ap: usize, bp: usize, mc: i32, nc: i32, kc: i32, c: usize, ldc: i32, add: bool, tile: usize): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = min(NR, nc - jr);
    const bpp = bp + (<usize>(jr * kc) << 2);
    for (let ir = 0; ir < mc; ir += MR) {
      const rows = min(MR, mc - ir);
      const app = ap + (<usize>(ir * kc) << 2);
      const cp = at(c, ir * ldc + jr);
      if (rows == MR && cols == NR) micro3(kc, app, bpp, cp, ldc, add);
      else if (rows == MR && cols == 8) micro2(kc, app, bpp, cp, ldc, add);
      else if (rows == MR && cols == 4) micro1(kc, app, bpp, cp, ldc, add);
      else {
        if (cols > 8) micro3(kc, app, bpp, tile, NR, false);
        else if (cols > 4) micro2(kc, app, bpp, tile, NR, false);
        else micro1(kc, app, bpp, tile, NR, false);
        for (let i = 0; i < rows; i++)
          for (let j = 0; j < cols; j++) {
            const o = at(cp, i * ldc + j);
            const v = load<f32>(at(tile, i * NR + j));
            store<f32>(o, add ? load<f32>(o) + v : v);
          }
      }
    }
  }
}

/**
 * Rows [m0, m1) of C[M, N] (row stride ldc) = (accumulate: +=) Σ_k A[m, k]·B[k, n], plus bias[n] when bias != 0,
 * with A[m, k] at a + 4·(m·rsa + k·csa) and B[k, n] at b + 4·(k·rsb + n·csb). `work` holds gemmWorkBytes().
 * Every entry is summed in the same order whatever [m0, m1) is, so thread splits give identical results.
 */
export function gemm(
  a: usize,
  rsa: i32,
  csa: i32,
  b: usize,
  rsb: i32,
  csb: i32,
  c: usize,
  ldc: i32,
  M: i32,
  N: i32,
  K: i32,
  accumulate: i32,
  bias: usize,
  work: usize,
  m0: i32,
  m1: i32,
): void {
  const ap = work;
  const bp = ap + (<usize>(MC * KC) << 2);
  const tile = bp + (<usize>(KC * NC) << 2);
  if (K == 0 && !accumulate)
    for (let m = m0; m < m1; m++) memory.fill(at(c, m * ldc), 0, <usize>N << 2);
  for (let jc = 0; jc < N; jc += NC) {
    const nc = min(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      const add = accumulate != 0 || pc > 0;
      packB(b, rsb, csb, N, jc, nc, pc, kc, bp);
      for (let ic = m0; ic < m1; ic += MC) {
        const mc = min(MC, m1 - ic);
        packA(a, rsa, csa, m1, ic, mc, pc, kc, ap);
        sweep(ap, bp, mc, nc, kc, at(c, ic * ldc + jc), ldc, add, tile);
      }
    }
  }
  if (bias)
    for (let m = m0; m < m1; m++) {
      const r = at(c, m * ldc);
      let n = 0;
      for (; n + 4 <= N; n += 4) v128.store(at(r, n), f32x4.add(v128.load(at(r, n)), v128.load(at(bias, n))));
      for (; n < N; n++) store<f32>(at(r, n), load<f32>(at(r, n)) + load<f32>(at(bias, n)));
    }
}
