// a · b + c on f32x4: a fused multiply-add in the relaxed-SIMD build (tools/build-wasm.mjs), mul then add in the
// baseline one. Shared by the f32 product tiles (linear-f32.ts) and the training GEMM (gemm.ts).

/** a · b + c: a fused multiply-add in the relaxed-SIMD build, mul then add otherwise. */
@inline
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}
