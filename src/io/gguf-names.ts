// GGUF ↔ Hugging Face naming for the llama and gpt2 architectures: tensor names, config keys, and the
// rotary layout (GGUF llama q/k rows are Meta-interleaved; Hugging Face uses rotate-half).

import { getAllocator, type Allocator } from "../tensor/storage.js";
import type { Tensor } from "../tensor/tensor.js";
import type { GGUFValue } from "./gguf-types.js";
import { halfToInterleaved, interleavedToHalf, interleavedToHalfInPlace } from "./rope-layout.js";

type Meta = ReadonlyMap<string, GGUFValue>;
type Json = Record<string, unknown>;

const LLAMA_BLOCK: Readonly<Record<string, string>> = {
  attn_norm: "input_layernorm",
  attn_q: "self_attn.q_proj",
  attn_k: "self_attn.k_proj",
  attn_v: "self_attn.v_proj",
  attn_output: "self_attn.o_proj",
  ffn_norm: "post_attention_layernorm",
  ffn_gate: "mlp.gate_proj",
  ffn_up: "mlp.up_proj",
  ffn_down: "mlp.down_proj",
};

const LLAMA_TOP: Readonly<Record<string, string>> = {
  "token_embd.weight": "model.embed_tokens.weight",
  "output_norm.weight": "model.norm.weight",
  "output.weight": "lm_head.weight",
};

const GPT2_BLOCK: Readonly<Record<string, string>> = {
  attn_norm: "ln_1",
  attn_qkv: "attn.c_attn",
  attn_output: "attn.c_proj",
  ffn_norm: "ln_2",
  ffn_up: "mlp.c_fc",
  ffn_down: "mlp.c_proj",
};

const GPT2_TOP: Readonly<Record<string, string>> = {
  "token_embd.weight": "transformer.wte.weight",
  "position_embd.weight": "transformer.wpe.weight",
  "output_norm.weight": "transformer.ln_f.weight",
  "output_norm.bias": "transformer.ln_f.bias",
  "output.weight": "lm_head.weight",
};

function tables(arch: string): [Readonly<Record<string, string>>, Readonly<Record<string, string>>, string] {
  if (arch === "gpt2") return [GPT2_TOP, GPT2_BLOCK, "transformer.h"];
  return [LLAMA_TOP, LLAMA_BLOCK, "model.layers"];
}

/** A GGUF tensor name as its Hugging Face name (null when not known). */
export function hfNameOf(arch: string, gguf: string): string | null {
  const [top, block, prefix] = tables(arch);
  if (top[gguf]) return top[gguf]!;
  const m = /^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$/.exec(gguf);
  if (!m || !block[m[2]!]) return null;
  return `${prefix}.${m[1]}.${block[m[2]!]}.${m[3]}`;
}

/** A Hugging Face tensor name as its GGUF name (null when not known). */
export function ggufNameOf(arch: string, hf: string): string | null {
  const [top, block, prefix] = tables(arch);
  for (const [g, h] of Object.entries(top)) if (h === hf) return g;
  const esc = prefix.replace(/\./g, "\\.");
  const m = new RegExp(`^${esc}\\.(\\d+)\\.(.+)\\.(weight|bias)$`).exec(hf);
  if (!m) return null;
  for (const [g, h] of Object.entries(block)) if (h === m[2]) return `blk.${m[1]}.${g}.${m[3]}`;
  return null;
}

function metaNum(meta: Meta, key: string): number | undefined {
  const v = meta.get(key);
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (v !== undefined) throw new Error(`GGUF: metadata ${key} is not a number`);
  return undefined;
}

function need(meta: Meta, key: string): number {
  const v = metaNum(meta, key);
  if (v === undefined) throw new Error(`GGUF: missing metadata ${key}`);
  return v;
}

/** The GGUF architecture name (general.architecture). */
export function ggufArchitecture(meta: Meta): string {
  const a = meta.get("general.architecture");
  if (typeof a !== "string") throw new Error("GGUF: missing general.architecture");
  return a;
}

