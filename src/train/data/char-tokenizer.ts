// A character-level tokenizer trained on a corpus, as nanoGPT's shakespeare_char prepare.py: the vocabulary is the
// sorted set of the corpus's characters (by code point), one id each. Written as a Hugging Face tokenizer.json (a BPE
// model with no merges, so every character is its own token, and the Fuse decoder) that loadTokenizer reads back.

type Json = Record<string, unknown>;

export class CharTokenizer {
  /** Characters by id. */
  readonly chars: readonly string[];
  private readonly stoi: Map<string, number>;

  constructor(chars: readonly string[]) {
    if (chars.length === 0) throw new Error("char tokenizer: empty vocabulary");
    this.chars = [...chars];
    this.stoi = new Map(this.chars.map((c, i) => [c, i]));
    if (this.stoi.size !== this.chars.length) throw new Error("char tokenizer: repeated characters");
    for (const c of this.chars)
      if ([...c].length !== 1) throw new Error(`char tokenizer: "${c}" is not one character`);
  }

  /** The sorted unique characters of `text`. */
  static train(text: string): CharTokenizer {
    const set = [...new Set(text)];
    if (set.length === 0) throw new Error("char tokenizer: the corpus is empty");
    set.sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new CharTokenizer(set);
  }

  /** From a tokenizer.json this class wrote (its vocabulary in id order). */
  static fromTokenizerJson(json: Json): CharTokenizer {
    const model = json["model"] as Json | undefined;
    const vocab = model?.["vocab"];
    if (!vocab || typeof vocab !== "object" || (model?.["merges"] as unknown[] | undefined)?.length)
      throw new Error("tokenizer.json: not a character-level vocabulary");
    const chars: string[] = [];
    for (const [c, id] of Object.entries(vocab as Record<string, unknown>)) {
      if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || chars[id] !== undefined)
        throw new Error("tokenizer.json: bad character vocabulary");
      chars[id] = c;
    }
    if (chars.some((c) => c === undefined) || chars.length !== Object.keys(vocab).length)
      throw new Error("tokenizer.json: character ids are not 0..n-1");
    return new CharTokenizer(chars);
  }

  get vocabSize(): number {
    return this.chars.length;
  }

  /** Ids of every character of `text`; a character outside the vocabulary is an error. */
  encode(text: string): Int32Array {
    const out = new Int32Array(text.length);
    let n = 0;
    for (const c of text) {
      const id = this.stoi.get(c);
      if (id === undefined)
        throw new Error(`char tokenizer: character ${JSON.stringify(c)} is not in the vocabulary`);
      out[n++] = id;
    }
    return out.slice(0, n);
  }

  decode(ids: ArrayLike<number>): string {
    let s = "";
    for (let i = 0; i < ids.length; i++) {
      const c = this.chars[ids[i]!];
      if (c === undefined)
        throw new RangeError(`char tokenizer: id ${ids[i]} outside [0, ${this.chars.length})`);
      s += c;
    }
    return s;
  }

  /** A Hugging Face tokenizer.json object. */
  toTokenizerJson(): Json {
    return {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: { type: "Fuse" },
      model: {
        type: "BPE",
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab: Object.fromEntries(this.chars.map((c, i) => [c, i])),
        merges: [],
      },
    };
  }
}
