// Minimum Bayes risk decoding (Kumar & Byrne 2004; Eikema & Aziz 2020): draw N samples (candidate i uses seed
// + i) and return the one with the highest mean utility against the others, each sample standing in for a
// reference. The utility (BLEU, chrF, ...) is passed in, so generation/ never depends on eval/. Models with a
// batched forward draw all samples in lockstep (sample-many.ts); others one after another.

import type { CausalLM } from "../models/model.js";
import { emptyStats, generateTokens, type GenerateOptions, type GenerationStats } from "./generate.js";
import { canSampleMany, sampleMany } from "./sample-many.js";

export interface MbrOptions extends GenerateOptions {
  /** Number of samples (>= 1). */
  readonly samples: number;
  /** Token ids → the text the utility compares. */
  readonly detokenize: (ids: readonly number[]) => string;
  /** Utility of a hypothesis against one pseudo-reference (higher is better). */
  readonly utility: (hyp: string, ref: string) => number;
}

export interface MbrCandidate {
  readonly tokens: number[];
  readonly text: string;
  readonly finishReason: GenerationStats["finishReason"];
  expectedUtility: number;
}

export interface MbrInfo {
  candidates: MbrCandidate[];
  chosen: number;
}

/** Index of the candidate with the highest mean utility against all the others (the first on ties) and the means. */
export function mbrSelect<T>(
  cands: readonly T[],
  utility: (hyp: T, ref: T) => number,
): { index: number; expected: number[] } {
  if (cands.length === 0) throw new Error("mbr: no candidates");
  const expected = cands.map((h, i) => {
    if (cands.length === 1) return 0;
    let sum = 0;
    for (let j = 0; j < cands.length; j++) if (j !== i) sum += utility(h, cands[j]!);
    return sum / (cands.length - 1);
  });
  let index = 0;
  for (let i = 1; i < expected.length; i++) if (expected[i]! > expected[index]!) index = i;
  return { index, expected };
}

/** Samples every candidate, then yields the chosen one's tokens; `stats` sums the sampling time. */
export async function* mbrDecode(
  model: CausalLM,
  promptIds: readonly number[],
  opts: MbrOptions,
  stats: GenerationStats = emptyStats(),
  info: MbrInfo = { candidates: [], chosen: -1 },
): AsyncGenerator<number, GenerationStats> {
  if (!Number.isInteger(opts.samples) || opts.samples < 1)
    throw new Error(`mbr samples must be a positive integer, got ${opts.samples}`);
  if (opts.cache) throw new Error("mbr: a cache to continue from is not supported");
  const seed = opts.seed ?? 0;
  let prefillMs = 0;
  let decodeMs = 0;
  const caches: GenerationStats["cache"][] = [];
  const add = (tokens: number[], finishReason: GenerationStats["finishReason"]): void => {
    info.candidates.push({ tokens, text: opts.detokenize(tokens), finishReason, expectedUtility: 0 });
  };
  stats.promptTokens = promptIds.length;
  if (opts.samples > 1 && canSampleMany(model, opts)) {
    // all candidates in lockstep: one prefill, then one batched forward per step
    const r = sampleMany(model, promptIds, opts.samples, opts);
    ({ prefillMs, decodeMs } = r);
    for (const s of r.samples) {
      add(s.tokens, s.finishReason);
      caches.push(s.cache);
    }
  } else {
    for (let i = 0; i < opts.samples; i++) {
      const s = emptyStats();
      const tokens: number[] = [];
      for await (const t of generateTokens(model, promptIds, { ...opts, seed: (seed + i) >>> 0 }, s))
        tokens.push(t);
      prefillMs += s.prefillMs;
      decodeMs += s.decodeMs;
      add(tokens, s.finishReason);
      caches.push(s.cache);
    }
  }
  const { index, expected } = mbrSelect(info.candidates, (h, r) => opts.utility(h.text, r.text));
  info.candidates.forEach((c, i) => (c.expectedUtility = expected[i]!));
  info.chosen = index;
  const chosen = info.candidates[index]!;
  stats.prefillMs = prefillMs;
  stats.decodeMs = decodeMs;
  stats.finishReason = chosen.finishReason;
  stats.cache = caches[index]!;
  caches.forEach((c, i) => i !== index && c?.release?.());
  stats.newTokens = 0;
  for (const t of chosen.tokens) {
    stats.newTokens++;
    yield t;
  }
  return stats;
}
