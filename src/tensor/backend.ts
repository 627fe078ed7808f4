// The backend interface: kernels over raw f32 arrays (and stored weight tensors), registered by name.
// The core knows no backend; backends register a Kernels object and ops look kernels up here.

import type { PlanStep } from "./plan.js";
import type { Tensor } from "./tensor.js";

export interface AttentionParams {
  /** Query rows, key rows (cached length) and head sizes. */
  readonly T: number;
  readonly S: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  /** Absolute position of query row 0; key row j is at position j (causal: keys <= query position). */
  readonly queryPos: number;
  /** Keys older than this many positions before the query are masked (Mistral sliding window); 0 = none. */
  readonly window: number;
  readonly scale: number;
}

/** Sizes and layouts of a dense product out[M, N] (+)= A·B over K (backend.ts Kernels.matmul). */
export interface MatmulParams {
  readonly M: number;
  readonly N: number;
  readonly K: number;
  /** a holds Aᵀ as [K, M] (else A as [M, K]). */
  readonly transA: boolean;
  /** b holds Bᵀ as [N, K] (else B as [K, N]). */
  readonly transB: boolean;
  /** Adds into out (else overwrites it). */
  readonly accumulate: boolean;
}

/** One Adam / AdamW step's constants (train/optim/adam.ts). */
export interface AdamStepParams {
  /** x ← x·decay first (AdamW: 1 − lr·λ; Adam: 1). */
  readonly decay: number;
  /** Added to the gradient times x (Adam's L2 weight decay; AdamW: 0). */
  readonly l2: number;
  readonly beta1: number;
  readonly beta2: number;
  /** lr / (1 − β1^t). */
  readonly stepSize: number;
  /** √(1 − β2^t). */
  readonly bc2Sqrt: number;
  readonly eps: number;
}

