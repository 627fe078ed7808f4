// BLEU (Papineni et al. 2002) as sacreBLEU computes it (Post 2018): 13a tokenization, clipped n-gram matches up
// to 4 against the union of references, closest reference length for the brevity penalty, and for sentences the
// "exp" smoothing of mteval-v13a (Chen & Cherry 2014, method 3) with effective order. Scores are 0..100.

import { tokenize13a } from "./tokenize-13a.js";

const MAX_ORDER = 4;

export interface BleuStats {
  hypLen: number;
  refLen: number;
  /** Matched and total hypothesis n-grams for n = 1..4. */
  correct: number[];
  total: number[];
}

export interface BleuScore extends BleuStats {
  score: number;
  /** Percentages for n = 1..4. */
  precisions: number[];
  brevityPenalty: number;
}

export interface BleuOptions {
  /** "exp" (sentence default), "none" or "floor" / "add-k" with `smoothValue`. */
  readonly smooth?: "exp" | "none" | "floor" | "add-k";
  readonly smoothValue?: number;
  /** Average only the orders up to the last one with hypothesis n-grams (sentence default true). */
  readonly effectiveOrder?: boolean;
  readonly lowercase?: boolean;
}

function ngrams(tokens: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (let n = 1; n <= MAX_ORDER; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const g = tokens.slice(i, i + n).join(" ");
      m.set(g, (m.get(g) ?? 0) + 1);
    }
  }
  return m;
}

function words(s: string, lowercase: boolean): string[] {
  const t = tokenize13a((lowercase ? s.toLowerCase() : s).trimEnd());
  return t === "" ? [] : t.split(" ");
}

/** Sufficient statistics of one hypothesis against its references. */
export function bleuStats(hyp: string, refs: readonly string[], lowercase = false): BleuStats {
  if (refs.length === 0) throw new Error("bleu: no references");
  const refMax = new Map<string, number>();
  let refLen = -1;
  const h = words(hyp, lowercase);
  let diff = Infinity;
  for (const r of refs) {
    const rw = words(r, lowercase);
    const d = Math.abs(h.length - rw.length);
    if (d < diff || (d === diff && rw.length < refLen)) [diff, refLen] = [d, rw.length];
    for (const [g, c] of ngrams(rw)) refMax.set(g, Math.max(refMax.get(g) ?? 0, c));
  }
  const correct = new Array<number>(MAX_ORDER).fill(0);
  const total = new Array<number>(MAX_ORDER).fill(0);
  for (const [g, c] of ngrams(h)) {
    const n = g.split(" ").length - 1;
    total[n]! += c;
    correct[n]! += Math.min(c, refMax.get(g) ?? 0);
  }
  return { hypLen: h.length, refLen, correct, total };
}

const flooredLog = (x: number): number => (x === 0 ? -9999999999 : Math.log(x));

/** The score from (summed) statistics. */
export function bleuFromStats(s: BleuStats, o: BleuOptions = {}): BleuScore {
  const smooth = o.smooth ?? "exp";
  const value = o.smoothValue ?? (smooth === "floor" ? 0.1 : smooth === "add-k" ? 1 : 0);
  const correct = [...s.correct];
  const total = [...s.total];
  let bp = 1;
  if (s.hypLen < s.refLen) bp = s.hypLen > 0 ? Math.exp(1 - s.refLen / s.hypLen) : 0;
  const precisions = new Array<number>(MAX_ORDER).fill(0);
  const base = { ...s, correct, total, precisions, brevityPenalty: bp };
  if (!correct.some((c) => c > 0)) return { ...base, score: 0 };
  let mteval = 1;
  let order = MAX_ORDER;
  for (let n = 1; n <= MAX_ORDER; n++) {
    if (smooth === "add-k" && n > 1) {
      correct[n - 1]! += value;
      total[n - 1]! += value;
    }
    if (total[n - 1] === 0) break;
    if (o.effectiveOrder) order = n;
    if (correct[n - 1] === 0) {
      if (smooth === "exp") {
        mteval *= 2;
        precisions[n - 1] = 100 / (mteval * total[n - 1]!);
      } else if (smooth === "floor") precisions[n - 1] = (100 * value) / total[n - 1]!;
    } else precisions[n - 1] = (100 * correct[n - 1]!) / total[n - 1]!;
  }
  let logSum = 0;
  for (let n = 0; n < order; n++) logSum += flooredLog(precisions[n]!);
  return { ...base, score: bp * Math.exp(logSum / order) };
}

/** sacreBLEU's sentence_bleu: exp smoothing, effective order. */
export function sentenceBleu(hyp: string, refs: readonly string[], o: BleuOptions = {}): BleuScore {
  return bleuFromStats(bleuStats(hyp, refs, o.lowercase), { effectiveOrder: true, ...o });
}

/** sacreBLEU's corpus_bleu: statistics summed over segments; refs[k][i] is the k-th reference of segment i. */
export function corpusBleu(
  hyps: readonly string[],
  refs: readonly (readonly string[])[],
  o: BleuOptions = {},
): BleuScore {
  for (const r of refs) {
    if (r.length !== hyps.length)
      throw new Error(`bleu: ${hyps.length} hypotheses but a reference set of ${r.length}`);
  }
  const sum: BleuStats = { hypLen: 0, refLen: 0, correct: [0, 0, 0, 0], total: [0, 0, 0, 0] };
  hyps.forEach((h, i) => {
    const s = bleuStats(
      h,
      refs.map((r) => r[i]!),
      o.lowercase,
    );
    sum.hypLen += s.hypLen;
    sum.refLen += s.refLen;
    for (let n = 0; n < MAX_ORDER; n++) {
      sum.correct[n]! += s.correct[n]!;
      sum.total[n]! += s.total[n]!;
    }
  });
  return bleuFromStats(sum, o);
}
