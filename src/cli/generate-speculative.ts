// `decoderkit generate --strategy speculative|prompt-lookup`: flags, checks and the token source for speculative
// decoding with a draft model, a quantized copy of the target (self-speculative), or prompt lookup.

import { loadModel } from "../models/load.js";
import type { CausalLM } from "../models/model.js";
import { COPY_QUANTS, isCopyQuant, quantizedCopy, type CopyQuant } from "../models/quantized-copy.js";
import { PromptLookupDrafter } from "../generation/prompt-lookup.js";
import {
  acceptanceRate,
  emptySpeculativeStats,
  generateSpeculative,
  type SpeculativeStats,
} from "../generation/speculative.js";
import { ModelDrafter, type Drafter } from "../generation/speculative-draft.js";
import type { TokenSource } from "../generation/text.js";
import type { Allocator } from "../tensor/storage.js";
import { isPosInt, num, str, UsageError, type Options } from "./args.js";

export const STRATEGIES = ["greedy", "sample", "speculative", "prompt-lookup"] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const STRATEGY_FLAGS: Options = {
  strategy: { type: "string" },
  "draft-model": { type: "string" },
  "draft-quant": { type: "string" },
  "draft-tokens": { type: "string" },
  ngram: { type: "string" },
};

export const STRATEGY_HELP = `  --strategy NAME        greedy (= --temperature 0) | sample (default) | speculative | prompt-lookup;
                         speculative and prompt-lookup keep the target's distribution (greedy: its tokens)
  --draft-model PATH     speculative: the draft checkpoint (same vocabulary as --model)
  --draft-quant Q        speculative without --draft-model: draft with a q8_0 or q4_0 copy of the model
  --draft-tokens N       tokens drafted per verification pass (default 4; prompt-lookup 10)
  --ngram N              prompt-lookup: longest n-gram matched in the prompt and output (default 3)
`;

export interface StrategyPlan {
  readonly strategy: Strategy;
  readonly draftModel?: string;
  readonly draftQuant?: CopyQuant;
  readonly draftTokens: number;
  readonly ngram: number;
}

/** Reads and checks the strategy flags (a UsageError for bad values or flags that do not fit the strategy). */
export function strategyPlan(v: Record<string, unknown>): StrategyPlan {
  const name = str(v["strategy"]) ?? "sample";
  if (!(STRATEGIES as readonly string[]).includes(name))
    throw new UsageError(`--strategy must be one of ${STRATEGIES.join(", ")}, got "${name}"`);
  const strategy = name as Strategy;
  const draftModel = str(v["draft-model"]);
  const quant = str(v["draft-quant"]);
  if (quant !== undefined && !isCopyQuant(quant))
    throw new UsageError(`--draft-quant must be one of ${COPY_QUANTS.join(", ")}, got "${quant}"`);
  const draftTokens = num(v["draft-tokens"], "draft-tokens", isPosInt, "a positive integer");
  const ngram = num(v["ngram"], "ngram", isPosInt, "a positive integer");
  const spec = strategy === "speculative";
  if (!spec && (draftModel !== undefined || quant !== undefined))
    throw new UsageError("--draft-model and --draft-quant need --strategy speculative");
  if (spec && draftModel !== undefined && quant !== undefined)
    throw new UsageError("give either --draft-model or --draft-quant, not both");
  if (spec && draftModel === undefined && quant === undefined)
    throw new UsageError("--strategy speculative needs --draft-model PATH or --draft-quant q8_0|q4_0");
  if (ngram !== undefined && strategy !== "prompt-lookup")
    throw new UsageError("--ngram needs --strategy prompt-lookup");
  if (draftTokens !== undefined && !spec && strategy !== "prompt-lookup")
    throw new UsageError("--draft-tokens needs --strategy speculative or prompt-lookup");
  return {
    strategy,
    draftModel,
    draftQuant: quant as CopyQuant | undefined,
    draftTokens: draftTokens ?? (strategy === "prompt-lookup" ? 10 : 4),
    ngram: ngram ?? 3,
  };
}

export interface SpeculativeRun {
  readonly tokens: TokenSource;
  readonly stats: SpeculativeStats;
  /** Fields added to generate's --json object. */
  json(): Record<string, unknown>;
}

async function drafterFor(plan: StrategyPlan, model: CausalLM, allocator?: Allocator): Promise<Drafter> {
  if (plan.strategy === "prompt-lookup") return new PromptLookupDrafter({ ngram: plan.ngram });
  if (plan.draftQuant) return new ModelDrafter(quantizedCopy(model, plan.draftQuant, { allocator }));
  const draft = (await loadModel(plan.draftModel!, { allocator })).model;
  if (draft.vocabSize !== model.vocabSize) {
    throw new Error(
      `--draft-model has a vocabulary of ${draft.vocabSize} tokens, the model ${model.vocabSize}; they must match`,
    );
  }
  return new ModelDrafter(draft);
}

/** The speculative token source for this plan, or null for plain greedy / sampling. */
export async function speculativeRun(
  plan: StrategyPlan,
  model: CausalLM,
  allocator?: Allocator,
): Promise<SpeculativeRun | null> {
  if (plan.strategy !== "speculative" && plan.strategy !== "prompt-lookup") return null;
  const drafter = await drafterFor(plan, model, allocator);
  const stats = emptySpeculativeStats();
  return {
    stats,
    tokens: (m, ids, opts) =>
      generateSpeculative(m, ids, drafter, { ...opts, draftTokens: plan.draftTokens }, stats),
    json: () => ({
      strategy: plan.strategy,
      ...(plan.draftQuant ? { draft_quant: plan.draftQuant } : {}),
      draft_tokens: plan.draftTokens,
      drafted: stats.drafted,
      accepted: stats.accepted,
      acceptance_rate: Math.round(acceptanceRate(stats) * 10000) / 10000,
      target_forwards: stats.targetForwards,
      draft_forwards: stats.draftForwards,
    }),
  };
}
