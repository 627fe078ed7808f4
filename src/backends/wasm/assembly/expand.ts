// Stored weight rows → f32: the dtype codes the kernels share, each dtype's row size, and the expansion of a
// run of one stored row (f32 as is; f16, bf16 through the exact conversions of half.ts; Q8_0 and Q4_0 blocks
// times their f16 scales) that the exact M > 1 paths of linear.ts and linear-gemm.ts multiply.

import { bf16ToF32, bf16ToF32x4, halfToF32, halfToF32x4, tabHalf } from "./half";

export const DT_F32: i32 = 0;
export const DT_F16: i32 = 1;
export const DT_Q8_0: i32 = 2;
export const DT_Q4_0: i32 = 3;
/** f16 weights the host has found free of inf and NaN (halvesFinite): a shorter conversion. */
export const DT_F16_FINITE: i32 = 6;
export const DT_BF16: i32 = 7;
/** Flag on a dtype code: the host chose linear-gemm.ts (a prompt of many rows, exact f32 activations). */
export const DT_GEMM: i32 = 0x100;

/** Whether a dtype stores one 16-bit value per weight. */
@inline
export function isHalf(dtype: i32): bool {
  return dtype == DT_F16 || dtype == DT_F16_FINITE || dtype == DT_BF16;
}

@inline
export function halfScalar(dtype: i32, h: u32): f32 {
  return dtype == DT_BF16 ? bf16ToF32(h) : halfToF32(h);
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
export function expandRow(dtype: i32, w: usize, K: i32, out: usize): void {
  if (isHalf(dtype)) {
    let i = 0;
    for (; i + 8 <= K; i += 8) {
      const h = v128.load(w + (<usize>i << 1));
      const o = out + (<usize>i << 2);
      if (dtype == DT_BF16) {
        v128.store(o, bf16ToF32x4(i32x4.extend_low_i16x8_u(h)));
        v128.store(o, bf16ToF32x4(i32x4.extend_high_i16x8_u(h)), 16);
      } else {
        v128.store(o, halfToF32x4(i32x4.extend_low_i16x8_u(h)));
        v128.store(o, halfToF32x4(i32x4.extend_high_i16x8_u(h)), 16);
      }
    }
    for (; i < K; i++) store<f32>(out + (<usize>i << 2), halfScalar(dtype, load<u16>(w + (<usize>i << 1))));
    return;
  }
  const nb = K >> 5;
  if (dtype == DT_Q8_0) {
    for (let b = 0; b < nb; b++, w += 34, out += 128) {
      const d = f32x4.splat(tabHalf(load<u16>(w)));
      storeI8x16(v128.load(w, 2), d, out);
      storeI8x16(v128.load(w, 18), d, out + 64);
    }
    return;
  }
  for (let b = 0; b < nb; b++, w += 18, out += 128) {
    const d = f32x4.splat(tabHalf(load<u16>(w)));
    const q = v128.load(w, 2);
    storeI8x16(i8x16.sub(v128.and(q, i8x16.splat(0x0f)), i8x16.splat(8)), d, out);
    storeI8x16(i8x16.sub(i8x16.shr_u(q, 4), i8x16.splat(8)), d, out + 64);
  }
}

/** Bytes of K stored values of one row (K a multiple of 32 for Q8_0 / Q4_0). */
export function rowBytes(dtype: i32, K: i32): usize {
  if (dtype == DT_F32) return <usize>K << 2;
  if (isHalf(dtype)) return <usize>K << 1;
  return <usize>(K >> 5) * (dtype == DT_Q8_0 ? 34 : 18);
}
