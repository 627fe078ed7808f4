// Training's element-wise and row gradients in f32x4 SIMD: GELU (exact and tanh form, Hendrycks & Gimpel 2016)
// and SiLU backward, LayerNorm (Ba et al. 2016) backward with its weight and bias gradients, RMSNorm (Zhang &
// Sennrich 2019) backward with its weight gradient, and a column sum (a bias gradient).

import { erfv } from "./activations";
import { expv } from "./exp";
import { hsum } from "./half";

@inline
function at(p: usize, i: i32): usize {
  return p + (<usize>i << 2);
}

const K0: f32 = 0.7978845608028654; // √(2/π)
const K1: f32 = 0.044715;

/** tanh(u) = 1 − 2/(exp(2u) + 1): exact at both saturations (exp is clamped, never infinite). */
@inline
function tanhv(u: v128): v128 {
  const e = expv(f32x4.add(u, u));
  return f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(e, f32x4.splat(1))));
}

@inline
function geluTanhGrad(x: v128): v128 {
  const x2 = f32x4.mul(x, x);
  const u = f32x4.mul(f32x4.splat(K0), f32x4.add(x, f32x4.mul(f32x4.splat(K1), f32x4.mul(x2, x))));
  const t = tanhv(u);
  const half = f32x4.splat(0.5);
  const du = f32x4.mul(f32x4.splat(K0), f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.splat(3 * K1), x2)));
  const sech2 = f32x4.sub(f32x4.splat(1), f32x4.mul(t, t));
  // 0.5·(1 + t) + 0.5·x·(1 − t²)·du
  return f32x4.add(f32x4.mul(half, f32x4.add(f32x4.splat(1), t)), f32x4.mul(f32x4.mul(half, x), f32x4.mul(sech2, du)));
}

const SQRT1_2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;

/** gelu'(x) = Φ(x) + x·φ(x) = 0.5·(1 + erf(x/√2)) + x·exp(−x²/2)/√(2π). */
@inline
function geluGrad(x: v128): v128 {
  const cdf = f32x4.mul(f32x4.splat(0.5), f32x4.add(f32x4.splat(1), erfv(f32x4.mul(x, f32x4.splat(SQRT1_2)))));
  const pdf = f32x4.mul(f32x4.splat(INV_SQRT_2PI), expv(f32x4.mul(f32x4.splat(-0.5), f32x4.mul(x, x))));
  return f32x4.add(cdf, f32x4.mul(x, pdf));
}

/** silu'(x) = σ(x)·(1 + x·(1 − σ(x))). */
@inline
function siluGrad(x: v128): v128 {
  const sg = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), expv(f32x4.neg(x))));
  return f32x4.mul(sg, f32x4.add(f32x4.splat(1), f32x4.mul(x, f32x4.sub(f32x4.splat(1), sg))));
}

const GRAD_GELU_TANH: i32 = 0;
const GRAD_GELU: i32 = 1;
const GRAD_SILU: i32 = 2;

@inline
function grad(kind: i32, x: v128): v128 {
  if (kind == GRAD_GELU) return geluGrad(x);
  if (kind == GRAD_SILU) return siluGrad(x);
  return geluTanhGrad(x);
}

/** dx[i] = dy[i]·f'(x[i]) for i < n, f the activation `kind` (one compiled loop per kind). */
@inline
function backward(kind: i32, x: usize, dy: usize, n: i32, dx: usize): void {
  let i = 0;
  // two independent vectors per step (each gradient is one long dependent chain)
  for (; i + 8 <= n; i += 8) {
    const a = f32x4.mul(v128.load(at(dy, i)), grad(kind, v128.load(at(x, i))));
    const b = f32x4.mul(v128.load(at(dy, i + 4)), grad(kind, v128.load(at(x, i + 4))));
    v128.store(at(dx, i), a);
    v128.store(at(dx, i + 4), b);
  }
  for (; i + 4 <= n; i += 4) v128.store(at(dx, i), f32x4.mul(v128.load(at(dy, i)), grad(kind, v128.load(at(x, i)))));
  for (; i < n; i++) {
    // the last few one at a time through the same vector formula
    const g = f32x4.extract_lane(grad(kind, f32x4.splat(load<f32>(at(x, i)))), 0);
    store<f32>(at(dx, i), load<f32>(at(dy, i)) * g);
  }
}

/** dx[i] = dy[i]·gelu_tanh'(x[i]) for i < n. */
export function geluTanhBackward(x: usize, dy: usize, n: i32, dx: usize): void {
  backward(GRAD_GELU_TANH, x, dy, n, dx);
}

/** dx[i] = dy[i]·gelu'(x[i]) (exact, erf form) for i < n. */
export function geluBackward(x: usize, dy: usize, n: i32, dx: usize): void {
  backward(GRAD_GELU, x, dy, n, dx);
}

