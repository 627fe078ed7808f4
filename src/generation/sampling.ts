// Logits processors and the final pick, as small composable functions (llama.cpp's sampler chain, mlx-lm's
// make_sampler): temperature, top-k, top-p (Holtzman et al. 2020), then argmax or a seeded multinomial draw.

import type { Rng } from "./rng.js";

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
    const sorted = Float32Array.from(l).sort().reverse();
    const cut = sorted[k - 1]!;
    for (let i = 0; i < l.length; i++) if (l[i]! < cut) l[i] = -Infinity;
  };
}

/** Keeps the smallest set of most likely tokens whose probability sums to at least p; ties go to the lower id. */
export function topP(p: number): LogitsProcessor {
  if (!(p > 0 && p <= 1)) throw new Error(`top-p must be in (0, 1], got ${p}`);
  return (l) => {
    if (p >= 1) return;
    const probs = softmaxCopy(l);
    const sorted = Float64Array.from(probs).sort(); // ascending; a native sort, no comparator
    let cum = 0;
    let cut = 0;
    let ties = 0; // how many tokens of probability `cut` the nucleus takes (lowest ids first)
    for (let i = sorted.length - 1; i >= 0; i--) {
      cum += sorted[i]!;
      ties = sorted[i] === cut ? ties + 1 : 1;
      cut = sorted[i]!;
      if (cum >= p) break;
    }
    for (let i = 0; i < l.length; i++) {
      if (probs[i]! > cut) continue;
      if (probs[i] === cut && ties > 0) ties--;
      else l[i] = -Infinity;
    }
  };
}

export function softmaxCopy(l: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of l) if (v > max) max = v;
  const out = new Float64Array(l.length);
  let sum = 0;
  for (let i = 0; i < l.length; i++) {
    const e = l[i] === -Infinity ? 0 : Math.exp(l[i]! - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < l.length; i++) out[i]! /= sum;
  return out;
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

export interface SamplerOptions {
  /** 0 (the default) means greedy. */
  readonly temperature?: number;
  readonly topK?: number;
  readonly topP?: number;
}

/** The processor chain for these options, in the order temperature → top-k → top-p; topK 0 and topP 1 mean off. */
export function processorsFor(o: SamplerOptions): LogitsProcessor[] {
  const chain: LogitsProcessor[] = [];
  if (o.temperature && o.temperature > 0) chain.push(temperature(o.temperature));
  if (o.topK !== undefined && o.topK !== 0) chain.push(topK(o.topK));
  if (o.topP !== undefined && o.topP !== 1) chain.push(topP(o.topP));
  return chain;
}

/** Picks the next token: greedy when temperature is 0 or unset, else sampled after the processors. */
export function makeSampler(o: SamplerOptions, rng: Rng): (logits: Float32Array) => number {
  if (o.temperature !== undefined && (o.temperature < 0 || !Number.isFinite(o.temperature))) {
    throw new Error(`temperature must be >= 0, got ${o.temperature}`);
  }
  const chain = processorsFor(o);
  if (!o.temperature) return argmax;
  return (logits) => {
    const l = Float32Array.from(logits);
    for (const p of chain) p(l);
    return sampleFrom(l, rng);
  };
}
