// loadTokenizer: any tokenizer file or folder we read → a Tokenizer, by what the path is: a folder
// (tokenizer.json, or GPT-2 vocab.json + merges.txt), tokenizer.json, llama2.c .bin, or .gguf.

import * as fs from "node:fs";
import * as path from "node:path";
import { readGGUF } from "../io/gguf.js";
import { BpeTokenizer } from "./bpe.js";
import { tokenizerFromGGUF } from "./from-gguf.js";
import { HfTokenizer } from "./hf.js";
import { Llama2cTokenizer } from "./llama2c.js";
import type { Tokenizer } from "./tokenizer.js";

function isFile(p: string): boolean {
  return fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
}

function fromFolder(dir: string): Tokenizer {
  if (isFile(path.join(dir, "tokenizer.json"))) return HfTokenizer.fromPath(dir);
  const vocab = path.join(dir, "vocab.json");
  const merges = path.join(dir, "merges.txt");
  if (isFile(vocab) && isFile(merges)) return BpeTokenizer.fromFiles(vocab, merges);
  throw new Error(`${dir}: no tokenizer found (looked for tokenizer.json, or vocab.json + merges.txt)`);
}

/**
 * Loads a tokenizer. `vocabSize` (from a model header) is checked against a llama2.c tokenizer.bin;
 * without it the vocabulary size is inferred from the file.
 */
export async function loadTokenizer(p: string, opts: { vocabSize?: number } = {}): Promise<Tokenizer> {
  const stat = fs.statSync(p, { throwIfNoEntry: false });
  if (!stat) throw new Error(`${p}: no such file or folder`);
  if (stat.isDirectory()) return fromFolder(p);
  const ext = path.extname(p).toLowerCase();
  if (ext === ".json") return HfTokenizer.fromPath(p);
  if (ext === ".bin") return Llama2cTokenizer.fromFile(p, opts.vocabSize);
  if (ext === ".gguf") return tokenizerFromGGUF(readGGUF(p, { metadataOnly: true }).metadata);
  if (ext === ".model") {
    throw new Error(
      `${p}: SentencePiece .model protobufs are not read; use tokenizer.json, a llama2.c .bin or a GGUF`,
    );
  }
  throw new Error(`${p}: not a tokenizer we read (a folder, tokenizer.json, llama2.c .bin or .gguf)`);
}
