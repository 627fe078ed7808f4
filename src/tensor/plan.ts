// A plan: a straight-line list of kernel steps over f32 buffers (one decode step of a decoder), which a backend
// may run in one go (the wasm backend: one pass of its threads, meeting at a barrier around each split step)
// instead of one call per op. Without that the steps run through the backend's kernels one by one, in order.
// Like a ggml compute graph built for one token, with the order fixed by the model.

import { kernels, type AttentionParams, type Kernels } from "./backend.js";
import type { Tensor } from "./tensor.js";

export type PlanStep =
  /** out[M, D] = rmsnorm(x[M, D]) · weight. */
  | {
      readonly op: "rmsnorm";
      readonly x: Float32Array;
      readonly M: number;
      readonly D: number;
      readonly weight: Float32Array;
      readonly eps: number;
      readonly out: Float32Array;
    }
  /** out[M, D] = layernorm(x[M, D]) · weight (+ bias). */
  | {
      readonly op: "layernorm";
      readonly x: Float32Array;
      readonly M: number;
      readonly D: number;
      readonly weight: Float32Array;
      readonly bias: Float32Array | null;
      readonly eps: number;
      readonly out: Float32Array;
    }
  /** out = GELU(x), exact (erf) or tanh-approximated (out may be x). */
  | { readonly op: "gelu"; readonly x: Float32Array; readonly tanh: boolean; readonly out: Float32Array }
  /** out[M, N] = x[M, K] · wᵀ (+ bias), w [N, K] in any stored dtype. */
  | {
      readonly op: "linear";
      readonly x: Float32Array;
      readonly M: number;
      readonly K: number;
      readonly w: Tensor;
      readonly bias: Float32Array | null;
      readonly out: Float32Array;
    }
  /** Rotary embedding of x[T, nHeads, headDim] into out (Kernels.rope, in place; out may be x). */
  | {
      readonly op: "rope";
      readonly x: Float32Array;
      readonly out: Float32Array;
      readonly T: number;
      readonly nHeads: number;
      readonly headDim: number;
      readonly positions: readonly number[];
      readonly invFreq: Float32Array;
    }
  | {
      readonly op: "attention";
      readonly q: Float32Array;
      readonly k: Float32Array;
      readonly v: Float32Array;
      readonly p: AttentionParams;
      readonly out: Float32Array;
    }
  /** out = a + b (out may be a). */
  | { readonly op: "add"; readonly a: Float32Array; readonly b: Float32Array; readonly out: Float32Array }
  /** out = silu(gate) · up, as the silu then mul kernels give it (out may be gate). */
  | {
      readonly op: "swiglu";
      readonly gate: Float32Array;
      readonly up: Float32Array;
      readonly out: Float32Array;
    };

/** Runs one step through the backend's kernels. */
export function runStep(k: Kernels, s: PlanStep): void {
  switch (s.op) {
    case "rmsnorm":
      return k.rmsnorm(s.x, s.M, s.D, s.weight, s.eps, s.out);
    case "layernorm":
      return k.layernorm(s.x, s.M, s.D, s.weight, s.bias, s.eps, s.out);
    case "gelu":
      return s.tanh ? k.geluTanh(s.x, s.out) : k.gelu(s.x, s.out);
    case "linear":
      return k.linear(s.x, s.M, s.K, s.w, s.bias, s.out);
    case "rope":
      if (s.out !== s.x) s.out.set(s.x.subarray(0, s.T * s.nHeads * s.headDim));
      return k.rope(s.out, s.T, s.nHeads, s.headDim, s.positions, s.invFreq);
    case "attention":
      return k.attention(s.q, s.k, s.v, s.p, s.out);
    case "add":
      return k.add(s.a, s.b, s.out);
    case "swiglu":
      k.silu(s.gate, s.out);
      return k.mul(s.out, s.up, s.out);
  }
}

/** Runs the steps in order: in one go where the active backend takes the plan, else kernel by kernel. */
export function runPlan(steps: readonly PlanStep[]): void {
  const k = kernels();
  if (k.runPlan?.(steps)) return;
  for (const s of steps) runStep(k, s);
}
