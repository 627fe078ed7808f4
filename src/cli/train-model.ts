// The model and tokenizer of a `decoderkit train` run: a new GPT-2 or Llama sized by the command's flags (a Hugging
// Face config built for it, then initialised), one rebuilt from a checkpoint's config, and tokenizer files.

import * as fs from "node:fs";
import * as path from "node:path";
import type { Tensor } from "../tensor/tensor.js";
import { tokenizerFromJson, type TrainTokenizer } from "../train/data/tokenizers.js";
import { gpt2HFConfig, TrainableGPT2 } from "../train/gpt2.js";
import { llamaHFConfig, TrainableLlama } from "../train/llama.js";
import type { TrainableLM } from "../train/model.js";

export interface ModelShape {
  readonly arch: "gpt2" | "llama";
  readonly layers: number;
  readonly heads: number;
  readonly dim: number;
  readonly context: number;
  readonly dropout: number;
  /** gpt2 only. */
  readonly bias: boolean;
  readonly activation: "gelu_new" | "gelu";
  /** llama only. */
  readonly kvHeads: number;
  readonly ffn: number;
  readonly ropeTheta: number;
  readonly tie: boolean;
}

/** A freshly initialised model of this shape over the tokenizer's vocabulary. */
export function newTrainable(s: ModelShape, tokenizer: TrainTokenizer, seed: number): TrainableLM {
  if (s.arch === "gpt2") {
    const config = gpt2HFConfig({
      vocab_size: tokenizer.vocabSize,
      n_layer: s.layers,
      n_head: s.heads,
      n_embd: s.dim,
      n_positions: s.context,
      dropout: s.dropout,
      bias: s.bias,
      activation_function: s.activation,
    });
    return TrainableGPT2.init(config, seed);
  }
  const config = llamaHFConfig({
    vocab_size: tokenizer.vocabSize,
    hidden_size: s.dim,
    intermediate_size: s.ffn,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    max_position_embeddings: s.context,
    rope_theta: s.ropeTheta,
    tie_word_embeddings: s.tie,
    attention_dropout: s.dropout,
    bos_token_id: tokenizer.eosId,
    eos_token_id: tokenizer.eosId,
  });
  return TrainableLlama.init(config, seed);
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new Error(
      `${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
    );
  }
}

/** A tokenizer.json and the tokenizer_config.json beside it, if any. */
export function loadTokenizerFile(file: string): TrainTokenizer {
  const cfg = path.join(path.dirname(file), "tokenizer_config.json");
  return tokenizerFromJson(readJson(file), fs.existsSync(cfg) ? readJson(cfg) : null);
}

export function modelFromCheckpoint(
  config: Record<string, unknown>,
  params: Map<string, Tensor>,
  seed: number,
): TrainableLM {
  if (config["model_type"] === "llama") return new TrainableLlama(config, params, seed);
  if (config["model_type"] === "gpt2") return new TrainableGPT2(config, params, seed);
  throw new Error(`checkpoint: model_type ${JSON.stringify(config["model_type"])} is not trained`);
}
