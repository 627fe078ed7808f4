// chrF (Popović 2015) as sacreBLEU computes it: character n-grams of orders 1..6 with whitespace removed, the
// precision and recall averaged over the orders that exist on both sides, then F-beta with beta = 2. Scores are
// 0..100; with several references the one giving the best F counts.

export interface ChrfOptions {
  readonly charOrder?: number;
  readonly beta?: number;
}

/** Per order [hyp n-grams, ref n-grams, matches], flattened. */
export type ChrfStats = number[];

function charNgrams(s: string, order: number): Map<string, number>[] {
  const chars = Array.from(s.split(/\s+/).join(""));
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= order; n++) {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= chars.length; i++) {
      const g = chars.slice(i, i + n).join("");
      m.set(g, (m.get(g) ?? 0) + 1);
    }
    out.push(m);
  }
  return out;
}

function matchStats(h: Map<string, number>, r: Map<string, number>): [number, number, number] {
  let hyp = 0;
  let match = 0;
  for (const [g, c] of h) {
    hyp += c;
    match += Math.min(c, r.get(g) ?? 0);
  }
  let ref = 0;
  for (const c of r.values()) ref += c;
  return [r.size > 0 ? hyp : 0, ref, match];
}

/** chrF from (summed) statistics. */
export function chrfFromStats(stats: ChrfStats, beta = 2): number {
  const f = beta * beta;
  let prec = 0;
  let rec = 0;
  let orders = 0;
  for (let i = 0; i + 2 < stats.length; i += 3) {
    const [nh, nr, nm] = [stats[i]!, stats[i + 1]!, stats[i + 2]!];
    if (nh > 0 && nr > 0) {
      prec += nm / nh;
      rec += nm / nr;
      orders++;
    }
  }
  if (orders === 0) return 0;
  prec /= orders;
  rec /= orders;
  return prec + rec > 0 ? (100 * (1 + f) * prec * rec) / (f * prec + rec) : 0;
}

/** Statistics of one hypothesis against the best-matching reference. */
export function chrfStats(hyp: string, refs: readonly string[], o: ChrfOptions = {}): ChrfStats {
  const order = o.charOrder ?? 6;
  if (!Number.isInteger(order) || order < 1)
    throw new Error(`chrf: char order must be a positive integer, got ${order}`);
  if (refs.length === 0) throw new Error("chrf: no references");
  const h = charNgrams(hyp, order);
  let best: ChrfStats = [];
  let bestF = -1;
  for (const r of refs) {
    const rg = charNgrams(r, order);
    const stats = h.flatMap((hm, n) => matchStats(hm, rg[n]!));
    const f = chrfFromStats(stats, o.beta ?? 2);
    if (f > bestF) [best, bestF] = [stats, f];
  }
  return best;
}

export function sentenceChrf(hyp: string, refs: readonly string[], o: ChrfOptions = {}): number {
  return chrfFromStats(chrfStats(hyp, refs, o), o.beta ?? 2);
}

/** Statistics summed over segments; refs[k][i] is the k-th reference of segment i. */
export function corpusChrf(
  hyps: readonly string[],
  refs: readonly (readonly string[])[],
  o: ChrfOptions = {},
): number {
  let sum: number[] = [];
  hyps.forEach((h, i) => {
    const s = chrfStats(
      h,
      refs.map((r) => r[i]!),
      o,
    );
    sum = sum.length ? sum.map((v, k) => v + s[k]!) : s;
  });
  return chrfFromStats(sum, o.beta ?? 2);
}
