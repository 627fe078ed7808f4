// `generate` flags for the logits processors (penalties, filters, constraints) → ProcessorOptions.

import type { ProcessorOptions } from "../generation/processors/chain.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { isNonNegInt, num, str, UsageError, type Options } from "./args.js";

export const PROCESSOR_FLAGS: Options = {
  "min-p": { type: "string" },
  "typical-p": { type: "string" },
  "repetition-penalty": { type: "string" },
  "presence-penalty": { type: "string" },
  "frequency-penalty": { type: "string" },
  "no-repeat-ngram-size": { type: "string" },
  "bad-words": { type: "string" },
  "min-new-tokens": { type: "string" },
  "logit-bias": { type: "string" },
  "forced-bos-id": { type: "string" },
  "forced-eos-id": { type: "string" },
};

export const PROCESSOR_HELP = `  --min-p P              drop tokens below P times the top probability, P in [0, 1] (sampling)
  --typical-p P          locally typical sampling mass in (0, 1] (sampling)
  --repetition-penalty R CTRL penalty > 0 on tokens of the prompt and output (1 = off)
  --presence-penalty A   OpenAI presence penalty on generated tokens (0 = off)
  --frequency-penalty A  OpenAI frequency penalty on generated tokens (0 = off)
  --no-repeat-ngram-size N  never repeat an N-gram (0 = off)
  --bad-words TEXT       comma-separated words or phrases never to generate (each encoded as the
                         tokenizer encodes text; GPT-2 BPE needs a leading space for mid-text words)
  --min-new-tokens N     no end-of-sequence token before N new tokens
  --logit-bias ID:BIAS,...  add BIAS to token ID's logit (-inf bans it)
  --forced-bos-id ID     the first new token is ID
  --forced-eos-id ID     the last new token (at --max-new-tokens) is ID
`;

function parseBias(s: string): Map<number, number> {
  const bias = new Map<number, number>();
  for (const part of s.split(",")) {
    const m = /^\s*(\d+)\s*:\s*(\S+)\s*$/.exec(part);
    const b = m ? (/^-inf(inity)?$/i.test(m[2]!) ? -Infinity : Number(m[2])) : NaN;
    if (!m || !Number.isSafeInteger(Number(m[1])) || Number.isNaN(b) || b === Infinity)
      throw new UsageError(`--logit-bias must be ID:BIAS pairs separated by commas, got "${part}"`);
    bias.set(Number(m[1]), b);
  }
  return bias;
}

/** Checks the numeric flags now; returns what turns them into options once the tokenizer is loaded. */
export function processorFlags(
  v: Record<string, unknown>,
): (tokenizer: Tokenizer, vocabSize: number) => ProcessorOptions {
  const finite = (n: number): boolean => Number.isFinite(n);
  const o = {
    minP: num(v["min-p"], "min-p", (n) => n >= 0 && n <= 1, "a number in [0, 1]"),
    typicalP: num(v["typical-p"], "typical-p", (n) => n > 0 && n <= 1, "a number in (0, 1]"),
    repetitionPenalty: num(v["repetition-penalty"], "repetition-penalty", (n) => n > 0, "a number > 0"),
    presencePenalty: num(v["presence-penalty"], "presence-penalty", finite, "a number"),
    frequencyPenalty: num(v["frequency-penalty"], "frequency-penalty", finite, "a number"),
    noRepeatNgramSize: num(
      v["no-repeat-ngram-size"],
      "no-repeat-ngram-size",
      isNonNegInt,
      "a non-negative integer",
    ),
    minNewTokens: num(v["min-new-tokens"], "min-new-tokens", isNonNegInt, "a non-negative integer"),
    forcedBosId: num(v["forced-bos-id"], "forced-bos-id", isNonNegInt, "a token id"),
    forcedEosId: num(v["forced-eos-id"], "forced-eos-id", isNonNegInt, "a token id"),
  };
  const biasText = str(v["logit-bias"]);
  const bias = biasText === undefined ? undefined : parseBias(biasText);
  const words = str(v["bad-words"])?.split(",");
  if (words?.some((w) => w.trim() === ""))
    throw new UsageError(`--bad-words has an empty entry: "${String(v["bad-words"])}"`);
  return (tokenizer, vocabSize) => {
    for (const id of bias?.keys() ?? []) {
      if (id >= vocabSize)
        throw new UsageError(`--logit-bias: token ${id} is not below the vocabulary size ${vocabSize}`);
    }
    for (const [flag, id] of [
      ["forced-bos-id", o.forcedBosId],
      ["forced-eos-id", o.forcedEosId],
    ] as const) {
      if (id !== undefined && id >= vocabSize)
        throw new UsageError(`--${flag}: token ${id} is not below the vocabulary size ${vocabSize}`);
    }
    const badWords = words?.map((w) => {
      const ids = tokenizer.encode(w);
      if (ids.length === 0) throw new UsageError(`--bad-words: "${w}" encodes to no tokens`);
      return ids;
    });
    return { ...o, logitBias: bias, badWords };
  };
}
