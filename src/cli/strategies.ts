// `generate --strategy NAME`: one table entry per decoding strategy. Each entry names the strategy-only flags it
// accepts and starts a token generator plus a report for --json's "strategy" object.

import { sentenceBleu } from "../eval/bleu.js";
import { sentenceChrf } from "../eval/chrf.js";
import { contrastiveDecoding, emptyContrastiveDecodingInfo } from "../generation/contrastive-decoding.js";
import { contrastiveSearch, emptyContrastiveInfo } from "../generation/contrastive-search.js";
import { generateTokens, type GenerateOptions, type GenerationStats } from "../generation/generate.js";
import { mbrDecode, type MbrInfo } from "../generation/mbr.js";
import type { LoadedModel } from "../models/load.js";
import type { CausalLM } from "../models/model.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import type { Allocator } from "../tensor/storage.js";
import { isPosInt, num, str, UsageError, type Options } from "./args.js";
import {
  promptLookupStrategy,
  SPECULATIVE_FLAGS,
  SPECULATIVE_HELP,
  speculativeStrategy,
} from "./generate-speculative.js";

export interface StrategyInput {
  readonly model: CausalLM;
  readonly tokenizer: Tokenizer;
  readonly promptIds: readonly number[];
  /** Budget, stop tokens, seed, processors and the sampling flags (temperature 0 unless given or defaulted). */
  readonly opts: GenerateOptions;
  /** Whether --temperature was given (strategies that are greedy by default sample only then). */
  readonly temperatureGiven: boolean;
  /** Loads a second model (an amateur or a draft) with the same backend. */
  readonly load: (path: string, tokenizer?: string) => Promise<LoadedModel>;
  /** Where the backend wants weights (for models built in memory, e.g. a quantized draft). */
  readonly allocator?: Allocator;
}

export interface StrategyRun {
  readonly tokens: AsyncGenerator<number, GenerationStats>;
  /** The --json "strategy" object's fields besides its name, read after the tokens are drawn. */
  report(): Record<string, unknown>;
}

export type StrategyStart = (input: StrategyInput, stats: GenerationStats) => Promise<StrategyRun>;

export interface Strategy {
  readonly flags: readonly string[];
  /** Checks this strategy's flags (before any model loads) and returns what starts it. */
  prepare(values: Record<string, unknown>, temperature: number): StrategyStart;
}

export const STRATEGY_FLAGS: Options = {
  strategy: { type: "string" },
  "penalty-alpha": { type: "string" },
  "amateur-model": { type: "string" },
  "amateur-tokenizer": { type: "string" },
  "contrastive-alpha": { type: "string" },
  "mbr-samples": { type: "string" },
  "mbr-metric": { type: "string" },
  ...SPECULATIVE_FLAGS,
};

export const STRATEGY_HELP = `  --strategy NAME        greedy | sample | beam | diverse-beam | contrastive-search | contrastive | mbr |
                         speculative | prompt-lookup (default: sample, or greedy with --temperature 0)
  --penalty-alpha A      contrastive search degeneration penalty in [0, 1] (default 0.6);
                         its candidates are the --top-k most likely tokens (default 4)
  --amateur-model PATH   contrastive decoding: the weaker model (same vocabulary)
  --amateur-tokenizer PATH  tokenizer for loading the amateur, if it needs one
  --contrastive-alpha A  contrastive decoding plausibility threshold in [0, 1] (default 0.1);
                         greedy unless --temperature is given
  --mbr-samples N        MBR: number of sampled candidates (default 8)
  --mbr-metric NAME      MBR utility: bleu | chrf (default chrf)
${SPECULATIVE_HELP}`;

const round = (x: number): number => Math.round(x * 1e4) / 1e4;

const greedy: Strategy = {
  flags: [],
  prepare: (v, temperature) => {
    if (v["temperature"] !== undefined && temperature !== 0)
      throw new UsageError("--strategy greedy needs --temperature 0 (or none)");
    return greedyStart;
  },
};

const greedyStart: StrategyStart = async (i, stats) => {
  return {
    tokens: generateTokens(i.model, i.promptIds, { ...i.opts, temperature: 0 }, stats),
    report: () => ({}),
  };
};

const sample: Strategy = {
  flags: [],
  prepare: () => async (i, stats) => {
    const o = i.opts;
    return {
      tokens: generateTokens(i.model, i.promptIds, o, stats),
      report: () => ({ temperature: o.temperature, top_k: o.topK ?? null, top_p: o.topP }),
    };
  },
};

const contrastiveSearchStrategy: Strategy = {
  flags: ["penalty-alpha"],
  prepare: (v) => {
    const alpha =
      num(v["penalty-alpha"], "penalty-alpha", (n) => n >= 0 && n <= 1, "a number in [0, 1]") ?? 0.6;
    return async (i, stats) => {
      const topK = i.opts.topK ?? 4;
      const info = emptyContrastiveInfo();
      const opts = { ...i.opts, penaltyAlpha: alpha, topK };
      return {
        tokens: contrastiveSearch(i.model, i.promptIds, opts, stats, info),
        report: () => ({
          penalty_alpha: alpha,
          top_k: topK,
          forward_passes: info.forwardPasses,
          mean_probability: info.steps ? round(info.probabilitySum / info.steps) : null,
          mean_degeneration_penalty: info.steps ? round(info.penaltySum / info.steps) : null,
        }),
      };
    };
  },
};

