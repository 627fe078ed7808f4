// GPT-2 byte-level BPE (Radford et al. 2019, openai/gpt-2 encoder.py): bytes → printable unicode map,
// the GPT-2 pre-tokenizer regex, then lowest-rank-first merges (leftmost on ties, as llama.cpp).

import * as fs from "node:fs";
import { ByteBuffer, utf8Encode } from "./bytes.js";
import { isSpecialType, TokenType } from "./token-type.js";
import type { DecodeOptions, EncodeOptions, Tokenizer } from "./tokenizer.js";

/** The GPT-2 pre-tokenizer: contractions, letters, numbers, other symbols, whitespace runs. */
export const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
function byteMaps(): { byteToChar: string[]; charToByte: Map<string, number> } {
  const byteToChar = new Array<string>(256);
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
  let extra = 0;
  for (let b = 0; b < 256; b++) byteToChar[b] = String.fromCharCode(printable(b) ? b : 256 + extra++);
  const charToByte = new Map(byteToChar.map((c, b) => [c, b] as const));
  return { byteToChar, charToByte };
}
const { byteToChar: BYTE_TO_CHAR, charToByte: CHAR_TO_BYTE } = byteMaps();

/** GPT-2's printable character for each byte value. */
export const BYTE_LEVEL_CHARS: readonly string[] = BYTE_TO_CHAR;

export interface BpeVocab {
  /** Pieces in byte-mapped form ("Ġthe"). */
  tokens: readonly string[];
  /** Merge rules "a b", highest priority first. */
  merges: readonly string[];
  /** llama.cpp token types; control tokens are special. All normal when absent. */
  types?: ArrayLike<number>;
  bosId: number | null;
  eosId: number | null;
  addBos: boolean;
  addEos?: boolean;
  /** Pre-tokenizer regex (global, unicode); GPT-2's by default. */
  pattern?: RegExp;
}

export class BpeTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly addBos: boolean;
  readonly addEos: boolean;
  private readonly tokens: readonly string[];
  private readonly types: Uint8Array;
  private readonly pieceToId = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  private readonly pattern: RegExp;
  private readonly cache = new Map<string, number[]>();

  constructor(v: BpeVocab) {
    const n = v.tokens.length;
    if (v.types && v.types.length !== n)
      throw new Error(`bpe: ${n} tokens but ${v.types.length} token types`);
    for (const [name, id] of [
      ["bos", v.bosId],
      ["eos", v.eosId],
    ] as const) {
      if (id !== null && !(id >= 0 && id < n)) throw new Error(`bpe: ${name} id ${id} outside vocab of ${n}`);
    }
    this.vocabSize = n;
    this.tokens = v.tokens;
    this.types = Uint8Array.from(v.types ?? new Uint8Array(n).fill(TokenType.normal));
    this.bosId = v.bosId;
    this.eosId = v.eosId;
    this.addBos = v.addBos;
    this.addEos = v.addEos ?? false;
    this.pattern = new RegExp((v.pattern ?? GPT2_PATTERN).source, "gu");
    v.tokens.forEach((t, id) => this.pieceToId.set(t, id));
    v.merges.forEach((m, rank) => {
      const parts = m.split(" ");
      if (parts.length !== 2) throw new Error(`bpe: merge ${rank} ${JSON.stringify(m)} is not "a b"`);
      if (!this.ranks.has(m)) this.ranks.set(m, rank);
    });
  }

  /**
   * From a Hugging Face/OpenAI `vocab.json` (piece → id) and `merges.txt`. `<|endoftext|>`, when
   * present, is the BOS/EOS control token, as in GPT-2.
   */
  static fromFiles(vocabJsonPath: string, mergesPath: string): BpeTokenizer {
    const obj = JSON.parse(fs.readFileSync(vocabJsonPath, "utf8")) as Record<string, unknown>;
    const entries = Object.entries(obj);
    const tokens = new Array<string>(entries.length);
    for (const [piece, id] of entries) {
      if (
        typeof id !== "number" ||
        !Number.isInteger(id) ||
        id < 0 ||
        id >= entries.length ||
        tokens[id] !== undefined
      ) {
        throw new Error(`${vocabJsonPath}: bad or duplicate id ${String(id)} for ${JSON.stringify(piece)}`);
      }
      tokens[id] = piece;
    }
    const merges = fs
      .readFileSync(mergesPath, "utf8")
      .split("\n")
      .map((l) => l.replace(/\r$/, ""))
      .filter((l, i) => l !== "" && !(i === 0 && l.startsWith("#version")));
    const types = new Uint8Array(tokens.length).fill(TokenType.normal);
    const eot = tokens.indexOf("<|endoftext|>");
    if (eot >= 0) types[eot] = TokenType.control;
    const special = eot >= 0 ? eot : null;
    return new BpeTokenizer({ tokens, merges, types, bosId: special, eosId: special, addBos: false });
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (opts.addSpecial && this.addBos && this.bosId !== null) out.push(this.bosId);
    for (const m of text.matchAll(this.pattern)) out.push(...this.encodeWord(m[0]));
    if (opts.addSpecial && this.addEos && this.eosId !== null) out.push(this.eosId);
    return out;
  }

  private encodeWord(word: string): number[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    let syms = Array.from(utf8Encode(word), (b) => BYTE_TO_CHAR[b]!);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < syms.length; i++) {
        const r = this.ranks.get(`${syms[i]} ${syms[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      syms = [...syms.slice(0, best), syms[best]! + syms[best + 1]!, ...syms.slice(best + 2)];
    }
    const ids: number[] = [];
    for (const s of syms) {
      const id = this.pieceToId.get(s);
      if (id !== undefined) ids.push(id);
      else for (const c of s) ids.push(this.charId(c));
    }
    if (this.cache.size < 65536) this.cache.set(word, ids);
    return ids;
  }

  private charId(c: string): number {
    const id = this.pieceToId.get(c);
    if (id === undefined) throw new Error(`bpe: byte symbol ${JSON.stringify(c)} is not in the vocabulary`);
    return id;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const buf = new ByteBuffer();
    for (const id of ids) {
      this.check(id);
      const type = this.types[id]!;
      const piece = this.tokens[id]!;
      if (isSpecialType(type) || type === TokenType.userDefined) {
        if (!(opts.skipSpecial && isSpecialType(type))) buf.pushBytes(utf8Encode(piece));
        continue;
      }
      for (const c of piece) {
        const b = CHAR_TO_BYTE.get(c);
        if (b !== undefined) buf.pushByte(b);
        else buf.pushBytes(utf8Encode(c));
      }
    }
    return buf.text();
  }

  idToPiece(id: number): string {
    this.check(id);
    return this.tokens[id]!;
  }

  isSpecial(id: number): boolean {
    return id >= 0 && id < this.vocabSize && isSpecialType(this.types[id]!);
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`bpe: token id ${id} outside vocab of ${this.vocabSize}`);
    }
  }
}
