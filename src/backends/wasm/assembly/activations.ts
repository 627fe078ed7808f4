// Element-wise activations with f32x4 SIMD: SiLU x·σ(x) (Elfwing et al. 2017) over a vector exp, the Cephes
// expf range reduction (x = n·ln2 + r) with its degree-6 polynomial, accurate to about 2 ulp.

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
/** exp's argument is clamped here so that 2^n stays a normal f32 (n in [-126, 127]). */
const EXP_LO: f32 = -87.3;
const EXP_HI: f32 = 88.0;

function expv(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), f32x4.splat(1));
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23); // 2^n
  return f32x4.mul(y, scale);
}

function siluv(x: v128): v128 {
  return f32x4.div(x, f32x4.add(f32x4.splat(1), expv(f32x4.neg(x))));
}

/** out[i] = x[i] / (1 + exp(-x[i])) for i < n; out may be x. */
export function silu(x: usize, n: i32, out: usize): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, siluv(v128.load(x + o)));
  }
  const rest = n - i;
  if (rest <= 0) return;
  // the tail (1 to 3 elements) through one vector, so that every element sees the same approximation
  const p = x + (<usize>i << 2);
  const q = out + (<usize>i << 2);
  let v = f32x4.replace_lane(f32x4.splat(0), 0, load<f32>(p));
  if (rest > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (rest > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  v = siluv(v);
  store<f32>(q, f32x4.extract_lane(v, 0));
  if (rest > 1) store<f32>(q, f32x4.extract_lane(v, 1), 4);
  if (rest > 2) store<f32>(q, f32x4.extract_lane(v, 2), 8);
}
