// One Llama decode step (a single token) as a plan (tensor/plan.ts): the kernels LlamaForCausalLM's op-by-op
// forward runs for one row, in its order and on the same values, with the new keys and values written straight
// into the cache's rows (KVCache.appendRows). A backend may run the whole plan in one go (the wasm backend: one
// pass of its threads a token instead of one per product).

import type { KVCache } from "../cache/kv-cache.js";
import type { Linear, RMSNorm } from "../nn/layers.js";
import { output } from "../tensor/ops.js";
import type { PlanStep } from "../tensor/plan.js";
import { ResidualStream, attentionStep, linearStep } from "./decode-steps.js";
import type { LlamaForCausalLM } from "./llama.js";

/**
 * The steps of one token through `model`: x (D) holds the token's embedding (the residual stream then moves
 * between it and a temporary, so x ends up holding one of the stream's values), the cache's rows for position
 * cache.length are written, and the logits (V) are the last step's output. Temporaries go where op outputs go
 * (the frame stack inside the forward pass).
 */
export function decodePlan(
  model: LlamaForCausalLM,
  x: Float32Array,
  cache: KVCache,
  logits: Float32Array,
): PlanStep[] {
  const c = model.cfg;
  const { hiddenSize: D, numHeads: H, numKvHeads: KV, headDim: hd, intermediateSize: F } = c;
  const buffer = (n: number): Float32Array => output([n]).f32();
  const h = buffer(D); // normed residual stream
  const qr = buffer(H * hd); // q before RoPE (nh, hs)
  const kr = buffer(KV * hd); // k before RoPE (nkv, hs)
  const q = buffer(H * hd); // (nh, hs)
  const y = buffer(H * hd); // attention output (nh, hs)
  const o = buffer(D); // a block's output, added to x
  const g = buffer(F); // gate
  const u = buffer(F); // up
  const m = buffer(F); // silu(gate) · up
  const positions = [cache.length];
  const steps: PlanStep[] = [];
  const res = new ResidualStream(x, buffer(D), steps);
  const linear = (l: Linear, xs: Float32Array, K: number, out: Float32Array): void => {
    steps.push(linearStep(l.weight, l.bias ? l.bias.f32() : null, xs, K, out));
  };
  const norm = (n: RMSNorm, xs: Float32Array, out: Float32Array): void => {
    steps.push({ op: "rmsnorm", x: xs, M: 1, D, weight: n.weight.f32(), eps: n.eps, out });
  };
  model.layers.forEach((block, layer) => {
    const a = block.self_attn;
    const kv = cache.appendRows!(layer, 1); // kv.k, kv.v: (1, nkv, hs) rows of this position
    norm(block.input_layernorm, res.value, h);
    linear(a.q_proj, h, D, qr);
    linear(a.k_proj, h, D, kr);
    linear(a.v_proj, h, D, kv.v);
    // RoPE into other buffers (the cache's row for k), so that every thread may run it (backends/wasm/plan.ts)
    steps.push({ op: "rope", x: qr, out: q, T: 1, nHeads: H, headDim: hd, positions, invFreq: a.invFreq });
    steps.push({
      op: "rope",
      x: kr,
      out: kv.k,
      T: 1,
      nHeads: KV,
      headDim: hd,
      positions,
      invFreq: a.invFreq,
    });
    steps.push(attentionStep(q, kv.rows, H, KV, hd, kv.rows.window ?? c.slidingWindow, y));
    linear(a.o_proj, y, H * hd, o);
    res.add(o);
    norm(block.post_attention_layernorm, res.value, h);
    linear(block.mlp.gate_proj, h, D, g);
    linear(block.mlp.up_proj, h, D, u);
    steps.push({ op: "swiglu", gate: g, up: u, out: m });
    linear(block.mlp.down_proj, m, F, o);
    res.add(o);
  });
  norm(model.norm, res.value, h);
  steps.push(linearStep(model.lm_head, null, h, D, logits));
  return steps;
}
