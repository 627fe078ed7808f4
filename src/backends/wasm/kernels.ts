// The wasm Kernels object: the reference kernels, with linear (f32/f16/Q8_0/Q4_0/Q4_K/Q6_K weights), rmsnorm,
// softmax, silu and attention overridden by the SIMD kernels. Weights must lie in the arena (else the reference
// kernel runs); activations may live anywhere: those outside the memory pass through a reusable scratch region.
// linear and attention are split across the thread pool when there is one (tasks.ts); a plan (tensor/plan.ts) runs
// as one program on the pool (plan.ts).

import { referenceKernels } from "../reference/index.js";
import type { AttentionParams, Kernels } from "../../tensor/backend.js";
import type { DType } from "../../tensor/dtype.js";
import type { Tensor } from "../../tensor/tensor.js";
import type { WasmArena } from "./arena.js";
import type { ThreadPool } from "./pool.js";
import type { KernelExports } from "./runtime.js";
import { align, Scratch } from "./scratch.js";
import { makeRunPlan } from "./plan.js";
import { makeTrainKernels } from "./train-kernels.js";
import {
  LINEAR_GEMM,
  attentionPart,
  attentionPartBytes,
  attentionRanges,
  encodeAttention,
  encodeLinear,
  linearPart,
  type AttentionTask,
  type LinearTask,
} from "./tasks.js";

/** What the backend may change between calls. */
export interface WasmKernelSettings {
  /** Threads that split linear and attention; null = the calling thread alone. */
  pool: ThreadPool | null;
  /**
   * Q8_0/Q4_0/Q4_K/Q6_K linear quantizes each x row to q8 blocks (32 int8 + one scale) and dots blocks in
   * integers, as llama.cpp does; the result differs from the exact (reference) product by at most the x rounding
   * error, Σ_blocks Σ|w| · max|x_block| / 254. false = the exact f32 path.
   */
  quantizeActivations: boolean;
  /** Multiply-adds below which a call stays on the calling thread (waking workers costs more than it saves). */
  minSplitWork: number;
}

/**
 * How a linear runs on the wasm kernels: the dtype code (with the GEMM flag), the weight's offset, N, whether x is
 * quantized first (k-quant rows or the Q8_0/Q4_0 layouts), and the bytes of each thread's row buffer and of xq.
 */
export interface LinearLayout {
  readonly code: number;
  readonly w: number;
  readonly N: number;
  readonly kq: boolean;
  readonly quant: boolean;
  readonly rowbuf: number;
  readonly xqBytes: number;
}

/** Default minSplitWork: about 8 µs of single-thread work (measured on the bench shapes, 2 cores). */
export const MIN_SPLIT_WORK = 1 << 16;

/** Weight dtypes the wasm linear kernel computes on (codes of assembly/linear.ts). */
export const WASM_LINEAR_DTYPES: Partial<Record<DType, number>> = {
  f32: 0,
  f16: 1,
  q8_0: 2,
  q4_0: 3,
  q4_k: 4,
  q6_k: 5,
  bf16: 7,
};

/** Code of f16 weights with no inf or NaN (assembly/linear.ts DT_F16_FINITE): a shorter conversion. */
const F16_FINITE = 6;

/** cos then sin of positions[t] · invFreq[i] (f64, as the reference computes them) for T positions, at byte cs of f. */
export function ropeTable(
  f: Float32Array,
  cs: number,
  positions: ArrayLike<number>,
  T: number,
  invFreq: Float32Array,
): void {
  const half = invFreq.length;
  const c0 = cs / 4;
  const s0 = c0 + T * half;
  for (let t = 0; t < T; t++) {
    const pos = positions[t]!;
    for (let i = 0; i < half; i++) {
      const a = pos * invFreq[i]!;
      f[c0 + t * half + i] = Math.cos(a);
      f[s0 + t * half + i] = Math.sin(a);
    }
  }
}

