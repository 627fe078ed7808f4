// exp(x) for four f32 lanes: the Cephes expf range reduction (x = n·ln2 + r) with its degree-6 polynomial,
// accurate to about 2 ulp. Arguments below -87.3 give about 1e-38 rather than 0 (callers that need exact zeros
// for -inf mask them).

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
/** exp's argument is clamped here so that 2^n stays a normal f32 (n in [-126, 127]). */
const EXP_LO: f32 = -87.3;
const EXP_HI: f32 = 88.0;

/** 1.5·2^23: adding it to an integral |n| < 2^22 leaves 0x4B400000 + n in the sum's bits. */
const MAGIC: f32 = 12582912.0;
const MAGIC_BITS: i32 = 0x4b400000;

@inline
export function expv(x: v128): v128 {
  // pmax/pmin are one instruction each on x86 (max/min need several for IEEE NaN and signed zero semantics); a NaN
  // x still passes through both, as a NaN
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  const nm = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(MAGIC)); // round to nearest even
  const n = f32x4.sub(nm, f32x4.splat(MAGIC));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  const scale = i32x4.shl(i32x4.add(nm, i32x4.splat(127 - MAGIC_BITS)), 23); // 2^n (n from nm's bits)
  return f32x4.mul(y, scale);
}

