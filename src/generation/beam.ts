// Beam search with Hugging Face's conventions (length penalty, early stopping, finished hypotheses kept apart)
// and diverse (group) beam search (Vijayakumar et al. 2016): G groups of beams, each step a group's log-probs
// lose lambda for every time an earlier group chose the same token at that step (Hamming diversity).
// The prompt runs once; its cache then fans out to the beams, which copy only their own rows when reordered.

import { storedBytes, type KVCache } from "../cache/kv-cache.js";
import { reorderCaches } from "../cache/reorder.js";
import type { KVCacheOptions } from "../cache/factory.js";
import { forwardEach, type CausalLM } from "../models/model.js";
import { BeamHypotheses, lengthNormalized, type EarlyStopping, type Hypothesis } from "./beam-hyps.js";
import { logSoftmax } from "./logprobs.js";

export interface BeamSearchOptions {
  readonly numBeams: number;
  readonly maxNewTokens?: number;
  /** alpha in score = sum log p / length^alpha (default 1; > 0 favours longer, < 0 shorter sequences). */
  readonly lengthPenalty?: number;
  /** true: stop once numBeams hypotheses finished; false (default): HF's heuristic; "never": exact bound. */
  readonly earlyStopping?: EarlyStopping;
  /** How many hypotheses to return, best first (default 1, at most numBeams). */
  readonly numReturnSequences?: number;
  /** Diverse beam search: groups (must divide numBeams; default 1 = plain beam search). */
  readonly numBeamGroups?: number;
  /** lambda, subtracted from a group's log-probs per earlier group's choice of the token this step. */
  readonly diversityPenalty?: number;
  /** Tokens that end a hypothesis (EOS). */
  readonly stopTokens?: readonly number[];
  /** Options for the cache the prompt runs in. */
  readonly cacheOptions?: KVCacheOptions;
}

export interface BeamSearchResult {
  /** Best first. */
  readonly sequences: Hypothesis[];
  readonly promptTokens: number;
  readonly prefillMs: number;
  readonly decodeMs: number;
  /** Bytes held by all the beams' caches at the last step. */
  readonly cacheBytes: number;
  readonly bytesPerToken: number;
}

interface Beam {
  tokens: number[];
  sum: number; // beam score: log-probs plus diversity penalties
  logProb: number;
  cache: KVCache;
  logits: Float32Array;
}

interface Candidate {
  beam: number; // index within the group
  token: number;
  score: number;
}

/** The n best (beam, token) candidates by score; ties go to the lower beam, then the lower token. */
function topCandidates(scores: Float64Array[], bases: number[], n: number): Candidate[] {
  const top: Candidate[] = [];
  for (let b = 0; b < scores.length; b++) {
    const s = scores[b]!;
    for (let t = 0; t < s.length; t++) {
      const score = bases[b]! + s[t]!;
      if (score === -Infinity || Number.isNaN(score)) continue;
      if (top.length === n && score <= top[n - 1]!.score) continue;
      let i = top.length === n ? n - 1 : top.length;
      if (top.length === n) top.pop();
      while (i > 0 && top[i - 1]!.score < score) i--;
      top.splice(i, 0, { beam: b, token: t, score });
    }
  }
  return top;
}

function validate(model: CausalLM, promptIds: readonly number[], o: BeamSearchOptions): void {
  if (promptIds.length === 0) throw new Error("beam search: the prompt has no tokens");
  for (const id of promptIds)
    if (!Number.isInteger(id) || id < 0 || id >= model.vocabSize)
      throw new Error(
        `beam search: prompt token ${id} is outside the vocabulary (0..${model.vocabSize - 1})`,
      );
  const posInt = (n: number): boolean => Number.isSafeInteger(n) && n > 0;
  if (!posInt(o.numBeams)) throw new Error(`num beams must be a positive integer, got ${o.numBeams}`);
  const groups = o.numBeamGroups ?? 1;
  if (!posInt(groups) || o.numBeams % groups !== 0)
    throw new Error(
      `num beam groups must be a positive integer dividing num beams ${o.numBeams}, got ${groups}`,
    );
  const ret = o.numReturnSequences ?? 1;
  if (!posInt(ret) || ret > o.numBeams)
    throw new Error(`num return sequences must be an integer in 1..${o.numBeams} (num beams), got ${ret}`);
  const max = o.maxNewTokens ?? 256;
  if (!posInt(max)) throw new Error(`max new tokens must be a positive integer for beam search, got ${max}`);
  if (!Number.isFinite(o.lengthPenalty ?? 1))
    throw new Error(`length penalty must be finite, got ${o.lengthPenalty}`);
  const lambda = o.diversityPenalty ?? 0;
  if (!Number.isFinite(lambda) || lambda < 0)
    throw new Error(`diversity penalty must be a finite number >= 0, got ${lambda}`);
  const es = o.earlyStopping ?? false;
  if (es !== true && es !== false && es !== "never")
    throw new Error(`early stopping must be true, false or "never", got ${String(es)}`);
}

