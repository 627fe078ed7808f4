// The small interface generation works against (mlx-lm's model contract): a causal LM that maps token
// ids plus a KV cache to next-token logits. Generation never sees a concrete architecture.

import type { KVCacheOptions } from "../cache/factory.js";
import type { KVCache } from "../cache/kv-cache.js";
import type { Tensor } from "../tensor/tensor.js";

export interface ForwardOptions {
  /** Return logits for every input position ([T, V]) instead of only the last ([1, V]). */
  readonly allLogits?: boolean;
}

export interface CausalLM {
  /** Architecture name as Hugging Face spells it (e.g. "LlamaForCausalLM"). */
  readonly architecture: string;
  readonly vocabSize: number;
  readonly contextLength: number;
  /** A fresh, empty KV cache sized for this model (f32 by default; quantized, windowed, with sinks). */
  newCache(opts?: KVCacheOptions): KVCache;
  /** Runs ids[0..T) at positions cache.length.., stores their keys/values, returns logits. */
  forward(ids: readonly number[], cache: KVCache, opts?: ForwardOptions): Tensor;
  /** Every stored weight, by checkpoint name (Hugging Face names and layouts). */
  readonly weights: ReadonlyMap<string, Tensor>;
  /** The Hugging Face style config this model was built from. */
  readonly config: Readonly<Record<string, unknown>>;
}

/** Last row of x [T, D] as [1, D] (a view). */
export function lastRow(x: Tensor): Tensor {
  const T = x.shape[0]!;
  return x.narrow(0, T - 1, 1);
}
