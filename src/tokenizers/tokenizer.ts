// The Tokenizer interface every tokenizer implements, and StreamDecoder: incremental detokenization
// that emits only complete text (the prefix/read-offset windowing of HF text-generation-inference).

export interface EncodeOptions {
  /** Add the tokenizer's special tokens (BOS when `addBos`, plus whatever its template adds). */
  addSpecial?: boolean;
}

export interface DecodeOptions {
  /** Drop special (control) tokens instead of rendering their text. */
  skipSpecial?: boolean;
}

/** A SentencePiece-style vocabulary in the form GGUF files carry (tokenizer.ggml.*), for export. */
export interface GGUFVocab {
  readonly tokens: readonly string[];
  readonly scores: ArrayLike<number>;
  readonly types: ArrayLike<number>;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly unkId: number | null;
  readonly addBos: boolean;
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  /** Whether a BOS token is prepended by encode(text, {addSpecial: true}). */
  readonly addBos: boolean;
  /** No BOS/EOS unless addSpecial. */
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  /** The raw vocabulary entry, for display. */
  idToPiece(id: number): string;
  isSpecial(id: number): boolean;
}

/** Context ids kept: enough for a 4-byte character in byte tokens plus a preceding BOS. */
const CONTEXT_KEEP = 8;

/**
 * Turns a stream of ids into text, holding back output until it is complete: a UTF-8 character split
 * across byte tokens is emitted once its last byte arrives. It decodes a small window that starts at
 * the previous emitted chunk, so context rules (SentencePiece's leading space after BOS) apply exactly
 * as in decode() of the whole sequence: the concatenation of push() and flush() output equals
 * decode(context + pushed) minus decode(context). `context` (e.g. the prompt) is never emitted.
 * Special tokens are skipped unless `opts.skipSpecial` is false.
 */
export class StreamDecoder {
  private ids: number[];
  /** Window start: the first id of the last emitted chunk. */
  private prefixOffset = 0;
  /** End of the last emitted chunk. */
  private readOffset: number;
  private readonly opts: DecodeOptions;

  constructor(
    private readonly tok: Tokenizer,
    context: readonly number[] = [],
    opts: DecodeOptions = {},
  ) {
    this.ids = context.slice(-CONTEXT_KEEP);
    this.readOffset = this.ids.length;
    this.opts = { skipSpecial: opts.skipSpecial ?? true };
  }

  push(id: number): string {
    this.ids.push(id);
    return this.emit(false);
  }

  /** Emits whatever is held back (an incomplete character becomes U+FFFD, as in decode()). */
  flush(): string {
    return this.emit(true);
  }

  private emit(force: boolean): string {
    const prefix = this.tok.decode(this.ids.slice(this.prefixOffset, this.readOffset), this.opts);
    const full = this.tok.decode(this.ids.slice(this.prefixOffset), this.opts);
    if (!force && (full.length <= prefix.length || full.endsWith("\uFFFD"))) return "";
    if (force && this.readOffset === this.ids.length) return "";
    const out = full.startsWith(prefix) ? full.slice(prefix.length) : full.slice(commonPrefix(prefix, full));
    this.ids = this.ids.slice(this.readOffset);
    this.prefixOffset = 0;
    this.readOffset = this.ids.length;
    return out;
  }
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}