const contrastiveDecodingStrategy: Strategy = {
  flags: ["amateur-model", "amateur-tokenizer", "contrastive-alpha"],
  prepare: (v) => {
    const alpha =
      num(v["contrastive-alpha"], "contrastive-alpha", (n) => n >= 0 && n <= 1, "a number in [0, 1]") ?? 0.1;
    const path = str(v["amateur-model"]);
    if (path === undefined) throw new UsageError("--strategy contrastive needs --amateur-model PATH");
    return async (i, stats) => {
      const amateur = (await i.load(path, str(v["amateur-tokenizer"]))).model;
      if (amateur.vocabSize !== i.model.vocabSize) {
        throw new Error(
          `--amateur-model: its vocabulary (${amateur.vocabSize}) differs from the model's (${i.model.vocabSize})`,
        );
      }
      const temperature = i.temperatureGiven ? i.opts.temperature : 0;
      const info = emptyContrastiveDecodingInfo();
      const opts = { ...i.opts, temperature, amateur, alpha };
      return {
        tokens: contrastiveDecoding(i.model, i.promptIds, opts, stats, info),
        report: () => ({
          amateur: path,
          alpha,
          temperature,
          mean_plausible_set: info.steps ? round(info.plausibleSum / info.steps) : null,
          differs_from_expert_greedy: info.differsFromExpert,
        }),
      };
    };
  },
};

const METRICS: Record<string, (hyp: string, ref: string) => number> = {
  bleu: (h, r) => sentenceBleu(h, [r]).score,
  chrf: (h, r) => sentenceChrf(h, [r]),
};

const mbr: Strategy = {
  flags: ["mbr-samples", "mbr-metric"],
  prepare: (v, temperature) => {
    const samples = num(v["mbr-samples"], "mbr-samples", isPosInt, "a positive integer") ?? 8;
    const metric = str(v["mbr-metric"]) ?? "chrf";
    const utility = METRICS[metric];
    if (!utility) throw new UsageError(`--mbr-metric must be bleu or chrf, got "${metric}"`);
    if (!(temperature > 0))
      throw new UsageError("--strategy mbr samples its candidates: --temperature must be > 0");
    return async (i, stats) => {
      const info: MbrInfo = { candidates: [], chosen: -1 };
      const prefix = i.tokenizer.decode(i.promptIds);
      const detokenize = (ids: readonly number[]): string =>
        i.tokenizer.decode([...i.promptIds, ...ids]).slice(prefix.length); // as the streamed text reads
      const opts = { ...i.opts, samples, utility, detokenize };
      return {
        tokens: mbrDecode(i.model, i.promptIds, opts, stats, info),
        report: () => ({
          samples,
          metric,
          chosen: info.chosen,
          candidates: info.candidates.map((c) => ({
            text: c.text,
            expected_utility: round(c.expectedUtility),
            finish_reason: c.finishReason,
          })),
        }),
      };
    };
  },
};

export const STRATEGIES: Record<string, Strategy> = {
  greedy,
  sample,
  "contrastive-search": contrastiveSearchStrategy,
  contrastive: contrastiveDecodingStrategy,
  mbr,
  speculative: speculativeStrategy,
  "prompt-lookup": promptLookupStrategy,
};

/** Strategies that print several sequences instead of streaming tokens (cli/generate-beam.ts runs them). */
const SEQUENCE_STRATEGIES: Record<string, Strategy> = {
  beam: { flags: [], prepare: () => unreachable },
  "diverse-beam": { flags: [], prepare: () => unreachable },
};

const unreachable: StrategyStart = () => {
  throw new Error("beam strategies are run by cli/generate-beam.ts");
};

/**
 * The strategy named by --strategy (default: sample, or greedy at temperature 0); refuses flags it does not
 * take. The start function is null for beam and diverse-beam, which generate.ts hands to generate-beam.ts.
 */
export function pickStrategy(
  values: Record<string, unknown>,
  temperature: number,
): [string, StrategyStart | null] {
  const name = str(values["strategy"]) ?? (temperature > 0 ? "sample" : "greedy");
  const all = { ...STRATEGIES, ...SEQUENCE_STRATEGIES };
  const strategy = all[name];
  if (!strategy)
    throw new UsageError(`--strategy must be one of ${Object.keys(all).join(", ")}, got "${name}"`);
  for (const flag of Object.keys(STRATEGY_FLAGS)) {
    if (flag === "strategy" || values[flag] === undefined || strategy.flags.includes(flag)) continue;
    const owners = Object.keys(STRATEGIES).filter((n) => STRATEGIES[n]!.flags.includes(flag));
    throw new UsageError(`--${flag} applies to --strategy ${owners.join(" or ")}, not ${name}`);
  }
  return [name, name in SEQUENCE_STRATEGIES ? null : strategy.prepare(values, temperature)];
}
