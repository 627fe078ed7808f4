// The small interface generation works against (mlx-lm's model contract): a causal LM that maps token
// ids plus a KV cache to next-token logits. Generation never sees a concrete architecture.

import type { KVCacheOptions } from "../cache/factory.js";
import type { KVCache } from "../cache/kv-cache.js";
import { isGradEnabled } from "../tensor/grad.js";
import { hasFrames, inFrame } from "../tensor/storage.js";
import * as ops from "../tensor/ops.js";
import { Tensor } from "../tensor/tensor.js";

export interface ForwardOptions {
  /** Return logits for every input position ([T, V]) instead of only the last ([1, V]). */
  readonly allLogits?: boolean;
  /** Receives the last layer's hidden states after the final norm, for every input position ([T, D]). */
  readonly onHidden?: (hidden: Tensor) => void;
}

/** One sequence of a batched forward: its new ids and its own cache. */
export interface BatchItem {
  readonly ids: readonly number[];
  readonly cache: KVCache;
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
  /**
   * Several sequences in one pass, each with its own cache (beams, candidates): the projections and MLPs run
   * over all their rows at once (one read of the weights), attention per sequence. Returns each sequence's
   * last-position logits, [B, V]. Optional: forwardEach falls back to one forward per sequence.
   */
  forwardBatch?(items: readonly BatchItem[]): Tensor;
  /** Every stored weight, by checkpoint name (Hugging Face names and layouts). */
  readonly weights: ReadonlyMap<string, Tensor>;
  /** The Hugging Face style config this model was built from. */
  readonly config: Readonly<Record<string, unknown>>;
}

/** Rows [start, start + T) of a batch pass that belong to one sequence (with that sequence's cache). */
export interface Segment {
  readonly cache: KVCache;
  readonly start: number;
  readonly T: number;
}

/** The segments of a batch of items laid out one after another, and their concatenated ids. */
export function segmentsOf(items: readonly BatchItem[]): { segs: Segment[]; ids: number[] } {
  const segs: Segment[] = [];
  const ids: number[] = [];
  for (const it of items) {
    if (it.ids.length === 0) throw new Error("forward: no tokens");
    if (segs.some((s) => s.cache === it.cache)) throw new Error("forwardBatch: two sequences share a cache");
    segs.push({ cache: it.cache, start: ids.length, T: it.ids.length });
    ids.push(...it.ids);
  }
  return { segs, ids };
}

/** Each segment's positions (cache.length onwards), concatenated. */
export function segmentPositions(segs: readonly Segment[]): number[] {
  return segs.flatMap((s) => Array.from({ length: s.T }, (_, i) => s.cache.length + i));
}

/**
 * Attention for each segment of a batch: `attend` gets the segment's rows of q, k, v (views) and its cache,
 * and the results are stacked back in order. One segment: no copies.
 */
export function attendSegments(
  segs: readonly Segment[],
  q: Tensor,
  k: Tensor,
  v: Tensor,
  attend: (q: Tensor, k: Tensor, v: Tensor, seg: Segment) => Tensor,
): Tensor {
  if (segs.length === 1) return attend(q, k, v, segs[0]!);
  return ops.concatRows(
    segs.map((s) =>
      attend(q.narrow(0, s.start, s.T), k.narrow(0, s.start, s.T), v.narrow(0, s.start, s.T), s),
    ),
  );
}

/** The last row of each segment of x [N, D] → [B, D]. */
export function lastRows(x: Tensor, segs: readonly Segment[]): Tensor {
  if (segs.length === 1) return lastRow(x);
  return ops.concatRows(segs.map((s) => x.narrow(0, s.start + s.T - 1, 1)));
}

/** Last-position logits of each item: one forwardBatch when the model has it, else one forward each. */
export function forwardEach(model: CausalLM, items: readonly BatchItem[]): Float32Array[] {
  if (items.length === 0) return [];
  if (model.forwardBatch && items.length > 1) {
    const out = model.forwardBatch(items).f32();
    const V = model.vocabSize;
    return items.map((_, i) => out.slice(i * V, (i + 1) * V));
  }
  return items.map((it) => model.forward(it.ids, it.cache).f32().slice());
}

/** Last row of x [T, D] as [1, D] (a view). */
export function lastRow(x: Tensor): Tensor {
  const T = x.shape[0]!;
  return x.narrow(0, T - 1, 1);
}

/**
 * Whether a forward of `ids` may run as one decode plan (tensor/plan.ts): a single token, no hidden states or
 * per-position logits asked for, a cache that lets the plan write its rows, and no gradients to record (grad
 * mode on and some weight requiring grad: a plan records none).
 */
export function decodesByPlan(
  ids: readonly number[],
  cache: KVCache,
  opts: ForwardOptions,
  weights: ReadonlyMap<string, Tensor>,
): boolean {
  if (ids.length !== 1 || opts.allLogits || opts.onHidden || !cache.appendRows) return false;
  if (!isGradEnabled()) return true;
  for (const w of weights.values()) if (w.requiresGrad) return false;
  return true;
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
