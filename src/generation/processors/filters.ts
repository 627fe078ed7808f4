// Truncation filters beyond top-k/top-p: min-p (Nguyen et al. 2024) and locally typical sampling (Meister et
// al. 2023), as Hugging Face's MinPLogitsWarper and TypicalLogitsWarper compute them.

import { softmaxCopy } from "../softmax.js";

/** Keeps tokens whose probability is at least p times the largest probability. */
export function minP(p: number): (logits: Float32Array) => void {
  if (!(p >= 0 && p <= 1)) throw new Error(`min-p must be in [0, 1], got ${p}`);
  return (l) => {
    if (p === 0) return;
    const probs = softmaxCopy(l);
    let max = 0;
    for (const v of probs) if (v > max) max = v;
    for (let i = 0; i < l.length; i++) if (probs[i]! < p * max) l[i] = -Infinity;
  };
}

/**
 * Keeps the tokens whose information content -log p is closest to the entropy, taken in that order until their
 * probability sums to at least p (ties with the last one kept; at least one token).
 */
export function typicalP(p: number): (logits: Float32Array) => void {
  if (!(p > 0 && p <= 1)) throw new Error(`typical-p must be in (0, 1], got ${p}`);
  return (l) => {
    if (p >= 1) return;
    const probs = softmaxCopy(l);
    let entropy = 0;
    for (const q of probs) if (q > 0) entropy -= q * Math.log(q);
    const shifted = Array.from(probs, (q) => (q > 0 ? Math.abs(-Math.log(q) - entropy) : Infinity));
    const order = Array.from(probs.keys()).sort((a, b) => shifted[a]! - shifted[b]! || a - b);
    let cum = 0;
    let last = 0;
    while (last < order.length - 1) {
      cum += probs[order[last]!]!;
      if (cum >= p) break;
      last++;
    }
    const cut = shifted[order[last]!]!;
    for (let i = 0; i < l.length; i++) if (shifted[i]! > cut) l[i] = -Infinity;
  };
}
