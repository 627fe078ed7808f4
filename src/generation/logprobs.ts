// Log-probabilities of sequences: log softmax of a logits row, and the length-normalized score beam search
// gives a sequence (to compare other strategies' outputs with beam search's).

import type { CausalLM } from "../models/model.js";
import { lengthNormalized } from "./beam-hyps.js";

/** log softmax of one row of logits, in float64. */
export function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! - lse;
  return out;
}

/**
 * The score beam search gives `tokens` after `promptIds` (plus `stopToken` when it ended one): sum of log p over
 * the generated tokens / length^alpha. For comparing other strategies' outputs with beam search's.
 */
export function sequenceScore(
  model: CausalLM,
  promptIds: readonly number[],
  tokens: readonly number[],
  alpha: number,
  stopToken?: number,
): { logProb: number; score: number } {
  const all = [...promptIds, ...tokens];
  const targets = stopToken === undefined ? [...tokens] : [...tokens, stopToken];
  if (targets.length === 0) return { logProb: 0, score: 0 };
  const ids = all.slice(0, promptIds.length + targets.length - 1);
  const cache = model.newCache();
  const logits = model.forward(ids, cache, { allLogits: true }).f32(); // (T, V)
  cache.release?.();
  const V = model.vocabSize;
  let logProb = 0;
  targets.forEach((tok, i) => {
    const row = promptIds.length - 1 + i;
    logProb += logSoftmax(logits.subarray(row * V, (row + 1) * V))[tok]!;
  });
  return { logProb, score: lengthNormalized(logProb, tokens.length, alpha) };
}
