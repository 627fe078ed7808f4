// Text-level generation: streams decoded text (never a split UTF-8 character) and ends at stop strings,
// holding back any tail that could still become a stop string.

import type { CausalLM } from "../models/model.js";
import { StreamDecoder, type Tokenizer } from "../tokenizers/tokenizer.js";
import { emptyStats, generateTokens, type GenerateOptions, type GenerationStats } from "./generate.js";

/** Where tokens come from: generateTokens, or a decoder with the same contract (e.g. speculative). */
export type TokenSource = (
  model: CausalLM,
  promptIds: readonly number[],
  opts: GenerateOptions,
  stats: GenerationStats,
) => AsyncGenerator<number, GenerationStats>;

export interface TextGenerateOptions extends GenerateOptions {
  readonly stopStrings?: readonly string[];
  /** Default generateTokens. */
  readonly tokens?: TokenSource;
}

export interface TextChunk {
  /** The token drawn at this step (absent on the final flush). */
  readonly token?: number;
  /** Text that became final at this step (may be empty). */
  readonly text: string;
}

/** Longest suffix of `s` that is a proper prefix of some stop string. */
function heldBack(s: string, stops: readonly string[]): number {
  let keep = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, s.length); n > keep; n--) {
      if (s.endsWith(stop.slice(0, n))) {
        keep = n;
        break;
      }
    }
  }
  return keep;
}

export async function* generateText(
  model: CausalLM,
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  opts: TextGenerateOptions = {},
  stats: GenerationStats = emptyStats(),
): AsyncGenerator<TextChunk, GenerationStats> {
  const gen = (opts.tokens ?? generateTokens)(model, promptIds, opts, stats);
  return yield* streamText(tokenizer, promptIds, gen, opts, stats);
}

/** Text chunks of the tokens any strategy yields (`gen` must fill `stats`), cut at the first stop string. */
export async function* streamText(
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  gen: AsyncGenerator<number, GenerationStats>,
  opts: { readonly stopStrings?: readonly string[] },
  stats: GenerationStats,
): AsyncGenerator<TextChunk, GenerationStats> {
  const stops = (opts.stopStrings ?? []).filter((s) => s.length > 0);
  const dec = new StreamDecoder(tokenizer, promptIds); // the prompt is context only, never emitted
  let pending = "";
  for (;;) {
    const r = await gen.next();
    if (r.done) break;
    pending += dec.push(r.value);
    if (stops.length) {
      let cut = -1;
      for (const s of stops) {
        const i = pending.indexOf(s);
        if (i >= 0 && (cut < 0 || i < cut)) cut = i;
      }
      if (cut >= 0) {
        stats.finishReason = "stop";
        await gen.return(stats);
        yield { token: r.value, text: pending.slice(0, cut) };
        return stats;
      }
    }
    const keep = heldBack(pending, stops);
    yield { token: r.value, text: pending.slice(0, pending.length - keep) };
    pending = pending.slice(pending.length - keep);
  }
  pending += dec.flush();
  if (pending) yield { text: pending };
  return stats;
}
