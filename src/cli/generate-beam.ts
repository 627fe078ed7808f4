// `decoderkit generate --strategy beam|diverse-beam`: the beam flags, their checks, and the beam run's output.

import type { KVCacheOptions } from "../cache/factory.js";
import { beamSearch, type BeamSearchOptions } from "../generation/beam.js";
import type { EarlyStopping } from "../generation/beam-hyps.js";
import type { CausalLM } from "../models/model.js";
import { StreamDecoder, type Tokenizer } from "../tokenizers/tokenizer.js";
import { isPosInt, num, UsageError, type Options } from "./args.js";
import { newCacheFromFlags } from "./kv-flags.js";

/** The strategies whose run this file prints (several sequences, not a token stream). */
export const BEAM_STRATEGIES = ["beam", "diverse-beam"] as const;

export const BEAM_FLAGS: Options = {
  "num-beams": { type: "string" },
  "length-penalty": { type: "string" },
  "early-stopping": { type: "string" },
  "num-return-sequences": { type: "string" },
  "num-beam-groups": { type: "string" },
  "diversity-penalty": { type: "string" },
};

export const BEAM_HELP = `  --num-beams N          beams for beam / diverse-beam (default 4)
  --length-penalty A     score = sum log p / length^A (default 1)
  --early-stopping WHEN  true | false | never (default false, Hugging Face's meanings)
  --num-return-sequences N  sequences to print, best first (default 1, at most --num-beams)
  --num-beam-groups G    diverse-beam groups, dividing --num-beams (default 2)
  --diversity-penalty L  diverse-beam: lambda per earlier group's choice of a token (default 0.5)
`;

/** Beam options from the flags, or null when the strategy is not a beam search (then beam flags are refused). */
export function beamFlags(
  v: Record<string, unknown>,
  strategy: string | undefined,
  maxNewTokens: number,
  stopTokens: readonly number[] = [],
): BeamSearchOptions | null {
  const beamOnly = Object.keys(BEAM_FLAGS).filter((f) => v[f] !== undefined);
  if (strategy !== "beam" && strategy !== "diverse-beam") {
    if (beamOnly.length) throw new UsageError(`--${beamOnly[0]} needs --strategy beam or diverse-beam`);
    return null;
  }
  if (v["stop"] !== undefined) throw new UsageError("--stop does not work with beam search");
  const diverse = strategy === "diverse-beam";
  if (!diverse && (v["num-beam-groups"] !== undefined || v["diversity-penalty"] !== undefined))
    throw new UsageError("--num-beam-groups and --diversity-penalty need --strategy diverse-beam");
  const numBeams = num(v["num-beams"], "num-beams", isPosInt, "a positive integer") ?? 4;
  const lengthPenalty = num(v["length-penalty"], "length-penalty", () => true, "a number") ?? 1;
  const es = v["early-stopping"];
  let earlyStopping: EarlyStopping = false;
  if (es !== undefined) {
    if (es === "true") earlyStopping = true;
    else if (es === "never") earlyStopping = "never";
    else if (es !== "false")
      throw new UsageError(`--early-stopping must be true, false or never, got "${String(es)}"`);
  }
  const numReturnSequences =
    num(
      v["num-return-sequences"],
      "num-return-sequences",
      (n) => isPosInt(n) && n <= numBeams,
      `an integer in 1..${numBeams} (--num-beams)`,
    ) ?? 1;
  const numBeamGroups = diverse
    ? (num(
        v["num-beam-groups"],
        "num-beam-groups",
        (n) => isPosInt(n) && numBeams % n === 0,
        `a positive integer dividing --num-beams ${numBeams}`,
      ) ?? 2)
    : 1;
  if (diverse && numBeams % numBeamGroups !== 0)
    throw new UsageError(`--num-beams ${numBeams} must be a multiple of --num-beam-groups ${numBeamGroups}`);
  const diversityPenalty = diverse
    ? (num(v["diversity-penalty"], "diversity-penalty", (n) => n >= 0, "a number >= 0") ?? 0.5)
    : 0;
  if (maxNewTokens < 1) throw new UsageError("--max-new-tokens must be at least 1 for beam search");
  return {
    numBeams,
    lengthPenalty,
    earlyStopping,
    numReturnSequences,
    numBeamGroups,
    diversityPenalty,
    maxNewTokens,
    stopTokens,
  };
}

export interface BeamRun {
  model: CausalLM;
  tokenizer: Tokenizer;
  ids: number[];
  strategy: string;
  beam: BeamSearchOptions;
  cacheOptions: KVCacheOptions;
  promptText: string | undefined;
  json: boolean;
  /** Fields the JSON output shares with sampling (backend, threads, seed, timings.load_ms). */
  extra: Record<string, unknown>;
  loadMs: number;
}

export function runBeam(r: BeamRun): number {
  newCacheFromFlags(r.model, r.cacheOptions).release?.(); // bad cache flags for this model: usage error first
  const res = beamSearch(r.model, r.ids, { ...r.beam, cacheOptions: r.cacheOptions });
  const seqs = res.sequences.map((h) => ({
    text: decodeAfter(r.tokenizer, r.ids, h.tokens),
    tokens: h.tokens,
    score: h.score,
    log_prob: h.logProb,
    finish_reason: h.finishReason,
  }));
  if (r.json) {
    const best = seqs[0]!;
    const round = (x: number): number => Math.round(x * 100) / 100;
    const decoded = Math.max(0, ...seqs.map((s) => s.tokens.length));
    process.stdout.write(
      JSON.stringify({
        text: best.text,
        tokens: best.tokens,
        prompt_tokens: r.ids,
        strategy: r.strategy,
        sequences: seqs,
        ...r.extra,
        finish_reason: best.finish_reason,
        timings: {
          load_ms: round(r.loadMs),
          prefill_ms: round(res.prefillMs),
          decode_ms: round(res.decodeMs),
          prefill_tok_s: round(r.ids.length / (res.prefillMs / 1000)),
          decode_steps_s: decoded > 0 ? round(decoded / (res.decodeMs / 1000)) : null,
        },
        kv_cache_bytes: res.cacheBytes,
        kv_cache_bytes_per_token: res.bytesPerToken,
      }) + "\n",
    );
    return 0;
  }
  seqs.forEach((s, i) => {
    if (seqs.length > 1) process.stdout.write(`${i ? "\n" : ""}[${i + 1}] score ${s.score.toFixed(4)}\n`);
    process.stdout.write((r.promptText ?? "") + s.text + "\n");
  });
  return 0;
}

/** Text of `tokens` as a continuation of `context` (as streaming prints it). */
function decodeAfter(tok: Tokenizer, context: readonly number[], tokens: readonly number[]): string {
  const dec = new StreamDecoder(tok, context);
  return tokens.map((t) => dec.push(t)).join("") + dec.flush();
}
