// A tiny Llama config and random weights for it under Hugging Face names (f32), shared by the model and plan
// suites.

import type { Allocator } from "../../src/tensor/storage.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { rng } from "./fixtures.js";

/** A tiny Llama config.json object (2 layers, GQA 4 on 2, 16 wide), with `over`'s fields on top. */
export function tinyLlamaConfig(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    vocab_size: 13,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 32,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    ...over,
  };
}

/**
 * Random f32 weights for `cfg` (a Hugging Face config.json object); `bias` adds Qwen2-style q/k/v biases,
 * `tied` leaves out lm_head, `allocator` holds them (default: the current one).
 */
export function randomLlamaWeights(
  cfg: Record<string, unknown>,
  seed: number,
  opts: { bias?: boolean; tied?: boolean; allocator?: Allocator } = {},
): Map<string, Tensor> {
  const r = rng(seed);
  const V = cfg["vocab_size"] as number;
  const D = cfg["hidden_size"] as number;
  const F = cfg["intermediate_size"] as number;
  const H = cfg["num_attention_heads"] as number;
  const KV = (cfg["num_key_value_heads"] as number | undefined) ?? H;
  const hd = D / H;
  const w = new Map<string, Tensor>();
  const put = (name: string, shape: number[], scale: number, offset = 0): void => {
    const t = Tensor.zeros(shape, "f32", opts.allocator);
    const f = t.f32();
    for (let i = 0; i < f.length; i++) f[i] = offset + scale * (2 * r() - 1);
    w.set(name, t);
  };
  put("model.embed_tokens.weight", [V, D], 1);
  for (let l = 0; l < (cfg["num_hidden_layers"] as number); l++) {
    const p = `model.layers.${l}`;
    put(`${p}.input_layernorm.weight`, [D], 0.2, 1);
    put(`${p}.self_attn.q_proj.weight`, [H * hd, D], 0.6);
    put(`${p}.self_attn.k_proj.weight`, [KV * hd, D], 0.6);
    put(`${p}.self_attn.v_proj.weight`, [KV * hd, D], 0.6);
    put(`${p}.self_attn.o_proj.weight`, [D, H * hd], 0.4);
    if (opts.bias) {
      put(`${p}.self_attn.q_proj.bias`, [H * hd], 0.5);
      put(`${p}.self_attn.k_proj.bias`, [KV * hd], 0.5);
      put(`${p}.self_attn.v_proj.bias`, [KV * hd], 0.5);
    }
    put(`${p}.post_attention_layernorm.weight`, [D], 0.2, 1);
    put(`${p}.mlp.gate_proj.weight`, [F, D], 0.4);
    put(`${p}.mlp.up_proj.weight`, [F, D], 0.4);
    put(`${p}.mlp.down_proj.weight`, [D, F], 0.4);
  }
  put("model.norm.weight", [D], 0.2, 1);
  if (!opts.tied) put("lm_head.weight", [V, D], 0.5);
  return w;
}
