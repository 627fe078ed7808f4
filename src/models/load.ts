// loadModel: any supported checkpoint (file or Hugging Face folder) → a ready model plus its tokenizer.

import * as fs from "node:fs";
import * as path from "node:path";
import { isFile } from "../io/fileio.js";
import { readCheckpoint, type Checkpoint, type ReadOptions } from "../io/checkpoint.js";
import { tokenizerFromGGUF } from "../tokenizers/from-gguf.js";
import { loadTokenizer } from "../tokenizers/load.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import type { CausalLM } from "./model.js";
import { buildModel } from "./registry.js";

export interface LoadedModel {
  readonly model: CausalLM;
  /** Null when the checkpoint carries none and none was given. */
  readonly tokenizer: Tokenizer | null;
  readonly checkpoint: Checkpoint;
  /** Token ids that end generation (EOS; for llama2.c models also BOS, as run.c does). */
  readonly stopTokens: number[];
  /** Whether prompts get a BOS token (llama2.c models always do). */
  readonly addBos: boolean;
  readonly bosId: number | null;
  readonly loadMs: number;
}

export interface LoadOptions extends ReadOptions {
  /** A tokenizer file or folder (tokenizer.json, llama2.c tokenizer.bin, or a GGUF with a vocabulary). */
  readonly tokenizer?: string;
}

async function findTokenizer(ck: Checkpoint, vocabSize: number): Promise<Tokenizer | null> {
  if (ck.ggufMetadata?.has("tokenizer.ggml.model")) return tokenizerFromGGUF(ck.ggufMetadata);
  const dir = fs.statSync(ck.path).isDirectory() ? ck.path : path.dirname(ck.path);
  for (const name of ["tokenizer.json", "tokenizer.bin", `tok${vocabSize}.bin`]) {
    const p = path.join(dir, name);
    if (isFile(p)) return loadTokenizer(p);
  }
  return null;
}

export async function loadModel(p: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const t0 = performance.now();
  const checkpoint = readCheckpoint(p, opts);
  const model = buildModel(checkpoint.config, checkpoint.tensors);
  const tokenizer = opts.tokenizer
    ? await loadTokenizer(opts.tokenizer)
    : await findTokenizer(checkpoint, model.vocabSize);
  const cfgEos = checkpoint.config["eos_token_id"];
  const stop = new Set<number>();
  if (tokenizer?.eosId !== null && tokenizer?.eosId !== undefined) stop.add(tokenizer.eosId);
  else if (typeof cfgEos === "number") stop.add(cfgEos);
  else if (Array.isArray(cfgEos)) for (const e of cfgEos) if (typeof e === "number") stop.add(e);
  const llama2c = checkpoint.format === "llama2c";
  const bosId =
    tokenizer?.bosId ??
    (typeof checkpoint.config["bos_token_id"] === "number"
      ? (checkpoint.config["bos_token_id"] as number)
      : null);
  if (llama2c && bosId !== null) stop.add(bosId);
  return {
    model,
    tokenizer,
    checkpoint,
    stopTokens: [...stop],
    addBos: llama2c ? true : (tokenizer?.addBos ?? false),
    bosId,
    loadMs: performance.now() - t0,
  };
}
