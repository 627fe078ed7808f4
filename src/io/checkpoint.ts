// Reads any supported checkpoint into one normal form: a Hugging Face style config object and tensors
// under Hugging Face names and layouts (rotate-half q/k, Linear weights as (out, in)).

import * as fs from "node:fs";
import * as path from "node:path";
import type { Allocator } from "../tensor/storage.js";
import { toF32 } from "../tensor/convert.js";
import type { Tensor } from "../tensor/tensor.js";
import { isFile, readAt, withOpenFile } from "./fileio.js";
import { readGGUF } from "./gguf.js";
import type { GGUFValue } from "./gguf-types.js";
import { hfConfigFromGGUF, hfTensorsFromGGUF } from "./gguf-names.js";
import { readLlama2c } from "./llama2c.js";
import { readPytorchBin } from "./pytorch.js";
import { readSafetensors } from "./safetensors.js";

export type CheckpointFormat = "gguf" | "safetensors" | "pytorch" | "llama2c";

export interface Checkpoint {
  readonly format: CheckpointFormat;
  /** The file or folder that was read. */
  readonly path: string;
  readonly config: Record<string, unknown>;
  readonly tensors: Map<string, Tensor>;
  /** GGUF metadata (tokenizer vocabulary included) when the source was GGUF. */
  readonly ggufMetadata?: ReadonlyMap<string, GGUFValue>;
}

export interface ReadOptions {
  readonly allocator?: Allocator;
}

function readJson(p: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(p, "utf8"));
  } catch (e) {
    throw new Error(`${p}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new Error(`${p}: expected a JSON object`);
  return v as Record<string, unknown>;
}

function sniff(file: string): CheckpointFormat | null {
  const b = new Uint8Array(4);
  const n = withOpenFile(file, "checkpoint", (fd) => readAt(fd, b, 0));
  if (n === 4 && String.fromCharCode(...b) === "GGUF") return "gguf";
  if (n === 4 && b[0] === 0x50 && b[1] === 0x4b) return "pytorch"; // zip
  if (file.endsWith(".safetensors")) return "safetensors";
  if (file.endsWith(".bin")) return "llama2c";
  return null;
}

/** GPT-2 checkpoints store Conv1D weights as (in, out); our Linear wants (out, in). */
const GPT2_CONV1D = /^transformer\.h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;

function normalizeGpt2(tensors: Map<string, Tensor>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, t] of tensors) {
    const name = k.startsWith("transformer.") || k.startsWith("lm_head.") ? k : `transformer.${k}`;
    if (/\.attn\.(masked_)?bias$/.test(name)) continue; // causal-mask buffers, not parameters
    out.set(name, GPT2_CONV1D.test(name) ? toF32(t).transpose(0, 1).contiguous() : t);
  }
  return out;
}

/** Hugging Face tensors as our models expect them (GPT-2: "transformer." prefix, Conv1D transposed). */
export function normalizeHF(
  config: Record<string, unknown>,
  tensors: Map<string, Tensor>,
): Map<string, Tensor> {
  const type = config["model_type"];
  const arch = Array.isArray(config["architectures"]) ? config["architectures"][0] : undefined;
  if (type === "gpt2" || arch === "GPT2LMHeadModel") return normalizeGpt2(tensors);
  return tensors;
}

function readHFWeights(dir: string, opts: ReadOptions): [CheckpointFormat, Map<string, Tensor>] {
  const single = path.join(dir, "model.safetensors");
  if (isFile(single)) return ["safetensors", readSafetensors(single, opts).tensors];
  const index = path.join(dir, "model.safetensors.index.json");
  if (isFile(index)) {
    const map = readJson(index)["weight_map"];
    if (typeof map !== "object" || map === null) throw new Error(`${index}: missing weight_map`);
    const files = [...new Set(Object.values(map as Record<string, unknown>))];
    const all = new Map<string, Tensor>();
    for (const f of files) {
      if (typeof f !== "string" || f.includes("/") || f.includes("\\"))
        throw new Error(`${index}: bad shard name ${JSON.stringify(f)}`);
      for (const [k, t] of readSafetensors(path.join(dir, f), opts).tensors) all.set(k, t);
    }
    return ["safetensors", all];
  }
  const bin = path.join(dir, "pytorch_model.bin");
  if (isFile(bin)) return ["pytorch", readPytorchBin(bin, opts).tensors];
  throw new Error(`${dir}: no model.safetensors, model.safetensors.index.json or pytorch_model.bin`);
}

/** Reads a checkpoint file or Hugging Face folder. */
export function readCheckpoint(p: string, opts: ReadOptions = {}): Checkpoint {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new Error(`${p}: no such file or folder`);
  }
  if (st.isDirectory()) {
    const cfgPath = path.join(p, "config.json");
    if (!isFile(cfgPath)) throw new Error(`${p}: a model folder needs config.json`);
    const config = readJson(cfgPath);
    const [format, raw] = readHFWeights(p, opts);
    return { format, path: p, config, tensors: normalizeHF(config, raw) };
  }
  const format = sniff(p);
  if (format === "gguf") {
    const g = readGGUF(p, opts);
    const config = hfConfigFromGGUF(g.metadata, g.tensors);
    return {
      format,
      path: p,
      config,
      tensors: hfTensorsFromGGUF(g.metadata, g.tensors, config, opts.allocator, true), // readGGUF's own tensors
      ggufMetadata: g.metadata,
    };
  }
  if (format === "llama2c") {
    const m = readLlama2c(p, opts);
    const c = m.config;
    const config: Record<string, unknown> = {
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      vocab_size: c.vocabSize,
      hidden_size: c.dim,
      intermediate_size: c.hiddenDim,
      num_hidden_layers: c.nLayers,
      num_attention_heads: c.nHeads,
      num_key_value_heads: c.nKvHeads,
      max_position_embeddings: c.seqLen,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: c.sharedClassifier,
      bos_token_id: 1,
      eos_token_id: 2,
    };
    return { format, path: p, config, tensors: m.tensors };
  }
  if (format === "safetensors" || format === "pytorch") {
    const dir = path.dirname(p);
    const cfgPath = path.join(dir, "config.json");
    if (!isFile(cfgPath)) throw new Error(`${p}: needs a config.json beside it`);
    const config = readJson(cfgPath);
    const raw = format === "safetensors" ? readSafetensors(p, opts).tensors : readPytorchBin(p, opts).tensors;
    return { format, path: p, config, tensors: normalizeHF(config, raw) };
  }
  throw new Error(
    `${p}: unknown checkpoint format (expected .gguf, .safetensors, .bin or a Hugging Face folder)`,
  );
}
