// Prefix reuse across requests (as llama.cpp's server slots and vLLM's prefix caching do for one sequence):
// keep a cache and the ids it holds; a new prompt trims the cache to the longest common prefix and only the
// rest of the prompt is run.

import type { KVCache } from "./kv-cache.js";

export interface PreparedPrompt {
  /** The cache to run `rest` on (it holds the first `reused` prompt ids). */
  readonly cache: KVCache;
  /** Prompt ids still to run (never empty: the last prompt id always runs, to give next-token logits). */
  readonly rest: number[];
  readonly reused: number;
}

export class PrefixCache {
  private cache: KVCache;
  private ids: number[] = [];

  constructor(private readonly make: () => KVCache) {
    this.cache = make();
  }

  /** Ids whose keys and values the cache holds. */
  get held(): readonly number[] {
    return this.ids;
  }

  prepare(prompt: readonly number[]): PreparedPrompt {
    if (prompt.length === 0) throw new Error("prefix cache: the prompt has no tokens");
    if (this.ids.length !== this.cache.length) this.reset(); // the cache ran past what record() saw
    let common = 0;
    const max = Math.min(this.ids.length, prompt.length - 1);
    while (common < max && this.ids[common] === prompt[common]) common++;
    try {
      this.cache.trim(this.cache.length - common);
    } catch {
      this.reset(); // an evicting cache no longer holds the rows needed after the trim
      common = 0;
    }
    this.ids = prompt.slice(0, common);
    return { cache: this.cache, rest: prompt.slice(common), reused: common };
  }

  /** After a run on the prepared cache: `ids` = the prompt then the tokens generated; the cache holds a prefix. */
  record(ids: readonly number[]): void {
    const n = this.cache.length;
    if (n > ids.length)
      throw new Error(`prefix cache: the cache holds ${n} positions but ${ids.length} ids were recorded`);
    this.ids = ids.slice(0, n);
  }

  private reset(): void {
    this.cache.release?.();
    this.cache = this.make();
    this.ids = [];
  }
}
