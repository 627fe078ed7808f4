// Token types of llama.cpp's GGUF vocabularies (tokenizer.ggml.token_type, llama_token_type).

export const TokenType = {
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const;

/** Tokens that skipSpecial drops and isSpecial reports: control tokens (BOS, EOS, ...) and unknown. */
export function isSpecialType(type: number): boolean {
  return type === TokenType.control || type === TokenType.unknown;
}

/**
 * Splits `text` around occurrences of `specials` (longest first, as llama.cpp's
 * tokenizer_st_partition): strings are raw text, numbers are the matched token ids.
 */
export function partitionSpecial(text: string, specials: ReadonlyMap<string, number>): (string | number)[] {
  let frags: (string | number)[] = text.length > 0 ? [text] : [];
  const bySize = [...specials.keys()].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  for (const piece of bySize) {
    const id = specials.get(piece)!;
    const next: (string | number)[] = [];
    for (const f of frags) {
      if (typeof f === "number") {
        next.push(f);
        continue;
      }
      let from = 0;
      for (let at = f.indexOf(piece); at >= 0; at = f.indexOf(piece, from)) {
        if (at > from) next.push(f.slice(from, at));
        next.push(id);
        from = at + piece.length;
      }
      if (from < f.length) next.push(f.slice(from));
    }
    frags = next;
  }
  return frags;
}
