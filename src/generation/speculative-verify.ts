// Verification of drafted tokens (Leviathan et al. 2023, Chen et al. 2023): modified rejection sampling that
// keeps the target's distribution exactly — accept x with probability min(1, p(x)/q(x)), on the first rejection
// resample from norm(max(0, p − q)), after all accepted draw a bonus token from p. Greedy: accept while x = argmax.

import type { Rng } from "./rng.js";
import { argmax, softmaxCopy, type LogitsProcessor } from "./sampling.js";

/** Probability of accepting a drafted token with target probability p and draft probability q. */
export type AcceptRule = (p: number, q: number) => number;

/** The rule that provably keeps the target distribution. */
export const standardAccept: AcceptRule = (p, q) => (q > 0 ? Math.min(1, p / q) : 0);

export interface Verdict {
  /** Leading drafted tokens accepted. */
  readonly accepted: number;
  /** The token after them: the target's correction on a rejection, else the bonus token. */
  readonly next: number;
}

/** The distribution plain sampling draws from: softmax of the logits after the processors (on a copy). */
export function processedProbs(logits: Float32Array, chain: readonly LogitsProcessor[]): Float64Array {
  const l = Float32Array.from(logits);
  for (const p of chain) p(l);
  return softmaxCopy(l);
}

/** A draw from probabilities p (need not be normalized) with one uniform from rng, as sampleFrom draws. */
export function sampleProbs(p: Float64Array, rng: Rng): number {
  let total = 0;
  for (const v of p) total += v;
  const u = rng.next() * total;
  let cum = 0;
  let last = -1;
  for (let i = 0; i < p.length; i++) {
    if (!(p[i]! > 0)) continue;
    cum += p[i]!;
    last = i;
    if (u < cum) return i;
  }
  if (last < 0) throw new Error("speculative: cannot sample from an all-zero distribution");
  return last;
}

/** max(0, p − q) (unnormalized); q = null is a point mass at x. Falls back to p where p ≤ q everywhere. */
export function residual(p: Float64Array, q: Float64Array | null, x: number): Float64Array {
  const r = new Float64Array(p.length);
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const qi = q ? q[i]! : i === x ? 1 : 0;
    const d = p[i]! - qi;
    if (d > 0) {
      r[i] = d;
      sum += d;
    }
  }
  return sum > 0 ? r : Float64Array.from(p); // only reachable through rounding: p = q
}

/** Greedy verification on raw target logits rows [0..g]: accept while draft i equals the target's argmax. */
export function verifyGreedy(rows: readonly Float32Array[], drafts: readonly number[]): Verdict {
  let i = 0;
  for (; i < drafts.length; i++) {
    const best = argmax(rows[i]!);
    if (best !== drafts[i]) return { accepted: i, next: best };
  }
  return { accepted: i, next: argmax(rows[i]!) };
}

/**
 * Sampled verification: `p(i)` is the target's processed distribution at draft position i (0..g), `q[i]` the
 * draft's (null = deterministic draft). Uses one uniform per examined draft plus one for the final draw.
 */
export function verifySampled(
  p: (i: number) => Float64Array,
  drafts: readonly number[],
  q: readonly (Float64Array | null)[],
  rng: Rng,
  rule: AcceptRule = standardAccept,
): Verdict {
  for (let i = 0; i < drafts.length; i++) {
    const x = drafts[i]!;
    const pi = p(i);
    const qi = q[i] ?? null;
    const qx = qi ? qi[x]! : 1;
    if (rng.next() < rule(pi[x]!, qx)) continue;
    return { accepted: i, next: sampleProbs(residual(pi, qi, x), rng) };
  }
  return { accepted: drafts.length, next: sampleProbs(p(drafts.length), rng) };
}
