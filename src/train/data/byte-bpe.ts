// A byte-level BPE tokenizer trained on a corpus (GPT-2's scheme: bytes mapped to printable characters, GPT-2's
// pre-tokenizer regex, merges by rank) with one special token, <|endoftext|>, as the last id. It is written as a
// Hugging Face tokenizer.json (BPE model, ByteLevel pre-tokenizer and decoder) that @huggingface/tokenizers loads.

import { BpeTokenizer, BYTE_LEVEL_CHARS } from "../../tokenizers/bpe.js";
import { countWords, trainBpeMerges } from "./bpe-trainer.js";

type Json = Record<string, unknown>;

export const END_OF_TEXT = "<|endoftext|>";

export class ByteLevelBpe {
  /** Pieces by id in byte-mapped form ("Ġthe"); the last is END_OF_TEXT. */
  readonly tokens: readonly string[];
  /** Merge rules "a b", by rank. */
  readonly merges: readonly string[];
  readonly eosId: number;
  private readonly bpe: BpeTokenizer;

  constructor(tokens: readonly string[], merges: readonly string[]) {
    if (tokens[tokens.length - 1] !== END_OF_TEXT)
      throw new Error(`byte-level BPE: the last token must be ${END_OF_TEXT}`);
    for (let b = 0; b < 256; b++)
      if (tokens[b] !== BYTE_LEVEL_CHARS[b]) throw new Error("byte-level BPE: ids 0..255 must be the bytes");
    this.tokens = [...tokens];
    this.merges = [...merges];
    this.eosId = tokens.length - 1;
    const types = new Uint8Array(tokens.length).fill(1);
    types[this.eosId] = 3; // control
    this.bpe = new BpeTokenizer({ tokens, merges, types, bosId: null, eosId: this.eosId, addBos: false });
  }

  /**
   * Learns a vocabulary of `vocabSize` ids (256 bytes, the merges, <|endoftext|>) from `text`; occurrences of
   * <|endoftext|> in the text separate documents and are not merged across.
   */
  static train(text: string, vocabSize: number): ByteLevelBpe {
    if (!(Number.isSafeInteger(vocabSize) && vocabSize >= 257 && vocabSize <= 65536))
      throw new Error(`byte-level BPE: vocabulary size must be an integer in [257, 65536], got ${vocabSize}`);
    if (text.length === 0) throw new Error("byte-level BPE: the corpus is empty");
    const { merges } = trainBpeMerges(countWords(text.split(END_OF_TEXT)), vocabSize - 257);
    const tokens = [...BYTE_LEVEL_CHARS];
    const rules: string[] = [];
    for (const [a, b] of merges) {
      rules.push(`${tokens[a]} ${tokens[b]}`);
      tokens.push(tokens[a]! + tokens[b]!);
    }
    tokens.push(END_OF_TEXT);
    return new ByteLevelBpe(tokens, rules);
  }

  /** From a tokenizer.json this class wrote; null when the file is some other kind of tokenizer. */
  static fromTokenizerJson(json: Json): ByteLevelBpe | null {
    const model = json["model"] as Json | undefined;
    if (model?.["type"] !== "BPE" || (json["pre_tokenizer"] as Json | null)?.["type"] !== "ByteLevel")
      return null;
    const vocab = model["vocab"] as Record<string, number>;
    const tokens: string[] = [];
    for (const [piece, id] of Object.entries(vocab)) tokens[id] = piece;
    const merges = (model["merges"] as unknown[]).map((m) => (Array.isArray(m) ? m.join(" ") : String(m)));
    try {
      return new ByteLevelBpe(tokens, merges);
    } catch {
      return null;
    }
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  /** Ids of `text`; <|endoftext|> in it becomes the special id. */
  encode(text: string): Int32Array {
    const out: number[] = [];
    text.split(END_OF_TEXT).forEach((part, i) => {
      if (i > 0) out.push(this.eosId);
      for (const id of this.bpe.encode(part)) out.push(id);
    });
    return Int32Array.from(out);
  }

  decode(ids: ArrayLike<number>): string {
    return this.bpe.decode(Array.from(ids));
  }

  /** A Hugging Face tokenizer.json object. */
  toTokenizerJson(): Json {
    const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
    return {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [
        {
          id: this.eosId,
          content: END_OF_TEXT,
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: false,
          special: true,
        },
      ],
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", ...byteLevel },
      post_processor: null,
      decoder: { type: "ByteLevel", ...byteLevel },
      model: {
        type: "BPE",
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab: Object.fromEntries(this.tokens.map((t, i) => [t, i])),
        merges: this.merges,
      },
    };
  }

  /** tokenizer_config.json: <|endoftext|> is the BOS and EOS token, no BOS added. */
  tokenizerConfig(): Json {
    return { bos_token: END_OF_TEXT, eos_token: END_OF_TEXT, add_bos_token: false, model_max_length: 1e30 };
  }
}