/** A Hugging Face style config.json object from GGUF metadata. */
export function hfConfigFromGGUF(meta: Meta, tensors: ReadonlyMap<string, Tensor>): Json {
  const arch = ggufArchitecture(meta);
  const emb = tensors.get("token_embd.weight");
  const bos = metaNum(meta, "tokenizer.ggml.bos_token_id");
  const eos = metaNum(meta, "tokenizer.ggml.eos_token_id");
  const vocab = metaNum(meta, `${arch}.vocab_size`) ?? emb?.shape[0];
  if (vocab === undefined) throw new Error("GGUF: cannot tell the vocabulary size");
  if (arch === "llama" || arch === "mistral" || arch === "qwen2") {
    const D = need(meta, `${arch}.embedding_length`);
    const H = need(meta, `${arch}.attention.head_count`);
    const cfg: Json = {
      architectures: [arch === "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
      model_type: arch === "qwen2" ? "qwen2" : "llama",
      vocab_size: vocab,
      hidden_size: D,
      intermediate_size: need(meta, `${arch}.feed_forward_length`),
      num_hidden_layers: need(meta, `${arch}.block_count`),
      num_attention_heads: H,
      num_key_value_heads: metaNum(meta, `${arch}.attention.head_count_kv`) ?? H,
      max_position_embeddings: metaNum(meta, `${arch}.context_length`) ?? 2048,
      rms_norm_eps: metaNum(meta, `${arch}.attention.layer_norm_rms_epsilon`) ?? 1e-5,
      rope_theta: metaNum(meta, `${arch}.rope.freq_base`) ?? 10000,
      tie_word_embeddings: !tensors.has("output.weight"),
      bos_token_id: bos ?? null,
      eos_token_id: eos ?? null,
    };
    const hd = metaNum(meta, `${arch}.attention.key_length`);
    if (hd !== undefined && hd !== D / H) cfg["head_dim"] = hd;
    const sw = metaNum(meta, `${arch}.attention.sliding_window`);
    if (sw) cfg["sliding_window"] = sw;
    const scaleType = meta.get(`${arch}.rope.scaling.type`);
    const factor = metaNum(meta, `${arch}.rope.scaling.factor`);
    if (scaleType === "linear" && factor) cfg["rope_scaling"] = { type: "linear", factor };
    return cfg;
  }
  if (arch === "gpt2") {
    return {
      architectures: ["GPT2LMHeadModel"],
      model_type: "gpt2",
      vocab_size: vocab,
      n_embd: need(meta, "gpt2.embedding_length"),
      n_layer: need(meta, "gpt2.block_count"),
      n_head: need(meta, "gpt2.attention.head_count"),
      n_inner: need(meta, "gpt2.feed_forward_length"),
      n_positions: need(meta, "gpt2.context_length"),
      layer_norm_epsilon: metaNum(meta, "gpt2.attention.layer_norm_epsilon") ?? 1e-5,
      bos_token_id: bos ?? null,
      eos_token_id: eos ?? null,
    };
  }
  throw new Error(`GGUF: unsupported architecture "${arch}" (supported: llama, mistral, qwen2, gpt2)`);
}

/**
 * GGUF tensors renamed to Hugging Face names, llama q/k rows turned to the rotate-half layout: in a copy from
 * `allocator`, or with `inPlace` (the caller owns each tensor's bytes, as readGGUF's fresh tensors) inside the
 * tensor's own bytes, so that loading holds no second copy of them.
 */
export function hfTensorsFromGGUF(
  meta: Meta,
  tensors: ReadonlyMap<string, Tensor>,
  cfg: Json,
  allocator: Allocator = getAllocator(),
  inPlace = false,
): Map<string, Tensor> {
  const arch = ggufArchitecture(meta);
  const out = new Map<string, Tensor>();
  const H = cfg["num_attention_heads"] as number;
  const KV = cfg["num_key_value_heads"] as number;
  for (const [name, t] of tensors) {
    const hf = hfNameOf(arch, name);
    if (hf === null) throw new Error(`GGUF: unexpected tensor "${name}" for architecture ${arch}`);
    let w = t;
    if (arch === "llama" || arch === "mistral") {
      const heads = /\.attn_q\.(weight|bias)$/.test(name)
        ? H
        : /\.attn_k\.(weight|bias)$/.test(name)
          ? KV
          : 0;
      if (heads) w = inPlace ? interleavedToHalfInPlace(t, heads) : interleavedToHalf(t, heads, allocator);
    }
    out.set(hf, w);
  }
  return out;
}

/** Hugging Face llama tensors as GGUF tensors (names and the interleaved q/k layout). */
export function ggufTensorsFromHF(
  arch: string,
  tensors: ReadonlyMap<string, Tensor>,
  cfg: Json,
): { name: string; tensor: Tensor }[] {
  const H = cfg["num_attention_heads"] as number;
  const KV = (cfg["num_key_value_heads"] as number | undefined) ?? H;
  const out: { name: string; tensor: Tensor }[] = [];
  for (const [hf, t] of tensors) {
    const name = ggufNameOf(arch, hf);
    if (name === null) throw new Error(`GGUF: no GGUF name for tensor "${hf}"`);
    let w = t;
    if (arch === "llama") {
      if (hf.endsWith("self_attn.q_proj.weight")) w = halfToInterleaved(t, H);
      else if (hf.endsWith("self_attn.k_proj.weight")) w = halfToInterleaved(t, KV);
    }
    out.push({ name, tensor: w });
  }
  return out;
}
