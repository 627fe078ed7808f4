// Typed configs mapped from Hugging Face config.json (nanoGPT GPTConfig / mlx-lm ModelArgs.from_dict):
// known keys are read and checked, unknown keys ignored.

import type { RopeScaling } from "../nn/rope.js";

type Json = Readonly<Record<string, unknown>>;

function num(c: Json, keys: string[], dflt?: number): number {
  for (const k of keys) {
    const v = c[k];
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (v !== undefined && v !== null)
      throw new Error(`config: "${k}" must be a number, got ${JSON.stringify(v)}`);
  }
  if (dflt === undefined) throw new Error(`config: missing "${keys[0]}"`);
  return dflt;
}

function posInt(c: Json, keys: string[], dflt?: number): number {
  const v = num(c, keys, dflt);
  if (!Number.isSafeInteger(v) || v <= 0)
    throw new Error(`config: "${keys[0]}" must be a positive integer, got ${v}`);
  return v;
}

function firstId(v: unknown): number | null {
  if (typeof v === "number") return v;
  if (Array.isArray(v) && typeof v[0] === "number") return v[0];
  return null;
}

export interface LlamaConfig {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly contextLength: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly ropeScaling: RopeScaling | null;
  readonly tieWordEmbeddings: boolean;
  /** Mistral sliding-window attention span; 0 = full attention. */
  readonly slidingWindow: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
}

function ropeScaling(c: Json): RopeScaling | null {
  const r = c["rope_scaling"];
  if (r === undefined || r === null) return null;
  if (typeof r !== "object") throw new Error("config: rope_scaling must be an object");
  const o = r as Json;
  const type = (o["rope_type"] ?? o["type"]) as unknown;
  if (type === "default") return null;
  if (type !== "linear" && type !== "llama3")
    throw new Error(`config: rope_scaling type ${JSON.stringify(type)} is not supported`);
  return {
    type,
    factor: num(o, ["factor"]),
    lowFreqFactor: num(o, ["low_freq_factor"], 1),
    highFreqFactor: num(o, ["high_freq_factor"], 4),
    originalMaxPositions: num(o, ["original_max_position_embeddings"], 8192),
  };
}

export function llamaConfigFromHF(c: Json): LlamaConfig {
  const hiddenSize = posInt(c, ["hidden_size"]);
  const numHeads = posInt(c, ["num_attention_heads"]);
  const numKvHeads = posInt(c, ["num_key_value_heads"], numHeads);
  if (numHeads % numKvHeads !== 0)
    throw new Error(`config: ${numHeads} heads not divisible by ${numKvHeads} kv heads`);
  const headDim = posInt(c, ["head_dim"], hiddenSize / numHeads);
  const sw = c["sliding_window"];
  const useSw = c["use_sliding_window"] !== false && typeof sw === "number" && sw > 0;
  return {
    vocabSize: posInt(c, ["vocab_size"]),
    hiddenSize,
    intermediateSize: posInt(c, ["intermediate_size"]),
    numLayers: posInt(c, ["num_hidden_layers"]),
    numHeads,
    numKvHeads,
    headDim,
    contextLength: posInt(c, ["max_position_embeddings"], 2048),
    rmsNormEps: num(c, ["rms_norm_eps"], 1e-6),
    ropeTheta: num(c, ["rope_theta"], 10000),
    ropeScaling: ropeScaling(c),
    tieWordEmbeddings: c["tie_word_embeddings"] === true,
    slidingWindow: useSw ? (sw as number) : 0,
    bosTokenId: firstId(c["bos_token_id"]),
    eosTokenId: firstId(c["eos_token_id"]),
  };
}

export interface GPT2Config {
  readonly vocabSize: number;
  readonly nEmbd: number;
  readonly nLayer: number;
  readonly nHead: number;
  readonly nInner: number;
  readonly nPositions: number;
  readonly layerNormEps: number;
  readonly activation: "gelu_new" | "gelu";
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
}

export function gpt2ConfigFromHF(c: Json): GPT2Config {
  const nEmbd = posInt(c, ["n_embd"]);
  const nHead = posInt(c, ["n_head"]);
  if (nEmbd % nHead !== 0) throw new Error(`config: n_embd ${nEmbd} not divisible by n_head ${nHead}`);
  const act = (c["activation_function"] ?? "gelu_new") as unknown;
  if (act !== "gelu_new" && act !== "gelu" && act !== "gelu_pytorch_tanh") {
    throw new Error(`config: activation_function ${JSON.stringify(act)} is not supported`);
  }
  const inner = c["n_inner"];
  return {
    vocabSize: posInt(c, ["vocab_size"]),
    nEmbd,
    nLayer: posInt(c, ["n_layer"]),
    nHead,
    nInner: typeof inner === "number" ? inner : 4 * nEmbd,
    nPositions: posInt(c, ["n_positions", "n_ctx"], 1024),
    layerNormEps: num(c, ["layer_norm_epsilon"], 1e-5),
    activation: act === "gelu" ? "gelu" : "gelu_new",
    bosTokenId: firstId(c["bos_token_id"]),
    eosTokenId: firstId(c["eos_token_id"]),
  };
}
