// Optimizer passes over a parameter's f32 storage in SIMD: the Adam / AdamW update (Kingma & Ba 2015; Loshchilov
// & Hutter 2019, PyTorch's formulation, f32 arithmetic as PyTorch's) and the sum of squares and in-place scaling
// that gradient clipping by global norm needs.

@inline
function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

/**
 * For i < n: x ← x·decay; g' = g + l2·x; m ← b1·m + (1−b1)·g'; v ← b2·v + (1−b2)·g'²;
 * x ← x − stepSize·m / (√v / bc2Sqrt + eps).
 */
export function adamStep(
  x: usize,
  g: usize,
  m: usize,
  v: usize,
  n: i32,
  decay: f32,
  l2: f32,
  b1: f32,
  b2: f32,
  stepSize: f32,
  bc2Sqrt: f32,
  eps: f32,
): void {
  const dv = f32x4.splat(decay);
  const lv = f32x4.splat(l2);
  const b1v = f32x4.splat(b1);
  const c1v = f32x4.splat(1 - b1);
  const b2v = f32x4.splat(b2);
  const c2v = f32x4.splat(1 - b2);
  const sv = f32x4.splat(stepSize);
  const inv = f32x4.splat(1 / bc2Sqrt);
  const ev = f32x4.splat(eps);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const xi = f32x4.mul(v128.load(at(x, i)), dv);
    const gi = f32x4.add(v128.load(at(g, i)), f32x4.mul(lv, xi));
    const mi = f32x4.add(f32x4.mul(b1v, v128.load(at(m, i))), f32x4.mul(c1v, gi));
    const vi = f32x4.add(f32x4.mul(b2v, v128.load(at(v, i))), f32x4.mul(f32x4.mul(c2v, gi), gi));
    v128.store(at(m, i), mi);
    v128.store(at(v, i), vi);
    const den = f32x4.add(f32x4.mul(f32x4.sqrt(vi), inv), ev);
    v128.store(at(x, i), f32x4.sub(xi, f32x4.div(f32x4.mul(sv, mi), den)));
  }
  for (; i < n; i++) {
    const xi = load<f32>(at(x, i)) * decay;
    const gi = load<f32>(at(g, i)) + l2 * xi;
    const mi = b1 * load<f32>(at(m, i)) + (1 - b1) * gi;
    const vi = b2 * load<f32>(at(v, i)) + (1 - b2) * gi * gi;
    store<f32>(at(m, i), mi);
    store<f32>(at(v, i), vi);
    store<f32>(at(x, i), xi - (stepSize * mi) / (Mathf.sqrt(vi) * (1 / bc2Sqrt) + eps));
  }
}

/** Σ x[i]² over n floats, each square and the sum in f64. */
export function sumSquares(x: usize, n: i32): f64 {
  let s0 = f64x2.splat(0);
  let s1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(at(x, i));
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
    s0 = f64x2.add(s0, f64x2.mul(lo, lo));
    s1 = f64x2.add(s1, f64x2.mul(hi, hi));
  }
  const s = f64x2.add(s0, s1);
  let r = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (; i < n; i++) {
    const v = <f64>load<f32>(at(x, i));
    r += v * v;
  }
  return r;
}

/** x[i] ← x[i]·c for i < n. */
export function scaleInPlace(x: usize, n: i32, c: f32): void {
  const cv = f32x4.splat(c);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(at(x, i), f32x4.mul(v128.load(at(x, i)), cv));
  for (; i < n; i++) store<f32>(at(x, i), load<f32>(at(x, i)) * c);
}
