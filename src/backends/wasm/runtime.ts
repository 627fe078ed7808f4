// The few WebAssembly JS API pieces the backend uses, typed locally so that neither the build nor the
// published typings need the DOM library; the choice between the baseline and the relaxed-SIMD kernel module
// (simd.ts) and instantiation of the chosen one from its base64 bytes.

import { KERNELS_RELAXED_WASM_BASE64, KERNELS_WASM_BASE64 } from "./generated/kernels-wasm.js";
import { resolveSimdVariant, type SimdChoice, type SimdVariant } from "./simd.js";

export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}

/** A compiled WebAssembly.Module (opaque here; it can be posted to worker threads). */
export type WasmModule = object;

export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (m: WasmModule, imports: object) => { exports: Record<string, unknown> };
}

/** The compiled kernels (signatures of src/backends/wasm/assembly/index.ts; pointers are byte offsets). */
export interface KernelExports {
  heapBase(): number;
  /** 1 when none of the n halves at p is inf or NaN. */
  halvesFinite(p: number, n: number): number;
  /** Zeroes n bytes at ptr. */
  zero(ptr: number, n: number): void;
  /** Offset at which the kernels read the f16 → f32 table the host writes (the arena's first range). */
  f16TableOffset(): number;
  /**
   * Rows [m0, m1) x columns [n0, n1) of out[M, N]; xq 0 = the exact path, else rows from quantizeRows (k-quants:
   * quantizeRowsK). rowbuf: the calling thread's scratch, which f16/bf16/k-quant weights (K·4 bytes), exact
   * M > 1 products (4·K·4) and the GEMM path (linearGemmWorkBytes) need (kernels.ts sizes it).
   */
  linear(
    dtype: number,
    x: number,
    xq: number,
    M: number,
    K: number,
    w: number,
    N: number,
    bias: number,
    out: number,
    rowbuf: number,
    m0: number,
    m1: number,
    n0: number,
    n1: number,
  ): void;
  /**
   * Quantizes x[M, K] into q8 blocks for linear's xq on weights of `dtype` (Q8_0 or Q4_0: the layout depends on
   * the kernel module, dtype and M); returns 0 (and the caller goes exact) on inf/NaN.
   */
  quantizeRows(x: number, M: number, K: number, out: number, dtype: number): number;
  /** Bytes quantizeRows writes for M rows of K (rows plus transposed group scales). */
  quantBytes(M: number, K: number, dtype: number): number;
  /**
   * As quantizeRows, for Q4_K/Q6_K weights of `dtype`. Baseline module: rows of quantRowBytesK, int16 values in
   * blocks of 32 with each block's dx·Σq appended. Relaxed module: int8 values with one dx a block of 256
   * (llama.cpp's Q8_K rounding): for M = 1 a row and a record of sums and dx a block (assembly/kquant.ts
   * quantizeRowQ8K), for M > 1 the Q4_0 layout of quantizeRows (its grouped copy; Q6_K adds half-block sums).
   */
  quantizeRowsK(x: number, M: number, K: number, out: number, dtype: number): number;
  quantRowBytesK(K: number): number;
  /** Bytes quantizeRowsK writes for M rows of K. */
  quantBytesK(M: number, K: number, dtype: number): number;
  rmsnorm(x: number, M: number, D: number, w: number, eps: number, out: number): void;
  softmax(x: number, M: number, N: number): void;
  /** out[i] = x[i]·σ(x[i]) for i < n (out may be x). */
  silu(x: number, n: number, out: number): void;
  gelu(x: number, n: number, out: number): void;
  /** out[i] = silu(g[i])·u[i] in one pass, the bits of silu then binary's product. */
  swiglu(g: number, u: number, n: number, out: number): void;
  geluTanh(x: number, n: number, out: number): void;
  /** out = a + b (op 0) or a · b (op 1) over n floats. */
  binary(a: number, b: number, n: number, out: number, op: number): void;
  /** Rotate-half RoPE of x into out (out may be x) with cos/sin [T][half] each, precomputed at cs. */
  rope(x: number, out: number, T: number, nHeads: number, hd: number, half: number, cs: number): void;
  layernorm(x: number, M: number, D: number, w: number, b: number, eps: number, out: number): void;
  /** Rows [m0, m1) of c (row stride ldc) (+)= A·B (+ bias) with strided A, B (assembly/gemm.ts). */
  gemm(
    a: number,
    rsa: number,
    csa: number,
    b: number,
    rsb: number,
    csb: number,
    c: number,
    ldc: number,
    M: number,
    N: number,
    K: number,
    accumulate: number,
    bias: number,
    work: number,
    m0: number,
    m1: number,
  ): void;
  /** Bytes of work space one gemm call needs. */
  gemmWorkBytes(): number;
  /** dx = dy·gelu_tanh'(x) over n floats (assembly/train-ops.ts). */
  linearGemmRows(dtype: number): number;
  linearGemmWorkBytes(): number;
  /** Bytes of scores a thread of attention needs (assembly/attention.ts). */
  attentionScoreBytes(hd: number): number;
  crossEntropyForward(
    x: number,
    N: number,
    C: number,
    t: number,
    ignore: number,
    eps: number,
    lse: number,
  ): number;
  crossEntropyBackward(
    x: number,
    N: number,
    C: number,
    t: number,
    ignore: number,
    eps: number,
    lse: number,
    scale: number,
    dx: number,
  ): void;
  rmsnormBackward(
    x: number,
    M: number,
    D: number,
    w: number,
    dy: number,
    eps: number,
    dx: number,
    dw: number,
  ): void;
  geluTanhBackward(x: number, dy: number, n: number, dx: number): void;
  geluBackward(x: number, dy: number, n: number, dx: number): void;
  siluBackward(x: number, dy: number, n: number, dx: number): void;
  /** LayerNorm gradient over rows of D (a multiple of 4): dx overwritten, dw and db (0 = none) added into. */
  layernormBackward(
    x: number,
    M: number,
    D: number,
    w: number,
    dy: number,
    eps: number,
    dx: number,
    dw: number,
    db: number,
  ): void;
  /** Adam(W) update over n floats (assembly/optim.ts). */
  adamStep(
    x: number,
    g: number,
    m: number,
    v: number,
    n: number,
    decay: number,
    l2: number,
    b1: number,
    b2: number,
    stepSize: number,
    bc2Sqrt: number,
    eps: number,
  ): void;
  sumSquares(x: number, n: number): number;
  scaleInPlace(x: number, n: number, c: number): void;
  /** out[N] += column sums of x[M, N]. */
  sumRows(x: number, M: number, N: number, out: number): void;
  /** Training's batched causal attention forward for (sequence, kv head) units [u0, u1) (attention-grad.ts). */
  attentionForward(
    q: number,
    k: number,
    v: number,
    out: number,
    T: number,
    nHeads: number,
    nKvHeads: number,
    hd: number,
    window: number,
    scale: number,
    scratch: number,
    u0: number,
    u1: number,
  ): void;
  /** Bytes of scratch one attentionBackward or attentionForward call needs for sequences of T. */
  attentionBackwardScratch(T: number): number;
  /** Adds attention's gradients for (sequence, kv head) units [u0, u1) (assembly/attention-grad.ts). */
  attentionBackward(
    q: number,
    k: number,
    v: number,
    dout: number,
    dq: number,
    dk: number,
    dv: number,
    T: number,
    nHeads: number,
    nKvHeads: number,
    hd: number,
    window: number,
    scale: number,
    scratch: number,
    u0: number,
    u1: number,
  ): void;
  /** Bytes of one key range's partial results of a split decode attention (assembly/attention.ts). */
  attentionRangeBytes(nHeads: number, hd: number): number;
  /** One query against keys [j0, j1) for heads [h0, h1), into the partial results at part. */
  attentionKeys(
    q: number,
    k: number,
    v: number,
    nHeads: number,
    nKvHeads: number,
    hd: number,
    scale: number,
    scores: number,
    part: number,
    h0: number,
    h1: number,
    j0: number,
    j1: number,
  ): void;
  /** Counts a thread's finished units; the one that completes all `total` merges the nr ranges into out. */
  attentionFinish(
    counter: number,
    done: number,
    total: number,
    out: number,
    parts: number,
    nr: number,
    nHeads: number,
    hd: number,
  ): void;
  attention(
    q: number,
    k: number,
    v: number,
    out: number,
    T: number,
    S: number,
    nHeads: number,
    nKvHeads: number,
    hd: number,
    queryPos: number,
    window: number,
    scale: number,
    scores: number,
    h0: number,
    h1: number,
  ): void;
}