/** dx[i] = dy[i]·silu'(x[i]) for i < n. */
export function siluBackward(x: usize, dy: usize, n: i32, dx: usize): void {
  backward(GRAD_SILU, x, dy, n, dx);
}

/**
 * LayerNorm backward over rows of D (D a multiple of 4): with x̂ = (x − mean)·r and g = dy·w,
 * dx = r·(g − mean(g) − x̂·mean(g·x̂)) (overwritten); dw += Σ_rows dy·x̂ and db += Σ_rows dy (when db != 0).
 */
export function layernormBackward(
  x: usize,
  M: i32,
  D: i32,
  w: usize,
  dy: usize,
  eps: f32,
  dx: usize,
  dw: usize,
  db: usize,
): void {
  const rs = <usize>D << 2;
  const invD: f32 = 1 / <f32>D;
  for (let m = 0; m < M; m++, x += rs, dy += rs, dx += rs) {
    let sv = f32x4.splat(0);
    for (let i = 0; i < D; i += 4) sv = f32x4.add(sv, v128.load(at(x, i)));
    const mv = f32x4.splat(hsum(sv) * invD);
    let vv = f32x4.splat(0);
    for (let i = 0; i < D; i += 4) {
      const d = f32x4.sub(v128.load(at(x, i)), mv);
      vv = f32x4.add(vv, f32x4.mul(d, d));
    }
    const rv = f32x4.splat(<f32>1 / Mathf.sqrt(hsum(vv) * invD + eps));
    let sg = f32x4.splat(0);
    let sgx = f32x4.splat(0);
    for (let i = 0; i < D; i += 4) {
      const xh = f32x4.mul(f32x4.sub(v128.load(at(x, i)), mv), rv);
      const d = v128.load(at(dy, i));
      const g = f32x4.mul(d, v128.load(at(w, i)));
      sg = f32x4.add(sg, g);
      sgx = f32x4.add(sgx, f32x4.mul(g, xh));
      v128.store(at(dw, i), f32x4.add(v128.load(at(dw, i)), f32x4.mul(d, xh)));
      if (db) v128.store(at(db, i), f32x4.add(v128.load(at(db, i)), d));
    }
    const mg = f32x4.splat(hsum(sg) * invD);
    const mgx = f32x4.splat(hsum(sgx) * invD);
    for (let i = 0; i < D; i += 4) {
      const xh = f32x4.mul(f32x4.sub(v128.load(at(x, i)), mv), rv);
      const g = f32x4.mul(v128.load(at(dy, i)), v128.load(at(w, i)));
      v128.store(at(dx, i), f32x4.mul(rv, f32x4.sub(f32x4.sub(g, mg), f32x4.mul(xh, mgx))));
    }
  }
}

/** out[n] += Σ_m x[m, n] over x[M, N] (a bias gradient). */
export function sumRows(x: usize, M: i32, N: i32, out: usize): void {
  for (let m = 0; m < M; m++) {
    const r = at(x, m * N);
    let n = 0;
    for (; n + 4 <= N; n += 4) v128.store(at(out, n), f32x4.add(v128.load(at(out, n)), v128.load(at(r, n))));
    for (; n < N; n++) store<f32>(at(out, n), load<f32>(at(out, n)) + load<f32>(at(r, n)));
  }
}

/**
 * RMSNorm backward over rows of D (D a multiple of 4): with r = 1/√(mean(x²) + eps) and g = dy·w,
 * dx = r·g − x·r³·mean(g·x) (overwritten); dw += Σ_rows dy·x·r.
 */
export function rmsnormBackward(x: usize, M: i32, D: i32, w: usize, dy: usize, eps: f32, dx: usize, dw: usize): void {
  const rs = <usize>D << 2;
  const invD: f32 = 1 / <f32>D;
  for (let m = 0; m < M; m++, x += rs, dy += rs, dx += rs) {
    let ss = f32x4.splat(0);
    for (let i = 0; i < D; i += 4) {
      const v = v128.load(at(x, i));
      ss = f32x4.add(ss, f32x4.mul(v, v));
    }
    const r: f32 = <f32>1 / Mathf.sqrt(hsum(ss) * invD + eps);
    const rv = f32x4.splat(r);
    let dot = f32x4.splat(0);
    for (let i = 0; i < D; i += 4) {
      const xv = v128.load(at(x, i));
      const d = v128.load(at(dy, i));
      dot = f32x4.add(dot, f32x4.mul(f32x4.mul(d, v128.load(at(w, i))), xv));
      v128.store(at(dw, i), f32x4.add(v128.load(at(dw, i)), f32x4.mul(f32x4.mul(d, xv), rv)));
    }
    const c = f32x4.splat((r * r * r * hsum(dot)) * invD);
    for (let i = 0; i < D; i += 4) {
      const g = f32x4.mul(v128.load(at(dy, i)), v128.load(at(w, i)));
      v128.store(at(dx, i), f32x4.sub(f32x4.mul(rv, g), f32x4.mul(v128.load(at(x, i)), c)));
    }
  }
}
