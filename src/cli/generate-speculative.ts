// `decoderkit generate --strategy speculative|prompt-lookup`: the strategy-table entries (cli/strategies.ts) for
// speculative decoding with a draft model, a quantized copy of the target (self-speculative), or prompt lookup.

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
import { isPosInt, num, str, UsageError, type Options } from "./args.js";
import type { Strategy, StrategyInput } from "./strategies.js";

export const SPECULATIVE_FLAGS: Options = {
  "draft-model": { type: "string" },
  "draft-quant": { type: "string" },
  "draft-tokens": { type: "string" },
  ngram: { type: "string" },
};

export const SPECULATIVE_HELP = `  --draft-model PATH     speculative: the draft checkpoint (same vocabulary as --model); speculative and
                         prompt-lookup keep the target's distribution (greedy: its tokens)
  --draft-quant Q        speculative without --draft-model: draft with a q8_0 or q4_0 copy of the model
  --draft-tokens N       tokens drafted per verification pass (default 4; prompt-lookup 10)
  --ngram N              prompt-lookup: longest n-gram matched in the prompt and output (default 3)
`;

interface Plan {
  readonly lookup: boolean;
  readonly draftModel?: string;
  readonly draftQuant?: CopyQuant;
  readonly draftTokens: number;
  readonly ngram: number;
}

async function drafterFor(plan: Plan, i: StrategyInput): Promise<Drafter> {
  if (plan.lookup) return new PromptLookupDrafter({ ngram: plan.ngram });
  if (plan.draftQuant)
    return new ModelDrafter(quantizedCopy(i.model, plan.draftQuant, { allocator: i.allocator }));
  const draft: CausalLM = (await i.load(plan.draftModel!)).model;
  if (draft.vocabSize !== i.model.vocabSize) {
    throw new Error(
      `--draft-model has a vocabulary of ${draft.vocabSize} tokens, the model ${i.model.vocabSize}; they must match`,
    );
  }
  return new ModelDrafter(draft);
}

function entry(lookup: boolean): Strategy {
  return {
    flags: lookup ? ["draft-tokens", "ngram"] : ["draft-model", "draft-quant", "draft-tokens"],
    prepare: (v) => {
      const draftModel = str(v["draft-model"]);
      const quant = str(v["draft-quant"]);
      if (quant !== undefined && !isCopyQuant(quant))
        throw new UsageError(`--draft-quant must be one of ${COPY_QUANTS.join(", ")}, got "${quant}"`);
      if (!lookup && draftModel !== undefined && quant !== undefined)
        throw new UsageError("give either --draft-model or --draft-quant, not both");
      if (!lookup && draftModel === undefined && quant === undefined)
        throw new UsageError("--strategy speculative needs --draft-model PATH or --draft-quant q8_0|q4_0");
      const draftTokens = num(v["draft-tokens"], "draft-tokens", isPosInt, "a positive integer");
      const ngram = num(v["ngram"], "ngram", isPosInt, "a positive integer");
      const plan: Plan = {
        lookup,
        draftModel,
        draftQuant: quant as CopyQuant | undefined,
        draftTokens: draftTokens ?? (lookup ? 10 : 4),
        ngram: ngram ?? 3,
      };
      return async (i, stats) => {
        const drafter = await drafterFor(plan, i);
        const s: SpeculativeStats = Object.assign(stats, { ...emptySpeculativeStats(), ...stats });
        return {
          tokens: generateSpeculative(
            i.model,
            i.promptIds,
            drafter,
            { ...i.opts, draftTokens: plan.draftTokens },
            s,
          ),
          report: () => ({
            ...(plan.draftQuant ? { draft_quant: plan.draftQuant } : {}),
            ...(plan.draftModel ? { draft_model: plan.draftModel } : {}),
            ...(lookup ? { ngram: plan.ngram } : {}),
            draft_tokens: plan.draftTokens,
            drafted: s.drafted,
            accepted: s.accepted,
            acceptance_rate: Math.round(acceptanceRate(s) * 10000) / 10000,
            target_forwards: s.targetForwards,
            draft_forwards: s.draftForwards,
          }),
        };
      };
    },
  };
}

export const speculativeStrategy = entry(false);
export const promptLookupStrategy = entry(true);
