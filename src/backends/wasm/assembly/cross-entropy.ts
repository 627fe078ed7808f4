// Cross-entropy with label smoothing over rows of logits x[N, C] (training's loss), in f32x4 SIMD over the vector
// exp of exp.ts: the forward gives each row's log-sum-exp and the summed loss, the backward the logits' gradient
// from those log-sum-exps, (softmax − (1 − ε)·onehot − ε/C)·scale. Rows whose target is `ignore` count nothing and
// get a zero gradient. Targets are int32, each in [0, C) (the host checks).

import { expv } from "./exp";

@inline
function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

/**
 * Writes each row's log-sum-exp to lse[N] (0 for ignored rows) and returns Σ over the other rows of
 * (1 − ε)·(lse − x[t]) + ε·(lse − mean(x)), summed in f64.
 */
export function crossEntropyForward(x: usize, N: i32, C: i32, t: usize, ignore: i32, eps: f32, lse: usize): f64 {
  let total: f64 = 0;
  for (let i = 0; i < N; i++) {
    const ti = load<i32>(at(t, i));
    if (ti == ignore) {
      store<f32>(at(lse, i), 0);
      continue;
    }
    const row = x + <usize>i * (<usize>C << 2);
    let mv = f32x4.splat(-Infinity);
    let c = 0;
    for (; c + 4 <= C; c += 4) mv = f32x4.max(mv, v128.load(at(row, c)));
    let m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (; c < C; c++) m = max(m, load<f32>(at(row, c)));
    const ms = f32x4.splat(m);
    let sv = f32x4.splat(0);
    let xv = f32x4.splat(0);
    c = 0;
    for (; c + 4 <= C; c += 4) {
      const v = v128.load(at(row, c));
      sv = f32x4.add(sv, expv(f32x4.sub(v, ms)));
      xv = f32x4.add(xv, v);
    }
    let s: f64 = <f64>f32x4.extract_lane(sv, 0) + <f64>f32x4.extract_lane(sv, 1) + <f64>f32x4.extract_lane(sv, 2) + <f64>f32x4.extract_lane(sv, 3);
    let all: f64 = <f64>f32x4.extract_lane(xv, 0) + <f64>f32x4.extract_lane(xv, 1) + <f64>f32x4.extract_lane(xv, 2) + <f64>f32x4.extract_lane(xv, 3);
    for (; c < C; c++) {
      const v = load<f32>(at(row, c));
      s += <f64>f32x4.extract_lane(expv(f32x4.splat(v - m)), 0);
      all += <f64>v;
    }
    const l: f64 = <f64>m + Math.log(s);
    store<f32>(at(lse, i), <f32>l);
    total += (1 - <f64>eps) * (l - <f64>load<f32>(at(row, ti))) + <f64>eps * (l - all / <f64>C);
  }
  return total;
}

/** dx[N, C] = scale·(exp(x − lse) − ε/C − (1 − ε)·[c = t]) per row; zero rows where the target is `ignore`. */
export function crossEntropyBackward(
  x: usize,
  N: i32,
  C: i32,
  t: usize,
  ignore: i32,
  eps: f32,
  lse: usize,
  scale: f32,
  dx: usize,
): void {
  const off = f32x4.splat(eps / <f32>C);
  const sc = f32x4.splat(scale);
  for (let i = 0; i < N; i++) {
    const ti = load<i32>(at(t, i));
    const row = x + <usize>i * (<usize>C << 2);
    const out = dx + <usize>i * (<usize>C << 2);
    if (ti == ignore) {
      memory.fill(out, 0, <usize>C << 2);
      continue;
    }
    const l = f32x4.splat(load<f32>(at(lse, i)));
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const p = expv(f32x4.sub(v128.load(at(row, c)), l));
      v128.store(at(out, c), f32x4.mul(sc, f32x4.sub(p, off)));
    }
    for (; c < C; c++) {
      const p = expv(f32x4.sub(f32x4.splat(load<f32>(at(row, c))), l));
      store<f32>(at(out, c), f32x4.extract_lane(f32x4.mul(sc, f32x4.sub(p, off)), 0));
    }
    store<f32>(at(out, ti), load<f32>(at(out, ti)) - scale * (1 - eps));
  }
}
