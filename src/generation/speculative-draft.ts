// Drafters for speculative decoding: what proposes the next few tokens. A draft model samples them from its
// own processed distribution q (Leviathan et al. 2023), keeping its KV cache in step with the history by trim.

import type { KVCache } from "../cache/kv-cache.js";
import type { CausalLM } from "../models/model.js";
import type { Rng } from "./rng.js";
import { argmax, type LogitsProcessor } from "./sampling.js";
import { processedProbs, sampleProbs } from "./speculative-verify.js";

export interface DraftContext {
  /** Temperature 0: draft the argmax, verify by equality. */
  readonly greedy: boolean;
  /** The processors plain sampling applies (temperature, top-k, top-p). */
  readonly chain: readonly LogitsProcessor[];
  readonly rng: Rng;
}

export interface DraftProposal {
  readonly tokens: number[];
  /** The draft distribution each token was drawn from; null = chosen deterministically (a point mass). */
  readonly probs: (Float64Array | null)[];
}

export interface Drafter {
  /** Called once with the prompt before generation, so a model draft can fill its cache up front. */
  prefill?(promptIds: readonly number[]): void;
  /** Up to n tokens that may follow `history` (the prompt and every token emitted so far). */
  propose(history: readonly number[], n: number, ctx: DraftContext): DraftProposal;
  /** Forward passes the drafter has run. */
  readonly forwards: number;
}

/** Length of the common prefix of a and b. */
function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** A smaller (or lower-precision) causal LM as the drafter; its vocabulary must be the target's. */
export class ModelDrafter implements Drafter {
  forwards = 0;
  readonly cache: KVCache;
  /** The ids whose keys and values the cache holds. */
  private cached: number[] = [];

  /**
   * `rollback`: how many drafted positions the cache must be able to drop at once when the model's cache is a
   * sliding-window ring (Mistral-style); it should be at least the number of tokens drafted per round.
   */
  constructor(
    readonly model: CausalLM,
    opts: { rollback?: number } = {},
  ) {
    this.cache = model.newCache({ rollback: opts.rollback ?? 16 });
  }

  prefill(promptIds: readonly number[]): void {
    // A prompt longer than the draft's context is never drafted for (propose returns nothing).
    if (promptIds.length > 1 && promptIds.length - 1 <= this.model.contextLength)
      this.sync(promptIds.slice(0, -1));
  }

  /** Brings the cache to hold exactly `ids` (trims what differs, forwards the rest); returns the last logits. */
  private sync(ids: readonly number[]): Float32Array | null {
    const keep = commonPrefix(this.cached, ids);
    this.cache.trim(this.cached.length - keep);
    this.cached.length = keep;
    return keep === ids.length ? null : this.step(ids.slice(keep));
  }

  private step(ids: readonly number[]): Float32Array {
    const logits = this.model.forward(ids, this.cache).f32();
    this.forwards++;
    this.cached.push(...ids);
    return logits;
  }

  propose(history: readonly number[], n: number, ctx: DraftContext): DraftProposal {
    n = Math.min(n, this.model.contextLength - history.length + 1);
    const tokens: number[] = [];
    const probs: (Float64Array | null)[] = [];
    if (n <= 0) return { tokens, probs };
    // Keep at least the last history token out of the cache so that its forward gives the next logits.
    const keep = Math.min(commonPrefix(this.cached, history), history.length - 1);
    this.sync(history.slice(0, keep));
    let logits = this.sync(history)!;
    for (;;) {
      if (ctx.greedy) {
        tokens.push(argmax(logits));
        probs.push(null);
      } else {
        const q = processedProbs(logits, ctx.chain);
        tokens.push(sampleProbs(q, ctx.rng));
        probs.push(q);
      }
      if (tokens.length === n) break;
      logits = this.step([tokens[tokens.length - 1]!]);
    }
    return { tokens, probs };
  }
}
