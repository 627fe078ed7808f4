// The small interface generation works against (mlx-lm's model contract): a causal LM that maps token
// ids plus a KV cache to next-token logits. Generation never sees a concrete architecture.

import type { KVCacheOptions } from "../cache/factory.js";
import type { KVCache } from "../cache/kv-cache.js";
import { hasFrames, inFrame } from "../tensor/storage.js";
import { Tensor } from "../tensor/tensor.js";

export interface ForwardOptions {
  /** Return logits for every input position ([T, V]) instead of only the last ([1, V]). */
  readonly allLogits?: boolean;
  /** Receives the last layer's hidden states after the final norm, for every input position ([T, D]). */
  readonly onHidden?: (hidden: Tensor) => void;
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

/**
 * Runs a forward pass with its activations on the backend's frame stack (tensor/storage.ts) and returns its
 * result copied to the current allocator, so that nothing it returns points into released frames.
 */
export function framed(fn: () => Tensor): Tensor {
  if (!hasFrames()) return fn();
  return inFrame(() => {
    const y = fn();
    return Tensor.fromArray(y.contiguous().f32(), y.shape);
  });
}

/** t itself, or a copy on the current allocator when t may live in a frame (for values handed to callers). */
export function outOfFrame(t: Tensor): Tensor {
  return hasFrames() ? Tensor.fromArray(t.contiguous().f32(), t.shape) : t;
}

/**
 * x ← fn() for one residual block inside framed(): fn's temporaries are released at once and its result is
 * copied into x (same shape, contiguous), so a forward pass holds one block's activations at a time.
 */
export function residualStep(x: Tensor, fn: () => Tensor): Tensor {
  if (!hasFrames()) return fn();
  return inFrame(() => {
    const y = fn();
    if (y.size !== x.size || !x.isContiguous()) throw new Error("residualStep: shapes differ");
    x.f32().set(y.contiguous().f32());
    return x;
  });
}
