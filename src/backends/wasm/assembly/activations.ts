// Element-wise activations with f32x4 SIMD: SiLU x·σ(x) (Elfwing et al. 2017) over the vector exp of exp.ts.

import { expv } from "./exp";

function siluv(x: v128): v128 {
  return f32x4.div(x, f32x4.add(f32x4.splat(1), expv(f32x4.neg(x))));
}

/** out[i] = x[i] / (1 + exp(-x[i])) for i < n; out may be x. */
export function silu(x: usize, n: i32, out: usize): void {
  map(x, n, out, SILU);
}

/**
 * Applies the activation `kind` to n floats at x into out (out may be x); the 1-3 tail elements go through one
 * padded vector, so that every element sees the same approximation.
 */
@inline
function map(x: usize, n: i32, out: usize, kind: i32): void {
  let i = 0;
  // two independent vectors per step: each is one long dependent chain (a division, a polynomial, exp)
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    const a = unary(kind, v128.load(x + o));
    const b = unary(kind, v128.load(x + o, 16));
    v128.store(out + o, a);
    v128.store(out + o, b, 16);
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, unary(kind, v128.load(x + o)));
  }
  const rest = n - i;
  if (rest <= 0) return;
  const p = x + (<usize>i << 2);
  const q = out + (<usize>i << 2);
  let v = f32x4.replace_lane(f32x4.splat(0), 0, load<f32>(p));
  if (rest > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (rest > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  v = unary(kind, v);
  store<f32>(q, f32x4.extract_lane(v, 0));
  if (rest > 1) store<f32>(q, f32x4.extract_lane(v, 1), 4);
  if (rest > 2) store<f32>(q, f32x4.extract_lane(v, 2), 8);
}

const GELU_ERF: i32 = 0;
const GELU_TANH: i32 = 1;
const SILU: i32 = 2;

/** erf(x) by the Chebyshev fit the reference uses (Numerical Recipes' erfc, |error| < 1.2e-7), four lanes. */
@inline
export function erfv(x: v128): v128 {
  const z = f32x4.abs(x);
  const t = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.splat(0.5), z)));
  let p = f32x4.splat(0.17087277);
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.82215223));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.48851587));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.13520398));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.27886807));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-0.18628806));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.09678418));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(0.37409196));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.00002368));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(-1.26551223));
  const r = f32x4.mul(t, expv(f32x4.sub(p, f32x4.mul(z, z))));
  const pos = f32x4.sub(f32x4.splat(1), r);
  // x < 0: r - 1 = -(1 - r); NaN passes through the arithmetic
  return v128.bitselect(f32x4.neg(pos), pos, f32x4.lt(x, f32x4.splat(0)));
}

const SQRT1_2: f32 = 0.7071067811865476;
const K_TANH: f32 = 0.7978845608028654; // sqrt(2 / pi)

@inline
function unary(kind: i32, x: v128): v128 {
  if (kind == SILU) return siluv(x);
  const half = f32x4.mul(f32x4.splat(0.5), x);
  if (kind == GELU_ERF) return f32x4.mul(half, f32x4.add(f32x4.splat(1), erfv(f32x4.mul(x, f32x4.splat(SQRT1_2)))));
  // tanh(u) = 1 - 2 / (exp(2u) + 1), exact at both saturations (exp is clamped, not infinite)
  const u = f32x4.mul(f32x4.splat(K_TANH), f32x4.add(x, f32x4.mul(f32x4.splat(0.044715), f32x4.mul(x, f32x4.mul(x, x)))));
  const th = f32x4.sub(f32x4.splat(1), f32x4.div(f32x4.splat(2), f32x4.add(expv(f32x4.add(u, u)), f32x4.splat(1))));
  return f32x4.mul(half, f32x4.add(f32x4.splat(1), th));
}

/**
 * out[i] = silu(g[i]) · u[i] for i < n in one pass (out may be g or u), the same bits as silu into out then
 * binary's product with u: each element of out is written once, with its final value.
 */
export function swiglu(g: usize, u: usize, n: i32, out: usize): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(siluv(v128.load(g + o)), v128.load(u + o)));
  }
  const rest = n - i;
  if (rest <= 0) return;
  const p = g + (<usize>i << 2);
  const q = u + (<usize>i << 2);
  const r = out + (<usize>i << 2);
  let v = f32x4.replace_lane(f32x4.splat(0), 0, load<f32>(p));
  if (rest > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (rest > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  v = siluv(v);
  store<f32>(r, f32x4.extract_lane(v, 0) * load<f32>(q));
  if (rest > 1) store<f32>(r, f32x4.extract_lane(v, 1) * load<f32>(q, 4), 4);
  if (rest > 2) store<f32>(r, f32x4.extract_lane(v, 2) * load<f32>(q, 8), 8);
}

/** GELU, x·Φ(x) through erf (Hendrycks & Gimpel 2016). */
export function gelu(x: usize, n: i32, out: usize): void {
  map(x, n, out, GELU_ERF);
}

/** GELU's tanh approximation (gelu_new / gelu_pytorch_tanh). */
export function geluTanh(x: usize, n: i32, out: usize): void {
  map(x, n, out, GELU_TANH);
}

/** out = a + b (op 0) or a · b (op 1) over n floats. */
export function binary(a: usize, b: usize, n: i32, out: usize, op: i32): void {
  let i = 0;
  if (op == 0) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
    }
    return;
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) * load<f32>(b + o));
  }
}

/**
 * Rotary embedding (rotate-half layout) of x[T, nHeads, hd] into out (out may be x) over the first 2·half dims
 * (the others copied), with cos and sin of every (t, i) precomputed by the host at cs: [T][half] cosines then
 * [T][half] sines. Every element of out is written once, with its final value.
 */
export function rope(x: usize, out: usize, T: i32, nHeads: i32, hd: i32, half: i32, cs: usize): void {
  const sn = cs + (<usize>(T * half) << 2);
  for (let t = 0; t < T; t++) {
    const ct = cs + (<usize>(t * half) << 2);
    const st = sn + (<usize>(t * half) << 2);
    for (let h = 0; h < nHeads; h++) {
      const row = <usize>((t * nHeads + h) * hd) << 2;
      const o = x + row;
      const o2 = o + (<usize>half << 2);
      const p = out + row;
      const p2 = p + (<usize>half << 2);
      if (out != x && 2 * half < hd) memory.copy(p + (<usize>(2 * half) << 2), o + (<usize>(2 * half) << 2), <usize>(hd - 2 * half) << 2);
      let i = 0;
      for (; i + 4 <= half; i += 4) {
        const k = <usize>i << 2;
        const c = v128.load(ct + k);
        const s = v128.load(st + k);
        const x0 = v128.load(o + k);
        const x1 = v128.load(o2 + k);
        v128.store(p + k, f32x4.sub(f32x4.mul(x0, c), f32x4.mul(x1, s)));
        v128.store(p2 + k, f32x4.add(f32x4.mul(x0, s), f32x4.mul(x1, c)));
      }
      for (; i < half; i++) {
        const k = <usize>i << 2;
        const c = load<f32>(ct + k);
        const s = load<f32>(st + k);
        const x0 = load<f32>(o + k);
        const x1 = load<f32>(o2 + k);
        store<f32>(p + k, x0 * c - x1 * s);
        store<f32>(p2 + k, x0 * s + x1 * c);
      }
    }
  }
}