export interface Kernels {
  /** out[M, N] = x[M, K] · w[N, K]ᵀ (+ bias); w may be any stored dtype (f32, f16, quantized). */
  linear(
    x: Float32Array,
    M: number,
    K: number,
    w: Tensor,
    bias: Float32Array | null,
    out: Float32Array,
  ): void;
  /** out[i, :] = row ids[i] of w[V, D] (any stored dtype). */
  embedding(w: Tensor, ids: ArrayLike<number>, out: Float32Array): void;
  rmsnorm(x: Float32Array, M: number, D: number, weight: Float32Array, eps: number, out: Float32Array): void;
  layernorm(
    x: Float32Array,
    M: number,
    D: number,
    weight: Float32Array,
    bias: Float32Array | null,
    eps: number,
    out: Float32Array,
  ): void;
  /** In-place rotary embedding, rotate-half layout, on x[T, nHeads, headDim] over the first rotaryDim dims. */
  rope(
    x: Float32Array,
    T: number,
    nHeads: number,
    headDim: number,
    positions: ArrayLike<number>,
    invFreq: Float32Array,
  ): void;
  /** In-place numerically stable softmax over the rows of x[M, N]. */
  softmax(x: Float32Array, M: number, N: number): void;
  silu(x: Float32Array, out: Float32Array): void;
  /** Exact (erf) GELU. */
  gelu(x: Float32Array, out: Float32Array): void;
  /** tanh-approximated GELU (gelu_new / gelu_pytorch_tanh). */
  geluTanh(x: Float32Array, out: Float32Array): void;
  add(a: Float32Array, b: Float32Array, out: Float32Array): void;
  mul(a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** out[M, N] (+)= A·B (+ bias[N]) on f32 arrays; training's products Y = X·Wᵀ, dX = dY·W, dW += dYᵀ·X. */
  matmul(
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array | null,
    p: MatmulParams,
    out: Float32Array,
  ): void;
  /**
   * Optional batched causal attention for training (queryPos 0, S = T): q, out [B, T, nHeads, hd]; k, v
   * [B, T, nKvHeads, hd]; out is overwritten. Without it the per-sequence `attention` kernel runs.
   */
  causalAttention?(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    B: number,
    p: AttentionParams,
    out: Float32Array,
  ): void;
  /**
   * Optional fused gradient of batched causal attention (queryPos 0, S = T): q, dout, dq [B, T, nHeads, hd];
   * k, v, dk, dv [B, T, nKvHeads, hd]; gradients are added into dq, dk, dv. Without it autograd runs its loops.
   */
  attentionBackward?(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    dout: Float32Array,
    B: number,
    p: AttentionParams,
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
  ): void;
  /**
   * Optional fused cross-entropy with label smoothing eps over logits x[N, C] and int32 targets (each in [0, C)
   * or `ignore`): writes each row's log-sum-exp to lse[N] (0 for ignored rows) and returns the sum over the other
   * rows of (1 − eps)·(lse − x[t]) + eps·(lse − mean(x)). The loss's loops run without it.
   */
  crossEntropyForward?(
    x: Float32Array,
    N: number,
    C: number,
    targets: Int32Array,
    ignore: number,
    eps: number,
    lse: Float32Array,
  ): number;
  /** Optional fused gradient of that loss: dx = scale·(softmax − eps/C − (1 − eps)·onehot), zero ignored rows. */
  crossEntropyBackward?(
    x: Float32Array,
    N: number,
    C: number,
    targets: Int32Array,
    ignore: number,
    eps: number,
    lse: Float32Array,
    scale: number,
    dx: Float32Array,
  ): void;
  /** Optional fused dx = dy·gelu_tanh'(x) (autograd's loops without it). */
  geluTanhBackward?(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** Optional fused dx = dy·gelu'(x), exact (erf) GELU (autograd's loops without it). */
  geluBackward?(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** Optional fused dx = dy·silu'(x) (autograd's loops without it). */
  siluBackward?(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /**
   * Optional fused LayerNorm gradient over x[M, D]: dx is overwritten, dw and db (when given) are added into.
   * The wasm kernel needs D a multiple of 4 (callers fall back otherwise).
   */
  layernormBackward?(
    x: Float32Array,
    M: number,
    D: number,
    w: Float32Array,
    dy: Float32Array,
    eps: number,
    dx: Float32Array,
    dw: Float32Array,
    db: Float32Array | null,
  ): void;
  /**
   * Optional fused RMSNorm gradient over x[M, D]: dx is overwritten, dw is added into. The wasm kernel needs D a
   * multiple of 4 (callers fall back otherwise).
   */
  rmsnormBackward?(
    x: Float32Array,
    M: number,
    D: number,
    w: Float32Array,
    dy: Float32Array,
    eps: number,
    dx: Float32Array,
    dw: Float32Array,
  ): void;
  /** Optional out[N] += Σ_m x[m, N] over x[M, N] (a bias gradient). */
  sumRows?(x: Float32Array, M: number, N: number, out: Float32Array): void;
  /** Optional fused Adam(W) update of x with gradient g and moments m, v (f32 arithmetic, as PyTorch's). */
  adamStep?(x: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, p: AdamStepParams): void;
  /** Optional Σ x², squares and sum in f64 (gradient clipping). */
  sumSquares?(x: Float32Array): number;
  /** Optional in-place x ← x·c. */
  scaleInPlace?(x: Float32Array, c: number): void;
  /**
   * Optional: runs a whole plan (tensor/plan.ts) in one go, with the results of running its steps one by one
   * through this backend's kernels, and returns true; false = declined (nothing run), the steps then run one by one.
   */
  runPlan?(steps: readonly PlanStep[]): boolean;
  /** Causal attention: q[T, nHeads, hd] over k, v [S, nKvHeads, hd] (GQA/MQA by head groups) → out[T, nHeads, hd]. */
  attention(q: Float32Array, k: Float32Array, v: Float32Array, p: AttentionParams, out: Float32Array): void;
}

const registry = new Map<string, Kernels>();
let active: string | null = null;

export function registerBackend(name: string, kernels: Kernels): void {
  registry.set(name, kernels);
  if (active === null) active = name;
}

export function setBackend(name: string): void {
  if (!registry.has(name))
    throw new Error(`unknown backend "${name}" (have: ${[...registry.keys()].join(", ")})`);
  active = name;
}

export function backendName(): string {
  if (active === null) throw new Error("no backend registered");
  return active;
}

export function kernels(): Kernels {
  if (active === null) throw new Error("no backend registered; import decoderkit's index or a backend");
  return registry.get(active)!;
}
