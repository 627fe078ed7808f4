// Beam reordering over one cache per beam: new beam i continues beam parents[i]. Each parent's first child takes
// the parent's cache as it is; further children copy it into caches no beam continues (or into clones), copying
// only positions after the prefix all beams share, so that the prompt is never run or copied again.

import type { KVCache } from "./kv-cache.js";

export function reorderCaches(
  caches: readonly KVCache[],
  parents: readonly number[],
  shared: number,
): KVCache[] {
  const taken = new Array<boolean>(caches.length).fill(false);
  const out = new Array<KVCache | undefined>(parents.length);
  parents.forEach((p, i) => {
    if (!Number.isInteger(p) || p < 0 || p >= caches.length)
      throw new Error(`reorder: beam ${i} has parent ${p}, outside 0..${caches.length - 1}`);
    if (!taken[p]) {
      taken[p] = true;
      out[i] = caches[p];
    }
  });
  const free = caches.filter((_, j) => !taken[j]);
  parents.forEach((p, i) => {
    if (out[i]) return;
    const src = caches[p]!;
    const dst = free.pop();
    if (dst) {
      if (!dst.copyFrom) throw new Error("reorder: this cache cannot be copied (no copyFrom)");
      dst.copyFrom(src, Math.min(shared, dst.length, src.length));
      out[i] = dst;
    } else {
      if (!src.clone) throw new Error("reorder: this cache cannot be cloned (no clone)");
      out[i] = src.clone();
    }
  });
  for (const c of free) c.release?.();
  return out as KVCache[];
}
