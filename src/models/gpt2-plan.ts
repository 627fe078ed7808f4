// One GPT-2 decode step (a single token) as a plan (tensor/plan.ts): the kernels GPT2LMHeadModel's op-by-op
// forward runs for one row, in its order and on the same values. The fused qkv projection runs as three products
// over its row ranges (each output row is the same dot either way), so that keys and values land straight in the
// cache's rows (KVCache.appendRows).

import type { KVCache } from "../cache/kv-cache.js";
import type { LayerNorm, Linear } from "../nn/layers.js";
import { byteSize } from "../tensor/dtype.js";
import { output } from "../tensor/ops.js";
import type { PlanStep } from "../tensor/plan.js";
import { Tensor } from "../tensor/tensor.js";
import { ResidualStream, attentionStep, linearStep } from "./decode-steps.js";
import type { GPT2LMHeadModel } from "./gpt2.js";

/** A product's weight and bias restricted to output rows [start, start + n). */
export interface RowRange {
  readonly w: Tensor;
  readonly bias: Float32Array | null;
}

/** Rows [start, start + n) of l's weight (a view: f32 through narrow, stored blocks through a byte range). */
export function rowRange(l: Linear, start: number, n: number): RowRange {
  const w = l.weight;
  const K = w.shape[1]!;
  const view =
    w.dtype === "f32"
      ? w.narrow(0, start, n)
      : Tensor.fromBytes(w.dtype, [n, K], w.bytes().subarray(start * byteSize(w.dtype, [1, K])));
  return { w: view, bias: l.bias ? l.bias.f32().subarray(start, start + n) : null };
}

/**
 * The steps of one token through `model`: x (D) holds the token and position embeddings (the residual stream
 * then moves between it and a temporary), the cache's rows for position cache.length are written, and the
 * logits (V) are the last step's output. `qkv` holds each block's c_attn split into q, k, v row ranges.
 */
export function gpt2DecodePlan(
  model: GPT2LMHeadModel,
  qkv: readonly (readonly [RowRange, RowRange, RowRange])[],
  x: Float32Array,
  cache: KVCache,
  logits: Float32Array,
): PlanStep[] {
  const { nEmbd: D, nHead: H, nInner: F, activation } = model.cfg;
  const hd = D / H;
  const buffer = (n: number): Float32Array => output([n]).f32();
  const h = buffer(D); // normed residual stream
  const q = buffer(D); // (nh, hs)
  const y = buffer(D); // attention output (nh, hs)
  const o = buffer(D); // a block's output, added to x
  const f = buffer(F); // MLP hidden
  const fa = buffer(F); // its activation
  const steps: PlanStep[] = [];
  const res = new ResidualStream(x, buffer(D), steps);
  const product = (r: RowRange, xs: Float32Array, K: number, out: Float32Array): void => {
    steps.push(linearStep(r.w, r.bias, xs, K, out));
  };
  const linear = (l: Linear, xs: Float32Array, K: number, out: Float32Array): void =>
    product({ w: l.weight, bias: l.bias ? l.bias.f32() : null }, xs, K, out);
  const norm = (n: LayerNorm, xs: Float32Array, out: Float32Array): void => {
    const bias = n.bias ? n.bias.f32() : null;
    steps.push({ op: "layernorm", x: xs, M: 1, D, weight: n.weight.f32(), bias, eps: n.eps, out });
  };
  model.h.forEach((block, layer) => {
    const kv = cache.appendRows!(layer, 1); // kv.k, kv.v: (1, nh, hs) rows of this position
    const [rq, rk, rv] = qkv[layer]!;
    norm(block.ln_1, res.value, h);
    product(rq, h, D, q);
    product(rk, h, D, kv.k);
    product(rv, h, D, kv.v);
    steps.push(attentionStep(q, kv.rows, H, H, hd, 0, y)); // over (S, nh, hs), this position the last row
    linear(block.attn.c_proj, y, D, o);
    res.add(o);
    norm(block.ln_2, res.value, h);
    linear(block.mlp.c_fc, h, D, f);
    steps.push({ op: "gelu", x: f, tanh: activation !== "gelu", out: fa });
    linear(block.mlp.c_proj, fa, F, o);
    res.add(o);
  });
  norm(model.ln_f, res.value, h);
  steps.push(linearStep(model.lm_head, null, h, D, logits));
  return steps;
}
