// Classification losses with PyTorch's semantics: log-softmax, NLL over log-probabilities and cross-entropy over
// logits, both with ignore_index and mean/sum reduction; cross-entropy also with label smoothing (Szegedy et al.
// 2016: target (1−ε)·onehot + ε/C). Sums run in float64; cross-entropy runs the backend's fused pass where it
// has one (f32 exp, f64 sums).

import { gradBuffer } from "../../autograd/buffers.js";
import { kernels } from "../../tensor/backend.js";
import { registerGradient, track } from "../../tensor/grad.js";
import { Tensor } from "../../tensor/tensor.js";

export type Reduction = "mean" | "sum";

export interface ClassLossOptions {
  /** Targets equal to this are skipped and do not count in the mean (PyTorch default −100). */
  readonly ignoreIndex?: number;
  readonly reduction?: Reduction;
}

export interface CrossEntropyOptions extends ClassLossOptions {
  /** ε in [0, 1]: the target distribution is (1−ε)·onehot + ε/C (PyTorch label_smoothing). */
  readonly labelSmoothing?: number;
}

function checkTargets(op: string, x: Tensor, targets: ArrayLike<number>, ignore: number): [number, number] {
  if (x.dtype !== "f32" || x.ndim < 1) throw new Error(`${op}: expected f32 [N, C] input`);
  const C = x.shape[x.ndim - 1]!;
  const N = x.size / C;
  if (targets.length !== N) throw new Error(`${op}: ${targets.length} targets for ${N} rows`);
  for (let i = 0; i < N; i++) {
    const t = targets[i]!;
    if (t !== ignore && !(Number.isInteger(t) && t >= 0 && t < C))
      throw new Error(`${op}: target ${t} at row ${i} is outside [0, ${C})`);
  }
  return [N, C];
}

/** log(softmax(x)) over the last dimension, computed stably. */
export function logSoftmax(x: Tensor): Tensor {
  const C = x.shape[x.ndim - 1]!;
  const xs = x.f32();
  const out = new Float32Array(xs.length);
  for (let o = 0; o < xs.length; o += C) {
    let max = -Infinity;
    for (let i = 0; i < C; i++) if (xs[o + i]! > max) max = xs[o + i]!;
    let s = 0;
    for (let i = 0; i < C; i++) s += Math.exp(xs[o + i]! - max);
    const lse = max + Math.log(s);
    for (let i = 0; i < C; i++) out[o + i] = xs[o + i]! - lse;
  }
  return track(Tensor.fromArray(out, x.shape), "logSoftmax", [x]);
}

registerGradient("logSoftmax", (grad, [x], out) => {
  const C = x!.shape[x!.ndim - 1]!;
  const y = out.f32();
  const g = grad.f32();
  const dx = new Float32Array(y.length);
  for (let o = 0; o < y.length; o += C) {
    let s = 0;
    for (let i = 0; i < C; i++) s += g[o + i]!;
    for (let i = 0; i < C; i++) dx[o + i] = g[o + i]! - Math.exp(y[o + i]!) * s;
  }
  return [Tensor.fromArray(dx, x!.shape)];
});

interface Saved {
  readonly targets: Int32Array;
  readonly ignore: number;
  readonly eps: number;
  /** 1/count for "mean", 1 for "sum". */
  readonly factor: number;
  /** Each row's log-sum-exp, when the backend's fused pass computed the loss. */
  readonly lse?: Float32Array;
}

function count(targets: Int32Array, ignore: number): number {
  let n = 0;
  for (const t of targets) if (t !== ignore) n++;
  return n;
}

/** Mean (or sum) of −log p(target) over rows of log-probabilities [N, C]; a mean over no rows is NaN, as in PyTorch. */
export function nllLoss(logProbs: Tensor, targets: ArrayLike<number>, opts: ClassLossOptions = {}): Tensor {
  const ignore = opts.ignoreIndex ?? -100;
  const [N, C] = checkTargets("nllLoss", logProbs, targets, ignore);
  const t = Int32Array.from(targets);
  const lp = logProbs.f32();
  let s = 0;
  for (let i = 0; i < N; i++) if (t[i] !== ignore) s -= lp[i * C + t[i]!]!;
  const factor = opts.reduction === "sum" ? 1 : 1 / count(t, ignore);
  const saved: Saved = { targets: t, ignore, eps: 0, factor };
  return track(Tensor.fromArray([s * factor], [1]), "nllLoss", [logProbs], saved);
}

