// The generation loop (mlx-lm's generate_step): prefill the prompt in one pass, then one token per step,
// as an async generator. Stops on a stop token, the token budget, or the model's context length (unless the
// cache evicts old positions, sliding window or attention sinks, or `contextShift` re-runs the recent tokens).

import type { KVCache } from "../cache/kv-cache.js";
import type { CausalLM } from "../models/model.js";
import { Rng } from "./rng.js";
import { makeSampler, type SamplerOptions } from "./sampling.js";

export interface GenerateOptions extends SamplerOptions {
  readonly maxNewTokens?: number;
  readonly seed?: number;
  /** Generation ends (without yielding it) when one of these is drawn. */
  readonly stopTokens?: readonly number[];
  /** A cache to continue from; by default a fresh one. */
  readonly cache?: KVCache;
  /**
   * When the cache is full (a cache that does not evict), keep going: drop the cache and run the last half
   * context of tokens (prompt and output) again, as llama.cpp's context shift and nanoGPT's sampling crop do.
   * Default false: generation ends with finish reason "context".
   */
  readonly contextShift?: boolean;
}

export type FinishReason = "stop" | "length" | "context";

export interface GenerationStats {
  prefillMs: number;
  decodeMs: number;
  promptTokens: number;
  newTokens: number;
  finishReason: FinishReason;
  cache: KVCache | null;
}

/** Yields new token ids one at a time; `stats` is filled in as it goes. */
export async function* generateTokens(
  model: CausalLM,
  promptIds: readonly number[],
  opts: GenerateOptions = {},
  stats: GenerationStats = emptyStats(),
): AsyncGenerator<number, GenerationStats> {
  if (promptIds.length === 0) throw new Error("generate: the prompt has no tokens");
  for (const id of promptIds) {
    if (!Number.isInteger(id) || id < 0 || id >= model.vocabSize) {
      throw new Error(`generate: prompt token ${id} is outside the vocabulary (0..${model.vocabSize - 1})`);
    }
  }
  const max = opts.maxNewTokens ?? 256;
  if (!Number.isInteger(max) || max < 0)
    throw new Error(`max new tokens must be a non-negative integer, got ${max}`);
  const cache = opts.cache ?? model.newCache();
  const stop = new Set(opts.stopTokens ?? []);
  const pick = makeSampler(
    { ...opts, eosTokens: opts.eosTokens ?? opts.stopTokens },
    new Rng(opts.seed ?? 0),
  );
  const generated: number[] = [];
  const ctx = { promptIds, generated };
  stats.promptTokens = promptIds.length;
  stats.cache = cache;
  if ((cache.evicts ? 0 : cache.length) + promptIds.length > model.contextLength) {
    throw new Error(
      `the prompt (${promptIds.length} tokens) does not fit the context length ${model.contextLength}`,
    );
  }
  let t0 = performance.now();
  let logits = model.forward(promptIds, cache).f32();
  stats.prefillMs = performance.now() - t0;
  t0 = performance.now();
  stats.finishReason = "length";
  for (let i = 0; i < max; i++) {
    const next = pick(logits, ctx);
    if (stop.has(next)) {
      stats.finishReason = "stop";
      break;
    }
    stats.newTokens++;
    generated.push(next);
    stats.decodeMs = performance.now() - t0;
    yield next;
    if (i === max - 1) break;
    if (!cache.evicts && cache.length >= model.contextLength) {
      if (!opts.contextShift) {
        stats.finishReason = "context";
        break;
      }
      // keep the last half context (at least the new token) and run it again on an emptied cache
      const history = [...promptIds, ...generated];
      const keep = history.slice(-Math.max(1, Math.floor(model.contextLength / 2)));
      cache.trim(cache.length);
      logits = model.forward(keep, cache).f32();
      continue;
    }
    logits = model.forward([next], cache).f32();
  }
  stats.decodeMs = performance.now() - t0;
  return stats;
}

export function emptyStats(): GenerationStats {
  return { prefillMs: 0, decodeMs: 0, promptTokens: 0, newTokens: 0, finishReason: "length", cache: null };
}
