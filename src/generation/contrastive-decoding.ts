// Contrastive decoding (Li et al. 2023, "Contrastive Decoding: Open-ended Text Generation as Optimization"):
// score(v) = log p_expert(v) - log p_amateur(v) over the plausible set {v : p_expert(v) >= alpha * max p_expert},
// -Infinity elsewhere; the pick is greedy over the score (or a draw when a temperature is set).

import type { CausalLM } from "../models/model.js";
import { checkMaxNewTokens, checkPrompt } from "./checks.js";
import { emptyStats, type GenerateOptions, type GenerationStats } from "./generate.js";
import { Rng } from "./rng.js";
import { argmax, makeSampler } from "./sampling.js";
import { logSoftmax } from "./softmax.js";

export interface ContrastiveDecodingOptions extends GenerateOptions {
  /** The weaker model; it must share the expert's vocabulary. */
  readonly amateur: CausalLM;
  /** Plausibility threshold alpha in [0, 1] (default 0.1, as in the paper). */
  readonly alpha?: number;
  /** Temperature the amateur's logits are divided by (default 1). */
  readonly amateurTemperature?: number;
}

export interface ContrastiveDecodingInfo {
  steps: number;
  /** Sum over steps of the plausible set's size. */
  plausibleSum: number;
  /** Steps where the pick differs from the expert's own argmax. */
  differsFromExpert: number;
}

export function emptyContrastiveDecodingInfo(): ContrastiveDecodingInfo {
  return { steps: 0, plausibleSum: 0, differsFromExpert: 0 };
}

/** The contrastive score row: log p_e - log p_a on the plausible set, -Infinity off it. */
export function contrastiveScores(
  expert: Float32Array,
  amateur: Float32Array,
  alpha: number,
  amateurTemperature = 1,
): Float32Array {
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`contrastive alpha must be in [0, 1], got ${alpha}`);
  if (!(amateurTemperature > 0) || !Number.isFinite(amateurTemperature))
    throw new Error(`amateur temperature must be > 0, got ${amateurTemperature}`);
  if (expert.length !== amateur.length)
    throw new Error(`contrastive decoding: expert has ${expert.length} logits, amateur ${amateur.length}`);
  const le = logSoftmax(expert);
  const la = logSoftmax(amateur, amateurTemperature);
  let maxLe = -Infinity;
  for (const v of le) if (v > maxLe) maxLe = v;
  const cut = maxLe + Math.log(alpha); // p_e >= alpha * max p_e  <=>  log p_e >= log alpha + max log p_e
  const out = new Float32Array(expert.length).fill(-Infinity);
  for (let i = 0; i < out.length; i++) if (le[i]! >= cut && le[i]! > -Infinity) out[i] = le[i]! - la[i]!;
  return out;
}

export async function* contrastiveDecoding(
  model: CausalLM,
  promptIds: readonly number[],
  opts: ContrastiveDecodingOptions,
  stats: GenerationStats = emptyStats(),
  info: ContrastiveDecodingInfo = emptyContrastiveDecodingInfo(),
): AsyncGenerator<number, GenerationStats> {
  const amateur = opts.amateur;
  if (amateur.vocabSize !== model.vocabSize) {
    throw new Error(
      `contrastive decoding: the amateur's vocabulary (${amateur.vocabSize}) differs from the expert's (${model.vocabSize})`,
    );
  }
  const alpha = opts.alpha ?? 0.1;
  const tA = opts.amateurTemperature ?? 1;
  contrastiveScores(new Float32Array(1), new Float32Array(1), alpha, tA); // checks the options up front
  const max = checkMaxNewTokens(opts.maxNewTokens ?? 256);
  const cache = opts.cache ?? model.newCache();
  const aCache = amateur.newCache();
  checkPrompt(model, promptIds, cache.length);
  checkPrompt(amateur, promptIds);
  const pick = makeSampler(
    { ...opts, eosTokens: opts.eosTokens ?? opts.stopTokens },
    new Rng(opts.seed ?? 0),
  );
  const stop = new Set(opts.stopTokens ?? []);
  const generated: number[] = [];
  const ctx = { promptIds, generated };
  stats.promptTokens = promptIds.length;
  stats.cache = cache;
  const both = (ids: readonly number[]): [Float32Array, Float32Array] => [
    Float32Array.from(model.forward(ids, cache).f32()),
    Float32Array.from(amateur.forward(ids, aCache).f32()),
  ];
  let t0 = performance.now();
  let [le, la] = both(promptIds);
  stats.prefillMs = performance.now() - t0;
  t0 = performance.now();
  stats.finishReason = "length";
  for (let i = 0; i < max; i++) {
    const scores = contrastiveScores(le, la, alpha, tA);
    const next = pick(scores, ctx);
    info.steps++;
    for (const v of scores) if (v !== -Infinity) info.plausibleSum++;
    if (next !== argmax(le)) info.differsFromExpert++;
    if (stop.has(next)) {
      stats.finishReason = "stop";
      break;
    }
    stats.newTokens++;
    generated.push(next);
    stats.decodeMs = performance.now() - t0;
    yield next;
    if (i === max - 1) break;
    if (cache.length >= model.contextLength || aCache.length >= amateur.contextLength) {
      stats.finishReason = "context";
      break;
    }
    [le, la] = both([next]);
  }
  stats.decodeMs = performance.now() - t0;
  return stats;
}
