// llama2.c tokenizer.bin (karpathy/llama2.c run.c): int32 max_token_length, then per token float32
// score, int32 length, bytes. Encoding and decoding follow run.c's encode() and decode().

import * as fs from "node:fs";
import { ByteBuffer, parseBytePiece, utf8Decode, utf8Encode } from "./bytes.js";
import { mergeByScore } from "./merge.js";
import { TokenType } from "./token-type.js";
import type { DecodeOptions, EncodeOptions, GGUFVocab, Tokenizer } from "./tokenizer.js";

const BOS = 1;
const EOS = 2;
/** run.c only merges pairs scoring above its initial best_score. */
const MIN_SCORE = -1e10;

/** Bytes as a string of char codes 0..255, so pieces compare and concatenate byte-exactly. */
function binary(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

function binaryBytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

export class Llama2cTokenizer implements Tokenizer {
  readonly bosId = BOS;
  readonly eosId = EOS;
  readonly addBos = true;
  readonly vocabSize: number;
  readonly maxTokenLength: number;
  private readonly pieceToId = new Map<string, number>();

  private constructor(
    private readonly pieces: readonly string[],
    private readonly scores: Float32Array,
    maxTokenLength: number,
  ) {
    this.vocabSize = pieces.length;
    this.maxTokenLength = maxTokenLength;
    pieces.forEach((p, id) => {
      if (!this.pieceToId.has(p)) this.pieceToId.set(p, id);
    });
  }

  static fromFile(path: string, vocabSize?: number): Llama2cTokenizer {
    return Llama2cTokenizer.fromBuffer(fs.readFileSync(path), vocabSize);
  }

  /** Parses tokenizer.bin; `vocabSize` (from the model header) is checked, or inferred from the size. */
  static fromBuffer(buf: Uint8Array, vocabSize?: number): Llama2cTokenizer {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (buf.byteLength < 4)
      throw new Error(`tokenizer.bin: ${buf.byteLength} bytes, too short for the header`);
    const maxLen = dv.getInt32(0, true);
    if (maxLen <= 0 || maxLen > 1 << 16)
      throw new Error(`tokenizer.bin: implausible max_token_length ${maxLen}`);
    if (vocabSize !== undefined && !(Number.isInteger(vocabSize) && vocabSize > 0)) {
      throw new Error(`tokenizer.bin: vocab size ${vocabSize} must be a positive integer`);
    }
    const pieces: string[] = [];
    const scores: number[] = [];
    let o = 4;
    while (vocabSize === undefined ? o < buf.byteLength : pieces.length < vocabSize) {
      const i = pieces.length;
      if (o + 8 > buf.byteLength) {
        throw new Error(
          `tokenizer.bin: ends at token ${i} (offset ${o}) but the vocab has ${vocabSize ?? "more"}`,
        );
      }
      const score = dv.getFloat32(o, true);
      const len = dv.getInt32(o + 4, true);
      o += 8;
      if (Number.isNaN(score)) throw new Error(`tokenizer.bin: token ${i} has a NaN score`);
      if (len < 0 || len > maxLen) {
        throw new Error(`tokenizer.bin: token ${i} has length ${len} outside 0..max_token_length ${maxLen}`);
      }
      if (o + len > buf.byteLength)
        throw new Error(`tokenizer.bin: token ${i} runs past the end of the file`);
      pieces.push(binary(buf.subarray(o, o + len)));
      scores.push(score);
      o += len;
    }
    if (o !== buf.byteLength) {
      throw new Error(
        `tokenizer.bin: ${buf.byteLength - o} bytes left after ${vocabSize} tokens (vocab size mismatch?)`,
      );
    }
    if (pieces.length <= EOS) throw new Error(`tokenizer.bin: only ${pieces.length} tokens; BOS/EOS need 3`);
    return new Llama2cTokenizer(pieces, Float32Array.from(scores), maxLen);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = opts.addSpecial ? [BOS] : [];
    if (text.length === 0) return out;
    const syms: string[] = [];
    const prefix = this.pieceToId.get(" ");
    if (prefix !== undefined) syms.push(" ");
    // run.c: gather each UTF-8 sequence (at most 4 bytes); unknown ones fall back to byte ids (byte + 3).
    const bytes = utf8Encode(text);
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if ((bytes[i]! & 0xc0) !== 0x80) start = i;
      const cont = i + 1 < bytes.length && (bytes[i + 1]! & 0xc0) === 0x80;
      if (cont && i + 1 - start < 4) continue;
      const seq = binary(bytes.subarray(start, i + 1));
      if (this.pieceToId.has(seq)) syms.push(seq);
      else for (const b of bytes.subarray(start, i + 1)) syms.push(this.byteSymbol(b));
      start = i + 1;
    }
    const score = (piece: string): number | undefined => {
      const id = this.pieceToId.get(piece);
      return id !== undefined && this.scores[id]! > MIN_SCORE ? this.scores[id] : undefined;
    };
    for (const piece of mergeByScore(syms, score)) out.push(this.pieceToId.get(piece)!);
    return out;
  }

  private byteSymbol(b: number): string {
    const id = b + 3;
    if (id >= this.vocabSize)
      throw new Error(`tokenizer.bin: byte fallback id ${id} outside vocab of ${this.vocabSize}`);
    return this.pieces[id]!;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const buf = new ByteBuffer();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      this.check(id);
      if (opts.skipSpecial && this.isSpecial(id)) continue;
      let piece = this.pieces[id]!;
      if (i > 0 && ids[i - 1] === BOS && piece.startsWith(" ")) piece = piece.slice(1);
      const b = parseBytePiece(piece);
      if (b !== null) buf.pushByte(b);
      else buf.pushBytes(binaryBytes(piece));
    }
    return buf.text();
  }

  /** The raw entry, its bytes read as UTF-8. */
  idToPiece(id: number): string {
    this.check(id);
    return utf8Decode(binaryBytes(this.pieces[id]!));
  }

  /**
   * The vocabulary as llama.cpp's SentencePiece ("llama") GGUF tokenizer reads it: spaces as U+2581,
   * <unk>/<s>/</s> as unknown/control tokens, <0xXX> pieces as byte tokens.
   */
  ggufVocab(): GGUFVocab {
    const specials = ["<unk>", "<s>", "</s>"];
    const tokens = this.pieces.map((p, id) =>
      id < 3 ? specials[id]! : utf8Decode(binaryBytes(p)).replace(/ /g, "\u2581"),
    );
    const types = this.pieces.map((p, id) =>
      id === 0
        ? TokenType.unknown
        : id < 3
          ? TokenType.control
          : parseBytePiece(p) !== null
            ? TokenType.byte
            : TokenType.normal,
    );
    return { tokens, scores: this.scores, types, bosId: BOS, eosId: EOS, unkId: 0, addBos: true };
  }

  /** <unk>, BOS and EOS (ids 0, 1, 2). */
  isSpecial(id: number): boolean {
    return id === 0 || id === BOS || id === EOS;
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`tokenizer.bin: token id ${id} outside vocab of ${this.vocabSize}`);
    }
  }
}
