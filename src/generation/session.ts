// A generation session that reuses the KV cache across requests: a prompt sharing a prefix with what the
// session already ran (earlier prompt plus generated tokens) only runs the rest (cache/prefix.ts).

import type { KVCacheOptions } from "../cache/factory.js";
import { PrefixCache } from "../cache/prefix.js";
import type { CausalLM } from "../models/model.js";
import { emptyStats, generateTokens, type GenerateOptions, type GenerationStats } from "./generate.js";

export interface SessionStats extends GenerationStats {
  /** Prompt tokens whose keys and values came from the previous request. */
  reusedTokens: number;
}

export class Session {
  private readonly prefix: PrefixCache;

  constructor(
    readonly model: CausalLM,
    cacheOptions?: KVCacheOptions,
  ) {
    this.prefix = new PrefixCache(() => model.newCache(cacheOptions));
  }

  /** Ids whose keys and values the session's cache holds. */
  get held(): readonly number[] {
    return this.prefix.held;
  }

  /** As generateTokens, on the session's cache (opts.cache is not used). */
  async *generate(
    promptIds: readonly number[],
    opts: Omit<GenerateOptions, "cache"> = {},
    stats: SessionStats = { ...emptyStats(), reusedTokens: 0 },
  ): AsyncGenerator<number, SessionStats> {
    const { cache, rest, reused } = this.prefix.prepare(promptIds);
    stats.reusedTokens = reused;
    const ids = [...promptIds];
    try {
      for await (const t of generateTokens(this.model, rest, { ...opts, cache }, stats)) {
        ids.push(t);
        yield t;
      }
    } finally {
      this.prefix.record(ids);
    }
    stats.promptTokens = promptIds.length;
    return stats;
  }
}
