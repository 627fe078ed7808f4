// The wasm kernels that training adds to the backend: the dense GEMM (assembly/gemm.ts) behind Kernels.matmul and
// the fused attention gradient (assembly/attention-grad.ts), both split across the thread pool when there is one,
// the GELU / LayerNorm gradients and bias column sums of assembly/train-ops.ts, and the optimizer passes of
// assembly/optim.ts (Adam(W) update, sum of squares and scaling for gradient clipping).
// Operands outside the memory pass through the backend's scratch region, as for the other kernels.

import type { AdamStepParams, AttentionParams, Kernels, MatmulParams } from "../../tensor/backend.js";
import type { WasmKernelSettings } from "./kernels.js";
import { align, type Scratch } from "./scratch.js";
import type { KernelExports } from "./runtime.js";
import {
  attentionBackwardPart,
  attentionForwardPart,
  encodeAttentionBackward,
  encodeGemm,
  gemmPart,
  type AttentionBackwardTask,
  type GemmTask,
} from "./tasks.js";

export function makeTrainKernels(
  k: KernelExports,
  settings: WasmKernelSettings,
  s: Scratch,
): Pick<
  Kernels,
  | "matmul"
  | "attentionBackward"
  | "causalAttention"
  | "geluTanhBackward"
  | "crossEntropyForward"
  | "crossEntropyBackward"
  | "geluBackward"
  | "siluBackward"
  | "layernormBackward"
  | "rmsnormBackward"
  | "sumRows"
  | "adamStep"
  | "sumSquares"
  | "scaleInPlace"
