// Contrastive search (Su et al. 2022, "A Contrastive Framework for Neural Text Generation"): among the top-k
// tokens, pick argmax (1 - alpha) * p(v) - alpha * max_j cos(h_v, h_j), where h_v is the last-layer hidden
// state after feeding v and h_j are the hidden states of every earlier position. Each candidate is run one
// step on the shared cache, then trimmed away; the winner is run again (unless it was the last one tried).

import type { CausalLM } from "../models/model.js";
import type { Tensor } from "../tensor/tensor.js";
import { checkMaxNewTokens, checkPrompt } from "./checks.js";
import { emptyStats, type GenerateOptions, type GenerationStats } from "./generate.js";
import { contextProcessorsFor } from "./processors/chain.js";
import { applyContext } from "./sampling.js";
import { softmaxCopy } from "./softmax.js";

export interface ContrastiveSearchOptions extends GenerateOptions {
  /** Degeneration penalty weight alpha in [0, 1] (0 = greedy over the top-k). Default 0.6. */
  readonly penaltyAlpha?: number;
  /** Candidates per step (topK, default 4). */
}

export interface ContrastiveSearchInfo {
  forwardPasses: number;
  /** Sum over chosen tokens of their model probability and their degeneration penalty. */
  probabilitySum: number;
  penaltySum: number;
  steps: number;
}

export function emptyContrastiveInfo(): ContrastiveSearchInfo {
  return { forwardPasses: 0, probabilitySum: 0, penaltySum: 0, steps: 0 };
}

/** Rows of a [T, D] hidden-state tensor, each scaled to unit length (zero rows stay zero). */
function unitRows(h: Tensor): Float32Array[] {
  const [T, D] = [h.shape[0]!, h.shape[1]!];
  const data = h.f32();
  const rows: Float32Array[] = [];
  for (let t = 0; t < T; t++) {
    const r = Float32Array.from(data.subarray(t * D, (t + 1) * D));
    let n = 0;
    for (const v of r) n += v * v;
    n = Math.sqrt(n);
    if (n > 0) for (let i = 0; i < D; i++) r[i]! /= n;
    rows.push(r);
  }
  return rows;
}

/** max_j cos(v, context_j) for unit vectors. */
export function maxCosine(v: Float32Array, context: readonly Float32Array[]): number {
  let best = -Infinity;
  for (const c of context) {
    let dot = 0;
    for (let i = 0; i < v.length; i++) dot += v[i]! * c[i]!;
    if (dot > best) best = dot;
  }
  return best === -Infinity ? 0 : best;
}

/**
 * The k most likely token ids, most likely first, lower ids first on ties; masked tokens never. One pass with
 * a small sorted list of the best so far (sorting the whole vocabulary took a tenth of a contrastive step).
 */
export function topKIds(probs: Float64Array, k: number): number[] {
  const best: number[] = [];
  if (k <= 0) return best;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    if (!(p > 0) || (best.length === k && p <= probs[best[k - 1]!]!)) continue; // ties keep the lower id
    let j = best.length === k ? k - 1 : best.length;
    while (j > 0 && probs[best[j - 1]!]! < p) {
      best[j] = best[j - 1]!;
      j--;
    }
    best[j] = i;
  }
  return best;
}

export async function* contrastiveSearch(
  model: CausalLM,
  promptIds: readonly number[],
  opts: ContrastiveSearchOptions = {},
  stats: GenerationStats = emptyStats(),
  info: ContrastiveSearchInfo = emptyContrastiveInfo(),
): AsyncGenerator<number, GenerationStats> {
  const alpha = opts.penaltyAlpha ?? 0.6;
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`penalty alpha must be in [0, 1], got ${alpha}`);
  const k = opts.topK ?? 4;
  if (!Number.isInteger(k) || k < 1)
    throw new Error(`contrastive search top-k must be a positive integer, got ${k}`);
  const max = checkMaxNewTokens(opts.maxNewTokens ?? 256);
  const cache = opts.cache ?? model.newCache();
  checkPrompt(model, promptIds, cache.length);
  const chain = contextProcessorsFor({ ...opts, eosTokens: opts.eosTokens ?? opts.stopTokens });
  const stop = new Set(opts.stopTokens ?? []);
  const generated: number[] = [];
  const ctx = { promptIds, generated };
  stats.promptTokens = promptIds.length;
  stats.cache = cache;

  const step = (ids: readonly number[]): { logits: Float32Array; h: Float32Array[] } => {
    const seen: { h?: Tensor } = {};
    const out = model.forward(ids, cache, { onHidden: (h) => (seen.h = h) });
    info.forwardPasses++;
    if (!seen.h) throw new Error(`contrastive search: ${model.architecture} does not expose hidden states`);
    return { logits: Float32Array.from(out.f32()), h: unitRows(seen.h) };
  };

  let t0 = performance.now();
  const first = step(promptIds);
  const context: Float32Array[] = first.h;
  let logits = first.logits;
  stats.prefillMs = performance.now() - t0;
  t0 = performance.now();
  stats.finishReason = "length";
  for (let i = 0; i < max; i++) {
    if (cache.length >= model.contextLength) {
      stats.finishReason = "context";
      break;
    }
    const l = chain.length ? applyContext(logits, chain, ctx) : logits;
    const probs = softmaxCopy(l);
    const cands = topKIds(probs, k);
    if (cands.length === 0) throw new Error("contrastive search: every token is masked by the processors");
    const before = cache.length;
    let best = -1;
    let bestScore = -Infinity;
    let bestOut: { logits: Float32Array; h: Float32Array[] } | null = null;
    let bestPenalty = 0;
    for (let c = 0; c < cands.length; c++) {
      const out = step([cands[c]!]);
      const penalty = maxCosine(out.h[0]!, context);
      const score = (1 - alpha) * probs[cands[c]!]! - alpha * penalty;
      if (score > bestScore) [best, bestScore, bestOut, bestPenalty] = [cands[c]!, score, out, penalty];
      if (c < cands.length - 1 || cands[c] !== best) cache.trim(1);
    }
    info.steps++;
    info.probabilitySum += probs[best]!;
    info.penaltySum += bestPenalty;
    const last = stop.has(best) || i === max - 1;
    if (last && cache.length > before) cache.trim(1); // as generateTokens: the final token is not fed
    if (!last && cache.length === before) bestOut = step([best]);
    if (stop.has(best)) {
      stats.finishReason = "stop";
      break;
    }
    generated.push(best);
    stats.newTokens++;
    stats.decodeMs = performance.now() - t0;
    yield best;
    context.push(bestOut!.h[0]!);
    logits = bestOut!.logits;
  }
  stats.decodeMs = performance.now() - t0;
  return stats;
}
