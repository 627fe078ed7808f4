// Hugging Face tokenizer.json (+ tokenizer_config.json) through @huggingface/tokenizers, the
// pure-JS port of the Rust `tokenizers` pipeline (normalizer, pre-tokenizer, model, post-processor).

import * as fs from "node:fs";
import * as path from "node:path";
import { Tokenizer as HfCore } from "@huggingface/tokenizers";
import type { DecodeOptions, EncodeOptions, Tokenizer } from "./tokenizer.js";

type Json = Record<string, unknown>;

/** A token named in tokenizer_config.json: a string or an AddedToken object `{content: ...}`. */
function tokenName(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as Json)["content"] === "string")
    return (v as Json)["content"] as string;
  return null;
}

function readJson(file: string): Json {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as Json;
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly addBos: boolean;
  private readonly core: HfCore;
  private readonly special = new Set<number>();

  constructor(tokenizerJson: Json, config: Json = {}) {
    this.core = new HfCore(tokenizerJson, config);
    let maxId = -1;
    for (const id of this.core.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    for (const [id, t] of this.core.get_added_tokens_decoder()) if (t.special) this.special.add(id);
    const idOf = (key: string): number | null => {
      const name = tokenName(config[key]);
      return name === null ? null : (this.core.token_to_id(name) ?? null);
    };
    this.bosId = idOf("bos_token");
    this.eosId = idOf("eos_token");
    const added = this.core.encode("a", { add_special_tokens: true }).ids;
    const addsBos = this.bosId !== null && added[0] === this.bosId;
    this.addBos = typeof config["add_bos_token"] === "boolean" ? config["add_bos_token"] : addsBos;
  }

  /** From a folder holding tokenizer.json, or a tokenizer.json path; tokenizer_config.json beside it is optional. */
  static fromPath(p: string): HfTokenizer {
    const file = fs.statSync(p).isDirectory() ? path.join(p, "tokenizer.json") : p;
    if (!fs.existsSync(file)) throw new Error(`${p}: no tokenizer.json`);
    const cfgFile = path.join(path.dirname(file), "tokenizer_config.json");
    return new HfTokenizer(readJson(file), fs.existsSync(cfgFile) ? readJson(cfgFile) : {});
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    return this.core.encode(text, { add_special_tokens: opts.addSpecial ?? false }).ids;
  }

  /** No clean-up of spaces before punctuation: it depends on later tokens and would break streaming. */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    for (const id of ids) this.check(id);
    if (ids.length === 0) return "";
    return this.core.decode([...ids], {
      skip_special_tokens: opts.skipSpecial ?? false,
      clean_up_tokenization_spaces: false,
    });
  }

  idToPiece(id: number): string {
    this.check(id);
    return this.core.id_to_token(id) ?? "";
  }

  isSpecial(id: number): boolean {
    return this.special.has(id);
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`tokenizer.json: token id ${id} outside vocab of ${this.vocabSize}`);
    }
  }
}
