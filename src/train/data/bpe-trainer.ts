// Byte-level BPE training (Sennrich et al. 2016 over GPT-2's bytes): pre-tokenize with GPT-2's regex, count words,
// then repeatedly merge the most frequent adjacent pair, with pair counts kept incrementally over word frequencies
// (only words holding the merged pair are revisited) and a lazy max-heap to find the next pair.

import { utf8Encode } from "../../tokenizers/bytes.js";
import { GPT2_PATTERN } from "../../tokenizers/bpe.js";

export interface BpeMerges {
  /** Merges in order: merge i joins symbols a and b into symbol 256 + i (symbols 0..255 are bytes). */
  readonly merges: readonly (readonly [number, number])[];
}

const KEY = 1 << 16; // pair key = a * KEY + b; symbols stay below 2^16

/** A max-heap of [count, pair] by count, ties to the smaller pair (so training is deterministic). */
class PairHeap {
  private readonly counts: number[] = [];
  private readonly keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j]!, this.counts[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    for (let i = this.keys.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): [number, number] {
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    const lastC = this.counts.pop()!;
    const lastK = this.keys.pop()!;
    if (this.keys.length > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.keys.length && this.above(l, m)) m = l;
        if (r < this.keys.length && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** Word → frequency over GPT-2 pre-tokens of each text. */
export function countWords(texts: Iterable<string>): Map<string, number> {
  const words = new Map<string, number>();
  const re = new RegExp(GPT2_PATTERN.source, "gu");
  for (const text of texts) for (const m of text.matchAll(re)) words.set(m[0], (words.get(m[0]) ?? 0) + 1);
  return words;
}

/**
 * Learns `nMerges` merges (fewer if the words run out of pairs) from word frequencies. The pair merged each
 * time is the most frequent one; ties go to the pair whose first symbol, then second, has the smaller id.
 */
export function trainBpeMerges(words: ReadonlyMap<string, number>, nMerges: number): BpeMerges {
  if (!(Number.isSafeInteger(nMerges) && nMerges >= 0)) throw new Error(`bpe: bad merge count ${nMerges}`);
  if (256 + nMerges > KEY) throw new Error(`bpe: at most ${KEY - 256} merges`);
  const syms: number[][] = [];
  const freq: number[] = [];
  for (const [w, f] of words) {
    syms.push(Array.from(utf8Encode(w)));
    freq.push(f);
  }
  const count = new Map<number, number>();
  const where = new Map<number, Set<number>>(); // pair → words that held it (some may no longer)
  syms.forEach((s, w) => {
    for (let i = 0; i + 1 < s.length; i++) {
      const k = s[i]! * KEY + s[i + 1]!;
      count.set(k, (count.get(k) ?? 0) + freq[w]!);
      let set = where.get(k);
      if (!set) where.set(k, (set = new Set()));
      set.add(w);
    }
  });
  const heap = new PairHeap();
  for (const [k, c] of count) heap.push(c, k);
  const merges: [number, number][] = [];
  while (merges.length < nMerges && heap.size > 0) {
    const [c, k] = heap.pop();
    if (count.get(k) !== c) continue; // stale entry
    const a = Math.floor(k / KEY);
    const b = k % KEY;
    const id = 256 + merges.length;
    merges.push([a, b]);
    const delta = new Map<number, number>();
    const add = (key: number, d: number, w: number) => {
      delta.set(key, (delta.get(key) ?? 0) + d);
      if (d > 0) {
        let set = where.get(key);
        if (!set) where.set(key, (set = new Set()));
        set.add(w);
      }
    };
    for (const w of where.get(k)!) {
      const s = syms[w]!;
      const f = freq[w]!;
      const out: number[] = [];
      let changed = false;
      for (let i = 0; i < s.length;) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          out.push(id);
          i += 2;
          changed = true;
        } else out.push(s[i++]!);
      }
      if (!changed) continue;
      for (let i = 0; i + 1 < s.length; i++) add(s[i]! * KEY + s[i + 1]!, -f, w);
      for (let i = 0; i + 1 < out.length; i++) add(out[i]! * KEY + out[i + 1]!, f, w);
      syms[w] = out;
    }
    for (const [key, d] of delta) {
      if (d === 0) continue;
      const n = (count.get(key) ?? 0) + d;
      if (n > 0) {
        count.set(key, n);
        heap.push(n, key);
      } else {
        count.delete(key);
        where.delete(key);
      }
    }
    count.delete(k);
    where.delete(k);
  }
  return { merges };
}
