// Op front-ends: check shapes, allocate outputs, call the active backend's kernel. Each output goes through
// track() (tensor/grad.ts), which records a gradient node only in grad mode with an input that requires grad.

import { kernels, type AttentionParams } from "./backend.js";
import { track } from "./grad.js";
import { activationAllocator } from "./storage.js";
import { Tensor } from "./tensor.js";

/** A zeroed f32 output tensor where activations go (the backend's frame stack inside a forward pass). */
export function output(shape: readonly number[]): Tensor {
  return Tensor.zeros(shape, "f32", activationAllocator());
}

/** An output tensor holding a copy of x. */
function copyOf(x: Float32Array, shape: readonly number[]): Tensor {
  const t = output(shape);
  t.f32().set(x.subarray(0, t.size));
  return t;
}

function rows(x: Tensor): [number, number] {
  const D = x.shape[x.ndim - 1]!;
  return [x.size / D, D];
}

function f32(x: Tensor, op: string): Float32Array {
  if (x.dtype !== "f32") throw new Error(`${op}: expected f32 input, got ${x.dtype}`);
  return x.f32();
}

/** Parts [n_i, ...rest] stacked along the first dimension → [Σ n_i, ...rest] (inference only: no gradient). */
export function concatRows(parts: readonly Tensor[]): Tensor {
  if (parts.length === 0) throw new Error("concatRows: no parts");
  const rest = parts[0]!.shape.slice(1);
  let n = 0;
  for (const p of parts) {
    if (p.ndim !== rest.length + 1 || p.shape.slice(1).some((d, i) => d !== rest[i]))
      throw new Error(`concatRows: part [${p.shape}] does not stack on [*, ${rest}]`);
    n += p.shape[0]!;
  }
  const out = output([n, ...rest]);
  const o = out.f32();
  let at = 0;
  for (const p of parts) {
    const x = f32(p.contiguous(), "concatRows");
    o.set(x.subarray(0, p.size), at);
    at += p.size;
  }
  return out;
}

/** y = x · wᵀ (+ b): x [..., K], w [N, K] in any stored dtype → [..., N]. */
export function linear(x: Tensor, w: Tensor, b: Tensor | null = null): Tensor {
  const [M, K] = rows(x);
  if (w.ndim !== 2 || w.shape[1] !== K) throw new Error(`linear: input [${x.shape}] vs weight [${w.shape}]`);
  const N = w.shape[0]!;
  if (b && b.size !== N) throw new Error(`linear: bias [${b.shape}] vs ${N} outputs`);
  const out = output([...x.shape.slice(0, -1), N]);
  kernels().linear(f32(x, "linear"), M, K, w, b ? f32(b, "linear") : null, out.f32());
  return track(out, "linear", [x, w, b]);
}

/** Rows `ids` of the table w [V, D] → [T, D]. */
export function embedding(w: Tensor, ids: ArrayLike<number>): Tensor {
  const out = output([ids.length, w.shape[1]!]);
  kernels().embedding(w, ids, out.f32());
  return track(out, "embedding", [w], ids);
}

export function rmsNorm(x: Tensor, w: Tensor, eps: number): Tensor {
  const [M, D] = rows(x);
  if (w.size !== D) throw new Error(`rmsNorm: weight of ${w.size} for rows of ${D}`);
  const out = output(x.shape);
  kernels().rmsnorm(f32(x, "rmsNorm"), M, D, f32(w, "rmsNorm"), eps, out.f32());
  return track(out, "rmsNorm", [x, w], eps);
}

export function layerNorm(x: Tensor, w: Tensor, b: Tensor | null, eps: number): Tensor {
  const [M, D] = rows(x);
  if (w.size !== D || (b && b.size !== D)) throw new Error(`layerNorm: parameters do not match rows of ${D}`);
  const out = output(x.shape);
  kernels().layernorm(
    f32(x, "layerNorm"),
    M,
    D,
    f32(w, "layerNorm"),
    b ? f32(b, "layerNorm") : null,
    eps,
    out.f32(),
  );
  return track(out, "layerNorm", [x, w, b], eps);
}

function unary(name: "silu" | "gelu" | "geluTanh", x: Tensor): Tensor {
  const out = output(x.shape);
  kernels()[name](f32(x, name), out.f32());
  return track(out, name, [x]);
}

export const silu = (x: Tensor): Tensor => unary("silu", x);
export const gelu = (x: Tensor): Tensor => unary("gelu", x);
export const geluTanh = (x: Tensor): Tensor => unary("geluTanh", x);

function binary(name: "add" | "mul", a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new Error(`${name}: shapes [${a.shape}] and [${b.shape}] differ`);
  const out = output(a.shape);
  kernels()[name](f32(a, name), f32(b, name), out.f32());
  return track(out, name, [a, b]);
}

export const add = (a: Tensor, b: Tensor): Tensor => binary("add", a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary("mul", a, b);

/** Softmax over the last dimension. */
export function softmax(x: Tensor): Tensor {
  const [M, N] = rows(x);
  const out = copyOf(f32(x, "softmax"), x.shape);
  kernels().softmax(out.f32(), M, N);
  return track(out, "softmax", [x]);
}

/** Rotary position embedding (Su et al. 2021), rotate-half layout, applied to x [T, nHeads, headDim] in a copy. */
export function rope(x: Tensor, positions: ArrayLike<number>, invFreq: Float32Array): Tensor {
  if (x.ndim !== 3) throw new Error(`rope: expected [T, heads, headDim], got [${x.shape}]`);
  const [T, H, hd] = x.shape as [number, number, number];
  if (positions.length !== T || invFreq.length * 2 > hd)
    throw new Error("rope: positions or frequencies do not fit");
  const out = copyOf(f32(x, "rope"), x.shape);
  kernels().rope(out.f32(), T, H, hd, positions, invFreq);
  return track(out, "rope", [x], { positions, invFreq });
}

/** Causal attention of q [T, nHeads, hd] over cached k, v [S, nKvHeads, hd] → [T, nHeads, hd]. */
export function attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  p: Omit<AttentionParams, "T" | "S" | "nHeads" | "nKvHeads" | "headDim">,
): Tensor {
  const [T, nHeads, hd] = q.shape as [number, number, number];
  const [S, nKvHeads] = k.shape as [number, number];
  if (k.shape[2] !== hd || v.shape[2] !== hd || v.shape[0] !== S)
    throw new Error("attention: q/k/v shapes disagree");
  const out = output([T, nHeads, hd]);
  // fields named one by one: an object spread here cost several µs a call (a 1.1B decode makes 22 a token)
  const params: AttentionParams = {
    T,
    S,
    nHeads,
    nKvHeads,
    headDim: hd,
    queryPos: p.queryPos,
    window: p.window,
    scale: p.scale,
  };
  kernels().attention(f32(q, "attention"), f32(k, "attention"), f32(v, "attention"), params, out.f32());
  return track(out, "attention", [q, k, v], params);
}