export function beamSearch(
  model: CausalLM,
  promptIds: readonly number[],
  opts: BeamSearchOptions,
): BeamSearchResult {
  validate(model, promptIds, opts);
  const G = opts.numBeamGroups ?? 1;
  const perGroup = opts.numBeams / G;
  const alpha = opts.lengthPenalty ?? 1;
  const lambda = opts.diversityPenalty ?? 0;
  const maxNew = opts.maxNewTokens ?? 256;
  const stop = new Set(opts.stopTokens ?? []);
  const P = promptIds.length;
  const first = model.newCache(opts.cacheOptions);
  if ((first.evicts ? 0 : first.length) + P > model.contextLength)
    throw new Error(`the prompt (${P} tokens) does not fit the context length ${model.contextLength}`);

  let t0 = performance.now();
  const logits = model.forward(promptIds, first).f32().slice(); // a copy: beams hold theirs across forwards
  const prefillMs = performance.now() - t0;
  t0 = performance.now();
  const hyps = Array.from(
    { length: G },
    () => new BeamHypotheses(perGroup, alpha, opts.earlyStopping ?? false, maxNew),
  );
  // Every group starts from the one prefilled beam.
  let groups: Beam[][] = Array.from({ length: G }, () => [
    { tokens: [], sum: 0, logProb: 0, cache: first, logits },
  ]);
  const done = new Array<boolean>(G).fill(false);
  let caches: KVCache[] = [first];

  for (let step = 1; step <= maxNew; step++) {
    const chosen = new Map<number, number>(); // token → times earlier groups chose it this step
    const next: { group: number; parent: Beam; token: number; sum: number; logProb: number }[] = [];
    for (let g = 0; g < G; g++) {
      if (done[g]) continue;
      const beams = groups[g]!;
      const lps = beams.map((b) => logSoftmax(b.logits));
      const scores = lps.map((lp) => {
        if (lambda === 0 || chosen.size === 0) return lp;
        const s = Float64Array.from(lp);
        for (const [tok, n] of chosen) s[tok]! -= lambda * n;
        return s;
      });
      const cands = topCandidates(
        scores,
        beams.map((b) => b.sum),
        2 * perGroup,
      );
      let kept = 0;
      for (let rank = 0; rank < cands.length && kept < perGroup; rank++) {
        const c = cands[rank]!;
        const beam = beams[c.beam]!;
        const logProb = beam.logProb + lps[c.beam]![c.token]!;
        if (stop.has(c.token)) {
          if (rank >= perGroup) continue;
          const score = lengthNormalized(c.score, beam.tokens.length, alpha);
          hyps[g]!.add({ tokens: beam.tokens, logProb, score, finishReason: "stop" });
          continue;
        }
        next.push({ group: g, parent: beam, token: c.token, sum: c.score, logProb });
        chosen.set(c.token, (chosen.get(c.token) ?? 0) + 1);
        kept++;
      }
      const best = Math.max(...next.filter((n) => n.group === g).map((n) => n.sum));
      if (kept === 0 || hyps[g]!.isDone(best, step)) done[g] = true;
    }
    const live = next.filter((n) => !done[n.group]);
    const room = first.evicts || P + step <= model.contextLength;
    if (live.length === 0 || step === maxNew || !room) {
      for (let g = 0; g < G; g++) {
        if (done[g]) continue;
        for (const n of live.filter((x) => x.group === g)) {
          const tokens = [...n.parent.tokens, n.token];
          const score = lengthNormalized(n.sum, tokens.length, alpha);
          hyps[g]!.add({ tokens, logProb: n.logProb, score, finishReason: "length" });
        }
      }
      break;
    }
    const parents = live.map((n) => caches.indexOf(n.parent.cache));
    caches = reorderCaches(caches, parents, P);
    groups = Array.from({ length: G }, () => []);
    // Every live beam advances in one batched pass (one read of the weights for all of them).
    const outs = forwardEach(
      model,
      live.map((n, i) => ({ ids: [n.token], cache: caches[i]! })),
    );
    live.forEach((n, i) => {
      const cache = caches[i]!;
      const out = outs[i]!;
      groups[n.group]!.push({
        tokens: [...n.parent.tokens, n.token],
        sum: n.sum,
        logProb: n.logProb,
        cache,
        logits: out,
      });
    });
  }
  const decodeMs = performance.now() - t0;
  const all = hyps.flatMap((h) => h.sorted()).sort((a, b) => b.score - a.score);
  const cacheBytes = caches.reduce((s, c) => s + storedBytes(c), 0);
  const result: BeamSearchResult = {
    sequences: all.slice(0, opts.numReturnSequences ?? 1),
    promptTokens: P,
    prefillMs,
    decodeMs,
    cacheBytes,
    bytesPerToken: first.bytesPerToken,
  };
  for (const c of caches) c.release?.();
  return result;
}
