// Order statistics for the truncation filters without sorting a whole vocabulary (a native sort of 32000 values
// costs about 3.3 ms here, more than a decoding step of a small model): the k-th largest value through a min-heap
// of k entries, and a lazy largest-first walk through a binary max-heap built in place (O(n) to build, O(log n)
// per value taken). Both give exactly what a full sort gives, duplicates included; inputs with NaN take the sort.

function hasNaN(v: ArrayLike<number>): boolean {
  for (let i = 0; i < v.length; i++) if (v[i] !== v[i]) return true;
  return false;
}

/** The k-th largest of `values` (1 ≤ k ≤ length), counting duplicates, as sorting descending and taking [k - 1]. */
export function kthLargest(values: ArrayLike<number>, k: number): number {
  const n = values.length;
  if (!(k >= 1 && k <= n)) throw new RangeError(`kthLargest: k = ${k} outside [1, ${n}]`);
  if (k > 256 || hasNaN(values)) return Float64Array.from(values).sort().reverse()[k - 1]!;
  // min-heap of the k largest seen so far; its root is the k-th largest
  const h = new Float64Array(k);
  for (let i = 0; i < k; i++) siftUp(h, i, values[i]!);
  for (let i = k; i < n; i++) {
    const v = values[i]!;
    if (v > h[0]!) siftDownMin(h, k, v);
  }
  return h[0]!;
}

function siftUp(h: Float64Array, i: number, v: number): void {
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]! <= v) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = v;
}

/** Replaces the root of min-heap h[0..n) by v and restores the heap. */
function siftDownMin(h: Float64Array, n: number, v: number): void {
  let i = 0;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && h[c + 1]! < h[c]!) c++;
    if (h[c]! >= v) break;
    h[i] = h[c]!;
    i = c;
  }
  h[i] = v;
}

/**
 * Values taken from the heap before the rest is sorted at once: a flat distribution (a random model's) walks most
 * of the vocabulary, where popping one at a time costs more than the sort.
 */
const HEAP_TAKES = 1024;

/** Values largest first, taken one at a time; `next()` is undefined once all are taken. */
export interface Descending {
  next(): number | undefined;
}

/** A largest-first walk over `values` (copied), as iterating a descending sort. */
export function descending(values: ArrayLike<number>): Descending {
  if (hasNaN(values)) {
    const sorted = Float64Array.from(values).sort().reverse();
    let i = 0;
    return { next: () => (i < sorted.length ? sorted[i++] : undefined) };
  }
  const h = Float64Array.from(values);
  let n = h.length;
  for (let i = (n >> 1) - 1; i >= 0; i--) siftDownMax(h, n, i, h[i]!);
  let taken = 0;
  let rest: Float64Array | null = null; // past HEAP_TAKES values: the remainder, sorted largest first
  let at = 0;
  return {
    next(): number | undefined {
      if (rest) return at < rest.length ? rest[at++] : undefined;
      if (n === 0) return undefined;
      if (++taken > HEAP_TAKES) {
        rest = h.subarray(0, n).sort().reverse();
        return rest[at++];
      }
      const top = h[0]!;
      n--;
      if (n > 0) siftDownMax(h, n, 0, h[n]!);
      return top;
    },
  };
}

/** Places v at position i of max-heap h[0..n) and sifts it down. */
function siftDownMax(h: Float64Array, n: number, i: number, v: number): void {
  for (;;) {
    let c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && h[c + 1]! > h[c]!) c++;
    if (h[c]! <= v) break;
    h[i] = h[c]!;
    i = c;
  }
  h[i] = v;
}