registerGradient("nllLoss", (grad, [x], _out, saved) => {
  const { targets, ignore, factor } = saved as Saved;
  const C = x!.shape[x!.ndim - 1]!;
  const dx = new Float32Array(x!.size);
  const g = grad.f32()[0]! * factor;
  targets.forEach((t, i) => {
    if (t !== ignore) dx[i * C + t] = -g;
  });
  return [Tensor.fromArray(dx, x!.shape)];
});

/**
 * Cross-entropy of logits [N, C] (or [..., C]) against class targets, fused with log-softmax: per row
 * (1−ε)·(−log p[y]) + ε·mean_c(−log p[c]); rows whose target is ignoreIndex are skipped.
 */
export function crossEntropy(
  logits: Tensor,
  targets: ArrayLike<number>,
  opts: CrossEntropyOptions = {},
): Tensor {
  const ignore = opts.ignoreIndex ?? -100;
  const eps = opts.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) throw new Error(`crossEntropy: label smoothing must be in [0, 1], got ${eps}`);
  const [N, C] = checkTargets("crossEntropy", logits, targets, ignore);
  const t = Int32Array.from(targets);
  const xs = logits.f32();
  const factor = opts.reduction === "sum" ? 1 : 1 / count(t, ignore);
  const fused = kernels().crossEntropyForward;
  if (fused && Number.isInteger(ignore) && Math.abs(ignore) < 2 ** 31) {
    // the backend's pass (f32 exp, f64 sums); its per-row log-sum-exps serve the gradient
    const lse = new Float32Array(N);
    const s = fused(xs, N, C, t, ignore, eps, lse);
    const saved: Saved = { targets: t, ignore, eps, factor, lse };
    return track(Tensor.fromArray([s * factor], [1]), "crossEntropy", [logits], saved);
  }
  let s = 0;
  for (let i = 0; i < N; i++) {
    if (t[i] === ignore) continue;
    const o = i * C;
    let max = -Infinity;
    for (let c = 0; c < C; c++) if (xs[o + c]! > max) max = xs[o + c]!;
    let e = 0;
    let all = 0;
    for (let c = 0; c < C; c++) {
      e += Math.exp(xs[o + c]! - max);
      all += xs[o + c]!;
    }
    const lse = max + Math.log(e);
    s += (1 - eps) * (lse - xs[o + t[i]!]!) + eps * (lse - all / C);
  }
  const saved: Saved = { targets: t, ignore, eps, factor };
  return track(Tensor.fromArray([s * factor], [1]), "crossEntropy", [logits], saved);
}

registerGradient("crossEntropy", (grad, [x], _out, saved) => {
  const { targets, ignore, eps, factor, lse } = saved as Saved;
  const C = x!.shape[x!.ndim - 1]!;
  const xs = x!.f32();
  const fused = kernels().crossEntropyBackward;
  if (lse && fused) {
    const dx = gradBuffer(x!.size);
    fused(xs, targets.length, C, targets, ignore, eps, lse, grad.f32()[0]! * factor, dx);
    return [new Tensor("f32", x!.shape, dx)];
  }
  const dx = new Float32Array(x!.size);
  const g = grad.f32()[0]! * factor;
  targets.forEach((t, i) => {
    if (t === ignore) return;
    const o = i * C;
    let max = -Infinity;
    for (let c = 0; c < C; c++) if (xs[o + c]! > max) max = xs[o + c]!;
    let e = 0;
    for (let c = 0; c < C; c++) e += Math.exp(xs[o + c]! - max);
    for (let c = 0; c < C; c++) {
      const p = Math.exp(xs[o + c]! - max) / e;
      dx[o + c] = g * (p - eps / C - (c === t ? 1 - eps : 0));
    }
  });
  return [Tensor.fromArray(dx, x!.shape)];
});
