// Small test utilities shared across suites: a seeded float generator and an allocator that records requests.

import type { Allocator } from "../../src/tensor/storage.js";

/** mulberry32: a small seeded generator of floats in [0, 1), so failures reproduce. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An allocator that records every request and refuses anything above `max` bytes. */
export function countingAllocator(max = 1 << 24): Allocator & { requests: number[] } {
  const requests: number[] = [];
  return {
    requests,
    alloc(n: number) {
      requests.push(n);
      if (n > max) throw new Error(`test allocator: refusing ${n} bytes`);
      return new Uint8Array(n);
    },
  };
}
