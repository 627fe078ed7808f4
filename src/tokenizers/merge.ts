// Score-driven bigram merging, the SentencePiece-BPE loop of llama.cpp's llm_tokenizer_spm and of
// llama2.c's encode: repeatedly merge the adjacent pair whose concatenation scores highest, leftmost
// first on ties, until no adjacent concatenation is in the vocabulary.

/**
 * Max-heap of candidate merges (score, left, right, merged length) in parallel typed arrays: higher
 * score first, then leftmost. A stale entry (one side merged elsewhere) is skipped when popped.
 */
class BigramHeap {
  size = 0;
  private score = new Float64Array(64);
  private left = new Int32Array(64);
  private right = new Int32Array(64);
  private len = new Int32Array(64);
  /** The last popped entry. */
  topLeft = 0;
  topRight = 0;
  topLen = 0;

  private before(i: number, j: number): boolean {
    const a = this.score[i]!;
    const b = this.score[j]!;
    return a > b || (a === b && this.left[i]! < this.left[j]!);
  }

  private move(to: number, from: number): void {
    this.score[to] = this.score[from]!;
    this.left[to] = this.left[from]!;
    this.right[to] = this.right[from]!;
    this.len[to] = this.len[from]!;
  }

  private grow(): void {
    const cap = this.score.length * 2;
    const g = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.score = g(this.score, (n) => new Float64Array(n));
    this.left = g(this.left, (n) => new Int32Array(n));
    this.right = g(this.right, (n) => new Int32Array(n));
    this.len = g(this.len, (n) => new Int32Array(n));
  }

  push(score: number, left: number, right: number, len: number): void {
    if (this.size + 1 >= this.score.length) this.grow();
    // Stage the new entry in the spare slot at the end, then sift the hole up.
    const spare = this.score.length - 1;
    this.score[spare] = score;
    this.left[spare] = left;
    this.right[spare] = right;
    this.len[spare] = len;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(spare, p)) break;
      this.move(i, p);
      i = p;
    }
    this.move(i, spare);
  }

  pop(): void {
    this.topLeft = this.left[0]!;
    this.topRight = this.right[0]!;
    this.topLen = this.len[0]!;
    const n = --this.size;
    if (n === 0) return;
    const spare = this.score.length - 1;
    this.move(spare, n);
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.before(c + 1, c)) c++;
      if (!this.before(c, spare)) break;
      this.move(i, c);
      i = c;
    }
    this.move(i, spare);
  }
}

/**
 * Merges `symbols` (the initial pieces, in order) by `score`, which returns the score of a piece in
 * the vocabulary or undefined when the concatenation may not be formed. Returns the final pieces.
 */
export function mergeByScore(
  symbols: readonly string[],
  score: (piece: string) => number | undefined,
): string[] {
  const n = symbols.length;
  const text = symbols.slice();
  const prev = Array.from({ length: n }, (_, i) => i - 1);
  const next = Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
  const heap = new BigramHeap();

  const tryAdd = (left: number, right: number): void => {
    if (left < 0 || right < 0) return;
    const merged = text[left]! + text[right]!;
    const s = score(merged);
    if (s !== undefined) heap.push(s, left, right, merged.length);
  };

  for (let i = 1; i < n; i++) tryAdd(i - 1, i);
  while (heap.size > 0) {
    heap.pop();
    const { topLeft: left, topRight: right, topLen: len } = heap;
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
