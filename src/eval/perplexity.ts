// Mean next-token cross-entropy (nats) and perplexity = exp(loss) of a causal LM over a token stream,
// scored in consecutive windows of the model's context length (each window starts with an empty cache).

import type { CausalLM } from "../models/model.js";

export interface PerplexityResult {
  /** Tokens whose probability was scored. */
  readonly tokens: number;
  readonly loss: number;
  readonly perplexity: number;
}

export function perplexity(
  model: CausalLM,
  ids: readonly number[],
  opts: { window?: number; onWindow?: (done: number, total: number) => void } = {},
): PerplexityResult {
  const W = Math.min(opts.window ?? model.contextLength, model.contextLength);
  if (ids.length < 2) throw new Error("perplexity needs at least 2 tokens");
  let nll = 0;
  let n = 0;
  for (let start = 0; start + 1 < ids.length; start += W) {
    const win = ids.slice(start, Math.min(start + W, ids.length));
    if (win.length < 2) break;
    const logits = model.forward(win, model.newCache(), { allLogits: true }).f32(); // (T, V)
    const V = model.vocabSize;
    for (let t = 0; t + 1 < win.length; t++) {
      const o = t * V;
      let max = -Infinity;
      for (let i = 0; i < V; i++) if (logits[o + i]! > max) max = logits[o + i]!;
      let sum = 0;
      for (let i = 0; i < V; i++) sum += Math.exp(logits[o + i]! - max);
      nll += Math.log(sum) + max - logits[o + win[t + 1]!]!;
      n++;
    }
    opts.onWindow?.(Math.min(start + W, ids.length), ids.length);
  }
  const loss = nll / n;
  return { tokens: n, loss, perplexity: Math.exp(loss) };
}
