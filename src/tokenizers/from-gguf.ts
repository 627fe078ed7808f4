// A Tokenizer from GGUF metadata (llama.cpp's tokenizer.ggml.* keys): "llama" → SentencePiece (spm.ts),
// "gpt2" → byte-level BPE (bpe.ts), with BOS/EOS ids, add_bos_token and add_space_prefix.

import { BpeTokenizer } from "./bpe.js";
import { parseBytePiece } from "./bytes.js";
import { SpmTokenizer } from "./spm.js";
import { TokenType } from "./token-type.js";
import type { Tokenizer } from "./tokenizer.js";

type Meta = ReadonlyMap<string, unknown>;

/** tokenizer.ggml.pre values whose pre-tokenizer is GPT-2's regex (llama.cpp LLAMA_VOCAB_PRE_TYPE_GPT2). */
const GPT2_PRE = new Set(["default", "gpt-2", "gpt2", "phi-2", "roberta-bpe"]);

function fail(msg: string): never {
  throw new Error(`gguf tokenizer: ${msg}`);
}

function strings(meta: Meta, key: string): string[] {
  const v = meta.get(key);
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string"))
    fail(`${key} missing or not a string array`);
  return v as string[];
}

function numbers(meta: Meta, key: string, n: number): number[] | null {
  const v = meta.get(key);
  if (v === undefined) return null;
  const arr = ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number | bigint>) : v;
  if (!Array.isArray(arr) || arr.length !== n) fail(`${key} should be an array of ${n} numbers`);
  return arr.map((x: unknown) =>
    typeof x === "bigint" ? Number(x) : typeof x === "number" ? x : fail(`${key} holds a non-number`),
  );
}

function id(meta: Meta, key: string, n: number, dflt: number | null = null): number | null {
  const v = meta.get(key);
  if (v === undefined) return dflt !== null && dflt < n ? dflt : null;
  const x = typeof v === "bigint" ? Number(v) : v;
  if (typeof x !== "number" || !Number.isInteger(x)) fail(`${key} is not an integer`);
  // Some converters write -1 (as u32: 0xFFFFFFFF) for "none".
  return x >= 0 && x < n ? x : null;
}

function flag(meta: Meta, key: string, dflt: boolean): boolean {
  const v = meta.get(key);
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") fail(`${key} is not a boolean`);
  return v;
}

export function tokenizerFromGGUF(metadata: ReadonlyMap<string, unknown>): Tokenizer {
  const model = metadata.get("tokenizer.ggml.model");
  if (model === undefined) fail("no tokenizer.ggml.model: this GGUF carries no vocabulary");
  if (model === "llama") return spmFromGGUF(metadata);
  if (model === "gpt2") return bpeFromGGUF(metadata);
  return fail(`tokenizer model ${JSON.stringify(model)} is not supported (supported: "llama", "gpt2")`);
}

function spmFromGGUF(meta: Meta): SpmTokenizer {
  const tokens = strings(meta, "tokenizer.ggml.tokens");
  const n = tokens.length;
  // llama.cpp's SentencePiece defaults when the keys are absent: <unk> 0, <s> 1, </s> 2.
  const bosId = id(meta, "tokenizer.ggml.bos_token_id", n, 1);
  const eosId = id(meta, "tokenizer.ggml.eos_token_id", n, 2);
  const unkId = id(meta, "tokenizer.ggml.unknown_token_id", n, 0);
  const types = numbers(meta, "tokenizer.ggml.token_type", n) ?? inferTypes(tokens, [bosId, eosId], unkId);
  return new SpmTokenizer({
    tokens,
    scores: numbers(meta, "tokenizer.ggml.scores", n) ?? new Array<number>(n).fill(0),
    types,
    bosId,
    eosId,
    unkId,
    addBos: flag(meta, "tokenizer.ggml.add_bos_token", true),
    addEos: flag(meta, "tokenizer.ggml.add_eos_token", false),
    addSpacePrefix: flag(meta, "tokenizer.ggml.add_space_prefix", true),
  });
}

function bpeFromGGUF(meta: Meta): BpeTokenizer {
  const pre = meta.get("tokenizer.ggml.pre");
  if (pre !== undefined && !GPT2_PRE.has(String(pre))) {
    fail(`pre-tokenizer ${JSON.stringify(pre)} is not supported (only GPT-2's: ${[...GPT2_PRE].join(", ")})`);
  }
  const tokens = strings(meta, "tokenizer.ggml.tokens");
  const n = tokens.length;
  const bosId = id(meta, "tokenizer.ggml.bos_token_id", n);
  const eosId = id(meta, "tokenizer.ggml.eos_token_id", n);
  return new BpeTokenizer({
    tokens,
    merges: strings(meta, "tokenizer.ggml.merges"),
    types: numbers(meta, "tokenizer.ggml.token_type", n) ?? inferTypes(tokens, [bosId, eosId], null),
    bosId,
    eosId,
    addBos: flag(meta, "tokenizer.ggml.add_bos_token", false),
    addEos: flag(meta, "tokenizer.ggml.add_eos_token", false),
  });
}

/** Token types when the file has none: BOS/EOS control, unk unknown, `<0xXX>` byte, the rest normal. */
function inferTypes(tokens: readonly string[], control: (number | null)[], unk: number | null): number[] {
  const types: number[] = tokens.map((t) => (parseBytePiece(t) !== null ? TokenType.byte : TokenType.normal));
  for (const c of control) if (c !== null) types[c] = TokenType.control;
  if (unk !== null) types[unk] = TokenType.unknown;
  return types;
}
