// Writes a checkpoint in its normal form (Hugging Face names and layouts) as a Hugging Face folder
// (config.json + model.safetensors) or as a llama.cpp-loadable GGUF file.

import * as fs from "node:fs";
import * as path from "node:path";
import { toF16, toF32 } from "../tensor/convert.js";
import type { Tensor } from "../tensor/tensor.js";
import type { Checkpoint } from "./checkpoint.js";
import { writeGGUF } from "./gguf.js";
import type { GGUFValue } from "./gguf-types.js";
import { ggufTensorsFromHF } from "./gguf-names.js";
import { writeSafetensors } from "./safetensors.js";
import type { GGUFVocab } from "../tokenizers/tokenizer.js";

function ensureFreshDir(dir: string, overwrite: boolean): void {
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir} exists and is not a folder`);
    const clash = ["config.json", "model.safetensors"].filter((f) => fs.existsSync(path.join(dir, f)));
    if (clash.length && !overwrite)
      throw new Error(`${dir} already holds ${clash.join(", ")} (use --force to replace)`);
  } else fs.mkdirSync(dir, { recursive: true });
}

const GPT2_CONV1D = /^transformer\.h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;

/** Writes config.json and model.safetensors (f32 or f16); copies a tokenizer file alongside when given. */
export function writeHFFolder(
  dir: string,
  ck: Checkpoint,
  opts: { dtype?: "f32" | "f16"; tokenizerFile?: string; overwrite?: boolean } = {},
): void {
  ensureFreshDir(dir, opts.overwrite ?? false);
  const dtype = opts.dtype ?? "f32";
  const gpt2 = ck.config["model_type"] === "gpt2";
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of ck.tensors) {
    let w = t;
    if (gpt2 && GPT2_CONV1D.test(name)) w = toF32(t).transpose(0, 1).contiguous(); // back to Conv1D (in, out)
    tensors.set(name, dtype === "f16" && w.ndim >= 2 ? toF16(w) : toF32(w));
  }
  const config = { ...ck.config, torch_dtype: dtype === "f16" ? "float16" : "float32" };
  writeSafetensors(path.join(dir, "model.safetensors"), tensors, {
    metadata: { format: "pt" },
    overwrite: opts.overwrite ?? false,
  });
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config, null, 2) + "\n");
  if (opts.tokenizerFile) {
    const base = path.basename(opts.tokenizerFile);
    const name = base.endsWith(".json") ? "tokenizer.json" : base.endsWith(".bin") ? "tokenizer.bin" : base;
    fs.copyFileSync(opts.tokenizerFile, path.join(dir, name));
  }
}

function llamaMetadata(ck: Checkpoint): Map<string, GGUFValue> {
  const c = ck.config;
  const n = (k: string, d?: number): number => {
    const v = c[k];
    if (typeof v === "number") return v;
    if (d !== undefined) return d;
    throw new Error(`config has no ${k}`);
  };
  const H = n("num_attention_heads");
  const D = n("hidden_size");
  const m = new Map<string, GGUFValue>([
    ["general.architecture", "llama"],
    ["general.name", path.basename(ck.path)],
    ["llama.vocab_size", n("vocab_size")],
    ["llama.context_length", n("max_position_embeddings", 2048)],
    ["llama.embedding_length", D],
    ["llama.block_count", n("num_hidden_layers")],
    ["llama.feed_forward_length", n("intermediate_size")],
    ["llama.attention.head_count", H],
    ["llama.attention.head_count_kv", n("num_key_value_heads", H)],
    ["llama.rope.dimension_count", n("head_dim", D / H)],
    ["llama.rope.freq_base", n("rope_theta", 10000)],
    ["llama.attention.layer_norm_rms_epsilon", n("rms_norm_eps", 1e-6)],
  ]);
  return m;
}

function vocabMetadata(v: GGUFVocab): Map<string, GGUFValue> {
  const m = new Map<string, GGUFValue>([
    ["tokenizer.ggml.model", "llama"],
    ["tokenizer.ggml.tokens", [...v.tokens]],
    ["tokenizer.ggml.scores", Float32Array.from(v.scores)],
    ["tokenizer.ggml.token_type", Int32Array.from(v.types)],
    ["tokenizer.ggml.add_bos_token", v.addBos],
    ["tokenizer.ggml.add_eos_token", false],
  ]);
  if (v.bosId !== null) m.set("tokenizer.ggml.bos_token_id", v.bosId);
  if (v.eosId !== null) m.set("tokenizer.ggml.eos_token_id", v.eosId);
  if (v.unkId !== null) m.set("tokenizer.ggml.unknown_token_id", v.unkId);
  return m;
}

/** Writes a llama-architecture checkpoint as GGUF v3 (f32, f16 or q8_0 matrices), with its vocabulary. */
export function writeGGUFFile(
  file: string,
  ck: Checkpoint,
  opts: { dtype?: "f32" | "f16" | "q8_0"; vocab?: GGUFVocab; overwrite?: boolean } = {},
): void {
  const arch = ck.config["model_type"];
  if (arch !== "llama")
    throw new Error(`GGUF export supports llama-architecture models, not ${String(arch)}`);
  const meta = llamaMetadata(ck);
  if (ck.ggufMetadata) {
    for (const [k, v] of ck.ggufMetadata) if (k.startsWith("tokenizer.")) meta.set(k, v);
  } else if (opts.vocab) {
    for (const [k, v] of vocabMetadata(opts.vocab)) meta.set(k, v);
  }
  const tensors = ggufTensorsFromHF("llama", ck.tensors, ck.config).map(({ name, tensor }) => ({
    name,
    tensor: tensor.dtype === "f32" || tensor.dtype === opts.dtype ? tensor : toF32(tensor),
  }));
  writeGGUF(
    file,
    { metadata: meta, tensors },
    { dtype: opts.dtype ?? "f32", overwrite: opts.overwrite ?? false },
  );
}
