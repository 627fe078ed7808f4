// Score-driven bigram merging, the SentencePiece-BPE loop of llama.cpp's llm_tokenizer_spm and of
// llama2.c's encode: repeatedly merge the adjacent pair whose concatenation scores highest, leftmost
// first on ties, until no adjacent concatenation is in the vocabulary.

interface Bigram {
  score: number;
  left: number;
  right: number;
  /** Length of the merged text; a stale entry (a side merged elsewhere) no longer matches. */
  len: number;
}

/** Whether a should be popped before b: higher score, then leftmost. */
function before(a: Bigram, b: Bigram): boolean {
  return a.score > b.score || (a.score === b.score && a.left < b.left);
}

class BigramHeap {
  private items: Bigram[] = [];

  get size(): number {
    return this.items.length;
  }

  push(b: Bigram): void {
    const a = this.items;
    a.push(b);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  pop(): Bigram {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Merges `symbols` (the initial pieces, in order) by `score`, which returns the score of a piece in
 * the vocabulary or undefined when the concatenation may not be formed. Returns the final pieces.
 */
export function mergeByScore(symbols: readonly string[], score: (piece: string) => number | undefined): string[] {
  const n = symbols.length;
  const text = symbols.slice();
  const prev = Array.from({ length: n }, (_, i) => i - 1);
  const next = Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
  const heap = new BigramHeap();

  const tryAdd = (left: number, right: number): void => {
    if (left < 0 || right < 0) return;
    const merged = text[left]! + text[right]!;
    const s = score(merged);
    if (s !== undefined) heap.push({ score: s, left, right, len: merged.length });
  };

  for (let i = 1; i < n; i++) tryAdd(i - 1, i);
  while (heap.size > 0) {
    const { left, right, len } = heap.pop();
    const stale = text[left] === "" || next[left] !== right;
    if (stale || text[left]!.length + text[right]!.length !== len) continue;
    text[left] += text[right]!;
    text[right] = "";
    next[left] = next[right]!;
    if (next[right]! >= 0) prev[next[right]!] = left;
    tryAdd(prev[left]!, left);
    tryAdd(left, next[left]!);
  }

  const out: string[] = [];
  for (let i = n > 0 ? 0 : -1; i !== -1; i = next[i]!) out.push(text[i]!);
  return out;
}
