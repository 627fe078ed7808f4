// Llama SentencePiece tokenizer from a GGUF vocabulary (tokenizer.ggml.model = "llama"), as llama.cpp's
// llm_tokenizer_spm: dummy-prefix space, ' ' → '▁', score-driven bigram merges, byte fallback <0xXX>.

import { ByteBuffer, bytePiece, parseBytePiece, utf8Encode } from "./bytes.js";
import { mergeByScore } from "./merge.js";
import { isSpecialType, partitionSpecial, TokenType } from "./token-type.js";
import type { DecodeOptions, EncodeOptions, Tokenizer } from "./tokenizer.js";

const SPACE = "\u2581"; // ▁

export interface SpmVocab {
  tokens: readonly string[];
  scores: ArrayLike<number>;
  /** llama.cpp token types (see TokenType); all normal when absent. */
  types?: ArrayLike<number>;
  bosId: number | null;
  eosId: number | null;
  unkId: number | null;
  addBos: boolean;
  addEos?: boolean;
  /** Prepend a space to the text (SentencePiece's add_dummy_prefix). */
  addSpacePrefix: boolean;
}

export class SpmTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly unkId: number | null;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;
  private readonly tokens: readonly string[];
  private readonly scores: ArrayLike<number>;
  private readonly types: Uint8Array;
  private readonly pieceToId = new Map<string, number>();
  private readonly userDefined = new Map<string, number>();
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly bytesCache: (Uint8Array | undefined)[];

  constructor(v: SpmVocab) {
    const n = v.tokens.length;
    if (v.scores.length !== n) throw new Error(`spm: ${n} tokens but ${v.scores.length} scores`);
    if (v.types && v.types.length !== n)
      throw new Error(`spm: ${n} tokens but ${v.types.length} token types`);
    this.vocabSize = n;
    this.tokens = v.tokens;
    this.scores = v.scores;
    this.types = Uint8Array.from(v.types ?? new Uint8Array(n).fill(TokenType.normal));
    for (const [name, id] of [
      ["bos", v.bosId],
      ["eos", v.eosId],
      ["unk", v.unkId],
    ] as const) {
      if (id !== null && !(id >= 0 && id < n)) throw new Error(`spm: ${name} id ${id} outside vocab of ${n}`);
    }
    this.bosId = v.bosId;
    this.eosId = v.eosId;
    this.unkId = v.unkId;
    this.addBos = v.addBos;
    this.addEos = v.addEos ?? false;
    this.addSpacePrefix = v.addSpacePrefix;
    this.bytesCache = new Array(n);
    for (let id = 0; id < n; id++) {
      const piece = v.tokens[id]!;
      this.pieceToId.set(piece, id);
      const type = this.types[id]!;
      if (type === TokenType.userDefined) this.userDefined.set(piece, id);
      const b = type === TokenType.byte ? parseBytePiece(piece) : null;
      if (b !== null) this.byteIds[b] = id;
    }
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (opts.addSpecial && this.addBos && this.bosId !== null) out.push(this.bosId);
    let prevSpecial = true;
    for (const frag of partitionSpecial(text, this.userDefined)) {
      if (typeof frag === "number") {
        out.push(frag);
        prevSpecial = true;
        continue;
      }
      const raw = (this.addSpacePrefix && prevSpecial ? " " : "") + frag;
      this.encodeRaw(raw.replaceAll(" ", SPACE), out);
      prevSpecial = false;
    }
    if (opts.addSpecial && this.addEos && this.eosId !== null) out.push(this.eosId);
    return out;
  }

  private encodeRaw(text: string, out: number[]): void {
    const score = (piece: string): number | undefined => {
      const id = this.pieceToId.get(piece);
      return id === undefined ? undefined : this.scores[id];
    };
    for (const piece of mergeByScore(Array.from(text), score)) {
      const id = this.pieceToId.get(piece);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const b of utf8Encode(piece)) out.push(this.byteToId(b));
    }
  }

  private byteToId(b: number): number {
    const id = this.byteIds[b]!;
    if (id >= 0) return id;
    const direct = this.pieceToId.get(bytePiece(b)) ?? this.pieceToId.get(String.fromCharCode(b));
    if (direct !== undefined) return direct;
    if (this.unkId !== null) return this.unkId;
    throw new Error(`spm: no byte-fallback token for byte 0x${b.toString(16)} and no unknown token`);
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const buf = new ByteBuffer();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      this.check(id);
      const type = this.types[id]!;
      if (isSpecialType(type)) {
        if (!opts.skipSpecial) buf.pushBytes(utf8Encode(this.tokens[id]!));
        continue;
      }
      if (type === TokenType.byte) {
        const b = parseBytePiece(this.tokens[id]!);
        if (b !== null) {
          buf.pushByte(b);
          continue;
        }
      }
      const bytes = this.pieceBytes(id);
      // SentencePiece drops the dummy-prefix space of the first piece (at the start or after BOS).
      const first = i === 0 || ids[i - 1] === this.bosId;
      buf.pushBytes(this.addSpacePrefix && first && bytes[0] === 0x20 ? bytes.subarray(1) : bytes);
    }
    return buf.text();
  }

  private pieceBytes(id: number): Uint8Array {
    let b = this.bytesCache[id];
    if (!b) this.bytesCache[id] = b = utf8Encode(this.tokens[id]!.replaceAll(SPACE, " "));
    return b;
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
      throw new RangeError(`spm: token id ${id} outside vocab of ${this.vocabSize}`);
    }
  }
}
