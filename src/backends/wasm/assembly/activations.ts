// Element-wise activations with f32x4 SIMD: SiLU x·σ(x) (Elfwing et al. 2017) over the vector exp of exp.ts.

import { expv } from "./exp";

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