/** Byte offset of a contiguous weight in the arena, or -1. */
function weightOffset(arena: WasmArena, w: Tensor): number {
  if (!w.isContiguous()) return -1;
  const d = w.data;
  const off = arena.offsetOf(d);
  return off < 0 ? -1 : off + w.offset * (d instanceof Uint8Array ? 1 : 4);
}

export function makeWasmKernels(arena: WasmArena, k: KernelExports, settings: WasmKernelSettings): Kernels {
  const ref = referenceKernels;
  const s = new Scratch(arena);
  /** Whether each f16 weight (by its storage) is free of inf and NaN, checked once on first use. */
  const finiteHalves = new WeakMap<object, boolean>();

  function runLinear(t: LinearTask): void {
    const pool = settings.pool;
    if (!pool || t.M * t.N * t.K < settings.minSplitWork) return linearPart(k, t, 0, 1);
    encodeLinear(pool.u32, t);
    pool.run();
  }

  function runAttention(t: AttentionTask): void {
    const pool = settings.pool;
    if (!pool || t.nHeads < 2 || 2 * t.T * t.S * t.nHeads * t.hd < settings.minSplitWork)
      return attentionPart(k, t, 0, 1);
    encodeAttention(pool.u32, pool.f32, t);
    pool.run();
  }

  /** How a linear of M rows of K on w runs here (see LinearLayout); null = the reference kernel. */
  function linearLayout(w: Tensor, M: number, K: number): LinearLayout | null {
    let code = WASM_LINEAR_DTYPES[w.dtype];
    const wOff = code === undefined || w.ndim !== 2 || w.shape[1] !== K ? -1 : weightOffset(arena, w);
    if (wOff < 0 || code === undefined) return null;
    const N = w.shape[0]!;
    if (w.dtype === "f16") {
      let finite = finiteHalves.get(w.data);
      if (finite === undefined) finiteHalves.set(w.data, (finite = k.halvesFinite(wOff, N * K) === 1));
      if (finite) code = F16_FINITE;
    }
    const kq = w.dtype === "q4_k" || w.dtype === "q6_k";
    // prompts on 16-bit weights run as a packed GEMM where the module says it pays (assembly/linear-gemm.ts);
    // fewer rows (decoding, speculative verification) keep the paths below, whose sums run in another order
    const gemmRows = kq ? 0 : k.linearGemmRows(code);
    const gemm = gemmRows > 0 && M >= gemmRows;
    const quant =
      !gemm &&
      settings.quantizeActivations &&
      (w.dtype === "q8_0" || w.dtype === "q4_0" || kq) &&
      K % 32 === 0;
    // f32 rows the kernel expands weights into: four (linear-f32.ts ROWS_W) on the exact M > 1 path, else one
    const rowbuf = gemm
      ? align(k.linearGemmWorkBytes())
      : (M > 1 || kq) && code !== 0
        ? align(K * 4 * (M > 1 && !kq ? 4 : 1))
        : 0;
    if (gemm) code = code | LINEAR_GEMM;
    const xqBytes = quant ? align(kq ? k.quantBytesK(M, K, code) : k.quantBytes(M, K, code)) : 0;
    return { code, w: wOff, N, kq, quant, rowbuf, xqBytes };
  }

  /** Quantizes x (M rows of K) for the layout into xq; false when x holds inf or NaN (the exact path runs then). */
  function quantizeX(l: LinearLayout, xp: number, M: number, K: number, xq: number): boolean {
    return (l.kq ? k.quantizeRowsK(xp, M, K, xq, l.code) : k.quantizeRows(xp, M, K, xq, l.code)) !== 0;
  }

  function linear(
    x: Float32Array,
    M: number,
    K: number,
    w: Tensor,
    bias: Float32Array | null,
    out: Float32Array,
  ): void {
    const l = linearLayout(w, M, K);
    if (!l) return ref.linear(x, M, K, w, bias, out);
    const N = l.N;
    if (x.length < M * K || out.length < M * N || (bias && bias.length < N))
      throw new Error("linear: buffers too small");
    if (M === 0 || N === 0) return;
    const threads = settings.pool?.size ?? 1;
    s.begin(
      s.need(x, M * K) + s.need(out, M * N) + (bias ? s.need(bias, N) : 0) + threads * l.rowbuf + l.xqBytes,
    );
    const xp = s.input(x, M * K);
    const bp = bias ? s.input(bias, N) : 0;
    const op = s.output(out, M * N);
    const rp = l.rowbuf ? s.take(threads * l.rowbuf) : 0;
    let xq = l.quant ? s.take(l.xqBytes) : 0;
    if (xq && !quantizeX(l, xp, M, K, xq)) xq = 0;
    const task = {
      dtype: l.code,
      x: xp,
      xq,
      M,
      K,
      w: l.w,
      N,
      bias: bp,
      out: op,
      rowbuf: rp,
      rowbufStride: l.rowbuf,
    };
    runLinear(task);
    s.finish(out, op, M * N);
  }

  function rmsnorm(
    x: Float32Array,
    M: number,
    D: number,
    w: Float32Array,
    eps: number,
    out: Float32Array,
  ): void {
    if (x.length < M * D || out.length < M * D || w.length < D) throw new Error("rmsnorm: buffers too small");
    if (M === 0 || D === 0) return ref.rmsnorm(x, M, D, w, eps, out);
    s.begin(s.need(x, M * D) + s.need(w, D) + s.need(out, M * D));
    const xp = s.input(x, M * D);
    const wp = s.input(w, D);
    const op = s.output(out, M * D);
    k.rmsnorm(xp, M, D, wp, eps, op);
    s.finish(out, op, M * D);
  }

  function softmax(x: Float32Array, M: number, N: number): void {
    if (x.length < M * N) throw new Error("softmax: buffer too small");
    if (M === 0 || N === 0) return;
    s.begin(s.need(x, M * N));
    const xp = s.input(x, M * N);
    k.softmax(xp, M, N);
    s.finish(x, xp, M * N);
  }

  /** An element-wise kernel over n floats of x into out (either may lie outside the memory). */
  function elementwise(
    name: string,
    x: Float32Array,
    out: Float32Array,
    run: (xp: number, n: number, op: number) => void,
  ): void {
    const n = x.length;
    if (out.length < n) throw new Error(`${name}: buffers too small`);
    if (n === 0) return;
    s.begin(s.need(x, n) + s.need(out, n));
    const xp = s.input(x, n);
    const op = s.output(out, n);
    run(xp, n, op);
    s.finish(out, op, n);
  }

  /** SiLU through a polynomial exp (assembly/activations.ts): within a few ulp of the reference. */
  const silu = (x: Float32Array, out: Float32Array): void => elementwise("silu", x, out, k.silu);
  /** GELU through the reference's erf fit evaluated in f32 SIMD. */
  const gelu = (x: Float32Array, out: Float32Array): void => elementwise("gelu", x, out, k.gelu);
  const geluTanh = (x: Float32Array, out: Float32Array): void => elementwise("geluTanh", x, out, k.geluTanh);

  function binary(name: string, op: number, a: Float32Array, b: Float32Array, out: Float32Array): void {
    const n = out.length;
    if (a.length < n || b.length < n) throw new Error(`${name}: buffers too small`);
    if (n === 0) return;
    s.begin(s.need(a, n) + s.need(b, n) + s.need(out, n));
    const ap = s.input(a, n);
    const bp = s.input(b, n);
    const o = s.output(out, n);
    k.binary(ap, bp, n, o, op);
    s.finish(out, o, n);
  }

  const add = (a: Float32Array, b: Float32Array, out: Float32Array): void => binary("add", 0, a, b, out);
  const mul = (a: Float32Array, b: Float32Array, out: Float32Array): void => binary("mul", 1, a, b, out);

  /** RoPE with cos/sin computed here in f64 (as the reference does) and rounded to f32 for the kernel. */
  function rope(
    x: Float32Array,
    T: number,
    nHeads: number,
    headDim: number,
    positions: ArrayLike<number>,
    invFreq: Float32Array,
  ): void {
    const half = invFreq.length;
    const n = T * nHeads * headDim;
    if (x.length < n || positions.length < T || 2 * half > headDim) throw new Error("rope: bad shapes");
    if (n === 0 || half === 0) return;
    s.begin(s.need(x, n) + align(2 * T * half * 4));
    const xp = s.input(x, n);
    const cs = s.take(2 * T * half * 4);
    ropeTable(s.f32(), cs, positions, T, invFreq);
    k.rope(xp, xp, T, nHeads, headDim, half, cs);
    s.finish(x, xp, n);
  }

  function layernorm(
    x: Float32Array,
    M: number,
    D: number,
    w: Float32Array,
    b: Float32Array | null,
    eps: number,
    out: Float32Array,
  ): void {
    if (x.length < M * D || out.length < M * D || w.length < D || (b && b.length < D))
      throw new Error("layernorm: buffers too small");
    if (M === 0 || D === 0) return;
    s.begin(s.need(x, M * D) + s.need(w, D) + (b ? s.need(b, D) : 0) + s.need(out, M * D));
    const xp = s.input(x, M * D);
    const wp = s.input(w, D);
    const bp = b ? s.input(b, D) : 0;
    const op = s.output(out, M * D);
    k.layernorm(xp, M, D, wp, bp, eps, op);
    s.finish(out, op, M * D);
  }

  function attention(
    q: Float32Array,
    kk: Float32Array,
    v: Float32Array,
    p: AttentionParams,
    out: Float32Array,
  ): void {
    const { T, S, nHeads, nKvHeads, headDim: hd } = p;
    if (nKvHeads <= 0 || nHeads % nKvHeads !== 0 || T === 0 || S === 0 || hd === 0)
      return ref.attention(q, kk, v, p, out);
    const nq = T * nHeads * hd;
    const nkv = S * nKvHeads * hd;
    if (q.length < nq || kk.length < nkv || v.length < nkv || out.length < nq)
      throw new Error("attention: buffers too small");
    const threads = settings.pool?.size ?? 1;
    const scoreBytes = align(k.attentionScoreBytes(hd)); // a block of scores per head of a chunk, their sums, q
    const nr = attentionRanges(T, S, p.queryPos, p.window);
    const partBytes = align(attentionPartBytes(k, nr, nHeads, hd)); // split by keys: ranges' results, a counter
    const counterBytes = partBytes ? align(4) : 0;
    const stage = s.need(q, nq) + s.need(kk, nkv) + s.need(v, nkv) + s.need(out, nq);
    s.begin(stage + threads * scoreBytes + partBytes + counterBytes);
    const qp = s.input(q, nq);
    const kp = s.input(kk, nkv);
    const vp = s.input(v, nkv);
    const op = s.output(out, nq);
    const sp = s.take(threads * scoreBytes);
    const parts = partBytes ? s.take(partBytes) : 0;
    const counter = counterBytes ? s.take(counterBytes) : 0;
    if (counter) s.f32()[counter / 4] = 0; // +0.0: the word's bits are 0
    runAttention({
      q: qp,
      k: kp,
      v: vp,
      out: op,
      T,
      S,
      nHeads,
      nKvHeads,
      hd,
      queryPos: p.queryPos,
      window: p.window,
      scale: p.scale,
      scores: sp,
      scoresStride: scoreBytes,
      parts,
      counter,
    });
    s.finish(out, op, nq);
  }

  return {
    ...ref,
    linear,
    rmsnorm,
    layernorm,
    softmax,
    silu,
    gelu,
    geluTanh,
    add,
    mul,
    rope,
    attention,
    runPlan: makeRunPlan(arena, k, settings, s, linearLayout),
    ...makeTrainKernels(k, settings, s),
  };
}
