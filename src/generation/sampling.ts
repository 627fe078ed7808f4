// Logits processors and the final pick, as small composable functions (llama.cpp's sampler chain, mlx-lm's
// make_sampler): context processors (penalties, constraints; processors/), then temperature, top-k, top-p
// (Holtzman et al. 2020), min-p, typical-p, then argmax or a seeded multinomial draw.

import { contextProcessorsFor, type ProcessorOptions } from "./processors/chain.js";
import type { ContextProcessor, DecodeContext } from "./processors/context.js";
import { minP, typicalP } from "./processors/filters.js";
import type { Rng } from "./rng.js";
import { descending, kthLargest } from "./processors/select.js";
import { softmaxCopy } from "./softmax.js";

export { softmaxCopy } from "./softmax.js";

/** A processor rewrites logits in place (masked entries become -Infinity). */
export type LogitsProcessor = (logits: Float32Array) => void;

export function temperature(t: number): LogitsProcessor {
  if (!(t > 0) || !Number.isFinite(t)) throw new Error(`temperature must be > 0, got ${t}`);
  return (l) => {
    for (let i = 0; i < l.length; i++) l[i]! /= t;
  };
}

/** Keeps the k largest logits (ties at the k-th value are kept). */
export function topK(k: number): LogitsProcessor {
  if (!Number.isInteger(k) || k < 1) throw new Error(`top-k must be a positive integer, got ${k}`);
  return (l) => {
    if (k >= l.length) return;
    const cut = kthLargest(l, k);
    for (let i = 0; i < l.length; i++) if (l[i]! < cut) l[i] = -Infinity;
  };
}

/** Keeps the smallest set of most likely tokens whose probability sums to at least p; ties go to the lower id. */
export function topP(p: number): LogitsProcessor {
  if (!(p > 0 && p <= 1)) throw new Error(`top-p must be in (0, 1], got ${p}`);
  return (l) => {
    if (p >= 1) return;
    const probs = softmaxCopy(l);
    const order = descending(probs); // largest first, without sorting the whole vocabulary
    let cum = 0;
    let cut = 0;
    let ties = 0; // how many tokens of probability `cut` the nucleus takes (lowest ids first)
    for (let q = order.next(); q !== undefined; q = order.next()) {
      cum += q;
      ties = q === cut ? ties + 1 : 1;
      cut = q;
      if (cum >= p) break;
    }
    for (let i = 0; i < l.length; i++) {
      if (probs[i]! > cut) continue;
      if (probs[i] === cut && ties > 0) ties--;
      else l[i] = -Infinity;
    }
  };
}

/** Index of the largest logit; the first one on ties. */
export function argmax(l: Float32Array): number {
  let best = 0;
  for (let i = 1; i < l.length; i++) if (l[i]! > l[best]!) best = i;
  return best;
}

/** A draw from softmax(l) using one uniform number from rng. */
export function sampleFrom(l: Float32Array, rng: Rng): number {
  const p = softmaxCopy(l);
  const u = rng.next();
  let cum = 0;
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    cum += p[i]!;
    last = i;
    if (u < cum) return i;
  }
  return last;
}

export interface SamplerOptions extends ProcessorOptions {
  /** 0 (the default) means greedy. */
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
}

/** The sampling filters for these options: temperature → top-k → top-p → min-p → typical-p; topK 0, topP 1, minP 0, typicalP 1 mean off. */
export function processorsFor(o: SamplerOptions): LogitsProcessor[] {
  const chain: LogitsProcessor[] = [];
  if (o.temperature && o.temperature > 0) chain.push(temperature(o.temperature));
  if (o.topK !== undefined && o.topK !== 0) chain.push(topK(o.topK));
  if (o.topP !== undefined && o.topP !== 1) chain.push(topP(o.topP));
  if (o.minP !== undefined && o.minP !== 0) chain.push(minP(o.minP));
  if (o.typicalP !== undefined && o.typicalP !== 1) chain.push(typicalP(o.typicalP));
  return chain;
}

/** Picks the next token from a logits row; `ctx` is needed when context processors are configured. */
export type Sampler = (logits: Float32Array, ctx?: DecodeContext) => number;

/** Runs the context processors on a copy of the logits. */
export function applyContext(
  logits: Float32Array,
  chain: readonly ContextProcessor[],
  ctx: DecodeContext | undefined,
): Float32Array {
  if (!ctx) throw new Error("sampler: penalties and constraints need the decoding context");
  const l = Float32Array.from(logits);
  for (const p of chain) p(l, ctx);
  return l;
}

function checkNotAllMasked(l: Float32Array): void {
  for (const v of l) if (v !== -Infinity) return;
  throw new Error("sampler: every token is masked by the processors");
}

/**
 * Picks the next token: the context processors, then argmax when temperature is 0 or unset, else the sampling
 * filters and a draw. Without context processors the caller's logits are read as they are.
 */
export function makeSampler(o: SamplerOptions, rng: Rng): Sampler {
  if (o.temperature !== undefined && (o.temperature < 0 || !Number.isFinite(o.temperature))) {
    throw new Error(`temperature must be >= 0, got ${o.temperature}`);
  }
  const chain = processorsFor(o);
  const ctxChain = contextProcessorsFor(o);
  if (!o.temperature) {
    if (ctxChain.length === 0) return argmax;
    return (logits, ctx) => {
      const l = applyContext(logits, ctxChain, ctx);
      checkNotAllMasked(l);
      return argmax(l);
    };
  }
  return (logits, ctx) => {
    const l = ctxChain.length ? applyContext(logits, ctxChain, ctx) : Float32Array.from(logits);
    for (const p of chain) p(l);
    checkNotAllMasked(l);
    return sampleFrom(l, rng);
  };
}
