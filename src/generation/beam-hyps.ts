// Finished beam-search hypotheses in a bounded min-heap (Hugging Face's BeamHypotheses): the `size` best by
// length-normalized score, score = sum log p / length^alpha, and the test of whether the search may stop.

export type EarlyStopping = boolean | "never";

export interface Hypothesis {
  /** Generated tokens, without the stop token that ended them. */
  readonly tokens: readonly number[];
  /** Sum of log p of the tokens (and of the stop token, when one ended it). */
  readonly logProb: number;
  /** Beam score (logProb plus any diversity penalties) / length^alpha. */
  readonly score: number;
  readonly finishReason: "stop" | "length";
}

/** sum / length^alpha, the length being the generated tokens without the stop token (at least 1). */
export function lengthNormalized(sum: number, length: number, alpha: number): number {
  return sum / Math.pow(Math.max(1, length), alpha);
}

export class BeamHypotheses {
  private readonly heap: Hypothesis[] = []; // min-heap by score: heap[0] is the worst kept

  constructor(
    readonly size: number,
    readonly alpha: number,
    readonly earlyStopping: EarlyStopping,
    readonly maxLength: number,
  ) {}

  get count(): number {
    return this.heap.length;
  }

  get worstScore(): number {
    return this.heap.length ? this.heap[0]!.score : -Infinity;
  }

  add(h: Hypothesis): void {
    const a = this.heap;
    if (a.length < this.size) {
      a.push(h);
      let i = a.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (a[p]!.score <= a[i]!.score) break;
        [a[p], a[i]] = [a[i]!, a[p]!];
        i = p;
      }
      return;
    }
    if (h.score <= a[0]!.score) return;
    a[0] = h;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && a[l]!.score < a[m]!.score) m = l;
      if (r < a.length && a[r]!.score < a[m]!.score) m = r;
      if (m === i) break;
      [a[m], a[i]] = [a[i]!, a[m]!];
      i = m;
    }
  }

  /**
   * Whether no running beam can still enter: full, and early stopping, or the best running sum `bestSum` at
   * `curLength` tokens cannot beat the worst kept (false: judged at the current length, as Hugging Face's
   * heuristic; "never": at the best length still reachable, exact for log-probabilities <= 0).
   */
  isDone(bestSum: number, curLength: number): boolean {
    if (this.heap.length < this.size) return false;
    if (this.earlyStopping === true) return true;
    const len = this.earlyStopping === "never" && this.alpha > 0 ? this.maxLength : curLength;
    return this.worstScore >= lengthNormalized(bestSum, len, this.alpha);
  }

  /** Best first. */
  sorted(): Hypothesis[] {
    return [...this.heap].sort((x, y) => y.score - x.score);
  }
}
