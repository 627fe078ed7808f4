// The tokenizers layer: one Tokenizer interface over SentencePiece (GGUF), GPT-2 byte-level BPE,
// llama2.c tokenizer.bin and Hugging Face tokenizer.json, plus streaming detokenization.

export { StreamDecoder, type DecodeOptions, type EncodeOptions, type Tokenizer } from "./tokenizer.js";
export { SpmTokenizer, type SpmVocab } from "./spm.js";
export { BpeTokenizer, GPT2_PATTERN, type BpeVocab } from "./bpe.js";
export { Llama2cTokenizer } from "./llama2c.js";
export { HfTokenizer } from "./hf.js";
export { tokenizerFromGGUF } from "./from-gguf.js";
export { loadTokenizer } from "./load.js";
export { TokenType } from "./token-type.js";
