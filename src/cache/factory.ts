// One place that turns cache options (kind, sliding window, attention sinks) into a KVCache for a model's shape.

import { getCacheAllocator, type Allocator } from "../tensor/storage.js";
import { F32KVCache, type KVCache, type KVCacheShape } from "./kv-cache.js";
import { RowKVCache } from "./row-cache.js";
import { defaultGroupSize, KV_CACHE_KINDS, type KVCacheKind } from "./row-store.js";

export interface KVCacheOptions {
  /** Row storage: f32 (default), int8 or int4 with one scale per group. */
  readonly kind?: KVCacheKind;
  /** Values per quantization group (default 32 when a head splits into them, else one head). */
  readonly groupSize?: number;
  /** Keep only the last N positions (ring buffer); generation may then run past the context length. */
  readonly slidingWindow?: number;
  /** Always keep the first K positions (StreamingLLM); the window defaults to the context length minus K. */
  readonly attentionSinks?: number;
  /** int8/int4: also keep the last N positions in f32, read exactly (KIVI's residual; default 0). */
  readonly recentF32?: number;
  /** Windowed caches: keep this many extra ring slots so trim() can roll back rollback + 1 positions. */
  readonly rollback?: number;
  readonly allocator?: Allocator;
}

/**
 * A cache for `shape`. `modelWindow` is the model's own sliding window (0 = none): a cache window is capped
 * at it, and at the context length (minus the sinks), so attention never spans more than the model allows.
 */
export function makeKVCache(shape: KVCacheShape, opts: KVCacheOptions = {}, modelWindow = 0): KVCache {
  const kind = opts.kind ?? "f32";
  if (!KV_CACHE_KINDS.includes(kind))
    throw new Error(`kv cache kind must be one of ${KV_CACHE_KINDS.join(", ")}, got "${String(kind)}"`);
  const sinks = opts.attentionSinks ?? 0;
  if (!Number.isInteger(sinks) || sinks < 0 || sinks >= shape.maxLength)
    throw new Error(
      `attention sinks must be an integer in 0..${shape.maxLength - 1} (the context length minus one), got ${sinks}`,
    );
  const asked = opts.slidingWindow ?? 0;
  if (!Number.isInteger(asked) || asked < 0)
    throw new Error(`sliding window must be a non-negative integer, got ${asked}`);
  if (asked === 1 && sinks === 0)
    throw new Error("sliding window must be at least 2 (a window of 1 sees only the token itself)");
  let window = asked > 0 ? asked : sinks > 0 ? shape.maxLength - sinks : 0;
  if (modelWindow > 0 && window > modelWindow) window = modelWindow;
  if (window > shape.maxLength - sinks) window = shape.maxLength - sinks;
  const recentF32 = opts.recentF32 ?? 0;
  if (!Number.isInteger(recentF32) || recentF32 < 0)
    throw new Error(`recent f32 positions must be a non-negative integer, got ${recentF32}`);
  if (recentF32 > 0 && kind === "f32") throw new Error("recent f32 positions need an int8 or int4 cache");
  const allocator = opts.allocator ?? getCacheAllocator();
  if (kind === "f32" && window === 0) return new F32KVCache(shape, allocator);
  const groupSize = opts.groupSize ?? defaultGroupSize(shape.headDim);
  const rollback = window > 0 ? (opts.rollback ?? 0) : 0;
  return new RowKVCache(shape, { kind, groupSize, window, sinks, recentF32, rollback }, allocator);
}