export const PAGE_BYTES = 65536;
/** 65536 pages: the whole 32-bit address space (4 GiB). */
export const MAX_PAGES = 65536;

export function webAssembly(): WasmApi {
  const wa = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (!wa) throw new Error("this runtime has no WebAssembly");
  if (typeof SharedArrayBuffer === "undefined")
    throw new Error("shared WebAssembly memory needs SharedArrayBuffer (browsers: cross-origin isolation)");
  return wa;
}

function decodeBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * A fresh shared memory of `initialPages` and an instance of the kernel module of `simd` (simd.ts: "auto" =
 * relaxed where the runtime validates it) over it (synchronous: the module is small). The module keeps no
 * mutable state of its own (no globals, no stack; tools/build-wasm.mjs checks), so worker threads may
 * instantiate the same module over the same memory and run kernels side by side.
 */
export function instantiateKernels(
  simd: SimdChoice = "auto",
  initialPages = 16,
): {
  memory: WasmMemory;
  module: WasmModule;
  exports: KernelExports;
  simd: SimdVariant;
} {
  const wa = webAssembly();
  const variant = resolveSimdVariant(simd, wa);
  const memory = new wa.Memory({ initial: initialPages, maximum: MAX_PAGES, shared: true });
  const module = new wa.Module(
    decodeBase64(variant === "relaxed" ? KERNELS_RELAXED_WASM_BASE64 : KERNELS_WASM_BASE64),
  );
  return { memory, module, exports: instantiateOn(module, memory), simd: variant };
}

/** Another instance of the kernel module over an existing shared memory (what each worker thread makes). */
export function instantiateOn(module: WasmModule, memory: WasmMemory): KernelExports {
  const instance = new (webAssembly().Instance)(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}
