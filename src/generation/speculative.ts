// Speculative decoding (Leviathan et al. 2023; Chen et al. 2023) as an async generator: each round a drafter
// proposes up to gamma tokens, the target scores the pending token and all drafts in ONE forward pass, modified
// rejection sampling (speculative-verify.ts) keeps the target's distribution exactly, and the cache rolls back by trim.

import type { CausalLM } from "../models/model.js";
import type { GenerateOptions, GenerationStats } from "./generate.js";
import { emptyStats } from "./generate.js";
import { Rng } from "./rng.js";
import { makeSampler, processorsFor } from "./sampling.js";
import type { DraftContext, Drafter } from "./speculative-draft.js";
import {
  processedProbs,
  standardAccept,
  verifyGreedy,
  verifySampled,
  type AcceptRule,
} from "./speculative-verify.js";

export interface SpeculativeOptions extends GenerateOptions {
  /** Tokens drafted per round (gamma); default 4. */
  readonly draftTokens?: number;
  /** Test hook: the acceptance probability for a sampled draft (default min(1, p/q)); anything else is wrong. */
  readonly acceptRule?: AcceptRule;
}

export interface SpeculativeStats extends GenerationStats {
  /** Draft tokens proposed, and how many of them the target accepted. */
  drafted: number;
  accepted: number;
  /** Verification rounds; target forward passes (prefill included); drafter forward passes. */
  rounds: number;
  targetForwards: number;
  draftForwards: number;
  /** Decode time spent drafting, and in the target's verification passes. */
  draftMs: number;
  verifyMs: number;
}

export function emptySpeculativeStats(): SpeculativeStats {
  return {
    ...emptyStats(),
    drafted: 0,
    accepted: 0,
    rounds: 0,
    targetForwards: 0,
    draftForwards: 0,
    draftMs: 0,
    verifyMs: 0,
  };
}

/** accepted / drafted (0 when nothing was drafted). */
export function acceptanceRate(s: Pick<SpeculativeStats, "drafted" | "accepted">): number {
  return s.drafted > 0 ? s.accepted / s.drafted : 0;
}

function checkPrompt(model: CausalLM, promptIds: readonly number[]): void {
  if (promptIds.length === 0) throw new Error("generate: the prompt has no tokens");
  for (const id of promptIds) {
    if (!Number.isInteger(id) || id < 0 || id >= model.vocabSize) {
      throw new Error(`generate: prompt token ${id} is outside the vocabulary (0..${model.vocabSize - 1})`);
    }
  }
  if (promptIds.length > model.contextLength) {
    throw new Error(
      `the prompt (${promptIds.length} tokens) does not fit the context length ${model.contextLength}`,
    );
  }
}

/**
 * Yields new token ids like generateTokens, with the same distribution (greedy: the same tokens) as plain
 * decoding of `target`. The target cache ends as generateTokens leaves it: prompt + emitted − 1 positions,
 * or prompt + emitted when a stop token ended generation.
 */
export async function* generateSpeculative(
  target: CausalLM,
  promptIds: readonly number[],
  drafter: Drafter,
  opts: SpeculativeOptions = {},
  stats: SpeculativeStats = emptySpeculativeStats(),
): AsyncGenerator<number, GenerationStats> {
  checkPrompt(target, promptIds);
  const max = opts.maxNewTokens ?? 256;
  if (!Number.isInteger(max) || max < 0)
    throw new Error(`max new tokens must be a non-negative integer, got ${max}`);
  const gamma = opts.draftTokens ?? 4;
  if (!Number.isInteger(gamma) || gamma < 1)
    throw new Error(`draft tokens must be a positive integer, got ${gamma}`);
  // A windowed (ring) cache keeps gamma spare slots, so that rejected drafts can be trimmed off again.
  const cache = opts.cache ?? target.newCache({ rollback: gamma });
  if (cache.length !== 0) throw new Error("speculative decoding needs an empty cache to start from");
  const rng = new Rng(opts.seed ?? 0);
  makeSampler(opts, rng); // validates the sampling options as plain generation does
  const ctx: DraftContext = { greedy: !opts.temperature, chain: processorsFor(opts), rng };
  const rule = opts.acceptRule ?? standardAccept;
  const stop = new Set(opts.stopTokens ?? []);
  const history = [...promptIds];
  stats.promptTokens = promptIds.length;
  stats.cache = cache;
  stats.finishReason = "length";
  let stopped = false;

  // Prefill all but the last prompt token: every round forwards the pending (last) token with its drafts.
  const draftForwards0 = drafter.forwards; // a drafter may be reused across generations
  let t0 = performance.now();
  if (promptIds.length > 1) {
    target.forward(promptIds.slice(0, -1), cache);
    stats.targetForwards++;
  }
  drafter.prefill?.(promptIds);
  stats.draftForwards = drafter.forwards - draftForwards0;
  stats.prefillMs = performance.now() - t0;
  t0 = performance.now();
  try {
    while (stats.newTokens < max) {
      if (cache.length >= target.contextLength) {
        stats.finishReason = "context";
        break;
      }
      const room = Math.min(gamma, max - stats.newTokens - 1, target.contextLength - cache.length - 1);
      let t1 = performance.now();
      const proposal = room > 0 ? drafter.propose(history, room, ctx) : { tokens: [], probs: [] };
      stats.draftMs += performance.now() - t1;
      const drafts = proposal.tokens;
      if (drafts.length > room)
        throw new Error(`drafter proposed ${drafts.length} tokens, asked for ${room}`);
      for (const d of drafts) {
        if (!Number.isInteger(d) || d < 0 || d >= target.vocabSize)
          throw new Error(`drafter proposed token ${d}, outside the vocabulary (0..${target.vocabSize - 1})`);
      }
      const V = target.vocabSize;
      t1 = performance.now();
      const logits = target
        .forward([history[history.length - 1]!, ...drafts], cache, {
          allLogits: true,
        })
        .f32(); // (g+1, V)
      stats.verifyMs += performance.now() - t1;
      stats.targetForwards++;
      stats.rounds++;
      const row = (i: number): Float32Array => logits.subarray(i * V, (i + 1) * V);
      const verdict = ctx.greedy
        ? verifyGreedy(drafts.map((_, i) => row(i)).concat([row(drafts.length)]), drafts)
        : verifySampled((i) => processedProbs(row(i), ctx.chain), drafts, proposal.probs, rng, rule);
      stats.drafted += drafts.length;
      stats.accepted += verdict.accepted;
      stats.draftForwards = drafter.forwards - draftForwards0;
      cache.trim(drafts.length - verdict.accepted); // keep the pending token and the accepted drafts
      for (const t of [...drafts.slice(0, verdict.accepted), verdict.next]) {
        if (stop.has(t)) {
          stopped = true;
          stats.finishReason = "stop";
          return stats;
        }
        history.push(t);
        stats.newTokens++;
        stats.decodeMs = performance.now() - t0;
        yield t;
        if (stats.newTokens === max) break;
      }
    }
    if (max === 0) {
      target.forward([history[history.length - 1]!], cache); // as generateTokens: the whole prompt is stored
      stats.targetForwards++;
    }
  } finally {
    // Roll back what was scored but not emitted (also when the consumer stops early).
    const want = stopped || max === 0 ? history.length : history.length - 1;
    if (cache.length > want) cache.trim(cache.length - want);
    stats.decodeMs = performance.now() - t0;
  }
  return stats;
}
