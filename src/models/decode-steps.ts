// Plan steps that the decode plans of every architecture build alike (llama-plan.ts, gpt2-plan.ts): a product
// of one row, one query row's attention over the cache's rows, and the residual stream's adds.

import type { KVRows } from "../cache/kv-cache.js";
import type { PlanStep } from "../tensor/plan.js";
import type { Tensor } from "../tensor/tensor.js";

/** out[N] = x[K] · wᵀ (+ bias). */
export function linearStep(
  w: Tensor,
  bias: Float32Array | null,
  x: Float32Array,
  K: number,
  out: Float32Array,
): PlanStep {
  return { op: "linear", x, M: 1, K, w, bias, out };
}

/**
 * The attention of one query row q (nh, hs) over the cache's rows kv (S, nkv, hs), this position the last
 * row, into out (nh, hs): scale 1/√hs, `window` 0 = none.
 */
export function attentionStep(
  q: Float32Array,
  kv: KVRows,
  nHeads: number,
  nKvHeads: number,
  headDim: number,
  window: number,
  out: Float32Array,
): PlanStep {
  const S = kv.k.shape[0]!;
  const p = { T: 1, S, nHeads, nKvHeads, headDim, queryPos: S - 1, window, scale: 1 / Math.sqrt(headDim) };
  return { op: "attention", q, k: kv.k.f32(), v: kv.v.f32(), p, out };
}

/**
 * The residual stream of a decode plan, moving between x (where it starts) and r: each add writes the buffer it
 * does not read, so that no step writes what it reads (the wasm backend may then run such small steps on every
 * thread instead of waiting for one to run them, backends/wasm/plan.ts).
 */
export class ResidualStream {
  private cur: Float32Array;

  constructor(
    private readonly x: Float32Array,
    private readonly r: Float32Array,
    private readonly steps: PlanStep[],
  ) {
    this.cur = x;
  }

  /** The buffer holding the stream now. */
  get value(): Float32Array {
    return this.cur;
  }

  /** Appends the step value + o; the stream then holds the sum. */
  add(o: Float32Array): void {
    const out = this.cur === this.x ? this.r : this.x;
    this.steps.push({ op: "add", a: this.cur, b: o, out });
    this.cur = out;
  }
}
