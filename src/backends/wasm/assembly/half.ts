// IEEE 754 binary16 → f32, scalar and four lanes at a time, exact for every pattern (subnormals, inf, NaN):
// shift the 15 magnitude bits into f32 position, rescale the exponent by 2^112, patch inf/NaN, add the sign.

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

@inline
export function hsum(v: v128): f32 {
  return (
    f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3))
  );
}
