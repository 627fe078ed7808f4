// The tokenizers a training run uses, behind one interface: character-level or byte-level BPE trained on the
// corpus, or an existing tokenizer.json (ours are read back as they were; any other through @huggingface/tokenizers).

import { HfTokenizer } from "../../tokenizers/hf.js";
import { ByteLevelBpe } from "./byte-bpe.js";
import { CharTokenizer } from "./char-tokenizer.js";

type Json = Record<string, unknown>;

export interface TrainTokenizer {
  readonly vocabSize: number;
  /** The end-of-text id, if the vocabulary has one. */
  readonly eosId: number | null;
  encode(text: string): Int32Array;
  /** The tokenizer.json object to write beside the model. */
  toTokenizerJson(): Json;
  /** The tokenizer_config.json object to write beside it, if any. */
  tokenizerConfig(): Json | null;
}

/** What `--tokenizer` names: "char", "bpe:N" (N ids in all) or a tokenizer.json path. */
export type TokenizerSpec =
  { kind: "char" } | { kind: "bpe"; vocabSize: number } | { kind: "file"; path: string };

/** Parses "char", "bpe:N" or a path; null for a malformed bpe:N. */
export function parseTokenizerSpec(s: string): TokenizerSpec | null {
  if (s === "char") return { kind: "char" };
  if (s.startsWith("bpe:")) {
    const n = Number(s.slice(4));
    return Number.isSafeInteger(n) && n >= 257 && n <= 65536 ? { kind: "bpe", vocabSize: n } : null;
  }
  return { kind: "file", path: s };
}

function charTokenizer(t: CharTokenizer): TrainTokenizer {
  return {
    vocabSize: t.vocabSize,
    eosId: null,
    encode: (text) => t.encode(text),
    toTokenizerJson: () => t.toTokenizerJson(),
    tokenizerConfig: () => null,
  };
}

function bpeTokenizer(t: ByteLevelBpe): TrainTokenizer {
  return {
    vocabSize: t.vocabSize,
    eosId: t.eosId,
    encode: (text) => t.encode(text),
    toTokenizerJson: () => t.toTokenizerJson(),
    tokenizerConfig: () => t.tokenizerConfig(),
  };
}

/** A tokenizer from a tokenizer.json object (and its tokenizer_config.json, if any). */
export function tokenizerFromJson(json: Json, config: Json | null = null): TrainTokenizer {
  const bpe = ByteLevelBpe.fromTokenizerJson(json);
  if (bpe) return bpeTokenizer(bpe);
  try {
    return charTokenizer(CharTokenizer.fromTokenizerJson(json));
  } catch {
    // not a character vocabulary: any other tokenizer.json
  }
  const hf = new HfTokenizer(json, config ?? {});
  return {
    vocabSize: hf.vocabSize,
    eosId: hf.eosId,
    encode: (text) => Int32Array.from(hf.encode(text)),
    toTokenizerJson: () => json,
    tokenizerConfig: () => config,
  };
}

/** Trains the tokenizer a spec names on `text` (a file spec is loaded by the caller through tokenizerFromJson). */
export function trainTokenizer(spec: TokenizerSpec, text: string): TrainTokenizer {
  if (spec.kind === "char") return charTokenizer(CharTokenizer.train(text));
  if (spec.kind === "bpe") return bpeTokenizer(ByteLevelBpe.train(text, spec.vocabSize));
  throw new Error("trainTokenizer: a tokenizer file is loaded, not trained");
}
