// IEEE 754 binary16 → f32, scalar and four lanes at a time, exact for every pattern (subnormals, inf, NaN):
// shift the 15 magnitude bits into f32 position, rescale the exponent by 2^112, patch inf/NaN, add the sign.
// For a subnormal half that multiply takes a subnormal f32 operand, which costs a microcode assist on x86 (a Q6_K
// matvec with subnormal d ran 190 against 102 ps a weight here): per-block scales of quantized weights, often
// subnormal, go through the table (tabHalf).

const POW2_112: f32 = 5.192296858534828e33;

@inline
export function halfToF32(h: u32): f32 {
  const bits: u32 = (h & 0x7fff) << 13;
  let f = reinterpret<f32>(bits) * POW2_112;
  if ((h & 0x7c00) == 0x7c00) f = reinterpret<f32>(bits | 0x7f800000);
  return reinterpret<f32>(reinterpret<u32>(f) | ((h & 0x8000) << 16));
}

/** Four halves held in the low 16 bits of each u32 lane → f32x4. */
@inline
export function halfToF32x4(h: v128): v128 {
  const bits = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  const scaled = f32x4.mul(bits, f32x4.splat(POW2_112));
  const special = i32x4.eq(v128.and(h, i32x4.splat(0x7c00)), i32x4.splat(0x7c00));
  const r = v128.bitselect(v128.or(bits, i32x4.splat(0x7f800000)), scaled, special);
  return v128.or(r, i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16));
}

/**
 * Four halves (low 16 bits of each lane) → f32x4 for patterns that are not inf or NaN (exponent < 31): the
 * caller has checked the whole tensor with halvesFinite. Four fewer operations than halfToF32x4.
 */
@inline
export function finiteHalfToF32x4(h: v128): v128 {
  const mag = f32x4.mul(v128.and(i32x4.shl(h, 13), i32x4.splat(0x0fffe000)), f32x4.splat(POW2_112));
  return v128.or(mag, v128.and(i32x4.shl(h, 16), i32x4.splat(0x80000000)));
}

/** Four bfloat16 values (low 16 bits of each lane) → f32x4: the top half of an f32. */
@inline
export function bf16ToF32x4(h: v128): v128 {
  return i32x4.shl(h, 16);
}

@inline
export function bf16ToF32(h: u32): f32 {
  return reinterpret<f32>(h << 16);
}

/** 1 when none of the n halves at p is inf or NaN, else 0. */
export function halvesFinite(p: usize, n: usize): i32 {
  let bad = i16x8.splat(0);
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) {
    const e = v128.and(v128.load(p + (i << 1)), i16x8.splat(0x7c00));
    bad = v128.or(bad, i16x8.eq(e, i16x8.splat(0x7c00)));
  }
  if (v128.any_true(bad)) return 0;
  for (; i < n; i++) if ((load<u16>(p + (i << 1)) & 0x7c00) == 0x7c00) return 0;
  return 1;
}

@inline
export function hsum(v: v128): f32 {
  return (
    f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3))
  );
}

/**
 * Offset of the f16 → f32 table: 65536 f32 values, one per binary16 pattern, which the host writes into the
 * first range of its arena (just above the module's static data) before any kernel runs. Per-block scales of
 * quantized weights are converted through it: one load instead of a dozen bit operations.
 */
@inline
export function f16Table(): usize {
  return (max(__heap_base, 64) + 63) & ~(<usize>63);
}

@inline
export function tabHalf(h: u32): f32 {
  return load<f32>(f16Table() + (<usize>h << 2));
}
