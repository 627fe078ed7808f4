// Repetition penalties: CTRL's (Keskar et al. 2019, as Hugging Face applies it over prompt and output) and
// OpenAI's presence and frequency penalties (over the generated tokens only, as vLLM does).

import type { ContextProcessor } from "./context.js";

/** Seen tokens (prompt or generated): a positive logit is divided by `penalty`, a negative one multiplied. */
export function repetitionPenalty(penalty: number): ContextProcessor {
  if (!(penalty > 0) || !Number.isFinite(penalty))
    throw new Error(`repetition penalty must be > 0, got ${penalty}`);
  return (l, ctx) => {
    const seen = new Set<number>();
    for (const ids of [ctx.promptIds, ctx.generated]) for (const id of ids) seen.add(id);
    for (const id of seen) {
      if (id >= l.length) continue;
      const v = l[id]!;
      l[id] = v < 0 ? v * penalty : v / penalty;
    }
  };
}

/** logit[j] -= count[j] * frequency + (count[j] > 0) * presence, counts over the generated tokens. */
export function presenceFrequencyPenalty(presence: number, frequency: number): ContextProcessor {
  if (!Number.isFinite(presence))
    throw new Error(`presence penalty must be a finite number, got ${presence}`);
  if (!Number.isFinite(frequency))
    throw new Error(`frequency penalty must be a finite number, got ${frequency}`);
  return (l, ctx) => {
    const counts = new Map<number, number>();
    for (const id of ctx.generated) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const [id, c] of counts) if (id < l.length) l[id]! -= c * frequency + presence;
  };
}
