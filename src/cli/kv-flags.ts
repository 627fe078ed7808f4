// The KV-cache flags of `decoderkit generate`: --kv-cache f32|int8|int4, --sliding-window N, --attention-sinks K,
// --kv-f32-recent N.

import type { KVCacheOptions } from "../cache/factory.js";
import type { KVCache } from "../cache/kv-cache.js";
import { KV_CACHE_KINDS, type KVCacheKind } from "../cache/row-store.js";
import type { CausalLM } from "../models/model.js";
import { isPosInt, num, UsageError, type Options } from "./args.js";

export const KV_FLAGS: Options = {
  "kv-cache": { type: "string" },
  "sliding-window": { type: "string" },
  "attention-sinks": { type: "string" },
  "kv-f32-recent": { type: "string" },
};

export const KV_HELP = `  --kv-cache KIND        f32 | int8 | int4 (an f16 scale and minimum per 32 values
                         of a head, or per head when shorter; default f32)
  --sliding-window N     keep only the last N positions (N >= 2); generation then runs past the context
  --attention-sinks K    keep the first K positions plus a window (StreamingLLM); the window defaults to
                         the context length minus K
  --kv-f32-recent N      int8/int4: also keep the last N positions in f32, read exactly (default 0)
`;

export function kvCacheFlags(v: Record<string, unknown>): KVCacheOptions {
  const kind = v["kv-cache"];
  if (kind !== undefined && !KV_CACHE_KINDS.includes(String(kind) as KVCacheKind))
    throw new UsageError(`--kv-cache must be one of ${KV_CACHE_KINDS.join(", ")}, got "${String(kind)}"`);
  const slidingWindow = num(
    v["sliding-window"],
    "sliding-window",
    (n) => isPosInt(n) && n >= 2,
    "an integer >= 2",
  );
  const attentionSinks = num(v["attention-sinks"], "attention-sinks", isPosInt, "a positive integer");
  const recentF32 = num(v["kv-f32-recent"], "kv-f32-recent", isPosInt, "a positive integer");
  if (recentF32 !== undefined && (kind === undefined || kind === "f32"))
    throw new UsageError("--kv-f32-recent needs --kv-cache int8 or int4");
  return { kind: (kind as KVCacheKind | undefined) ?? "f32", slidingWindow, attentionSinks, recentF32 };
}

/** model.newCache(opts), with options the model cannot take (too many sinks, GPT-2 windows) as usage errors. */
export function newCacheFromFlags(model: CausalLM, opts: KVCacheOptions): KVCache {
  try {
    return model.newCache(opts);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
