// Pieces shared by the activation quantizers (quantizeRows in linear.ts, quantizeRowsK in kquant.ts): the scale
// of a block of 32 floats as GGML's q8_0 takes it (d = max|x| / 127) and the rounding of four floats to int32.

/** max |x| over the 32 floats at xb (+inf or NaN when one of them is). */
@inline
export function absMax32(xb: usize): f32 {
  let mx = f32x4.splat(0);
  for (let j = 0; j < 8; j++) mx = f32x4.max(mx, f32x4.abs(v128.load(xb + (<usize>j << 4))));
  return max(max(f32x4.extract_lane(mx, 0), f32x4.extract_lane(mx, 1)), max(f32x4.extract_lane(mx, 2), f32x4.extract_lane(mx, 3)));
}

/** 1 / d splatted, or 0 for an all-zero block. */
@inline
export function invScale(d: f32): v128 {
  return f32x4.splat(d > 0 ? <f32>1 / d : 0);
}

/** round(v · id) as i32x4 (nearest, ties to even; saturating). */
@inline
export function roundScaled(v: v128, id: v128): v128 {
  return i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v, id)));
}

/** Sum of the four i32 lanes. */
@inline
export function hsumI32(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}
