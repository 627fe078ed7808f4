// Row kernels with f32x4 SIMD: RMSNorm (Zhang & Sennrich 2019) and a numerically stable softmax (max-shifted).

import { hsum } from "./half";

function sumSquares(x: usize, D: i32): f32 {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= D; i += 8) {
    const v0 = v128.load(x + (<usize>i << 2));
    const v1 = v128.load(x + (<usize>i << 2), 16);
    a0 = f32x4.add(a0, f32x4.mul(v0, v0));
    a1 = f32x4.add(a1, f32x4.mul(v1, v1));
  }
  let s = hsum(f32x4.add(a0, a1));
  for (; i < D; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    s += v * v;
  }
  return s;
}

export function rmsnorm(x: usize, M: i32, D: i32, w: usize, eps: f32, out: usize): void {
  const rs = <usize>D << 2;
  for (let m = 0; m < M; m++, x += rs, out += rs) {
    const r = <f32>1 / Mathf.sqrt(sumSquares(x, D) / <f32>D + eps);
    const rv = f32x4.splat(r);
    let i = 0;
    for (; i + 4 <= D; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, f32x4.mul(f32x4.mul(v128.load(x + o), rv), v128.load(w + o)));
    }
    for (; i < D; i++) {
      const o = <usize>i << 2;
      store<f32>(out + o, load<f32>(x + o) * r * load<f32>(w + o));
    }
  }
}

function rowMax(x: usize, N: i32): f32 {
  let mv = f32x4.splat(-Infinity);
  let i = 0;
  for (; i + 4 <= N; i += 4) mv = f32x4.max(mv, v128.load(x + (<usize>i << 2)));
  let mx = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
  for (; i < N; i++) mx = max(mx, load<f32>(x + (<usize>i << 2)));
  return mx;
}

/** In place over one row of N; a row of all -inf becomes zeros. */
export function softmaxRow(x: usize, N: i32): void {
  const mx = rowMax(x, N);
  if (mx == -Infinity) {
    memory.fill(x, 0, <usize>N << 2);
    return;
  }
  let sum: f32 = 0;
  for (let i = 0; i < N; i++) {
    const p = x + (<usize>i << 2);
    const e = Mathf.exp(load<f32>(p) - mx);
    store<f32>(p, e);
    sum += e;
  }
  const inv = f32x4.splat(<f32>1 / sum);
  let i = 0;
  for (; i + 4 <= N; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, f32x4.mul(v128.load(p), inv));
  }
  const s = <f32>1 / sum;
  for (; i < N; i++) {
    const p = x + (<usize>i << 2);
    store<f32>(p, load<f32>(p) * s);
  }
}

export function softmax(x: usize, M: i32, N: i32): void {
  for (let m = 0; m < M; m++) softmaxRow(x + <usize>m * (<usize>N << 2), N);
}

/** LayerNorm (Ba et al. 2016) over the rows of x[M, D]: two passes (mean, then variance of x - mean). */
export function layernorm(x: usize, M: i32, D: i32, w: usize, b: usize, eps: f32, out: usize): void {
  const rs = <usize>D << 2;
  for (let m = 0; m < M; m++, x += rs, out += rs) {
    let sv = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= D; i += 4) sv = f32x4.add(sv, v128.load(x + (<usize>i << 2)));
    let sum = hsum(sv);
    for (; i < D; i++) sum += load<f32>(x + (<usize>i << 2));
    const mean = sum / <f32>D;
    const mv = f32x4.splat(mean);
    let vv = f32x4.splat(0);
    i = 0;
    for (; i + 4 <= D; i += 4) {
      const d = f32x4.sub(v128.load(x + (<usize>i << 2)), mv);
      vv = f32x4.add(vv, f32x4.mul(d, d));
    }
    let v = hsum(vv);
    for (; i < D; i++) {
      const d = load<f32>(x + (<usize>i << 2)) - mean;
      v += d * d;
    }
    const r = <f32>1 / Mathf.sqrt(v / <f32>D + eps);
    const rv = f32x4.splat(r);
    i = 0;
    for (; i + 4 <= D; i += 4) {
      const o = <usize>i << 2;
      let y = f32x4.mul(f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv), v128.load(w + o));
      if (b) y = f32x4.add(y, v128.load(b + o));
      v128.store(out + o, y);
    }
    for (; i < D; i++) {
      const o = <usize>i << 2;
      let y = (load<f32>(x + o) - mean) * r * load<f32>(w + o);
      if (b) y += load<f32>(b + o);
      store<f32>(out + o, y);
    }
  }
}