> {
  const workBytes = align(k.gemmWorkBytes());

  function runGemm(t: GemmTask): void {
    const pool = settings.pool;
    if (!pool || t.M < 8 || t.M * t.N * t.K < settings.minSplitWork) return gemmPart(k, t, 0, 1);
    encodeGemm(pool.u32, t);
    pool.run();
  }

  function runAttention(t: AttentionBackwardTask, forward: boolean): void {
    const pool = settings.pool;
    const work = 4 * t.B * t.T * t.T * t.nHeads * t.hd;
    if (!pool || t.B * t.nKvHeads < 2 || work < settings.minSplitWork)
      return (forward ? attentionForwardPart : attentionBackwardPart)(k, t, 0, 1);
    encodeAttentionBackward(pool.u32, pool.f32, t, forward);
    pool.run();
  }

  function checkAttention(name: string, p: AttentionParams): void {
    if (p.queryPos !== 0 || p.S !== p.T || p.nKvHeads <= 0 || p.nHeads % p.nKvHeads !== 0)
      throw new Error(`${name}: needs queryPos 0, S = T and whole head groups`);
  }

  function causalAttention(
    q: Float32Array,
    kk: Float32Array,
    v: Float32Array,
    B: number,
    p: AttentionParams,
    out: Float32Array,
  ): void {
    checkAttention("causalAttention", p);
    const { T, nHeads, nKvHeads, headDim: hd } = p;
    const nq = B * T * nHeads * hd;
    const nkv = B * T * nKvHeads * hd;
    if (q.length < nq || out.length < nq || kk.length < nkv || v.length < nkv)
      throw new Error("causalAttention: buffers too small");
    if (nq === 0) return;
    const threads = settings.pool?.size ?? 1;
    const scratchBytes = align(k.attentionBackwardScratch(T));
    s.begin(s.need(q, nq) + s.need(out, nq) + s.need(kk, nkv) + s.need(v, nkv) + threads * scratchBytes);
    const [qp, kp, vp, op] = [s.input(q, nq), s.input(kk, nkv), s.input(v, nkv), s.output(out, nq)];
    const task = { q: qp, k: kp, v: vp, dout: op, dq: 0, dk: 0, dv: 0, B, T, nHeads, nKvHeads, hd };
    const scratch = s.take(threads * scratchBytes);
    runAttention({ ...task, window: p.window, scale: p.scale, scratch, scratchStride: scratchBytes }, true);
    s.finish(out, op, nq);
  }

  function matmul(
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array | null,
    p: MatmulParams,
    out: Float32Array,
  ): void {
    const { M, N, K, transA, transB, accumulate } = p;
    if (![M, N, K].every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new Error(`matmul: bad sizes ${M}×${N}×${K}`);
    if (a.length < M * K || b.length < K * N || out.length < M * N || (bias && bias.length < N))
      throw new Error("matmul: buffers too small");
    if (M === 0 || N === 0) return;
    const threads = settings.pool?.size ?? 1;
    s.begin(
      s.need(a, M * K) +
        s.need(b, K * N) +
        s.need(out, M * N) +
        (bias ? s.need(bias, N) : 0) +
        threads * workBytes,
    );
    const ap = s.input(a, M * K);
    const bp = s.input(b, K * N);
    const biasp = bias ? s.input(bias, N) : 0;
    const op = accumulate ? s.input(out, M * N) : s.output(out, M * N);
    const work = s.take(threads * workBytes);
    runGemm({
      a: ap,
      rsa: transA ? 1 : K,
      csa: transA ? M : 1,
      b: bp,
      rsb: transB ? 1 : N,
      csb: transB ? K : 1,
      c: op,
      ldc: N,
      M,
      N,
      K,
      accumulate: accumulate ? 1 : 0,
      bias: biasp,
      work,
      workStride: workBytes,
    });
    s.finish(out, op, M * N);
  }

  function attentionBackward(
    q: Float32Array,
    kk: Float32Array,
    v: Float32Array,
    dout: Float32Array,
    B: number,
    p: AttentionParams,
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
  ): void {
    const { T, S, nHeads, nKvHeads, headDim: hd } = p;
    if (p.queryPos !== 0 || S !== T || nKvHeads <= 0 || nHeads % nKvHeads !== 0)
      throw new Error("attentionBackward: needs queryPos 0, S = T and whole head groups");
    const nq = B * T * nHeads * hd;
    const nkv = B * T * nKvHeads * hd;
    if ([q, dout, dq].some((x) => x.length < nq) || [kk, v, dk, dv].some((x) => x.length < nkv))
      throw new Error("attentionBackward: buffers too small");
    if (nq === 0) return;
    const threads = settings.pool?.size ?? 1;
    const scratchBytes = align(k.attentionBackwardScratch(T));
    s.begin(
      s.need(q, nq) +
        s.need(dout, nq) +
        s.need(dq, nq) +
        s.need(kk, nkv) +
        s.need(v, nkv) +
        s.need(dk, nkv) +
        s.need(dv, nkv) +
        threads * scratchBytes,
    );
    const [qp, gp, kp, vp] = [s.input(q, nq), s.input(dout, nq), s.input(kk, nkv), s.input(v, nkv)];
    const [dqp, dkp, dvp] = [s.input(dq, nq), s.input(dk, nkv), s.input(dv, nkv)];
    runAttention(
      {
        q: qp,
        k: kp,
        v: vp,
        dout: gp,
        dq: dqp,
        dk: dkp,
        dv: dvp,
        B,
        T,
        nHeads,
        nKvHeads,
        hd,
        window: p.window,
        scale: p.scale,
        scratch: s.take(threads * scratchBytes),
        scratchStride: scratchBytes,
      },
      false,
    );
    s.finish(dq, dqp, nq);
    s.finish(dk, dkp, nkv);
    s.finish(dv, dvp, nkv);
  }

  /** dx = dy·f'(x) through the element-wise gradient kernel `run` (name for errors). */
  function activationBackward(
    name: string,
    run: (x: number, dy: number, n: number, dx: number) => void,
    x: Float32Array,
    dy: Float32Array,
    dx: Float32Array,
  ): void {
    const n = x.length;
    if (dy.length < n || dx.length < n) throw new Error(`${name}: buffers too small`);
    if (n === 0) return;
    s.begin(s.need(x, n) + s.need(dy, n) + s.need(dx, n));
    const [xp, gp, op] = [s.input(x, n), s.input(dy, n), s.output(dx, n)];
    run(xp, gp, n, op);
    s.finish(dx, op, n);
  }
  const geluTanhBackward = (x: Float32Array, dy: Float32Array, dx: Float32Array): void =>
    activationBackward("geluTanhBackward", k.geluTanhBackward, x, dy, dx);
  const geluBackward = (x: Float32Array, dy: Float32Array, dx: Float32Array): void =>
    activationBackward("geluBackward", k.geluBackward, x, dy, dx);
  const siluBackward = (x: Float32Array, dy: Float32Array, dx: Float32Array): void =>
    activationBackward("siluBackward", k.siluBackward, x, dy, dx);

  /** A norm's gradient over rows of D (a multiple of 4): dx overwritten, dw and db (null = none) added into. */
  function normBackward(
    name: string,
    run: (xp: number, wp: number, gp: number, op: number, dwp: number, dbp: number) => void,
    x: Float32Array,
    M: number,
    D: number,
    w: Float32Array,
    dy: Float32Array,
    dx: Float32Array,
    dw: Float32Array,
    db: Float32Array | null,
  ): void {
    if (D % 4 !== 0) throw new Error(`${name}: rows of ${D} (needs a multiple of 4)`);
    const n = M * D;
    if (
      x.length < n ||
      dy.length < n ||
      dx.length < n ||
      w.length < D ||
      dw.length < D ||
      (db && db.length < D)
    )
      throw new Error(`${name}: buffers too small`);
    if (n === 0) return;
    s.begin(
      s.need(x, n) + s.need(dy, n) + s.need(dx, n) + s.need(w, D) + s.need(dw, D) + (db ? s.need(db, D) : 0),
    );
    const [xp, gp, wp, op] = [s.input(x, n), s.input(dy, n), s.input(w, D), s.output(dx, n)];
    const [dwp, dbp] = [s.input(dw, D), db ? s.input(db, D) : 0];
    run(xp, wp, gp, op, dwp, dbp);
    s.finish(dx, op, n);
    s.finish(dw, dwp, D);
    if (db) s.finish(db, dbp, D);
  }

  const layernormBackward: NonNullable<Kernels["layernormBackward"]> = (x, M, D, w, dy, eps, dx, dw, db) =>
    normBackward(
      "layernormBackward",
      (xp, wp, gp, op, dwp, dbp) => k.layernormBackward(xp, M, D, wp, gp, eps, op, dwp, dbp),
      x,
      M,
      D,
      w,
      dy,
      dx,
      dw,
      db,
    );

  const rmsnormBackward: NonNullable<Kernels["rmsnormBackward"]> = (x, M, D, w, dy, eps, dx, dw) =>
    normBackward(
      "rmsnormBackward",
      (xp, wp, gp, op, dwp) => k.rmsnormBackward(xp, M, D, wp, gp, eps, op, dwp),
      x,
      M,
      D,
      w,
      dy,
      dx,
      dw,
      null,
    );

  function sumRows(x: Float32Array, M: number, N: number, out: Float32Array): void {
    if (x.length < M * N || out.length < N) throw new Error("sumRows: buffers too small");
    if (M * N === 0) return;
    s.begin(s.need(x, M * N) + s.need(out, N));
    const [xp, op] = [s.input(x, M * N), s.input(out, N)];
    k.sumRows(xp, M, N, op);
    s.finish(out, op, N);
  }

  function adamStep(
    x: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    p: AdamStepParams,
  ): void {
    const n = x.length;
    if (g.length < n || m.length < n || v.length < n) throw new Error("adamStep: buffers too small");
    if (n === 0) return;
    s.begin(s.need(x, n) + s.need(g, n) + s.need(m, n) + s.need(v, n));
    const [xp, gp, mp, vp] = [s.input(x, n), s.input(g, n), s.input(m, n), s.input(v, n)];
    k.adamStep(xp, gp, mp, vp, n, p.decay, p.l2, p.beta1, p.beta2, p.stepSize, p.bc2Sqrt, p.eps);
    s.finish(x, xp, n);
    s.finish(m, mp, n);
    s.finish(v, vp, n);
  }

  /** int32 targets copied into scratch (taken after begin()); their offset. */
  function targetsIn(targets: Int32Array, N: number): number {
    const p = s.take(N * 4);
    new Int32Array(s.f32().buffer, p, N).set(targets.subarray(0, N));
    return p;
  }

  function checkCE(
    name: string,
    x: Float32Array,
    N: number,
    C: number,
    targets: Int32Array,
    lse: Float32Array,
  ): void {
    if (!(Number.isSafeInteger(N) && Number.isSafeInteger(C) && N >= 0 && C > 0))
      throw new Error(`${name}: bad sizes ${N}×${C}`);
    if (x.length < N * C || targets.length < N || lse.length < N)
      throw new Error(`${name}: buffers too small`);
  }

  const crossEntropyForward: NonNullable<Kernels["crossEntropyForward"]> = (
    x,
    N,
    C,
    targets,
    ignore,
    eps,
    lse,
  ) => {
    checkCE("crossEntropyForward", x, N, C, targets, lse);
    if (N === 0) return 0;
    s.begin(s.need(x, N * C) + s.need(lse, N) + align(N * 4));
    const xp = s.input(x, N * C);
    const tp = targetsIn(targets, N);
    const lp = s.output(lse, N);
    const loss = k.crossEntropyForward(xp, N, C, tp, ignore, eps, lp);
    s.finish(lse, lp, N);
    return loss;
  };

  const crossEntropyBackward: NonNullable<Kernels["crossEntropyBackward"]> = (
    x,
    N,
    C,
    targets,
    ignore,
    eps,
    lse,
    scale,
    dx,
  ) => {
    checkCE("crossEntropyBackward", x, N, C, targets, lse);
    if (dx.length < N * C) throw new Error("crossEntropyBackward: buffers too small");
    if (N === 0) return;
    s.begin(s.need(x, N * C) + s.need(lse, N) + s.need(dx, N * C) + align(N * 4));
    const xp = s.input(x, N * C);
    const tp = targetsIn(targets, N);
    const lp = s.input(lse, N);
    const op = s.output(dx, N * C);
    k.crossEntropyBackward(xp, N, C, tp, ignore, eps, lp, scale, op);
    s.finish(dx, op, N * C);
  };

  function sumSquares(x: Float32Array): number {
    if (x.length === 0) return 0;
    s.begin(s.need(x, x.length));
    return k.sumSquares(s.input(x, x.length), x.length);
  }

  function scaleInPlace(x: Float32Array, c: number): void {
    if (x.length === 0) return;
    s.begin(s.need(x, x.length));
    const xp = s.input(x, x.length);
    k.scaleInPlace(xp, x.length, c);
    s.finish(x, xp, x.length);
  }

  return {
    matmul,
    attentionBackward,
    causalAttention,
    geluTanhBackward,
    crossEntropyForward,
    crossEntropyBackward,
    geluBackward,
    siluBackward,
    layernormBackward,
    rmsnormBackward,
    sumRows,
    adamStep,
    sumSquares,
    scaleInPlace,
  };
}
