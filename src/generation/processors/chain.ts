// The context-aware part of the processor chain, built from options in Hugging Face's order: logit bias, bad
// words, no-repeat n-gram, min new tokens, repetition / presence / frequency penalties, then forced tokens.

import { badWords, forcedBos, forcedEos, logitBias, minNewTokens, noRepeatNgram } from "./constraints.js";
import type { ContextProcessor } from "./context.js";
import { presenceFrequencyPenalty, repetitionPenalty } from "./penalties.js";

export interface ProcessorOptions {
  /** Drop tokens below minP times the top probability (sampling only; 0 = off). */
  readonly minP?: number;
  /** Locally typical sampling mass (sampling only; 1 = off). */
  readonly typicalP?: number;
  /** CTRL repetition penalty over prompt and output (1 = off). */
  readonly repetitionPenalty?: number;
  /** OpenAI presence penalty over the output (0 = off). */
  readonly presencePenalty?: number;
  /** OpenAI frequency penalty over the output (0 = off). */
  readonly frequencyPenalty?: number;
  /** Never repeat an n-gram of this size (0 = off). */
  readonly noRepeatNgramSize?: number;
  /** Banned token sequences. */
  readonly badWords?: readonly (readonly number[])[];
  /** EOS tokens are masked until this many tokens have been generated. */
  readonly minNewTokens?: number;
  /** The ids minNewTokens masks (generateTokens defaults them to stopTokens). */
  readonly eosTokens?: readonly number[];
  /** Forced first generated token. */
  readonly forcedBosId?: number;
  /** Forced token at the last step maxNewTokens allows. */
  readonly forcedEosId?: number;
  readonly maxNewTokens?: number;
  /** Added to the logits of these ids (-Infinity bans). */
  readonly logitBias?: ReadonlyMap<number, number>;
}

export function contextProcessorsFor(o: ProcessorOptions): ContextProcessor[] {
  const chain: ContextProcessor[] = [];
  if (o.logitBias && o.logitBias.size > 0) chain.push(logitBias(o.logitBias));
  if (o.badWords && o.badWords.length > 0) chain.push(badWords(o.badWords));
  if (o.noRepeatNgramSize !== undefined && o.noRepeatNgramSize !== 0)
    chain.push(noRepeatNgram(o.noRepeatNgramSize));
  if (o.minNewTokens !== undefined && o.minNewTokens !== 0)
    chain.push(minNewTokens(o.minNewTokens, o.eosTokens ?? []));
  if (o.repetitionPenalty !== undefined && o.repetitionPenalty !== 1)
    chain.push(repetitionPenalty(o.repetitionPenalty));
  const presence = o.presencePenalty ?? 0;
  const frequency = o.frequencyPenalty ?? 0;
  if (presence !== 0 || frequency !== 0) chain.push(presenceFrequencyPenalty(presence, frequency));
  if (o.forcedBosId !== undefined) chain.push(forcedBos(o.forcedBosId));
  if (o.forcedEosId !== undefined) chain.push(forcedEos(o.forcedEosId, (o.maxNewTokens ?? 256) - 1));
  return chain;
}
