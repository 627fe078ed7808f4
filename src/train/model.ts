// What the training loop needs of a trainable language model (TrainableGPT2, TrainableLlama): named parameters,
// a teacher-forced batched forward to logits, its config.json object and its seeded dropout generator.

import type { Rng } from "../generation/rng.js";
import type { Tensor } from "../tensor/tensor.js";

export interface TrainForwardOptions {
  /** Dropout on (training mode); off by default (evaluation mode). */
  readonly training?: boolean;
}

export interface TrainableLM {
  /** The Hugging Face config.json object. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Every parameter by Hugging Face name. */
  readonly params: Map<string, Tensor>;
  readonly vocabSize: number;
  /** Positions the model takes. */
  readonly contextLength: number;
  /** Where dropout masks come from (seeded; part of a checkpoint's RNG state). */
  rng: Rng;
  /** Parameters in a fixed order (the optimizer's and a checkpoint's). */
  parameters(): Tensor[];
  /** Logits [B, T, V] for token ids [B·T] (row-major batch of B sequences of T tokens). */
  forward(ids: ArrayLike<number>, B: number, T: number, opts?: TrainForwardOptions): Tensor;
}

/** Checks a batch of ids against a model's vocabulary and context. */
export function checkBatch(ids: ArrayLike<number>, B: number, T: number, V: number, context: number): void {
  if (!(Number.isInteger(B) && Number.isInteger(T) && B > 0 && T > 0) || ids.length !== B * T)
    throw new Error(`forward: ${ids.length} ids for a batch of ${B} × ${T}`);
  if (T > context) throw new Error(`forward: ${T} positions exceed the context of ${context}`);
  for (let i = 0; i < ids.length; i++)
    if (!(Number.isInteger(ids[i]) && ids[i]! >= 0 && ids[i]! < V))
      throw new Error(`forward: token id ${ids[i]} outside [0, ${V})`);
}

/** Standard normal samples (Box-Muller) times `std`, from a seeded generator. */
export function normal(rng: Rng, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rng.next();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    const a = 2 * Math.PI * rng.next();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

/** Private f32 copies of `params`, checked against the expected names and shapes, recording gradients. */
export function ownParams(
  who: string,
  shapes: readonly [string, number[]][],
  params: ReadonlyMap<string, Tensor>,
  copy: (t: Tensor, shape: number[]) => Tensor,
): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, shape] of shapes) {
    const t = params.get(name);
    if (!t) throw new Error(`${who}: missing parameter "${name}"`);
    if (t.ndim !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new Error(`${who}: "${name}" has shape [${t.shape}], expected [${shape}]`);
    const p = copy(t, shape);
    p.requiresGrad = true;
    out.set(name, p);
  }
  return out;
}
