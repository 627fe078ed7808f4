// Prompt lookup decoding (Saxena 2023): a draft-free drafter that matches the last n tokens of the history
// (prompt + generated) earlier in the history and proposes the tokens that followed. Drafts are deterministic,
// so verification treats q as a point mass (accept with probability p(x)).

import type { DraftProposal, Drafter } from "./speculative-draft.js";

export interface PromptLookupOptions {
  /** Longest n-gram to match (tried from this length down to `minNgram`); default 3. */
  readonly ngram?: number;
  /** Shortest n-gram to match; default 1. */
  readonly minNgram?: number;
}

/**
 * The continuation after the earliest earlier occurrence of the history's last n tokens (n from `ngram` down to
 * `minNgram`), at most `max` tokens; empty when nothing matches.
 */
export function lookupContinuation(
  history: readonly number[],
  max: number,
  ngram: number,
  minNgram = 1,
): number[] {
  const H = history.length;
  for (let n = Math.min(ngram, H - 1); n >= minNgram; n--) {
    // Candidate starts s with history[s..s+n) == the last n tokens and at least one token after the match.
    for (let s = 0; s + n < H; s++) {
      let j = 0;
      while (j < n && history[s + j] === history[H - n + j]) j++;
      if (j < n) continue;
      const from = s + n;
      return history.slice(from, Math.min(from + max, H));
    }
  }
  return [];
}

export class PromptLookupDrafter implements Drafter {
  readonly forwards = 0;
  readonly ngram: number;
  readonly minNgram: number;

  constructor(opts: PromptLookupOptions = {}) {
    this.ngram = opts.ngram ?? 3;
    this.minNgram = opts.minNgram ?? 1;
    if (!Number.isInteger(this.ngram) || this.ngram < 1)
      throw new Error(`prompt lookup: n-gram size must be a positive integer, got ${this.ngram}`);
    if (!Number.isInteger(this.minNgram) || this.minNgram < 1 || this.minNgram > this.ngram)
      throw new Error(`prompt lookup: minimum n-gram size must be in 1..${this.ngram}, got ${this.minNgram}`);
  }

  propose(history: readonly number[], n: number): DraftProposal {
    const tokens = n > 0 ? lookupContinuation(history, n, this.ngram, this.minNgram) : [];
    return { tokens, probs: tokens.map(() => null) };
  }
}
